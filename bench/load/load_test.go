package load

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"
)

func TestIntended(t *testing.T) {
	start := time.Unix(1000, 0)
	cases := []struct {
		rate float64
		i    int
		want time.Duration
	}{
		{1000, 0, 0},
		{1000, 1, time.Millisecond},
		{500, 10, 20 * time.Millisecond},
		{3, 1, 333333333},
		{3, 3_000_000, 1_000_000 * time.Second}, // no drift over many intervals
		{0.5, 2, 4 * time.Second},
	}
	for _, c := range cases {
		if got := Intended(start, c.rate, c.i).Sub(start); got != c.want {
			t.Errorf("Intended(rate %g, %d) = %s, want %s", c.rate, c.i, got, c.want)
		}
	}
}

// TestOpenCorrectsCoordinatedOmission stalls the first request of an open
// loop with one worker: the requests due during the stall must carry the
// time they waited, not just the time they took once sent.
func TestOpenCorrectsCoordinatedOmission(t *testing.T) {
	const stall = 100 * time.Millisecond
	rec, err := RunOpen(context.Background(), Open{Rate: 1000, N: 200, Workers: 1, MaxDuration: 10 * time.Second},
		func(_ context.Context, i int, _ time.Time) Outcome {
			if i == 0 {
				time.Sleep(stall)
			}
			return Outcome{OK: true}
		})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Sent != 200 || rec.OK != 200 || rec.Unsent != 0 {
		t.Fatalf("sent %d ok %d unsent %d", rec.Sent, rec.OK, rec.Unsent)
	}
	// Request i (1 ≤ i < 100) was due at i ms and answered just after
	// 100 ms: its latency is about 100−i ms. Without the correction only
	// request 0 would show the stall.
	over50 := rec.Latency.TotalCount() - countBelow(rec, 50*time.Millisecond)
	if over50 < 45 {
		t.Errorf("%d requests at or over 50 ms, want ≥ 45 (latency must count from the intended time)", over50)
	}
	if rec.Late < 90 {
		t.Errorf("late %d, want ≥ 90", rec.Late)
	}
	if max := time.Duration(rec.Latency.Max()) * time.Microsecond; max < stall {
		t.Errorf("max %s, want ≥ %s", max, stall)
	}
	s := Summarize(rec.Latency)
	if s.P50 <= 1 {
		t.Errorf("p50 %.2f ms: the stall's victims are more than half the requests", s.P50)
	}
}

// countBelow counts the recorded latencies below d.
func countBelow(rec Recording, d time.Duration) int64 {
	var n int64
	for _, b := range rec.Latency.Distribution() {
		if b.To <= d.Microseconds() {
			n += b.Count
		}
	}
	return n
}

func TestOpenKeepsRate(t *testing.T) {
	rec, err := RunOpen(context.Background(), Open{Rate: 200, N: 40, Workers: 4, MaxDuration: 5 * time.Second},
		func(context.Context, int, time.Time) Outcome { return Outcome{OK: true} })
	if err != nil {
		t.Fatal(err)
	}
	// 40 requests at 200/s: the last is due at 195 ms.
	if rec.Elapsed < 190*time.Millisecond || rec.Elapsed > 2*time.Second {
		t.Fatalf("elapsed %s for 40 requests at 200/s", rec.Elapsed)
	}
}

func TestClosedCountsOutcomes(t *testing.T) {
	var calls atomic.Int64
	rec, err := RunClosed(context.Background(), Closed{N: 100, Workers: 4, MaxDuration: 10 * time.Second},
		func(_ context.Context, i int, _ time.Time) Outcome {
			calls.Add(1)
			if i%2 == 1 {
				return Outcome{Reason: "odd"}
			}
			return Outcome{OK: true}
		})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 100 || rec.Sent != 100 || rec.OK != 50 || rec.Reasons["odd"] != 50 || rec.Unsent != 0 {
		t.Fatalf("calls %d sent %d ok %d reasons %v unsent %d", calls.Load(), rec.Sent, rec.OK, rec.Reasons, rec.Unsent)
	}
	if rec.Latency.TotalCount() != 100 {
		t.Fatalf("latency count %d", rec.Latency.TotalCount())
	}
	total := 0
	for _, c := range rec.PerSecond {
		total += c
	}
	if total != 50 {
		t.Fatalf("per-second series sums to %d, want 50", total)
	}
}

