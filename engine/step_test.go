package engine

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func newOrder(routes ...string) Order {
	o := Order{ID: MakeID(1, 7), UID: "u", OrderNo: "n1", OrderType: 1, Carrier: 1, Phone: "13800000000",
		FaceValue: 1000, Charge: 985, State: StateAccepted, CreatedAt: 1}
	for _, r := range routes {
		o.Routes = append(o.Routes, Route{Channel: r, Kind: "sockmod"})
	}
	return o
}

// effectNames renders effects compactly for table comparisons.
func effectNames(effs []Effect) string {
	var parts []string
	for _, e := range effs {
		switch e := e.(type) {
		case PersistOrder:
			parts = append(parts, "persist")
		case Submit:
			parts = append(parts, fmt.Sprintf("submit%d", e.Attempt))
		case Refund:
			parts = append(parts, fmt.Sprintf("refund%d", e.Amount))
		case Notify:
			parts = append(parts, "notify")
		case Alert:
			parts = append(parts, "alert")
		case Done:
			parts = append(parts, "done")
		}
	}
	return strings.Join(parts, ",")
}

// TestStepScripts runs event scripts against a fresh two-route order and
// checks every step's effects and the resulting state.
func TestStepScripts(t *testing.T) {
	type step struct {
		ev      Event
		effects string
		state   State
		status  int
	}
	sub := func(n int, out Outcome) EvSubmitted {
		return EvSubmitted{Attempt: n, Outcome: out, Detail: out.String()}
	}
	res := func(n int, ch string, out Outcome) EvResult {
		return EvResult{Attempt: n, Channel: ch, Outcome: out, Detail: out.String()}
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"success via callback", []step{
			{EvStart{}, "persist,submit1", StateSubmitting, 0},
			{sub(1, OutcomeAccepted), "persist", StatePlaced, 0},
			{res(1, "a", OutcomeSuccess), "persist,notify", StateSucceeded, StatusSuccess},
			{res(1, "a", OutcomeSuccess), "", StateSucceeded, StatusSuccess}, // duplicate callback
			{EvNotified{Delivered: true}, "persist,done", StateSucceeded, StatusSuccess},
			{EvNotified{Delivered: true}, "", StateSucceeded, StatusSuccess},
		}},
		{"callback before submit reply", []step{
			{EvStart{}, "persist,submit1", StateSubmitting, 0},
			{res(1, "a", OutcomeSuccess), "persist,notify", StateSucceeded, StatusSuccess},
			{sub(1, OutcomeAccepted), "", StateSucceeded, StatusSuccess},
		}},
		{"fail route then fail over then success", []step{
			{EvStart{}, "persist,submit1", StateSubmitting, 0},
			{sub(1, OutcomeAccepted), "persist", StatePlaced, 0},
			{res(1, "a", OutcomeFailRoute), "persist,submit2", StateSubmitting, 0},
			{res(1, "a", OutcomeFailRoute), "", StateSubmitting, 0}, // late repeat of attempt 1
			{sub(2, OutcomeAccepted), "persist", StatePlaced, 0},
			{res(2, "b", OutcomeSuccess), "persist,notify", StateSucceeded, StatusSuccess},
		}},
		{"every route fails: returned and refunded", []step{
			{EvStart{}, "persist,submit1", StateSubmitting, 0},
			{sub(1, OutcomeFailRoute), "persist,submit2", StateSubmitting, 0},
			{res(2, "b", OutcomeFailRoute), "persist,refund985,notify", StateFailed, StatusReturned},
			{EvNotified{Err: "500"}, "persist,notify", StateFailed, StatusReturned},
			{EvNotified{Err: "500", Final: true}, "persist,done", StateFailed, StatusReturned},
		}},
		{"target failure does not fail over", []step{
			{EvStart{}, "persist,submit1", StateSubmitting, 0},
			{res(1, "a", OutcomeFailTarget), "persist,refund985,notify", StateFailed, StatusFailed},
		}},
		{"uncertain is held, never refunded or re-routed", []step{
			{EvStart{}, "persist,submit1", StateSubmitting, 0},
			{sub(1, OutcomeUncertain), "persist", StateUncertain, 0},
			{EvResult{Attempt: 1, Channel: "a", Outcome: OutcomeUncertain, Detail: "retCode 2"}, "persist", StateUncertain, 0}, // new detail
			{EvResult{Attempt: 1, Channel: "a", Outcome: OutcomeUncertain, Detail: "retCode 2"}, "", StateUncertain, 0},
			{EvDeadline{}, "", StateUncertain, 0},
			{res(1, "a", OutcomeFailRoute), "persist,submit2", StateSubmitting, 0},
		}},
		{"hold after the window, then a late definite result still settles it", []step{
			{EvStart{}, "persist,submit1", StateSubmitting, 0},
			{sub(1, OutcomeUncertain), "persist", StateUncertain, 0},
			{EvHold{Attempt: 1}, "persist", StateUncertain, 0},
			{EvHold{Attempt: 1}, "", StateUncertain, 0},
			{res(1, "a", OutcomeSuccess), "persist,notify", StateSucceeded, StatusSuccess},
			{EvHold{Attempt: 1}, "", StateSucceeded, StatusSuccess},
		}},
		{"hold of an earlier attempt is ignored", []step{
			{EvStart{}, "persist,submit1", StateSubmitting, 0},
			{res(1, "a", OutcomeFailRoute), "persist,submit2", StateSubmitting, 0},
			{sub(2, OutcomeAccepted), "persist", StatePlaced, 0},
			{EvHold{Attempt: 1}, "", StatePlaced, 0},
		}},
		{"a success for less than the face value is partial and held", []step{
			{EvStart{}, "persist,submit1", StateSubmitting, 0},
			{EvResult{Attempt: 1, Channel: "a", Outcome: OutcomeSuccess, Recharged: 500}, "persist", StateUncertain, 0},
			{EvResult{Attempt: 1, Channel: "a", Outcome: OutcomeSuccess, Recharged: 1000}, "persist,notify", StateSucceeded, StatusSuccess},
		}},
		{"partial success is held", []step{
			{EvStart{}, "persist,submit1", StateSubmitting, 0},
			{res(1, "a", OutcomePartial), "persist", StateUncertain, 0},
			{EvResolve{Success: false, By: "ops", Why: "partial"}, "persist,refund985,notify", StateFailed, StatusReturned},
		}},
		{"success after failure is an anomaly, status stays", []step{
			{EvStart{}, "persist,submit1", StateSubmitting, 0},
			{res(1, "a", OutcomeFailTarget), "persist,refund985,notify", StateFailed, StatusFailed},
			{res(1, "a", OutcomeSuccess), "persist,alert", StateFailed, StatusFailed},
		}},
		{"late success of a failed-over attempt is an anomaly", []step{
			{EvStart{}, "persist,submit1", StateSubmitting, 0},
			{res(1, "a", OutcomeFailRoute), "persist,submit2", StateSubmitting, 0},
			{res(1, "a", OutcomeSuccess), "persist,alert", StateSubmitting, 0},
			{res(2, "b", OutcomeSuccess), "persist,notify", StateSucceeded, StatusSuccess},
		}},
		{"deadline before any supplier", []step{
			{EvDeadline{}, "persist,refund985,notify", StateFailed, StatusReturned},
		}},
		{"recovery while submitting becomes uncertain", []step{
			{EvStart{}, "persist,submit1", StateSubmitting, 0},
			{EvRecovered{}, "persist", StateUncertain, 0},
			{EvRecovered{}, "", StateUncertain, 0},
			{EvResolve{Success: true, By: "ops", Why: "supplier portal says done"}, "persist,notify", StateSucceeded, StatusSuccess},
			{EvRecovered{}, "notify", StateSucceeded, StatusSuccess},
		}},
		{"recovery of a failed order refunds (idempotently) and notifies", []step{
			{EvStart{}, "persist,submit1", StateSubmitting, 0},
			{res(1, "a", OutcomeFailTarget), "persist,refund985,notify", StateFailed, StatusFailed},
			{EvRecovered{}, "refund985,notify", StateFailed, StatusFailed},
			{EvNotified{Delivered: true}, "persist,done", StateFailed, StatusFailed},
			{EvRecovered{}, "done", StateFailed, StatusFailed},
		}},
		{"recovery of an accepted order submits", []step{
			{EvRecovered{}, "persist,submit1", StateSubmitting, 0},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrder("a", "b")
			for i, s := range tc.steps {
				before := o.clone()
				next, effs, err := Step(o, s.ev, int64(100+i))
				if err != nil {
					t.Fatalf("step %d (%T): %v", i, s.ev, err)
				}
				if !reflect.DeepEqual(before, o) {
					t.Fatalf("step %d mutated its input", i)
				}
				if got := effectNames(effs); got != s.effects {
					t.Fatalf("step %d (%T %+v): effects %q, want %q", i, s.ev, s.ev, got, s.effects)
				}
				if next.State != s.state || next.Status != s.status {
					t.Fatalf("step %d: state %s status %d, want %s %d", i, next.State, next.Status, s.state, s.status)
				}
				if len(effs) == 0 && !reflect.DeepEqual(next, o) {
					t.Fatalf("step %d changed the order without a PersistOrder effect", i)
				}
				o = next
			}
		})
	}
}

