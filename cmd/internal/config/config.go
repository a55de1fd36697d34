// Package config is the daemon's YAML configuration: its shape, defaults and
// validation. Validate reports every problem at once.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"topup/engine"
)

// Config is the whole daemon configuration.
type Config struct {
	// Node identifies this engine node; its id is part of every platform order id.
	Node Node `yaml:"node"`
	// Redis is the shared ledger (balances, idempotency keys).
	Redis Redis `yaml:"redis"`
	// OperatorAPI is the seed-000 HTTP listener operators push orders to.
	OperatorAPI OperatorAPI `yaml:"operator_api"`
	// AdminAPI is the operations HTTP listener (bearer token).
	AdminAPI AdminAPI `yaml:"admin_api"`
	// Sockmod configures the socket-module result callback listener.
	Sockmod Sockmod `yaml:"sockmod"`
	// Merchants are created at start-up if absent (bootstrap).
	Merchants []Merchant `yaml:"merchants"`
	// Channels are the suppliers orders are placed with.
	Channels []Channel `yaml:"channels"`
	// Products say what may be sold and where it is routed.
	Products []Product `yaml:"products"`
	// Notify is the operator callback delivery policy.
	Notify Notify `yaml:"notify"`
	// Query is how attempts without a definite result are followed up.
	Query Query `yaml:"query"`
	// PublicURL is where suppliers reach this node's operator listener
	// (behind the load balancer); HTTP supplier callback URLs are built from it.
	PublicURL string `yaml:"public_url"`
	// Log configures the daemon's own log lines.
	Log Log `yaml:"log"`
}

// Node identifies the node and where it keeps its data.
type Node struct {
	// ID is 1..90, unique among the nodes sharing one Redis.
	ID int `yaml:"id"`
	// DataDir holds the Pebble order log (and the spawned Redis, if any).
	DataDir string `yaml:"data_dir"`
	// IdleActorTimeout stops an order actor that received nothing for this long.
	IdleActorTimeout time.Duration `yaml:"idle_actor_timeout"`
	// MaxSubmitting bounds orders waiting for or talking to a supplier; while
	// it is reached, new orders are refused as "overloaded".
	MaxSubmitting int `yaml:"max_submitting"`
	// Placement is how accepted orders are admitted to placing.
	Placement Placement `yaml:"placement"`
}

// Placement admits accepted orders to placing: the accept path comes first
// while the operator API is busy; placing catches up right after.
type Placement struct {
	// MaxBacklog bounds accepted orders waiting to be placed; while it is
	// reached, new orders are refused as "overloaded".
	MaxBacklog int `yaml:"max_backlog"`
	// MaxPlacing bounds orders in their placing step at once.
	MaxPlacing int `yaml:"max_placing"`
	// BusyRate bounds orders per second starting to place while the
	// operator API is busy.
	BusyRate float64 `yaml:"busy_rate"`
	// MaxDefer is the longest an order is held back while the operator API
	// is busy.
	MaxDefer time.Duration `yaml:"max_defer"`
	// BusyAccepts is how many requests being accepted at once make the
	// operator API busy.
	BusyAccepts int `yaml:"busy_accepts"`
}

// Redis says where the ledger lives.
type Redis struct {
	// Addr is host:port of the Redis server.
	Addr string `yaml:"addr"`
	// DB is the Redis database number.
	DB int `yaml:"db"`
	// Password, if the server needs one. Never logged.
	Password string `yaml:"password"`
	// Spawn starts a local redis-server (AOF on) bound to Addr with its data
	// under <data_dir>/redis, for single-machine use (`make run`).
	Spawn bool `yaml:"spawn"`
}

// OperatorAPI is the operator-facing HTTP listener.
type OperatorAPI struct {
	// Listen is host:port.
	Listen string `yaml:"listen"`
	// MaxInflight bounds orders being accepted at once; over it: code 400 "overloaded".
	MaxInflight int `yaml:"max_inflight"`
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int `yaml:"max_body_bytes"`
}

