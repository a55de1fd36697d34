package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"topup/persistence/redisserver"
)

// Defaults of a started engine.
const (
	// SpawnUID, SpawnKey and SpawnPricePermille are the merchant a started
	// engine is configured with.
	SpawnUID           = "900001"
	SpawnKey           = "bench-operator-key-1"
	SpawnPricePermille = 985
	// spawnToken is a started engine's admin token.
	spawnToken = "bench-admin-token"
	// readyTimeout bounds the wait for a started engine's /readyz.
	readyTimeout = 60 * time.Second
	// stopGrace is how long a stopping engine gets after SIGTERM.
	stopGrace = 15 * time.Second
	// adminTimeout bounds one admin API call.
	adminTimeout = 15 * time.Second
)

// ErrEngineExited reports a started engine that exited on its own.
var ErrEngineExited = errors.New("bench: engine exited")

// Target says which engine a workload runs against: one the harness starts
// (EngineBin) or one already running (OperatorURL).
type Target struct {
	// EngineBin is the path of a built topupd binary. The harness starts it
	// on loopback with a generated configuration, its own redis-server
	// (append-only file on, as in production) and the workload's supplier
	// simulators, and stops them all at the end.
	EngineBin string `json:"engine_bin,omitempty"`
	// WorkDir is where a started engine keeps its configuration, data, log
	// and Redis. Empty: a new temporary directory, removed at the end
	// unless KeepWorkDir.
	WorkDir string `json:"work_dir,omitempty"`
	// KeepWorkDir keeps a temporary WorkDir after the run.
	KeepWorkDir bool `json:"keep_work_dir,omitempty"`
	// LogLevel is a started engine's log level (default info).
	LogLevel string `json:"log_level,omitempty"`
	// IdleActorTimeout is a started engine's node.idle_actor_timeout
	// (0: 30s, the daemon's default).
	IdleActorTimeout time.Duration `json:"idle_actor_timeout,omitempty"`
	// MaxInflight is a started engine's operator_api.max_inflight (0: the
	// daemon's default).
	MaxInflight int `json:"max_inflight,omitempty"`

	// OperatorURL is the operator API of an engine already running, e.g.
	// http://127.0.0.1:8088 (one node, or several behind a balancer). Set
	// instead of EngineBin.
	OperatorURL string `json:"operator_url,omitempty"`
	// AdminURL reaches that engine's admin API.
	AdminURL string `json:"admin_url,omitempty"`
	// AdminToken is its bearer token (never written to results).
	AdminToken string `json:"-"`
	// UID is the merchant whose orders the harness pushes; it must be in
	// the engine's merchants list (there is no create endpoint).
	UID string `json:"uid,omitempty"`
	// Key is that merchant's md5key (never written to results).
	Key string `json:"-"`
	// PID is that engine's process id, for RSS and CPU figures (0: not
	// measured).
	PID int `json:"pid,omitempty"`
}

// Spawned reports whether the harness starts the engine itself.
func (t Target) Spawned() bool { return t.EngineBin != "" }

// Validate reports every problem at once.
func (t Target) Validate() error {
	var errs []error
	switch {
	case t.EngineBin != "" && t.OperatorURL != "":
		errs = append(errs, errors.New("bench: target: set EngineBin or OperatorURL, not both"))
	case t.EngineBin == "" && t.OperatorURL == "":
		errs = append(errs, errors.New("bench: target: set EngineBin (start an engine) or OperatorURL (use a running one)"))
	case t.OperatorURL != "":
		if t.AdminURL == "" || t.AdminToken == "" {
			errs = append(errs, errors.New("bench: target: AdminURL and AdminToken are required with OperatorURL"))
		}
		if t.UID == "" || t.Key == "" {
			errs = append(errs, errors.New("bench: target: UID and Key are required with OperatorURL"))
		}
		for _, u := range []string{t.OperatorURL, t.AdminURL} {
			if u != "" && !loopbackURL(u) {
				errs = append(errs, fmt.Errorf("bench: target: %s is not a loopback URL (the harness drives loopback only)", u))
			}
		}
	}
	if t.IdleActorTimeout < 0 || t.MaxInflight < 0 {
		errs = append(errs, errors.New("bench: target: IdleActorTimeout and MaxInflight must not be negative"))
	}
	return errors.Join(errs...)
}