func TestStepRejectsBadInput(t *testing.T) {
	o := newOrder("a")
	if _, _, err := Step(o, EvResult{Attempt: 1, Outcome: OutcomeSuccess}, 1); !errors.Is(err, ErrUnknownAttempt) {
		t.Fatalf("result before any attempt: %v", err)
	}
	o, _, _ = Step(o, EvStart{}, 1)
	if _, _, err := Step(o, EvStart{}, 2); !errors.Is(err, ErrIllegal) {
		t.Fatalf("second start: %v", err)
	}
	if _, _, err := Step(o, EvResult{Attempt: 1, Channel: "other", Outcome: OutcomeSuccess}, 2); !errors.Is(err, ErrWrongChannel) {
		t.Fatalf("wrong channel: %v", err)
	}
	if _, _, err := Step(o, EvResult{Attempt: 2, Channel: "a", Outcome: OutcomeSuccess}, 2); !errors.Is(err, ErrUnknownAttempt) {
		t.Fatalf("unknown attempt: %v", err)
	}
	if _, _, err := Step(o, EvNotified{Delivered: true}, 2); !errors.Is(err, ErrIllegal) {
		t.Fatalf("notified before terminal: %v", err)
	}
	ok, _, _ := Step(o, EvResult{Attempt: 1, Channel: "a", Outcome: OutcomeSuccess}, 3)
	if _, _, err := Step(ok, EvResolve{Success: false}, 4); !errors.Is(err, ErrIllegal) {
		t.Fatalf("resolve of a terminal order: %v", err)
	}
}

