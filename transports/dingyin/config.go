package dingyin

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Defaults and limits.
const (
	// DefaultTimeout bounds one call when Config.Timeout is not set.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxConns bounds concurrent connections to the supplier when
	// Config.MaxConns is not set.
	DefaultMaxConns = 512
	// MaxResponseBody is the largest answer read; a longer one is a
	// transport failure.
	MaxResponseBody = 64 << 10
	// maxIdleConn is how long an idle keep-alive connection is kept; short,
	// so that a connection the supplier has dropped is rarely reused (a
	// submission on such a connection would end uncertain).
	maxIdleConn = 5 * time.Second
)

// Paths of the supplier's calls, relative to Config.BaseURL.
const (
	// SubmitPath is the order submission call.
	SubmitPath = "/gameonlinepay.do"
	// QueryPath is the status query call.
	QueryPath = "/searchpay.do"
	// BalancePath is the balance query call.
	BalancePath = "/searchbalance.do"
)

// Config configures a Client. Zero Timeout and MaxConns take the defaults.
type Config struct {
	// BaseURL is the supplier's address, scheme and host with an optional
	// path prefix, e.g. "http://203.0.113.7:9086". The call paths are
	// appended to it.
	BaseURL string
	// UserID is our merchant number at the supplier (userid).
	UserID string
	// Key is the signing key the supplier gave us.
	Key string
	// Timeout bounds one call, connecting and waiting for a free connection
	// included (default 10s).
	Timeout time.Duration
	// MaxConns bounds concurrent connections to the supplier (default 512).
	// Calls beyond it wait for a connection within Timeout.
	MaxConns int
	// BackURL is the back_url sent with every submission, where the supplier
	// posts results. Empty: callbacks are off and the adapter is driven by
	// status queries alone.
	BackURL string
}

// DefaultConfig is a Config with every default filled in; BaseURL, UserID
// and Key must still be set.
func DefaultConfig() Config {
	return Config{Timeout: DefaultTimeout, MaxConns: DefaultMaxConns}
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if err := checkHTTPURL(c.BaseURL, false); err != nil {
		errs = append(errs, fmt.Errorf("dingyin: BaseURL: %w", err))
	}
	if c.UserID == "" {
		errs = append(errs, errors.New("dingyin: UserID is empty"))
	} else if _, err := toGBK(c.UserID); err != nil {
		errs = append(errs, fmt.Errorf("dingyin: UserID: %w", err))
	}
	if c.Key == "" {
		errs = append(errs, errors.New("dingyin: Key is empty"))
	} else if _, err := toGBK(c.Key); err != nil {
		errs = append(errs, errors.New("dingyin: Key is not representable in GBK"))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("dingyin: Timeout %v is negative", c.Timeout))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("dingyin: MaxConns %d is negative", c.MaxConns))
	}
	if c.BackURL != "" {
		if err := checkHTTPURL(c.BackURL, true); err != nil {
			errs = append(errs, fmt.Errorf("dingyin: BackURL: %w", err))
		} else if _, err := toGBK(c.BackURL); err != nil {
			errs = append(errs, fmt.Errorf("dingyin: BackURL: %w", err))
		}
	}
	return errors.Join(errs...)
}

// checkHTTPURL accepts an absolute http or https URL with a host, no
// fragment, and a query only if allowQuery.
func checkHTTPURL(s string, allowQuery bool) error {
	if s == "" {
		return errors.New("empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", s)
	}
	if u.Fragment != "" {
		return fmt.Errorf("%q: has a fragment", s)
	}
	if !allowQuery && (u.RawQuery != "" || u.ForceQuery) {
		return fmt.Errorf("%q: has a query", s)
	}
	return nil
}
