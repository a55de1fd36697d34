package bench

import (
	"errors"
	"strings"
	"testing"
	"time"

	"topup/bench/opersim"
)

func TestParseVmRSS(t *testing.T) {
	status := []byte("Name:\ttopupd\nVmPeak:\t  900 kB\nVmRSS:\t   12345 kB\nThreads:\t9\n")
	if got, err := ParseVmRSS(status); err != nil || got != 12345*1024 {
		t.Fatalf("got %d %v", got, err)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\n", "VmRSS:\tmany kB\n"} {
		if _, err := ParseVmRSS([]byte(bad)); !errors.Is(err, ErrProcFormat) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

func TestParseCPUSeconds(t *testing.T) {
	// A command name with spaces and parentheses; utime 250, stime 50 ticks.
	stat := []byte("4242 (top (up) d) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1000 100000 2000")
	if got, err := ParseCPUSeconds(stat); err != nil || got != 3 {
		t.Fatalf("got %g %v", got, err)
	}
	for _, bad := range []string{"4242 topupd S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 u s"} {
		if _, err := ParseCPUSeconds([]byte(bad)); !errors.Is(err, ErrProcFormat) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

func TestCPUUsed(t *testing.T) {
	at := time.Unix(0, 0)
	samples := []Usage{
		{PID: 10, At: at, CPUSeconds: 5},
		{PID: 10, At: at, CPUSeconds: 7},
		{PID: 11, At: at, CPUSeconds: 0.5}, // restarted: counted from its start
		{PID: 11, At: at, CPUSeconds: 2},
	}
	if got := cpuUsed(samples); got != 4 {
		t.Fatalf("cpu used %g, want 2 + 2", got)
	}
	if cpuUsed(nil) != 0 {
		t.Fatal("no samples, some CPU")
	}
}

func TestOrderFor(t *testing.T) {
	seen := map[string]bool{}
	for i := range 1000 {
		o := OrderFor("r1", i, "http://127.0.0.1:1/notify")
		if seen[o.Phone] || seen[o.OrderNo] {
			t.Fatalf("order %d repeats a phone or order_no: %+v", i, o)
		}
		seen[o.Phone], seen[o.OrderNo] = true, true
		if len(o.Phone) != 11 || o.Phone[:2] != "13" || o.OrderType != 1 || o.MobileType < 1 || o.MobileType > 3 {
			t.Fatalf("order %d: %+v", i, o)
		}
	}
	if o := OrderFor("r1", 6, ""); o.FaceValue != 5000 || o.OrderNo != "br1-6" {
		t.Fatalf("order 6: %+v", o)
	}
	want := opersim.Order{OrderNo: "bx-3", OrderType: 1, MobileType: 1, Phone: "13000000003", FaceValue: 10000, NotifyURL: "u"}
	if o := OrderFor("x", 3, "u"); o != want {
		t.Fatalf("order 3: %+v", o)
	}
}

func TestCopies(t *testing.T) {
	counts := map[int]int{}
	for i := range 5000 {
		k := Copies(i, 5)
		if k < 1 || k > 5 {
			t.Fatalf("copies(%d) = %d", i, k)
		}
		counts[k]++
	}
	for k := 1; k <= 5; k++ {
		if counts[k] < 800 {
			t.Errorf("%d copies drawn %d times of 5000", k, counts[k])
		}
	}
	if Copies(7, 1) != 1 || Copies(7, 0) != 1 {
		t.Fatal("max ≤ 1 must give 1 copy")
	}
}

func TestLoopbackURL(t *testing.T) {
	for u, want := range map[string]bool{
		"http://127.0.0.1:8088": true, "http://localhost:8089/": true, "http://[::1]:80/x": true,
		"http://10.0.0.1:8088": false, "https://127.0.0.1": false, "http://example.com": false, "127.0.0.1:80": false,
	} {
		if got := loopbackURL(u); got != want {
			t.Errorf("loopbackURL(%q) = %v", u, got)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := (Target{}).Validate(); err == nil {
		t.Fatal("empty target validated")
	}
	if err := (Target{EngineBin: "x", OperatorURL: "http://127.0.0.1:1"}).Validate(); err == nil {
		t.Fatal("both kinds of target validated")
	}
	err := (Target{OperatorURL: "http://10.1.1.1:8088"}).Validate()
	for _, want := range []string{"AdminURL", "UID", "loopback"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
	c := Common{Target: Target{EngineBin: "x"}}.withDefaults(FastSuppliers())
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c.Conns, c.RunID = 0, "bad/id"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "Conns") || !strings.Contains(err.Error(), "RunID") {
		t.Fatalf("bad common: %v", err)
	}
	for _, s := range append(FastSuppliers(), MixedSuppliers()...) {
		if err := s.Validate(); err != nil {
			t.Fatalf("default supplier %s: %v", s.Name, err)
		}
	}
	if err := (Supplier{Name: "h", Kind: "http"}).Validate(); err == nil {
		t.Fatal("unknown supplier kind validated")
	}
}

// TestNoteAnswers checks how answers to copies of one order classify it.
func TestNoteAnswers(t *testing.T) {
	r := &run{slots: make([]slot, 4), reasons: map[string]int{}}
	at := time.Unix(10, 0)
	ok := opersim.Answer{HTTPStatus: 200, Code: 200, Count: 1}
	refused := opersim.Answer{HTTPStatus: 200, Code: 400, Reason: "bad_phone"}
	busy := opersim.Answer{HTTPStatus: 503, Code: 400, Reason: "overloaded"}

	if out := r.note(0, at, ok, nil); !out.OK || !r.slots[0].accepted() {
		t.Fatalf("success: %+v", out)
	}
	r.note(0, at.Add(-time.Second), ok, nil)
	if r.slots[0].differ != "" || r.slots[0].sentAt != at.Add(-time.Second).UnixNano() {
		t.Fatalf("identical copies: %+v", &r.slots[0])
	}
	if out := r.note(1, at, refused, nil); out.OK || out.Reason != "bad_phone" || r.slots[1].state != answerRejected {
		t.Fatalf("refusal: %+v", out)
	}
	if out := r.note(2, at, busy, nil); out.Reason != "overloaded" || r.slots[2].state != answerUnknown {
		t.Fatalf("transient: %+v", out)
	}
	if out := r.note(2, at, opersim.Answer{}, errors.New("boom")); out.Reason != "transport" || r.slots[2].accepted() {
		t.Fatalf("transport: %+v", out)
	}
	r.slots[2].found = true
	if !r.slots[2].accepted() {
		t.Fatal("an unanswered order found in the engine is accepted")
	}
	r.note(3, at, ok, nil)
	r.note(3, at, refused, nil)
	if r.slots[3].differ == "" || !r.slots[3].accepted() {
		t.Fatalf("differing copies: %+v", &r.slots[3])
	}
}

func TestPendingFigures(t *testing.T) {
	pf := PendingFigures{RSSBefore: 100 << 20, PendingHalf: 1000, RSSHalf: 110 << 20, Pending: 2000, RSSPending: 112 << 20}
	pf.compute()
	if want := float64(2<<20) / 1000; pf.BytesPerOrder != want {
		t.Fatalf("slope %g, want %g", pf.BytesPerOrder, want)
	}
	if want := float64(12<<20) / 2000; pf.AvgBytesPerOrder != want {
		t.Fatalf("average %g, want %g", pf.AvgBytesPerOrder, want)
	}
	if want := int64(112<<20) + int64(pf.BytesPerOrder*998_000); pf.RSSFor1M != want {
		t.Fatalf("1M %d, want %d", pf.RSSFor1M, want)
	}
}

func TestViolationsBounded(t *testing.T) {
	v := &violations{counts: map[string]int{}}
	for range maxViolationDetails + 50 {
		v.add(ViolationMissingCallback, "o", "d")
	}
	if len(v.list) != maxViolationDetails || v.counts[ViolationMissingCallback] != maxViolationDetails+50 {
		t.Fatalf("%d listed, %d counted", len(v.list), v.counts[ViolationMissingCallback])
	}
}