func TestNoRoutesFailsImmediately(t *testing.T) {
	o := newOrder()
	next, effs, err := Step(o, EvStart{}, 1)
	if err != nil || next.State != StateFailed || next.Reason != ReasonRoutesFailed || effectNames(effs) != "persist,refund985,notify" {
		t.Fatalf("got %s %s %q %v", next.State, next.Reason, effectNames(effs), err)
	}
}

func TestExpiredDeadlineAtFailover(t *testing.T) {
	o := newOrder("a", "b")
	o.Deadline = 50
	o, _, _ = Step(o, EvStart{}, 10)
	o, effs, _ := Step(o, EvResult{Attempt: 1, Channel: "a", Outcome: OutcomeFailRoute}, 60)
	if o.State != StateFailed || o.Reason != ReasonExpired || effectNames(effs) != "persist,refund985,notify" {
		t.Fatalf("got %s %s %q", o.State, o.Reason, effectNames(effs))
	}
	if o.QueryStatus() != QueryReturned {
		t.Fatalf("query status %d", o.QueryStatus())
	}
}

func TestQueryStatus(t *testing.T) {
	o := newOrder("a")
	want := []int{QueryCreated}
	got := []int{o.QueryStatus()}
	o, _, _ = Step(o, EvStart{}, 1)
	want, got = append(want, QueryPlacing), append(got, o.QueryStatus())
	o, _, _ = Step(o, EvSubmitted{Attempt: 1, Outcome: OutcomeAccepted}, 2)
	want, got = append(want, QueryAwaiting), append(got, o.QueryStatus())
	o, _, _ = Step(o, EvResult{Attempt: 1, Outcome: OutcomeSuccess}, 3)
	want, got = append(want, QuerySuccess), append(got, o.QueryStatus())
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("query statuses %v, want %v", got, want)
	}
	e, _, _ := Step(newOrder("a"), EvDeadline{}, 1)
	if e.QueryStatus() != QueryExpired {
		t.Fatalf("expired order query status %d", e.QueryStatus())
	}
}

func TestMoney(t *testing.T) {
	cases := []struct {
		face  Fen
		price int64
		want  Fen
	}{{1000, 985, 985}, {10000, 985, 9850}, {100, 985, 99}, {101, 985, 99}, {1, 500, 1}, {3, 333, 1}}
	for _, c := range cases {
		if got := ChargeFor(c.face, c.price); got != c.want {
			t.Errorf("ChargeFor(%d,%d)=%d want %d", c.face, c.price, got, c.want)
		}
	}
	for f, s := range map[Fen]string{10000: "100.000", 1: "0.010", 0: "0.000", 99910: "999.100"} {
		if got := f.Yuan3(); got != s {
			t.Errorf("Yuan3(%d)=%q want %q", f, got, s)
		}
	}
}

