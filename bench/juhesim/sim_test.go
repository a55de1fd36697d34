package juhesim

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"topup/engine"
	"topup/transports/juhe"
)

const (
	openID = "JH0b5ac5e9e6c2a2f1c7f2e4d1a3b5c7d9"
	key    = "7d3e1c2b4a5f6e7d8c9b0a1f2e3d4c5b"
	pid    = "105000"
)

func TestParseMix(t *testing.T) {
	m, err := ParseMix("success=80, fail=10,fail_target=3,uncertain=2,duplicate=1,timeout=1,5xx=1,reject=2")
	if err != nil {
		t.Fatal(err)
	}
	want := Mix{Success: 80, Fail: 10, FailTarget: 3, Uncertain10014: 2, Duplicate210508: 1,
		TimeoutAfterSuccess: 1, Error5xxAfterSuccess: 1, RejectRetry: 2}
	if m != want {
		t.Errorf("got %+v", m)
	}
	if back, err := ParseMix(m.String()); err != nil || back != m {
		t.Errorf("String round trip: %+v, %v", back, err)
	}
	if m, err := ParseMix("10014=1,210508=2,210507=3,error5xx_after_success=4,timeout_after_success=5"); err != nil ||
		m != (Mix{Uncertain10014: 1, Duplicate210508: 2, RejectRetry: 3, Error5xxAfterSuccess: 4, TimeoutAfterSuccess: 5}) {
		t.Errorf("aliases: %+v, %v", m, err)
	}
	for k := range numKinds { // a mix of one kind gives that kind (simkit tests the draw)
		if m, err := ParseMix(k.String() + "=3"); err != nil || Decide(m, 1, "13800000000") != k {
			t.Errorf("%v alone: %+v, %v", k, m, err)
		}
	}
	if _, err := ParseMix("wat=3"); err == nil { // simkit tests the syntax
		t.Error("unknown kind accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{Mix: Mix{Fail: -1}, Latency: -1, Products: map[string]engine.Fen{"x": 0}}.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, part := range []string{"OpenID", "Key", "negative", "Latency", "Products"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %s", err, part)
		}
	}
	if _, err := Start(Config{}); err == nil {
		t.Error("Start accepted a config without keys")
	}
}

// receiver is the engine's callback endpoint: a real fasthttp server that
// records every callback whose sign checks out and answers as answer says.
type receiver struct {
	url    string
	mu     sync.Mutex
	got    []juhe.Callback
	bad    int
	calls  int
	answer func(call int) (status int, body string)
}

