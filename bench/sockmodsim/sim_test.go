package sockmodsim

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"topup/engine"
	"topup/transports/sockmod"
)

const key = "bff0378ea5ef0d5d"

func TestParseMix(t *testing.T) {
	m, err := ParseMix("success=80, fail=10,fail_target=3,uncertain=4,nocallback=2,partial=1")
	if err != nil {
		t.Fatal(err)
	}
	want := Mix{Success: 80, Fail: 10, FailTarget: 3, Uncertain: 4, NoCallback: 2, Partial: 1}
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

func TestConfigValidate(t *testing.T) {
	err := Config{Mix: Mix{Fail: -1}, AckRetCode: 7, Latency: -1, CallbackPort: 70000}.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, part := range []string{"MD5Key", "negative", "AckRetCode", "Latency", "CallbackPort"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %s", err, part)
		}
	}
}

// engineStub is a callback receiver: it records every valid result and
// answers OK unless refuse says otherwise.
type engineStub struct {
	ln     net.Listener
	mu     sync.Mutex
	byID   map[int64][]sockmod.Result
	bad    int
	calls  int
	refuse func(call int) bool
	wg     sync.WaitGroup
}

func newEngineStub(t *testing.T, refuse func(call int) bool) *engineStub {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &engineStub{ln: ln, byID: map[int64][]sockmod.Result{}, refuse: refuse}
	t.Cleanup(func() { ln.Close(); e.wg.Wait() })
	e.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.wg.Go(func() { e.serve(c) })
		}
	})
	return e
}

func (e *engineStub) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	frame, err := readFrame(c)
	if err != nil {
		return
	}
	r, err := sockmod.DecodeResult(frame)
	e.mu.Lock()
	e.calls++
	call := e.calls
	if err != nil || !r.VerifySign(key) {
		e.bad++
		e.mu.Unlock()
		return
	}
	if e.refuse != nil && e.refuse(call) {
		e.mu.Unlock()
		return
	}
	e.byID[r.ChargeID] = append(e.byID[r.ChargeID], r)
	e.mu.Unlock()
	_, _ = c.Write([]byte("OK"))
}

func (e *engineStub) port() int { return e.ln.Addr().(*net.TCPAddr).Port }

func (e *engineStub) results() map[int64][]sockmod.Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[int64][]sockmod.Result, len(e.byID))
	for k, v := range e.byID {
		out[k] = append([]sockmod.Result(nil), v...)
	}
	return out
}