// AdminAPI is the operations listener.
type AdminAPI struct {
	// Listen is host:port; keep it off the public network.
	Listen string `yaml:"listen"`
	// Token is the bearer token every admin request must carry. Never logged.
	Token string `yaml:"token"`
}

// Sockmod configures the socket-module callback listener.
type Sockmod struct {
	// CallbackListen is where socket modules push results (protocol default port 50899).
	CallbackListen string `yaml:"callback_listen"`
	// Workers handle callbacks concurrently (each waits until the result is durable).
	Workers int `yaml:"workers"`
}

// Merchant is an operator account to create if absent.
type Merchant struct {
	UID           string `yaml:"uid"`
	Name          string `yaml:"name"`
	MD5Key        string `yaml:"md5key"`
	PricePermille int64  `yaml:"price_permille"`
}

// Channel is a supplier.
type Channel struct {
	// Name is how routes refer to the channel.
	Name string `yaml:"name"`
	// Kind is the protocol: "sockmod", "juhe" or "dingyin".
	Kind string `yaml:"kind"`
	// Addr is the socket module's host:port (sockmod).
	Addr string `yaml:"addr"`
	// MD5Key signs traffic with a socket module. Never logged.
	MD5Key string `yaml:"md5key"`
	// BaseURL is the HTTP supplier's base URL (juhe, dingyin).
	BaseURL string `yaml:"base_url"`
	// OpenID is the Juhe account's OpenID.
	OpenID string `yaml:"openid"`
	// UserID is the Dingyin merchant number.
	UserID string `yaml:"userid"`
	// Key is the HTTP supplier's signing key (Juhe key/appkey, Dingyin key). Never logged.
	Key string `yaml:"key"`
	// Callbacks asks the supplier to call back (juhe cburl, dingyin back_url);
	// without them the adapter polls the supplier's status query.
	Callbacks bool `yaml:"callbacks"`
	// Timeout bounds one submission (connect, send, synchronous answer).
	Timeout time.Duration `yaml:"timeout"`
	// MaxInflight bounds concurrent submissions and queries to the channel.
	MaxInflight int `yaml:"max_inflight"`
	// LowBalance (fen) takes the channel out of rotation while the supplier
	// balance it reports is below it; 0 turns the check off.
	LowBalance int64 `yaml:"low_balance"`
	// BalancePoll is how often the supplier balance is asked for, where the
	// protocol has a balance query (dingyin); 0 turns polling off.
	BalancePoll time.Duration `yaml:"balance_poll"`
	// Breaker tunes the channel's circuit breaker.
	Breaker Breaker `yaml:"breaker"`
}

// Breaker tunes a channel's circuit breaker: it opens when FailRatio of the
// last Window attempts (at least MinSamples) failed or timed out, rejects
// submissions for OpenFor, then lets one probe through.
type Breaker struct {
	Window     int           `yaml:"window"`
	MinSamples int           `yaml:"min_samples"`
	FailRatio  float64       `yaml:"fail_ratio"`
	OpenFor    time.Duration `yaml:"open_for"`
}

// Query is the follow-up policy for attempts without a definite result.
type Query struct {
	// Schedule is the wait before each status query (the last repeats).
	Schedule []time.Duration `yaml:"schedule"`
	// HoldAfter holds an attempt without a definite result for a person's
	// decision this long after its submission.
	HoldAfter time.Duration `yaml:"hold_after"`
}

// Product is a sellable (order type, carriers, face values) and its routes.
type Product struct {
	OrderType  int   `yaml:"order_type"`
	Carriers   []int `yaml:"carriers"`
	FaceValues []int `yaml:"face_values"`
	// Deadline: a supplier must have taken the order within this time of
	// acceptance, or it is returned (refunded). 0: no deadline.
	Deadline time.Duration `yaml:"deadline"`
	Routes   []Route       `yaml:"routes"`
}

