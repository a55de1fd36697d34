package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"topup/bench/opersim"
	"topup/bench/sockmodsim"
	"topup/engine"
	"topup/persistence/redisserver"
)

// The integration tests run the real daemon binary against a real
// redis-server, socket-module simulators and a test operator, all on
// loopback.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// daemonBinary builds topupd once per test binary run.
func daemonBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "topupd-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "topupd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	addr, err := redisserver.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

const (
	opUID    = "3928857"
	opKey    = "operator-test-key"
	opUID2   = "777"
	opKey2   = "operator-two-key"
	simKeyA  = "bff0378ea5ef0d5d"
	simKeyB  = "0123456789abcdef"
	adminTok = "test-admin-token"
)

// cluster is one daemon with its Redis, two socket-module simulators (A:
// mixed outcomes, B: always succeeds) and a test operator.
type cluster struct {
	t       *testing.T
	dir     string
	redis   *redisserver.Server
	simA    *sockmodsim.Sim
	simB    *sockmodsim.Sim
	recv    *opersim.Receiver
	op      *opersim.Client
	op2     *opersim.Client
	cfgPath string
	opAddr  string
	admin   string
	cbAddr  string
	cmd     *exec.Cmd
	logFile *os.File
	mixA    sockmodsim.Mix
	seedA   uint64
}

// clusterOpts vary a cluster from the defaults.
type clusterOpts struct {
	// notify is the YAML notify block (default: 5 attempts, short back-off).
	notify string
	// channels and products are extra YAML list items (each line starting
	// with "  - "); %OP% in them is replaced by the operator listener address.
	channels, products string
	// query is the YAML query block (default: short schedule, 8s hold).
	query string
	// prepare runs on the node's data dir before the daemon first starts.
	prepare func(dataDir string)
}

func newCluster(t *testing.T, mixA sockmodsim.Mix) *cluster {
	return newClusterWith(t, mixA, clusterOpts{})
}

func newClusterWith(t *testing.T, mixA sockmodsim.Mix, opts clusterOpts) *cluster {
	if opts.notify == "" {
		opts.notify = "{attempts: 5, backoff: [0s, 200ms, 500ms], timeout: 5s}"
	}
	if opts.query == "" {
		opts.query = "{schedule: [1s, 1s, 2s], hold_after: 8s}"
	}
	c := &cluster{t: t, dir: t.TempDir(), mixA: mixA, seedA: 7}
	c.redis = redisserver.StartT(t, redisserver.Options{AppendOnly: true, ExtraArgs: []string{"--appendfsync", "always"}})
	c.opAddr, c.admin, c.cbAddr = freePort(t), freePort(t), freePort(t)
	var err error
	c.simA, err = sockmodsim.Start(sockmodsim.Config{Listen: "127.0.0.1:0", MD5Key: simKeyA, CallbackAddr: c.cbAddr,
		Mix: mixA, Seed: c.seedA, Latency: 20 * time.Millisecond, Jitter: 20 * time.Millisecond,
		UncertainFollowUp: 300 * time.Millisecond, CallbackRetries: 60, CallbackRetryInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.simA.Close() })
	c.simB, err = sockmodsim.Start(sockmodsim.Config{Listen: "127.0.0.1:0", MD5Key: simKeyB, CallbackAddr: c.cbAddr,
		Mix: sockmodsim.Mix{Success: 1}, Latency: 10 * time.Millisecond, CallbackRetries: 60, CallbackRetryInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.simB.Close() })
	c.recv, err = opersim.NewReceiver("127.0.0.1:0", map[string]string{opUID: opKey, opUID2: opKey2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.recv.Close() })
	c.op = &opersim.Client{BaseURL: "http://" + c.opAddr, UID: opUID, Key: opKey}
	c.op2 = &opersim.Client{BaseURL: "http://" + c.opAddr, UID: opUID2, Key: opKey2}
	cfg := fmt.Sprintf(`
node: {id: 3, data_dir: %q, idle_actor_timeout: 5s}
redis: {addr: %q}
operator_api: {listen: %q}
admin_api: {listen: %q, token: %q}
sockmod: {callback_listen: %q}
merchants:
  - {uid: %q, name: demo, md5key: %q, price_permille: 985}
  - {uid: %q, name: small, md5key: %q, price_permille: 1000}
channels:
  - {name: sock-a, kind: sockmod, addr: %q, md5key: %q, timeout: 5s, max_inflight: 500}
  - {name: sock-b, kind: sockmod, addr: %q, md5key: %q, timeout: 5s, max_inflight: 500}
%s
products:
  - {order_type: 1, carriers: [1, 2, 3], face_values: [1000, 2000, 5000, 10000],
     routes: [{channel: sock-a, charge_type: 0, priority: 1}, {channel: sock-b, charge_type: 0, priority: 2}]}
%s
notify: %s
query: %s
public_url: "http://%s"
log: {level: info}
`, filepath.Join(c.dir, "node"), c.redis.Addr(), c.opAddr, c.admin, adminTok, c.cbAddr,
		opUID, opKey, opUID2, opKey2, c.simA.Addr(), simKeyA, c.simB.Addr(), simKeyB,
		strings.ReplaceAll(opts.channels, "%OP%", c.opAddr), opts.products, opts.notify, opts.query, c.opAddr)
	c.cfgPath = filepath.Join(c.dir, "topupd.yaml")
	if err := os.WriteFile(c.cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if opts.prepare != nil {
		opts.prepare(filepath.Join(c.dir, "node"))
	}
	c.start()
	t.Cleanup(c.stop)
	return c
}

// start runs the daemon and waits until it is ready.
func (c *cluster) start() {
	t := c.t
	var err error
	c.logFile, err = os.OpenFile(filepath.Join(c.dir, "topupd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command(daemonBinary(t), "-config", c.cfgPath)
	c.cmd.Stdout, c.cmd.Stderr = c.logFile, c.logFile
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + c.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("daemon not ready in time; log:\n%s", c.daemonLog())
}

func (c *cluster) daemonLog() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "topupd.log"))
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// kill SIGKILLs the daemon.
func (c *cluster) kill() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
	c.cmd = nil
	c.logFile.Close()
}