func startSim(t *testing.T, cfg Config) *Sim {
	t.Helper()
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

// sendOrder plays the engine sending one order; it returns the ack.
func sendOrder(t *testing.T, addr string, o sockmod.Order, signKey string) (sockmod.Ack, error) {
	t.Helper()
	frame, err := sockmod.EncodeOrder(o, signKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return sockmod.Ack{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(frame); err != nil {
		return sockmod.Ack{}, err
	}
	reply, err := readFrame(c)
	if err != nil {
		return sockmod.Ack{}, err
	}
	return sockmod.DecodeAck(reply)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSimEndToEnd(t *testing.T) {
	eng := newEngineStub(t, nil)
	mix := Mix{Success: 50, Fail: 10, FailTarget: 10, Uncertain: 10, NoCallback: 10, Partial: 10}
	sim := startSim(t, Config{
		MD5Key: key, CallbackPort: eng.port(), // callback to the sender's IP
		Mix: mix, Seed: 7, Latency: 10 * time.Millisecond, Jitter: 5 * time.Millisecond,
		UncertainFollowUp: 20 * time.Millisecond,
	})

	const n = 200
	orders := make([]sockmod.Order, n)
	var wg sync.WaitGroup
	for i := range n {
		orders[i] = sockmod.Order{ChargeID: engine.MakeID(1, uint64(i+1)).SupplierNo(1),
			ChargeAcct: strconv.Itoa(13500000000 + i), ChargeCash: engine.Fen(1000 + 2*i), Amount: 1, RetRsn: "rsn" + strconv.Itoa(i)}
		wg.Go(func() {
			ack, err := sendOrder(t, sim.Addr(), orders[i], key)
			if err != nil {
				t.Error(err)
				return
			}
			if ack.RetCode != 0 || ack.ChargeID != orders[i].ChargeID || ack.RetDetail != "定单已接收" || !ack.VerifySign(key) {
				t.Errorf("ack %+v", ack)
			}
		})
	}
	wg.Wait()

	wantCallbacks := 0
	wantByAcct := map[string]int{}
	for _, o := range orders {
		k := Decide(mix, 7, o.ChargeAcct)
		switch k {
		case KindUncertain:
			wantCallbacks += 2
		case KindNoCallback:
		default:
			wantCallbacks++
		}
		if k.Recharged() {
			wantByAcct[o.ChargeAcct]++
		}
	}
	waitFor(t, "callbacks", func() bool { return sim.Stats().CallbacksOK == wantCallbacks && sim.Stats().Pending == 0 })

	got := eng.results()
	for _, o := range orders {
		k := Decide(mix, 7, o.ChargeAcct)
		rs := got[o.ChargeID]
		check := func(cond bool, format string, args ...any) {
			if !cond {
				t.Errorf("order %d (%s): "+format, append([]any{o.ChargeID, k}, args...)...)
			}
		}
		for _, r := range rs {
			check(r.RetRsn == o.RetRsn, "retRsn %q", r.RetRsn)
		}
		switch k {
		case KindSuccess:
			check(len(rs) == 1 && rs[0].RetCode == 1 && rs[0].RetCash == o.ChargeCash &&
				rs[0].RetCost == engine.ChargeFor(o.ChargeCash, 985), "results %+v", rs)
			if len(rs) == 1 {
				outcome, _ := sockmod.ClassifyResult(rs[0], o.ChargeCash)
				check(outcome == engine.OutcomeSuccess, "classified %v", outcome)
			}
		case KindPartial:
			check(len(rs) == 1 && rs[0].RetCode == 1 && rs[0].RetCash == o.ChargeCash/2, "results %+v", rs)
			if len(rs) == 1 {
				outcome, _ := sockmod.ClassifyResult(rs[0], o.ChargeCash)
				check(outcome == engine.OutcomePartial, "classified %v", outcome)
			}
		case KindFail:
			check(len(rs) == 1 && rs[0].RetCode == 3 && rs[0].RetDetail == "充值失败", "results %+v", rs)
			if len(rs) == 1 {
				outcome, _ := sockmod.ClassifyResult(rs[0], o.ChargeCash)
				check(outcome == engine.OutcomeFailRoute, "classified %v", outcome)
			}
		case KindFailTarget:
			check(len(rs) == 1 && rs[0].RetCode == 3 && rs[0].RetDetail == "空号" && rs[0].UserContent == "号码为空号", "results %+v", rs)
			if len(rs) == 1 {
				outcome, _ := sockmod.ClassifyResult(rs[0], o.ChargeCash)
				check(outcome == engine.OutcomeFailTarget, "classified %v", outcome)
			}
		case KindUncertain:
			check(len(rs) == 2 && rs[0].RetCode == 2 && rs[1].RetCode == 1 && rs[1].RetCash == o.ChargeCash, "results %+v", rs)
		case KindNoCallback:
			check(len(rs) == 0, "results %+v", rs)
		}
	}

	st := sim.Stats()
	if st.Received != n || st.Acked != n || st.BadSign != 0 || st.Malformed != 0 || st.DuplicateChargeIDs != 0 ||
		st.CallbacksSent != wantCallbacks || st.CallbacksFailed != 0 {
		t.Errorf("stats %+v", st)
	}
	if len(st.SuccessByAcct) != len(wantByAcct) {
		t.Errorf("SuccessByAcct has %d accounts, want %d", len(st.SuccessByAcct), len(wantByAcct))
	}
	for a, c := range wantByAcct {
		if st.SuccessByAcct[a] != c {
			t.Errorf("SuccessByAcct[%s] = %d, want %d", a, st.SuccessByAcct[a], c)
		}
	}
	recs := sim.Records()
	if len(recs) != n {
		t.Fatalf("%d records", len(recs))
	}
	for _, r := range recs {
		if want := Decide(mix, 7, r.ChargeAcct); r.Kind != want || r.CallbackDelivered != (want != KindNoCallback) {
			t.Errorf("record %+v, want kind %v", r, want)
		}
	}
	// The balance only goes down, by the cost of each recharge.
	var lastBal engine.Fen = 1 << 62
	for _, o := range orders {
		for _, r := range got[o.ChargeID] {
			if r.RetCode == 1 && r.RetBalance >= 100_000_000 {
				t.Errorf("balance %v not below the starting 1,000,000.000", r.RetBalance.Yuan3())
			}
			lastBal = min(lastBal, r.RetBalance)
		}
	}
	if lastBal <= 0 {
		t.Errorf("balance %d", lastBal)
	}
}

func TestSimBadSignMalformedDuplicate(t *testing.T) {
	eng := newEngineStub(t, nil)
	sim := startSim(t, Config{MD5Key: key, CallbackAddr: eng.ln.Addr().String(), Mix: Mix{Success: 1}})

	o := sockmod.Order{ChargeID: 101, ChargeAcct: "13900000000", ChargeCash: 5000}
	ack, err := sendOrder(t, sim.Addr(), o, "wrong-key")
	if err != nil {
		t.Fatal(err)
	}
	if ack.RetCode != 3 || ack.RetDetail != "签名错误" || !ack.VerifySign(key) {
		t.Errorf("bad-sign ack %+v", ack)
	}

	c, err := net.Dial("tcp", sim.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte("hello\r\n"))
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Errorf("garbage got a reply %q", b)
	}
	c.Close()

	for range 2 {
		ack, err := sendOrder(t, sim.Addr(), o, key)
		if err != nil || ack.RetCode != 0 {
			t.Fatalf("ack %+v, %v", ack, err)
		}
	}
	waitFor(t, "callback", func() bool { return sim.Stats().CallbacksOK == 1 })
	time.Sleep(50 * time.Millisecond) // a second callback would have come by now
	st := sim.Stats()
	if st.BadSign != 1 || st.Malformed != 1 || st.DuplicateChargeIDs != 1 || st.Acked != 2 ||
		st.CallbacksSent != 1 || st.SuccessByAcct["13900000000"] != 1 || st.Received != 3 {
		t.Errorf("stats %+v", st)
	}
	if rs := eng.results()[101]; len(rs) != 1 {
		t.Errorf("results %+v", rs)
	}
}

func TestSimCallbackRetries(t *testing.T) {
	// The engine drops the first two attempts.
	eng := newEngineStub(t, func(call int) bool { return call <= 2 })
	sim := startSim(t, Config{MD5Key: key, CallbackAddr: eng.ln.Addr().String(),
		CallbackRetries: 3, CallbackRetryInterval: 10 * time.Millisecond})
	if _, err := sendOrder(t, sim.Addr(), sockmod.Order{ChargeID: 5, ChargeAcct: "1", ChargeCash: 100}, key); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", func() bool { return sim.Stats().Pending == 0 && sim.Stats().CallbacksOK == 1 })
	st := sim.Stats()
	if st.CallbacksSent != 3 || st.CallbacksFailed != 2 || st.CallbacksAbandoned != 0 {
		t.Errorf("stats %+v", st)
	}
	if r := sim.Records(); len(r) != 1 || !r[0].CallbackDelivered {
		t.Errorf("records %+v", r)
	}

	// An engine that never answers: 1 + 2 attempts, then abandoned.
	never := newEngineStub(t, func(int) bool { return true })
	sim2 := startSim(t, Config{MD5Key: key, CallbackAddr: never.ln.Addr().String(),
		CallbackRetries: 2, CallbackRetryInterval: 10 * time.Millisecond})
	if _, err := sendOrder(t, sim2.Addr(), sockmod.Order{ChargeID: 6, ChargeAcct: "1", ChargeCash: 100}, key); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "abandon", func() bool { return sim2.Stats().CallbacksAbandoned == 1 })
	st = sim2.Stats()
	if st.CallbacksSent != 3 || st.CallbacksFailed != 3 || st.CallbacksOK != 0 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
	if r := sim2.Records(); len(r) != 1 || r[0].CallbackDelivered {
		t.Errorf("records %+v", r)
	}
}

func TestSimAckRetCodeAndMaxPending(t *testing.T) {
	eng := newEngineStub(t, nil)
	failing := startSim(t, Config{MD5Key: key, CallbackAddr: eng.ln.Addr().String(), AckRetCode: 3})
	ack, err := sendOrder(t, failing.Addr(), sockmod.Order{ChargeID: 9, ChargeAcct: "1", ChargeCash: 100}, key)
	if err != nil || ack.RetCode != 3 {
		t.Fatalf("ack %+v, %v", ack, err)
	}
	if outcome, _ := sockmod.ClassifyAck(ack); outcome != engine.OutcomeFailRoute {
		t.Errorf("classified %v", outcome)
	}
	if st := failing.Stats(); st.Pending != 0 || len(st.SuccessByAcct) != 0 {
		t.Errorf("stats %+v", st)
	}

	slow := startSim(t, Config{MD5Key: key, CallbackAddr: eng.ln.Addr().String(), MaxPending: 1, Latency: time.Hour})
	for i := range 3 {
		if _, err := sendOrder(t, slow.Addr(), sockmod.Order{ChargeID: int64(20 + i), ChargeAcct: "1", ChargeCash: 100}, key); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all three handled", func() bool { st := slow.Stats(); return st.Pending+st.CallbacksDropped == 3 })
	if st := slow.Stats(); st.Pending != 1 || st.CallbacksDropped != 2 || st.SuccessByAcct["1"] != 3 {
		t.Errorf("stats %+v", st)
	}
}

// The simulator works with the engine's own transport: sockmod.Client sends,
// sockmod.CallbackServer receives.
func TestSimWithSockmodTransport(t *testing.T) {
	results := make(chan sockmod.Result, 8)
	srv, err := sockmod.ListenCallbacks("127.0.0.1:0", func(frame []byte) ([]byte, bool) {
		r, err := sockmod.DecodeResult(frame)
		if err != nil || !r.VerifySign(key) {
			return nil, false
		}
		results <- r
		return sockmod.ReplyOK(), true
	}, sockmod.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sim := startSim(t, Config{MD5Key: key, CallbackAddr: srv.Addr()})
	cli, err := sockmod.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	frame, err := sockmod.EncodeOrder(sockmod.Order{ChargeID: 77, ChargeAcct: "13512345678", ChargeCash: 3000, Amount: 1,
		NbrArea: "广东省深圳-移动"}, key)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := cli.Send(context.Background(), sim.Addr(), frame, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := sockmod.DecodeAck(reply)
	if err != nil || !ack.VerifySign(key) {
		t.Fatalf("ack %+v, %v", ack, err)
	}
	if outcome, _ := sockmod.ClassifyAck(ack); outcome != engine.OutcomeAccepted {
		t.Errorf("ack classified %v", outcome)
	}
	select {
	case r := <-results:
		if outcome, _ := sockmod.ClassifyResult(r, 3000); outcome != engine.OutcomeSuccess || r.ChargeID != 77 {
			t.Errorf("result %+v classified %v", r, outcome)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no callback")
	}
	waitFor(t, "delivered", func() bool { return sim.Stats().Pending == 0 })
	if r := sim.Records(); len(r) != 1 || !r[0].CallbackDelivered {
		t.Errorf("records %+v", r)
	}
}
