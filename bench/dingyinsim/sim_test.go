package dingyinsim

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"topup/engine"
	"topup/transports/dingyin"
)

const (
	userID = "10001"
	key    = "bff0378ea5ef0d5d"
)

func TestParseMix(t *testing.T) {
	m, err := ParseMix("success=80, fail=8,uncertain9999=3,duplicate5006=2,timeout_after_success=2," +
		"Error5xx-After-Success=2,lowbalance5002=2,reject5003=1")
	if err != nil {
		t.Fatal(err)
	}
	want := Mix{Success: 80, Fail: 8, Uncertain9999: 3, Duplicate5006: 2, TimeoutAfterSuccess: 2,
		Error5xxAfterSuccess: 2, LowBalance5002: 2, Reject5003: 1}
	if m != want {
		t.Errorf("got %+v", m)
	}
	if back, err := ParseMix(m.String()); err != nil || back != m {
		t.Errorf("String round trip: %+v, %v", back, err)
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

// arrival is one callback the test engine received.
type arrival struct {
	cb     dingyin.Callback
	signOK bool
	at     time.Time
}

// receiver is the engine's callback endpoint, on a real fasthttp server.
type receiver struct {
	url string
	mu  sync.Mutex
	got []arrival
	err []error
}

func (r *receiver) arrivals(sporderID string) []arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []arrival
	for _, a := range r.got {
		if a.cb.SporderID == sporderID {
			out = append(out, a)
		}
	}
	return out
}

func startReceiver(t *testing.T) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{url: "http://" + ln.Addr().String() + "/dingyin/callback"}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		cb, err := dingyin.ParseCallback(ctx.Request.Header.ContentType(), ctx.PostBody())
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			r.err = append(r.err, err)
			ctx.Error(err.Error(), fasthttp.StatusBadRequest)
			return
		}
		r.got = append(r.got, arrival{cb: cb, signOK: cb.SignOK(key), at: time.Now()})
		ctx.SetBody(dingyin.CallbackReply())
	}}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		_ = srv.Shutdown()
		_ = ln.Close()
		<-done
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, err := range r.err {
			t.Errorf("receiver: %v", err)
		}
	})
	return r
}