func newReceiver(t *testing.T, answer func(call int) (int, string)) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{url: "http://" + ln.Addr().String() + "/juhe/callback?channel=j1", answer: answer}
	srv := &fasthttp.Server{Handler: r.handle, IdleTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		for {
			_ = srv.Shutdown()
			select {
			case <-served:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	return r
}

func (r *receiver) handle(ctx *fasthttp.RequestCtx) {
	cb, err := juhe.ParseCallback(ctx.QueryArgs())
	r.mu.Lock()
	r.calls++
	call := r.calls
	if err != nil || !cb.SignOK(key) || string(ctx.QueryArgs().Peek("channel")) != "j1" || !ctx.IsGet() {
		r.bad++
		r.mu.Unlock()
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	r.got = append(r.got, cb)
	r.mu.Unlock()
	status, body := 200, "success"
	if r.answer != nil {
		status, body = r.answer(call)
	}
	ctx.SetStatusCode(status)
	ctx.SetBodyString(body)
}

func (r *receiver) callbacks(orderID string) []juhe.Callback {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []juhe.Callback
	for _, cb := range r.got {
		if cb.OrderID == orderID {
			out = append(out, cb)
		}
	}
	return out
}

func (r *receiver) counts() (calls, bad int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, r.bad
}

// testLogger shows the simulator's warnings in the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func startSim(t *testing.T, cfg Config) *Sim {
	t.Helper()
	cfg.OpenID, cfg.Key = openID, key
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func newClient(t *testing.T, s *Sim, cbURL string, timeout time.Duration) *juhe.Client {
	t.Helper()
	c, err := juhe.NewClient(juhe.Config{BaseURL: s.URL(), OpenID: openID, Key: key, Timeout: timeout, CallbackURL: cbURL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Each kind against the real juhe.Client over loopback: the submission's
// outcome, the query before and after the result is known, the callback,
// and whether the phone was recharged.
func TestKindsWithClient(t *testing.T) {
	const latency = 300 * time.Millisecond
	type expect struct {
		submit     engine.Outcome
		code       int
		final      engine.Outcome // query once the result is known; Uncertain: no such order
		sta        string         // callback; "" none
		recharged  bool
		clientWait time.Duration
	}
	cases := map[Kind]expect{
		KindSuccess:              {engine.OutcomeAccepted, 0, engine.OutcomeSuccess, "1", true, 0},
		KindFail:                 {engine.OutcomeAccepted, 0, engine.OutcomeFailRoute, "9", false, 0},
		KindFailTarget:           {engine.OutcomeFailTarget, 210501, engine.OutcomeUncertain, "", false, 0},
		KindUncertain10014:       {engine.OutcomeUncertain, 10014, engine.OutcomeSuccess, "1", true, 0},
		KindDuplicate210508:      {engine.OutcomeUncertain, 210508, engine.OutcomeFailRoute, "9", false, 0},
		KindTimeoutAfterSuccess:  {engine.OutcomeUncertain, juhe.CodeTransport, engine.OutcomeSuccess, "1", true, 200 * time.Millisecond},
		KindError5xxAfterSuccess: {engine.OutcomeUncertain, juhe.CodeTransport, engine.OutcomeSuccess, "1", true, 0},
		KindRejectRetry:          {engine.OutcomeFailRoute, 210507, engine.OutcomeUncertain, "", false, 0},
	}
	for kind := range numKinds {
		want := cases[kind]
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			var m Mix
			w := m.weights()
			w[kind] = 1
			m = Mix{w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]}
			rcv := newReceiver(t, nil)
			clientTimeout := 2 * time.Second
			if want.clientWait > 0 {
				clientTimeout = want.clientWait
			}
			sim := startSim(t, Config{Mix: m, Latency: latency, Callbacks: true, ClientTimeout: clientTimeout})
			c := newClient(t, sim, rcv.url, clientTimeout)
			const phone, orderID = "13900001111", "2024000000000101"
			ctx := context.Background()

			start := time.Now()
			r := c.Submit(ctx, orderID, phone, pid)
			if r.Outcome != want.submit || r.Code != want.code {
				t.Fatalf("submit: %+v, want %v/%d", r, want.submit, want.code)
			}
			rec, ok := sim.Record(orderID)
			if !ok || rec.Kind != kind || rec.Phone != phone || rec.Pid != pid || rec.Recharged != want.recharged {
				t.Fatalf("record %+v, %v", rec, ok)
			}
			if r.Outcome == engine.OutcomeAccepted && (r.Ref != rec.SporderID || r.Cost != 980) {
				t.Errorf("accepted without Ref/Cost: %+v", r)
			}
			created := want.sta != ""
			if created {
				// Answered before the result is known: no news.
				if q := c.Query(ctx, orderID); q.Outcome != engine.OutcomeAccepted && time.Since(start) < latency {
					t.Errorf("query before the result: %+v", q)
				}
				waitFor(t, "a definite query", func() bool { return c.Query(ctx, orderID).Outcome.Definite() })
			}
			q := c.Query(ctx, orderID)
			if q.Outcome != want.final {
				t.Errorf("query: %+v, want %v", q, want.final)
			}
			if created && (q.Ref != rec.SporderID || q.Cost != 980 || q.Code != 0) {
				t.Errorf("query: %+v, want ref %s cost 980", q, rec.SporderID)
			}
			if !created && q.Code != juhe.CodeNoSuchOrder {
				t.Errorf("query of a refused order: %+v, want 210511", q)
			}
			if created {
				waitFor(t, "the callback", func() bool { return len(rcv.callbacks(orderID)) > 0 })
				cb := rcv.callbacks(orderID)[0]
				if cb.Sta != want.sta || cb.SporderID != rec.SporderID {
					t.Errorf("callback %+v, want sta %s", cb, want.sta)
				}
			} else {
				time.Sleep(latency + 100*time.Millisecond)
				if n := len(rcv.callbacks(orderID)); n != 0 {
					t.Errorf("%d callbacks for a refused order", n)
				}
			}
			st := sim.Stats()
			wantRecharges := 0
			if want.recharged {
				wantRecharges = 1
			}
			if st.RechargesByPhone[phone] != wantRecharges || st.Recharges != wantRecharges {
				t.Errorf("recharges %v, want %d", st.RechargesByPhone, wantRecharges)
			}
			if _, bad := rcv.counts(); bad != 0 {
				t.Errorf("%d bad callbacks", bad)
			}
		})
	}
}

// A repeated orderid earns 210508 and recharges nothing again.
func TestRepeatedOrderID(t *testing.T) {
	sim := startSim(t, Config{})
	c := newClient(t, sim, "", time.Second)
	ctx := context.Background()
	if r := c.Submit(ctx, "1000000000000001", "13900000001", pid); r.Outcome != engine.OutcomeAccepted {
		t.Fatalf("first: %+v", r)
	}
	if r := c.Submit(ctx, "1000000000000001", "13900000001", pid); r.Outcome != engine.OutcomeUncertain || r.Code != 210508 {
		t.Fatalf("repeat: %+v", r)
	}
	st := sim.Stats()
	if st.DuplicateOrderIDs != 1 || st.Recharges != 1 || st.Received != 2 || st.Accepted != 1 || len(sim.Records()) != 1 {
		t.Errorf("stats %+v", st)
	}
	// A refused orderid is refused again the same way, not as a duplicate.
	sim2 := startSim(t, Config{Mix: Mix{RejectRetry: 1}})
	c2 := newClient(t, sim2, "", time.Second)
	for range 2 {
		if r := c2.Submit(ctx, "1000000000000002", "13900000002", pid); r.Code != 210507 {
			t.Errorf("refused: %+v", r)
		}
	}
	if st := sim2.Stats(); st.DuplicateOrderIDs != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestRefusals(t *testing.T) {
	sim := startSim(t, Config{})
	ctx := context.Background()
	bad := func(cfg juhe.Config) *juhe.Client {
		c, err := juhe.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	good := juhe.Config{BaseURL: sim.URL(), OpenID: openID, Key: key, Timeout: time.Second}
	wrongOpenID, wrongKey := good, good
	wrongOpenID.OpenID = "JHother"
	wrongKey.Key = "otherkey"
	for _, tc := range []struct {
		name  string
		c     *juhe.Client
		phone string
		pid   string
		code  int
		want  engine.Outcome
	}{
		{"bad sign", bad(wrongOpenID), "13900000001", pid, 210506, engine.OutcomeFailRoute},
		{"bad key", bad(wrongKey), "13900000001", pid, 10001, engine.OutcomeFailRoute},
		{"unknown pid", bad(good), "13900000001", "999", 210503, engine.OutcomeFailRoute},
		{"bad phone", bad(good), "1390000000", pid, 210501, engine.OutcomeFailTarget},
	} {
		r := tc.c.Submit(ctx, "3000000000000001", tc.phone, tc.pid)
		if r.Code != tc.code || r.Outcome != tc.want {
			t.Errorf("%s: %+v, want %d %v", tc.name, r, tc.code, tc.want)
		}
	}
	if q := bad(wrongKey).Query(ctx, "3000000000000001"); q.Code != 10001 || q.Outcome != engine.OutcomeUncertain {
		t.Errorf("query with a bad key: %+v", q)
	}
	st := sim.Stats()
	if st.BadSign != 1 || st.BadKey != 2 || st.UnknownPid != 1 || st.Malformed != 1 || len(sim.Records()) != 0 || st.Recharges != 0 {
		t.Errorf("stats %+v, records %v", st, sim.Records())
	}
}

// Callbacks are resent until the answer is a non-empty 2xx, at most
// CallbackRetries times.
func TestCallbackRetries(t *testing.T) {
	ctx := context.Background()
	t.Run("delivered on the third attempt", func(t *testing.T) {
		t.Parallel()
		rcv := newReceiver(t, func(call int) (int, string) {
			switch call {
			case 1:
				return 200, "" // empty: resend
			case 2:
				return 500, "oops"
			}
			return 200, "success"
		})
		sim := startSim(t, Config{Callbacks: true, CallbackRetryInterval: 50 * time.Millisecond})
		c := newClient(t, sim, rcv.url, time.Second)
		if r := c.Submit(ctx, "4000000000000001", "13900000001", pid); r.Outcome != engine.OutcomeAccepted {
			t.Fatalf("%+v", r)
		}
		waitFor(t, "delivery", func() bool { return sim.Stats().Pending == 0 && sim.Stats().CallbacksOK == 1 })
		st := sim.Stats()
		if st.CallbacksSent != 3 || st.CallbacksFailed != 2 || st.CallbacksAbandoned != 0 {
			t.Errorf("stats %+v", st)
		}
		if rec, _ := sim.Record("4000000000000001"); rec.CallbacksDelivered != 1 {
			t.Errorf("record %+v", rec)
		}
	})
	t.Run("abandoned after 1+3 attempts", func(t *testing.T) {
		t.Parallel()
		rcv := newReceiver(t, func(int) (int, string) { return 204, "" })
		sim := startSim(t, Config{Callbacks: true, CallbackRetryInterval: 20 * time.Millisecond})
		c := newClient(t, sim, rcv.url, time.Second)
		c.Submit(ctx, "4000000000000002", "13900000002", pid)
		waitFor(t, "abandonment", func() bool { return sim.Stats().CallbacksAbandoned == 1 })
		st := sim.Stats()
		if st.CallbacksSent != 4 || st.CallbacksOK != 0 || st.Pending != 0 {
			t.Errorf("stats %+v", st)
		}
		if calls, _ := rcv.counts(); calls != 4 {
			t.Errorf("receiver saw %d calls", calls)
		}
	})
	t.Run("no cburl, no callback", func(t *testing.T) {
		t.Parallel()
		sim := startSim(t, Config{Callbacks: true})
		c := newClient(t, sim, "", time.Second)
		c.Submit(ctx, "4000000000000003", "13900000003", pid)
		time.Sleep(100 * time.Millisecond)
		if st := sim.Stats(); st.CallbacksSent != 0 || st.Pending != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestDuplicateAndLateCallbacks(t *testing.T) {
	const late = 300 * time.Millisecond
	rcv := newReceiver(t, nil)
	sim := startSim(t, Config{Callbacks: true, DuplicateCallbacks: true, LateCallbackDelay: late})
	c := newClient(t, sim, rcv.url, time.Second)
	start := time.Now()
	if r := c.Submit(context.Background(), "5000000000000001", "13900000001", pid); r.Outcome != engine.OutcomeAccepted {
		t.Fatalf("%+v", r)
	}
	// The result is known at once (no latency); the callback is late.
	if q := c.Query(context.Background(), "5000000000000001"); q.Outcome != engine.OutcomeSuccess {
		t.Errorf("query: %+v", q)
	}
	waitFor(t, "the first callback", func() bool { return len(rcv.callbacks("5000000000000001")) >= 1 })
	if el := time.Since(start); el < late {
		t.Errorf("callback after %v, before LateCallbackDelay %v", el, late)
	}
	waitFor(t, "both callbacks", func() bool { return len(rcv.callbacks("5000000000000001")) == 2 })
	cbs := rcv.callbacks("5000000000000001")
	if cbs[0] != cbs[1] || cbs[0].Sta != "1" {
		t.Errorf("callbacks %+v", cbs)
	}
	waitFor(t, "no pending", func() bool { return sim.Stats().Pending == 0 })
	if rec, _ := sim.Record("5000000000000001"); rec.CallbacksDelivered != 2 {
		t.Errorf("record %+v", rec)
	}
	if st := sim.Stats(); st.CallbacksSent != 2 || st.CallbacksOK != 2 || st.Recharges != 1 {
		t.Errorf("stats %+v", st)
	}
}

// With CallbackBeforeReply the callback reaches the engine before the
// submission's reply does.
func TestCallbackBeforeReply(t *testing.T) {
	rcv := newReceiver(t, nil)
	sim := startSim(t, Config{Mix: Mix{Fail: 1}, Callbacks: true, CallbackBeforeReply: true, Latency: 50 * time.Millisecond})
	c := newClient(t, sim, rcv.url, 2*time.Second)
	r := c.Submit(context.Background(), "6000000000000001", "13900000001", pid)
	if r.Outcome != engine.OutcomeAccepted {
		t.Fatalf("%+v", r)
	}
	cbs := rcv.callbacks("6000000000000001")
	if len(cbs) != 1 || cbs[0].Sta != "9" {
		t.Fatalf("callbacks when the reply arrived: %+v", cbs)
	}
	if cbs[0].SporderID != r.Ref {
		t.Errorf("callback for %s, reply for %s", cbs[0].SporderID, r.Ref)
	}
}

// Close does not wait for a reply that is being held back.
func TestCloseWakesSleepers(t *testing.T) {
	sim, err := Start(Config{OpenID: openID, Key: key, Mix: Mix{TimeoutAfterSuccess: 1}, ClientTimeout: time.Minute,
		Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, sim, "", 200*time.Millisecond)
	if r := c.Submit(context.Background(), "7000000000000001", "13900000001", pid); r.Outcome != engine.OutcomeUncertain {
		t.Errorf("%+v", r)
	}
	start := time.Now()
	if err := sim.Close(); err != nil {
		t.Error(err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Close took %v", el)
	}
	if err := sim.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Many orders of every kind at once, each followed by queries until its
// outcome is definite: every outcome is what Decide predicts, and nothing is
// recharged twice.
func TestMixedLoad(t *testing.T) {
	mix := Mix{Success: 50, Fail: 10, FailTarget: 5, Uncertain10014: 10, Duplicate210508: 5,
		TimeoutAfterSuccess: 5, Error5xxAfterSuccess: 5, RejectRetry: 10}
	const seed = 7
	rcv := newReceiver(t, nil)
	sim := startSim(t, Config{Mix: mix, Seed: seed, Latency: 50 * time.Millisecond, Jitter: 30 * time.Millisecond,
		ClientTimeout: 300 * time.Millisecond, Callbacks: true, CallbackRetryInterval: 50 * time.Millisecond})
	c := newClient(t, sim, rcv.url, 300*time.Millisecond)
	const n = 80
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			phone := strconv.Itoa(15000000000 + i*7919)
			orderID := fmt.Sprintf("%016d", 8000000000000000+i)
			kind := Decide(mix, seed, phone)
			ctx := context.Background()
			r := c.Submit(ctx, orderID, phone, pid)
			final := r.Outcome
			for final == engine.OutcomeAccepted || final == engine.OutcomeUncertain && kind.Creates() {
				time.Sleep(20 * time.Millisecond)
				final = c.Query(ctx, orderID).Outcome
			}
			want := map[Kind]engine.Outcome{
				KindSuccess: engine.OutcomeSuccess, KindFail: engine.OutcomeFailRoute, KindFailTarget: engine.OutcomeFailTarget,
				KindUncertain10014: engine.OutcomeSuccess, KindDuplicate210508: engine.OutcomeFailRoute,
				KindTimeoutAfterSuccess: engine.OutcomeSuccess, KindError5xxAfterSuccess: engine.OutcomeSuccess,
				KindRejectRetry: engine.OutcomeFailRoute,
			}[kind]
			if final != want {
				errs <- fmt.Sprintf("%s (%s): submit %+v, final %v, want %v", phone, kind, r, final, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	st := sim.Stats()
	for phone, k := range st.RechargesByPhone {
		if k != 1 {
			t.Errorf("%s recharged %d times", phone, k)
		}
	}
	recharged := 0
	for _, rec := range sim.Records() {
		if rec.Recharged {
			recharged++
		}
		if rec.Kind != Decide(mix, seed, rec.Phone) {
			t.Errorf("record %+v: kind differs from Decide", rec)
		}
	}
	if st.Recharges != recharged || len(sim.Records()) != n {
		t.Errorf("stats %+v, %d records", st, len(sim.Records()))
	}
	t.Logf("stats %+v", st)
}
