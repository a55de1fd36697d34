package ceiling

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("default: %v", err)
	}
	bad := Default()
	bad.Duration, bad.Conns, bad.Only = 0, -1, []string{"nope"}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad config validated")
	}
	for _, want := range []string{"Duration", "Conns", "nope"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestRecordSize(t *testing.T) {
	if n := RecordSize(); n < 200 || n > 2000 {
		t.Fatalf("record size %d is not an order record's size", n)
	}
}

// TestRunShort takes every measurement briefly and checks that each
// produced a rate without errors.
func TestRunShort(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for a few seconds")
	}
	only := []string{FastHTTP, PebbleSync1, PebbleSyncN, PebbleSyncBatch, TCPShort}
	if _, err := exec.LookPath("redis-server"); err == nil {
		only = append(only, RedisEvalsha, RedisPipelined)
	}
	res, err := Run(context.Background(), Config{Duration: 300 * time.Millisecond, Conns: 8, TCPConns: 8,
		PebbleWriters: 8, Only: only, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Measures) != len(only) {
		t.Fatalf("%d measures, want %d", len(res.Measures), len(only))
	}
	for _, m := range res.Measures {
		t.Logf("%-24s %10.0f %s  p99 %.2f ms", m.Name, m.Rate, m.Unit, m.Latency.P99)
		if m.Rate <= 0 || m.Ops == 0 || m.Errors != 0 {
			t.Errorf("%s: rate %g ops %d errors %d", m.Name, m.Rate, m.Ops, m.Errors)
		}
	}
	if _, ok := res.Get(FastHTTP); !ok {
		t.Fatal("Get(FastHTTP) found nothing")
	}
}