// Route is one way to fulfil a product.
type Route struct {
	Channel string `yaml:"channel"`
	// ChargeType is the socket-module business type (0 phone credit, 5 data, …).
	ChargeType *int `yaml:"charge_type"`
	// Code is the channel's product code (used by HTTP suppliers).
	Code         string `yaml:"code"`
	CostPermille int64  `yaml:"cost_permille"`
	Priority     int    `yaml:"priority"`
	Weight       int    `yaml:"weight"`
}

// Notify is the operator callback policy.
type Notify struct {
	// Attempts is how many times a callback is tried (at least 3).
	Attempts int `yaml:"attempts"`
	// Backoff[i] is the wait before attempt i+1; the last value repeats.
	Backoff []time.Duration `yaml:"backoff"`
	// Timeout bounds one delivery.
	Timeout time.Duration `yaml:"timeout"`
	// Workers deliver callbacks concurrently.
	Workers int `yaml:"workers"`
}

// Log configures log output.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// Default is the configuration every file is laid over.
func Default() Config {
	return Config{
		Node: Node{ID: 1, DataDir: "./var/node1", IdleActorTimeout: 30 * time.Second, MaxSubmitting: 100_000,
			Placement: Placement{MaxBacklog: 1_000_000, MaxPlacing: 256, BusyRate: 500, BusyAccepts: 32, MaxDefer: 30 * time.Second}},
		Redis:       Redis{Addr: "127.0.0.1:6379"},
		OperatorAPI: OperatorAPI{Listen: "127.0.0.1:8088", MaxInflight: 20000, MaxBodyBytes: 16 << 10},
		AdminAPI:    AdminAPI{Listen: "127.0.0.1:8089"},
		Sockmod:     Sockmod{CallbackListen: "127.0.0.1:50899", Workers: 256},
		Notify:      Notify{Attempts: 3, Backoff: []time.Duration{0, 5 * time.Second, 30 * time.Second}, Timeout: 10 * time.Second, Workers: 256},
		Query:       Query{Schedule: []time.Duration{5 * time.Second, 15 * time.Second, time.Minute, 5 * time.Minute}, HoldAfter: 30 * time.Minute},
		Log:         Log{Level: "info", Format: "text"},
	}
}

// Load reads and validates a configuration file.
func Load(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return Parse(raw)
}