func TestBoundedInTime(t *testing.T) {
	began := time.Now()
	rec, err := RunClosed(context.Background(), Closed{N: 1 << 30, Workers: 2, MaxDuration: 50 * time.Millisecond},
		func(ctx context.Context, _ int, _ time.Time) Outcome {
			select {
			case <-time.After(time.Millisecond):
				return Outcome{OK: true}
			case <-ctx.Done():
				return Outcome{Reason: "cancelled"}
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > time.Second {
		t.Fatalf("ran %s past a 50 ms bound", d)
	}
	if rec.Unsent == 0 || rec.Reasons["cancelled"] != 0 {
		t.Fatalf("unsent %d, reasons %v (a failure after the bound must count as %s)", rec.Unsent, rec.Reasons, ReasonCutOff)
	}
	if _, err := RunOpen(context.Background(), Open{Rate: 0, N: 1, Workers: 1, MaxDuration: time.Second}, nil); err == nil {
		t.Fatal("rate 0 accepted")
	}
	if _, err := RunClosed(context.Background(), Closed{}, nil); err == nil {
		t.Fatal("empty closed config accepted")
	}
}

func TestSummarize(t *testing.T) {
	if s := Summarize(nil); s != (Summary{}) {
		t.Fatalf("nil: %+v", s)
	}
	h := NewHistogram()
	for ms := 1; ms <= 1000; ms++ {
		if err := h.RecordValue(int64(ms) * 1000); err != nil {
			t.Fatal(err)
		}
	}
	s := Summarize(h)
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > want*0.002+0.001 {
			t.Errorf("%s = %.3f, want %.3f", name, got, want)
		}
	}
	if s.Count != 1000 {
		t.Errorf("count %d", s.Count)
	}
	near("min", s.Min, 1)
	near("mean", s.Mean, 500.5)
	near("p50", s.P50, 500)
	near("p90", s.P90, 900)
	near("p99", s.P99, 990)
	near("p99.9", s.P999, 999)
	near("max", s.Max, 1000)
}

func TestSpectrum(t *testing.T) {
	if Spectrum(NewHistogram()) != nil {
		t.Fatal("empty histogram has a spectrum")
	}
	h := NewHistogram()
	for v := int64(1); v <= 100; v++ {
		_ = h.RecordValue(v * 100)
	}
	sp := Spectrum(h)
	if sp[0].Percentile != 0 || sp[len(sp)-1].Percentile != 100 {
		t.Fatalf("spectrum runs %g..%g", sp[0].Percentile, sp[len(sp)-1].Percentile)
	}
	for i := 1; i < len(sp); i++ {
		if sp[i].Percentile <= sp[i-1].Percentile || sp[i].Ms < sp[i-1].Ms {
			t.Fatalf("not monotonic at %d: %+v", i, sp)
		}
	}
	// 100 values resolve 99.9 at best (one value in 10·count): 99.99 is left out.
	for _, p := range sp {
		if p.Percentile > 99.9 && p.Percentile < 100 {
			t.Fatalf("percentile %g reported for 100 values", p.Percentile)
		}
	}
	if m := sp[len(sp)-1].Ms; m < 10 || m > 10.02 {
		t.Fatalf("max %g ms, want 10", sp[len(sp)-1].Ms)
	}
}

func TestMerge(t *testing.T) {
	start := time.Unix(100, 0)
	a := Recording{Start: start, Elapsed: 2 * time.Second, Sent: 3, OK: 2, Reasons: map[string]int{"x": 1},
		Latency: NewHistogram(), PerSecond: []int{1, 1}}
	b := Recording{Start: start.Add(5 * time.Second), Elapsed: time.Second, Sent: 2, OK: 2, Unsent: 1, Late: 1,
		Reasons: map[string]int{"x": 2, "y": 1}, Latency: NewHistogram(), PerSecond: []int{2}}
	_ = a.Latency.RecordValue(1000)
	_ = b.Latency.RecordValue(3000)
	m := Merge(a, b)
	if m.Sent != 5 || m.OK != 4 || m.Unsent != 1 || m.Late != 1 || m.Elapsed != 3*time.Second || !m.Start.Equal(start) {
		t.Fatalf("merged %+v", m)
	}
	if m.Reasons["x"] != 3 || m.Reasons["y"] != 1 || m.Latency.TotalCount() != 2 {
		t.Fatalf("reasons %v latencies %d", m.Reasons, m.Latency.TotalCount())
	}
	want := []int{1, 1, 0, 0, 0, 2}
	if len(m.PerSecond) != len(want) {
		t.Fatalf("series %v, want %v", m.PerSecond, want)
	}
	for i := range want {
		if m.PerSecond[i] != want[i] {
			t.Fatalf("series %v, want %v", m.PerSecond, want)
		}
	}
	if a.Reasons["x"] != 1 {
		t.Fatal("Merge changed its input")
	}
}