func (c *cluster) stop() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
	c.cmd = nil
	c.logFile.Close()
}

// adminDo calls the admin API and decodes the JSON reply into out.
func (c *cluster) adminDo(method, path string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+c.admin+path, rd)
	req.Header.Set("Authorization", "Bearer "+adminTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("admin %s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func (c *cluster) fund(uid string, amount int64, id string) {
	c.t.Helper()
	if st := c.adminDo("POST", "/admin/merchants/"+uid+"/fund", map[string]any{"amount": amount, "funding_id": id}, nil); st != 200 {
		c.t.Fatalf("fund %s: status %d", uid, st)
	}
}

func (c *cluster) balance(uid string) int64 {
	c.t.Helper()
	var m struct {
		Balance int64 `json:"balance"`
		Trusted bool  `json:"trusted"`
	}
	if st := c.adminDo("GET", "/admin/merchants/"+uid, nil, &m); st != 200 || !m.Trusted {
		c.t.Fatalf("merchant %s: status %d trusted %v", uid, st, m.Trusted)
	}
	return m.Balance
}

type orderView struct {
	ID       string `json:"id"`
	HeldAt   int64  `json:"held_at"`
	State    string `json:"state"`
	Status   int    `json:"status"`
	Charge   int64  `json:"charge"`
	Notify   string `json:"notify"`
	Attempts []struct {
		Channel string `json:"channel"`
		State   string `json:"state"`
	} `json:"attempts"`
}

func (c *cluster) order(uid, orderNo string) (orderView, bool) {
	var o orderView
	st := c.adminDo("GET", "/admin/orders?uid="+uid+"&order_no="+orderNo, nil, &o)
	return o, st == 200
}

// heldOrders lists orders held for a decision: past the hold window
// without a definite result (uncertain orders still inside the window may
// yet be settled by their supplier, so a person does not decide them).
func (c *cluster) heldOrders() []orderView {
	var r struct {
		Orders []orderView `json:"orders"`
	}
	c.adminDo("GET", "/admin/orders/held", nil, &r)
	held := r.Orders[:0]
	for _, o := range r.Orders {
		if o.HeldAt != 0 {
			held = append(held, o)
		}
	}
	return held
}

// placeWithRetry pushes an order until it gets a definite answer, as a
// real operator does across a daemon restart.
func (c *cluster) placeWithRetry(ctx context.Context, cl *opersim.Client, o opersim.Order) opersim.Answer {
	for {
		a, err := cl.PlaceOrder(ctx, o, false)
		if err == nil && a.HTTPStatus == 200 {
			return a
		}
		if err == nil && a.HTTPStatus != 503 {
			return a
		}
		if ctx.Err() != nil {
			return a
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func phoneFor(i int) string { return fmt.Sprintf("139%08d", i) }

// expectStatus is the terminal status an order on phone gets, given what
// simulator A decides for it and how the test resolves held orders.
func expectStatus(mix sockmodsim.Mix, seed uint64, phone string) int {
	switch sockmodsim.Decide(mix, seed, phone) {
	case sockmodsim.KindSuccess, sockmodsim.KindFail, sockmodsim.KindUncertain:
		return engine.StatusSuccess // fail fails over to B, which succeeds; uncertain follows up with success
	case sockmodsim.KindFailTarget:
		return engine.StatusFailed
	}
	return engine.StatusReturned // no callback / partial: held, resolved "failed" by the test
}

// waitFor polls cond until it holds or the time runs out.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func keyOf(uid, orderNo string) string { return uid + "/" + orderNo }

// sumRecharges adds up recharges per phone as several simulators saw them.
func sumRecharges(perSim ...map[string]int) map[string]int {
	m := map[string]int{}
	for _, s := range perSim {
		for p, k := range s {
			m[p] += k
		}
	}
	return m
}

// settle waits until every order has had a callback, deciding orders held
// past the hold window from the suppliers' records, as a person would:
// success if a supplier recharged the phone, failed otherwise. It returns
// how many orders it decided.
func (c *cluster) settle(orders []opersim.Order, recharges func() map[string]int, timeout time.Duration) int {
	t := c.t
	t.Helper()
	phones := map[string]string{} // platform id → phone, filled on first need
	phoneOf := func(id string) string {
		if _, ok := phones[id]; !ok {
			for _, o := range orders {
				if v, ok := c.order(opUID, o.OrderNo); ok {
					phones[v.ID] = o.Phone
				}
			}
		}
		return phones[id]
	}
	decided := 0
	deadline := time.Now().Add(timeout)
	for {
		missing := 0
		for _, o := range orders {
			if len(c.recv.Callbacks(opUID, o.OrderNo)) == 0 {
				missing++
			}
		}
		if missing == 0 {
			return decided
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d orders never called back; log:\n%s", missing, c.daemonLog())
		}
		if held := c.heldOrders(); len(held) > 0 {
			rc := recharges()
			for _, h := range held {
				result := "failed"
				if rc[phoneOf(h.ID)] > 0 {
					result = "success"
				}
				if c.adminDo("POST", "/admin/orders/"+h.ID+"/resolve", map[string]string{"result": result, "by": "test", "why": "supplier records"}, nil) == 200 {
					decided++
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
}