func startSim(t *testing.T, cfg Config) *Sim {
	t.Helper()
	cfg.UserID, cfg.Key = userID, key
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

func newClient(t *testing.T, url, backURL, k string, timeout time.Duration) *dingyin.Client {
	t.Helper()
	c, err := dingyin.NewClient(dingyin.Config{BaseURL: url, UserID: userID, Key: k, Timeout: timeout, BackURL: backURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// accountFor finds an account Decide gives kind k under m and seed.
func accountFor(t *testing.T, m Mix, seed uint64, k Kind) string {
	t.Helper()
	for i := range 100_000 {
		a := fmt.Sprintf("138%08d", i)
		if Decide(m, seed, a) == k {
			return a
		}
	}
	t.Fatalf("no account for %v", k)
	return ""
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEveryKindOverLoopback(t *testing.T) {
	mix := Mix{Success: 1, Fail: 1, Uncertain9999: 1, Duplicate5006: 1, TimeoutAfterSuccess: 1,
		Error5xxAfterSuccess: 1, LowBalance5002: 1, Reject5003: 1}
	const seed = 7
	rcv := startReceiver(t)
	sim := startSim(t, Config{Mix: mix, Seed: seed, Latency: 100 * time.Millisecond, Jitter: 20 * time.Millisecond,
		ClientTimeout: 200 * time.Millisecond, Callbacks: true, CallbackRetryInterval: 50 * time.Millisecond})
	c := newClient(t, sim.URL(), rcv.url, key, 200*time.Millisecond)
	start := sim.Stats().Balance

	A, S, F, U := engine.OutcomeAccepted, engine.OutcomeSuccess, engine.OutcomeFailRoute, engine.OutcomeUncertain
	cases := []struct {
		kind          Kind
		submit        engine.Outcome
		resultNo      string
		final         engine.Outcome // from queries (Accepted: 5007 for ever)
		finalNo       string
		recharged     bool
		wantCallbacks bool
	}{
		{KindSuccess, A, "0", S, "1", true, true},
		{KindFail, A, "0", F, "9", false, true},
		{KindUncertain9999, U, "9999", S, "1", true, true},
		{KindDuplicate5006, U, "5006", F, "9", false, true},
		{KindTimeoutAfterSuccess, U, "", S, "1", true, true},
		{KindError5xxAfterSuccess, U, "", S, "1", true, true},
		{KindLowBalance5002, F, "5002", A, "5007", false, false},
		{KindReject5003, F, "5003", A, "5007", false, false},
	}
	var wg sync.WaitGroup
	for _, tc := range cases {
		acct := accountFor(t, mix, seed, tc.kind)
		spo := "SP-" + tc.kind.String()
		wg.Go(func() {
			res := c.Submit(context.Background(), spo, acct, "", 1, time.Now())
			if res.Outcome != tc.submit || res.ResultNo != tc.resultNo {
				t.Errorf("%v: submit %+v, want %v %q", tc.kind, res, tc.submit, tc.resultNo)
			}
			if tc.kind == KindLowBalance5002 && !dingyin.IsLowBalance(res.ResultNo) {
				t.Errorf("5002 not recognised: %+v", res)
			}
			if tc.submit == A && (res.Cost != 985 || res.Ref == "") {
				t.Errorf("%v: cost/ref %+v", tc.kind, res)
			}
			var q dingyin.Result
			waitFor(t, 3*time.Second, spo+" final", func() bool {
				q = c.Query(context.Background(), spo)
				return q.ResultNo == tc.finalNo
			})
			if q.Outcome != tc.final {
				t.Errorf("%v: final query %+v, want %v", tc.kind, q, tc.final)
			}
			if tc.final != A && (!q.HasBalance || q.Cost != 985) {
				t.Errorf("%v: query amounts %+v", tc.kind, q)
			}
			if tc.wantCallbacks {
				waitFor(t, 3*time.Second, spo+" callback", func() bool { return len(rcv.arrivals(spo)) > 0 })
				a := rcv.arrivals(spo)[0]
				if !a.signOK || a.cb.Outcome() != tc.final || a.cb.UserID != userID || a.cb.OrderID != q.Ref || a.cb.Remark1 == "" {
					t.Errorf("%v: callback %+v", tc.kind, a)
				}
				if _, err := dingyin.ParseYuan(a.cb.FundBalance); err != nil {
					t.Errorf("%v: fundbalance %q: %v", tc.kind, a.cb.FundBalance, err)
				}
			}
		})
	}
	wg.Wait()

	st := sim.Stats()
	for _, tc := range cases {
		acct := accountFor(t, mix, seed, tc.kind)
		want := 0
		if tc.recharged {
			want = 1
		}
		if got := st.RechargesByAccount[acct]; got != want {
			t.Errorf("%v: %d recharges, want %d", tc.kind, got, want)
		}
	}
	if st.Received != len(cases) || st.BadSign != 0 || st.Duplicates != 0 {
		t.Errorf("stats %+v", st)
	}
	if want := start - 4*985; st.Balance != want {
		t.Errorf("balance %d, want %d", st.Balance, want)
	}
	if bal, err := c.Balance(context.Background()); err != nil || bal != st.Balance {
		t.Errorf("Balance() = %d, %v; want %d", bal, err, st.Balance)
	}
	if st.CallbacksOK != 6 || st.CallbacksSent != 6 {
		t.Errorf("callbacks sent %d ok %d, want 6", st.CallbacksSent, st.CallbacksOK)
	}

	// A repeated sporderid is refused with 5006 and not recharged again.
	acct := accountFor(t, mix, seed, KindSuccess)
	if res := c.Submit(context.Background(), "SP-success", acct, "", 1, time.Now()); res.Outcome != U || res.ResultNo != "5006" {
		t.Errorf("resubmission: %+v", res)
	}
	if st := sim.Stats(); st.Duplicates != 1 || st.RechargesByAccount[acct] != 1 {
		t.Errorf("after resubmission: %+v", st)
	}
	recs := sim.Records()
	if len(recs) != len(cases) {
		t.Fatalf("%d records", len(recs))
	}
	for _, r := range recs {
		if r.Created != r.Kind.Creates() || r.Recharged != r.Kind.Recharged() || r.CallbackDelivered != r.Kind.Creates() {
			t.Errorf("record %+v", r)
		}
	}
}

func TestBadSignAndUnknownProduct(t *testing.T) {
	sim := startSim(t, Config{Products: map[string]engine.Fen{"cm10": 1000, "cm50": 5000}})
	wrong := newClient(t, sim.URL(), "", "wrong-key", time.Second)
	if res := wrong.Submit(context.Background(), "1", "13800000000", "cm10", 1, time.Now()); res.ResultNo != "5005" || res.Outcome != engine.OutcomeFailRoute {
		t.Errorf("submit with a wrong key: %+v", res)
	}
	if res := wrong.Query(context.Background(), "1"); res.ResultNo != "5005" || res.Outcome != engine.OutcomeUncertain {
		t.Errorf("query with a wrong key: %+v", res)
	}
	if _, err := wrong.Balance(context.Background()); err == nil {
		t.Error("balance with a wrong key succeeded")
	}
	if st := sim.Stats(); st.BadSign != 3 || len(st.RechargesByAccount) != 0 {
		t.Errorf("stats %+v", st)
	}

	c := newClient(t, sim.URL(), "", key, time.Second)
	if res := c.Submit(context.Background(), "2", "13800000000", "nope", 1, time.Now()); res.ResultNo != "5003" || res.Outcome != engine.OutcomeFailRoute {
		t.Errorf("unknown product: %+v", res)
	}
	res := c.Submit(context.Background(), "3", "张三", "cm50", 2, time.Now())
	if res.ResultNo != "0" || res.Cost != 9850 {
		t.Errorf("cm50×2 for a Chinese account: %+v", res)
	}
	if r := sim.Records(); len(r) != 1 || r[0].Account != "张三" || r[0].Num != 2 || r[0].Cost != 9850 {
		t.Errorf("records %+v", r)
	}
}

func TestBalanceRunsOut(t *testing.T) {
	sim := startSim(t, Config{Balance: 2000}) // two 10-yuan recharges at 9.85
	c := newClient(t, sim.URL(), "", key, time.Second)
	for i, want := range []string{"0", "0", "5002"} {
		res := c.Submit(context.Background(), strconv.Itoa(i), fmt.Sprint(13800000000+i), "", 1, time.Now())
		if res.ResultNo != want {
			t.Errorf("order %d: %+v, want %s", i, res, want)
		}
	}
	if bal, err := c.Balance(context.Background()); err != nil || bal != 30 {
		t.Errorf("balance %d, %v; want 30", bal, err)
	}
}

func TestNotFoundForThenResult(t *testing.T) {
	sim := startSim(t, Config{NotFoundFor: 300 * time.Millisecond, Latency: 500 * time.Millisecond})
	c := newClient(t, sim.URL(), "", key, time.Second)
	if res := c.Submit(context.Background(), "nf1", "13800000000", "", 1, time.Now()); res.ResultNo != "0" {
		t.Fatalf("submit %+v", res)
	}
	if q := c.Query(context.Background(), "nf1"); q.ResultNo != "5007" || q.Outcome != engine.OutcomeAccepted {
		t.Errorf("early query %+v", q)
	}
	waitFor(t, 2*time.Second, "in progress", func() bool { return c.Query(context.Background(), "nf1").ResultNo == "2" })
	waitFor(t, 2*time.Second, "success", func() bool { return c.Query(context.Background(), "nf1").Outcome == engine.OutcomeSuccess })
	if st := sim.Stats(); st.CallbacksSent != 0 {
		t.Errorf("callbacks sent with callbacks off: %+v", st)
	}
}

func TestCallbackBeforeReplyAndDuplicates(t *testing.T) {
	rcv := startReceiver(t)
	sim := startSim(t, Config{Callbacks: true, CallbackBeforeReply: true, DuplicateCallbacks: true,
		Mix: Mix{Success: 1, Fail: 1}, Latency: time.Second})
	c := newClient(t, sim.URL(), rcv.url, key, 2*time.Second)
	for i := range 4 {
		spo := "cbr" + strconv.Itoa(i)
		res := c.Submit(context.Background(), spo, fmt.Sprint(13900000000+i), "", 1, time.Now())
		if res.ResultNo != "0" {
			t.Fatalf("submit %+v", res)
		}
		// The callback had arrived before the answer.
		if a := rcv.arrivals(spo); len(a) != 1 || !a[0].signOK || !a[0].cb.Outcome().Definite() {
			t.Errorf("%s: arrivals before the answer: %+v", spo, a)
		}
		// The result is final at once, so queries agree with the callback.
		if q := c.Query(context.Background(), spo); q.Outcome != rcv.arrivals(spo)[0].cb.Outcome() {
			t.Errorf("%s: query %+v disagrees with the callback", spo, q)
		}
		waitFor(t, 2*time.Second, spo+" duplicate callback", func() bool { return len(rcv.arrivals(spo)) == 2 })
		a := rcv.arrivals(spo)
		if a[0].cb != a[1].cb {
			t.Errorf("duplicate differs: %+v vs %+v", a[0].cb, a[1].cb)
		}
	}
}

func TestLateCallbacksAndResends(t *testing.T) {
	// The engine answers the first attempt of every callback with an error.
	var mu sync.Mutex
	seen := map[string]int{}
	var got []time.Time
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		cb, err := dingyin.ParseCallback(ctx.Request.Header.ContentType(), ctx.PostBody())
		if err != nil || !cb.SignOK(key) {
			ctx.Error("bad", 400)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		seen[cb.SporderID]++
		if seen[cb.SporderID] == 1 {
			ctx.SetBodyString("busy")
			return
		}
		got = append(got, time.Now())
		ctx.SetBody(dingyin.CallbackReply())
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(); _ = ln.Close() })

	sim := startSim(t, Config{Callbacks: true, Latency: 50 * time.Millisecond, LateCallbackDelay: 300 * time.Millisecond,
		CallbackRetryInterval: 50 * time.Millisecond})
	c := newClient(t, sim.URL(), "http://"+ln.Addr().String()+"/cb", key, time.Second)
	submitted := time.Now()
	if res := c.Submit(context.Background(), "late1", "13800000000", "", 1, submitted); res.ResultNo != "0" {
		t.Fatalf("submit %+v", res)
	}
	waitFor(t, time.Second, "final by query", func() bool { return c.Query(context.Background(), "late1").Outcome == engine.OutcomeSuccess })
	mu.Lock()
	early := seen["late1"]
	mu.Unlock()
	if early != 0 {
		t.Errorf("callback before the late delay: %d", early)
	}
	waitFor(t, 3*time.Second, "callback delivered", func() bool { return sim.Stats().CallbacksOK == 1 })
	st := sim.Stats()
	if st.CallbacksSent != 2 || st.CallbacksFailed != 1 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Sub(submitted) < 350*time.Millisecond {
		t.Errorf("delivered at %v after submission", got[0].Sub(submitted))
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{Mix: Mix{Fail: -1}, Latency: -1, Balance: -5, Products: map[string]engine.Fen{"x": 0}}.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"UserID", "Key", "negative", "durations", "Balance", `product "x"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %s", err, want)
		}
	}
}