// Parse decodes YAML over Default and validates the result. Unknown fields
// are errors.
func Parse(raw []byte) (Config, error) {
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate reports every problem with the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("config: "+format, args...)) }
	if c.Node.ID < 1 || c.Node.ID > engine.MaxNode {
		bad("node.id %d: must be 1..%d", c.Node.ID, engine.MaxNode)
	}
	if c.Node.DataDir == "" {
		bad("node.data_dir: required")
	}
	if c.Node.MaxSubmitting < 1 {
		bad("node.max_submitting: must be positive")
	}
	if pl := c.Node.Placement; pl.MaxBacklog < 1 || pl.MaxPlacing < 1 || pl.BusyRate <= 0 || pl.BusyAccepts < 1 || pl.MaxDefer <= 0 {
		bad("node.placement: max_backlog, max_placing, busy_rate, busy_accepts and max_defer must be positive")
	}
	if c.Node.IdleActorTimeout < time.Second {
		bad("node.idle_actor_timeout %s: must be at least 1s", c.Node.IdleActorTimeout)
	}
	checkAddr := func(field, addr string) {
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			bad("%s %q: want host:port", field, addr)
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad("%s %q: bad port", field, addr)
		}
	}
	checkAddr("redis.addr", c.Redis.Addr)
	checkAddr("operator_api.listen", c.OperatorAPI.Listen)
	checkAddr("admin_api.listen", c.AdminAPI.Listen)
	checkAddr("sockmod.callback_listen", c.Sockmod.CallbackListen)
	if c.Redis.DB < 0 || c.Redis.DB > 15 {
		bad("redis.db %d: must be 0..15", c.Redis.DB)
	}
	if len(c.AdminAPI.Token) < 8 {
		bad("admin_api.token: required, at least 8 characters")
	}
	if c.OperatorAPI.MaxInflight < 1 {
		bad("operator_api.max_inflight: must be positive")
	}
	if c.OperatorAPI.MaxBodyBytes < 1024 {
		bad("operator_api.max_body_bytes: must be at least 1024")
	}
	if c.Sockmod.Workers < 1 {
		bad("sockmod.workers: must be positive")
	}
	uids := map[string]bool{}
	for i, m := range c.Merchants {
		f := fmt.Sprintf("merchants[%d]", i)
		if m.UID == "" || len(m.UID) > 32 || strings.Trim(m.UID, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-") != "" {
			bad("%s.uid %q: 1-32 letters, digits, '-' or '_'", f, m.UID)
		}
		if uids[m.UID] {
			bad("%s.uid %q: duplicate", f, m.UID)
		}
		uids[m.UID] = true
		if len(m.MD5Key) < 8 {
			bad("%s.md5key: required, at least 8 characters", f)
		}
		if m.PricePermille < 1 || m.PricePermille > 2000 {
			bad("%s.price_permille %d: must be 1..2000", f, m.PricePermille)
		}
	}
	channels := map[string]Channel{}
	for i, ch := range c.Channels {
		f := fmt.Sprintf("channels[%d]", i)
		if ch.Name == "" {
			bad("%s.name: required", f)
		}
		if _, dup := channels[ch.Name]; dup {
			bad("%s.name %q: duplicate", f, ch.Name)
		}
		channels[ch.Name] = ch
		switch ch.Kind {
		case "sockmod":
			checkAddr(f+".addr", ch.Addr)
			if ch.MD5Key == "" {
				bad("%s.md5key: required", f)
			}
		case "juhe", "dingyin":
			if !httpURL(ch.BaseURL) {
				bad("%s.base_url %q: want an http(s) URL", f, ch.BaseURL)
			}
			if ch.Key == "" {
				bad("%s.key: required", f)
			}
			if ch.Kind == "juhe" && ch.OpenID == "" {
				bad("%s.openid: required", f)
			}
			if ch.Kind == "dingyin" && ch.UserID == "" {
				bad("%s.userid: required", f)
			}
			if ch.Callbacks && c.PublicURL == "" {
				bad("%s.callbacks: needs public_url", f)
			}
		default:
			bad("%s.kind %q: must be sockmod, juhe or dingyin", f, ch.Kind)
		}
		if ch.LowBalance < 0 || ch.BalancePoll < 0 {
			bad("%s.low_balance and balance_poll: must not be negative", f)
		}
		if b := ch.Breaker; b.Window < 0 || b.MinSamples < 0 || b.FailRatio < 0 || b.FailRatio > 1 || b.OpenFor < 0 {
			bad("%s.breaker: window, min_samples, open_for must not be negative; fail_ratio 0..1", f)
		}
		if ch.Timeout <= 0 {
			bad("%s.timeout: must be positive", f)
		}
		if ch.MaxInflight < 1 {
			bad("%s.max_inflight: must be positive", f)
		}
	}
	type key struct{ t, c, f int }
	seen := map[key]int{}
	for i, p := range c.Products {
		f := fmt.Sprintf("products[%d]", i)
		if p.OrderType < 1 || p.OrderType > 4 {
			bad("%s.order_type %d: must be 1..4", f, p.OrderType)
		}
		if len(p.Carriers) == 0 {
			bad("%s.carriers: required", f)
		}
		if len(p.FaceValues) == 0 {
			bad("%s.face_values: required", f)
		}
		if p.Deadline < 0 {
			bad("%s.deadline: must not be negative", f)
		}
		for _, cr := range p.Carriers {
			if cr < 1 || cr > 3 {
				bad("%s.carriers: %d must be 1..3", f, cr)
			}
			for _, fv := range p.FaceValues {
				if fv <= 0 {
					bad("%s.face_values: %d must be positive (fen)", f, fv)
					continue
				}
				k := key{p.OrderType, cr, fv}
				if j, dup := seen[k]; dup {
					bad("%s: order type %d carrier %d face value %d already sold by products[%d]", f, p.OrderType, cr, fv, j)
				}
				seen[k] = i
			}
		}
		if len(p.Routes) == 0 {
			bad("%s.routes: at least one route", f)
		}
		if len(p.Routes) > engine.MaxAttempts {
			bad("%s.routes: at most %d", f, engine.MaxAttempts)
		}
		for j, r := range p.Routes {
			rf := fmt.Sprintf("%s.routes[%d]", f, j)
			ch, ok := channels[r.Channel]
			if !ok {
				bad("%s.channel %q: no such channel", rf, r.Channel)
				continue
			}
			if ch.Kind == "sockmod" && r.Code != "" {
				if _, err := strconv.Atoi(r.Code); err != nil {
					bad("%s.code %q: a socket-module product code is the integer chargeType", rf, r.Code)
				}
			}
			if r.CostPermille < 0 || r.CostPermille > 2000 {
				bad("%s.cost_permille %d: must be 0..2000", rf, r.CostPermille)
			}
			if r.Weight < 0 {
				bad("%s.weight: must not be negative", rf)
			}
		}
	}
	if c.PublicURL != "" && !httpURL(c.PublicURL) {
		bad("public_url %q: want an http(s) URL", c.PublicURL)
	}
	if len(c.Query.Schedule) == 0 || c.Query.HoldAfter <= 0 {
		bad("query.schedule and query.hold_after: required")
	}
	for _, d := range c.Query.Schedule {
		if d < time.Second {
			bad("query.schedule: %s is under 1s", d)
		}
	}
	if c.Notify.Attempts < 3 {
		bad("notify.attempts %d: at least 3 (the operator protocol promises 3)", c.Notify.Attempts)
	}
	if len(c.Notify.Backoff) == 0 {
		bad("notify.backoff: at least one duration")
	}
	for _, d := range c.Notify.Backoff {
		if d < 0 {
			bad("notify.backoff: %s is negative", d)
		}
	}
	if c.Notify.Timeout <= 0 || c.Notify.Workers < 1 {
		bad("notify.timeout and notify.workers: must be positive")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level %q: debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format %q: text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// EngineMerchant converts a bootstrap merchant.
func (m Merchant) EngineMerchant() engine.Merchant {
	return engine.Merchant{UID: m.UID, Name: m.Name, MD5Key: m.MD5Key, PricePermille: m.PricePermille}
}

// EngineProducts converts the product table, filling each route's kind and
// product code from its channel.
func (c *Config) EngineProducts() []engine.Product {
	kinds := map[string]string{}
	for _, ch := range c.Channels {
		kinds[ch.Name] = ch.Kind
	}
	out := make([]engine.Product, 0, len(c.Products))
	for _, p := range c.Products {
		ep := engine.Product{OrderType: p.OrderType, Carriers: p.Carriers, DeadlineMs: p.Deadline.Milliseconds()}
		for _, f := range p.FaceValues {
			ep.FaceValues = append(ep.FaceValues, engine.Fen(f))
		}
		for _, r := range p.Routes {
			code := r.Code
			if r.ChargeType != nil {
				code = strconv.Itoa(*r.ChargeType)
			}
			ep.Routes = append(ep.Routes, engine.Route{Channel: r.Channel, Kind: kinds[r.Channel], Code: code,
				CostPermille: r.CostPermille, Priority: r.Priority, Weight: r.Weight})
		}
		out = append(out, ep)
	}
	return out
}