// loopbackURL reports whether u is http://<loopback host>[:port][/...].
func loopbackURL(u string) bool {
	rest, ok := strings.CutPrefix(u, "http://")
	if !ok {
		return false
	}
	host, _, _ := strings.Cut(rest, "/")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// freeAddr picks a free loopback TCP address.
func freeAddr() (string, error) {
	addr, err := redisserver.FreeAddr()
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	return addr, nil
}

// engineProc is a started topupd with its redis-server.
type engineProc struct {
	bin, dir, cfgPath, adminURL string

	redis *redisserver.Server

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	logFile *os.File
}

// start runs the daemon and waits until /readyz answers 200; it returns
// how long that took from the exec. The engine must not be running.
func (p *engineProc) start(ctx context.Context) (time.Duration, error) {
	if p.pid() != 0 {
		return 0, errors.New("bench: engine already running")
	}
	lf, err := os.OpenFile(filepath.Join(p.dir, "topupd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("bench: engine log: %w", err)
	}
	cmd := exec.Command(p.bin, "-config", p.cfgPath)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Dir = p.dir
	cmd.SysProcAttr = sysProcAttr()
	began := time.Now()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return 0, fmt.Errorf("bench: start engine %s: %w", p.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status of a killed engine says nothing useful
		close(exited)
	}()
	p.mu.Lock()
	p.cmd, p.exited, p.logFile = cmd, exited, lf
	p.mu.Unlock()
	if err := waitReady(ctx, p.adminURL, exited); err != nil {
		return 0, fmt.Errorf("%w; engine log tail:\n%s", err, p.logTail())
	}
	return time.Since(began), nil
}

// waitReady polls adminURL/readyz until it answers 200, the engine exits,
// readyTimeout passes or ctx ends.
func waitReady(ctx context.Context, adminURL string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	cl := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, adminURL+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("bench: readyz: %w", err)
		}
		if resp, err := cl.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("bench: waiting for the engine to be ready: %w", ErrEngineExited)
		case <-ctx.Done():
			return fmt.Errorf("bench: waiting for the engine to be ready: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// pid is the running daemon's process id, 0 when none runs.
func (p *engineProc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// alive reports whether the started daemon is still running.
func (p *engineProc) alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// halt signals the daemon and waits for it to exit (SIGKILL after
// stopGrace). Halting a stopped engine does nothing.
func (p *engineProc) halt(sig syscall.Signal) error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(stopGrace):
		_ = cmd.Process.Kill()
		<-exited
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cmd = nil
	err := p.logFile.Close()
	if err != nil {
		return fmt.Errorf("bench: engine log: %w", err)
	}
	return nil
}

// logTail is the end of the daemon's log.
func (p *engineProc) logTail() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "topupd.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// adminClient calls an engine's admin API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

func newAdminClient(base, token string) *adminClient {
	return &adminClient{base: strings.TrimSuffix(base, "/"), token: token,
		http: &http.Client{Timeout: adminTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}}
}

// ErrAdmin wraps an admin API answer that is not 200.
var ErrAdmin = errors.New("bench: admin API refused")

// do calls the admin API; a non-200 answer is an error wrapping ErrAdmin,
// and a 404 is reported as found = false without error.
func (a *adminClient) do(ctx context.Context, method, path string, body, out any) (found bool, err error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return false, fmt.Errorf("bench: admin %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return false, fmt.Errorf("bench: admin %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("bench: admin %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return false, fmt.Errorf("bench: admin %s %s: %w", method, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return false, nil
	case resp.StatusCode != http.StatusOK:
		return false, fmt.Errorf("%w: %s %s: HTTP %d %.200s", ErrAdmin, method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return true, fmt.Errorf("bench: admin %s %s: %w", method, path, err)
		}
	}
	return true, nil
}

// merchantView is the admin API's view of a merchant.
type merchantView struct {
	UID           string `json:"uid"`
	Balance       int64  `json:"balance"`
	Trusted       bool   `json:"trusted"`
	PricePermille int64  `json:"price_permille"`
	Income        int64  `json:"income"`
	Expenditure   int64  `json:"expenditure"`
}

// orderView is the part of the admin API's view of an order the harness
// reads.
type orderView struct {
	ID      string `json:"id"`
	OrderNo string `json:"order_no"`
	State   string `json:"state"`
	Status  int    `json:"status"`
	Charge  int64  `json:"charge"`
	Notify  string `json:"notify"`
}

func (a *adminClient) fund(ctx context.Context, uid string, amount int64, fundingID string) error {
	found, err := a.do(ctx, http.MethodPost, "/admin/merchants/"+uid+"/fund",
		map[string]any{"amount": amount, "funding_id": fundingID, "note": "bench", "by": "bench"}, nil)
	if err == nil && !found {
		err = fmt.Errorf("%w: fund: no merchant %s (it must be in the engine's merchants list)", ErrAdmin, uid)
	}
	return err
}

func (a *adminClient) merchant(ctx context.Context, uid string) (merchantView, error) {
	var m merchantView
	found, err := a.do(ctx, http.MethodGet, "/admin/merchants/"+uid, nil, &m)
	if err == nil && !found {
		err = fmt.Errorf("%w: no merchant %s", ErrAdmin, uid)
	}
	return m, err
}

func (a *adminClient) orderByNo(ctx context.Context, uid, orderNo string) (orderView, bool, error) {
	var o orderView
	found, err := a.do(ctx, http.MethodGet, "/admin/orders?uid="+url.QueryEscape(uid)+"&order_no="+url.QueryEscape(orderNo), nil, &o)
	return o, found, err
}

func (a *adminClient) resolveFailed(ctx context.Context, id, why string) error {
	_, err := a.do(ctx, http.MethodPost, "/admin/orders/"+id+"/resolve",
		map[string]string{"result": "failed", "by": "bench", "why": why}, nil)
	return err
}

// Signals the harness sends a started engine.
const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)