func TestIDs(t *testing.T) {
	id := MakeID(MaxNode, 99_999_999_999_999)
	if id.Node() != MaxNode || id.Seq() != 99_999_999_999_999 {
		t.Fatalf("split %d: node %d seq %d", id, id.Node(), id.Seq())
	}
	no := id.SupplierNo(MaxAttempts)
	if no <= 0 {
		t.Fatalf("supplier number overflows: %d", no)
	}
	if back, n := SplitSupplierNo(no); back != id || n != MaxAttempts {
		t.Fatalf("SplitSupplierNo(%d) = %d,%d", no, back, n)
	}
	p, err := ParseID(id.String())
	if err != nil || p != id {
		t.Fatalf("ParseID: %v %v", p, err)
	}
	if _, err := ParseID("x1"); err == nil {
		t.Fatal("ParseID accepted garbage")
	}
}

func TestPlanRoutes(t *testing.T) {
	routes := []Route{
		{Channel: "expensive", CostPermille: 990, Priority: 1},
		{Channel: "p2a", CostPermille: 970, Priority: 2, Weight: 3},
		{Channel: "p1", CostPermille: 975, Priority: 1},
		{Channel: "p2b", CostPermille: 970, Priority: 2, Weight: 1},
	}
	counts := map[string]int{}
	for seed := uint64(0); seed < 4000; seed++ {
		plan := PlanRoutes(routes, 1000, 985, seed)
		if len(plan) != 3 || plan[0].Channel != "p1" {
			t.Fatalf("plan %v", plan)
		}
		counts[plan[1].Channel]++
	}
	// weights 3:1 → p2a first about 75% of the time.
	if counts["p2a"] < 2700 || counts["p2a"] > 3300 {
		t.Fatalf("weighted share off: %v", counts)
	}
	if a, b := PlanRoutes(routes, 1000, 985, 42), PlanRoutes(routes, 1000, 985, 42); !reflect.DeepEqual(a, b) {
		t.Fatal("PlanRoutes is not deterministic")
	}
}

func TestCodesCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range AllCodes() {
		if c.Reason() == "" || c.Msg() == "" || seen[c.Reason()] {
			t.Fatalf("code %d: reason %q msg %q (dup %v)", c, c.Reason(), c.Msg(), seen[c.Reason()])
		}
		seen[c.Reason()] = true
	}
}

func BenchmarkStep(b *testing.B) {
	o := newOrder("a", "b")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		x, _, _ := Step(o, EvStart{}, 1)
		x, _, _ = Step(x, EvSubmitted{Attempt: 1, Outcome: OutcomeAccepted}, 2)
		_, _, _ = Step(x, EvResult{Attempt: 1, Channel: "a", Outcome: OutcomeSuccess}, 3)
	}
}

func TestParseYuan(t *testing.T) {
	for _, c := range []struct {
		in   string
		r    Rounding
		want Fen
		ok   bool
	}{
		{"100.000", ExactFen, 10000, true}, {"7", ExactFen, 700, true}, {"0.5", ExactFen, 50, true},
		{"99.105", ExactFen, 0, false}, {"99.105", HalfUpFen, 9911, true}, {"99.104", HalfUpFen, 9910, true},
		{"19.630", HalfUpFen, 1963, true}, {"-3.125", HalfUpFen, -313, true}, {"0.0049", HalfUpFen, 0, true},
		{"", HalfUpFen, 0, false}, {".5", HalfUpFen, 0, false}, {"1.", HalfUpFen, 0, false}, {"1e3", HalfUpFen, 0, false},
		{"+1", HalfUpFen, 0, false}, {" 1", HalfUpFen, 0, false}, {"1234567890123456", HalfUpFen, 0, false},
	} {
		got, err := ParseYuan(c.in, c.r)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("ParseYuan(%q, %d) = %d, %v; want %d ok=%v", c.in, c.r, got, err, c.want, c.ok)
		}
		if err != nil && !errors.Is(err, ErrAmount) {
			t.Errorf("ParseYuan(%q): error %v does not wrap ErrAmount", c.in, err)
		}
	}
}
