package bench

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// engineBinary builds topupd from the module root into a temporary
// directory, as cmd/topupd's integration tests do.
func engineBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "topupd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/topupd")
	cmd.Dir = ".." // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBurstEndToEnd runs a small burst against a started engine and expects
// a clean correctness verdict.
func TestBurstEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the engine, redis-server and simulators")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed (make deps)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := RunBurst(ctx, BurstConfig{N: 300, Common: Common{
		Target: Target{EngineBin: engineBinary(t), WorkDir: t.TempDir()},
		Conns:  16, Quiet: time.Second, Grace: 300 * time.Millisecond, Logf: t.Logf,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed {
		t.Fatalf("violations: %v %+v", res.ViolationCounts, res.Violations)
	}
	if res.Load.Accepted != 300 || res.Callbacks.Orders != 300 || res.Callbacks.ByStatus["4"] != 300 {
		t.Fatalf("accepted %d, called back %d, by status %v", res.Load.Accepted, res.Callbacks.Orders, res.Callbacks.ByStatus)
	}
	if res.Balance.Actual != res.Balance.Expected || res.Balance.Charged == 0 {
		t.Fatalf("balance %+v", res.Balance)
	}
	if res.Accept.Count != 300 || res.Accept.P99 <= 0 || res.EndToEnd.Count != 300 {
		t.Fatalf("latency: accept %+v end-to-end %+v", res.Accept, res.EndToEnd)
	}
	t.Logf("accepted %.0f/s, accept p99 %.2f ms, end-to-end p99 %.1f ms, engine RSS peak %d MB",
		res.Load.AcceptedPerSec, res.Accept.P99, res.EndToEnd.P99, res.Engine.RSSPeak>>20)
	if res.Engine.PID == 0 || res.Engine.RSSPeak == 0 {
		t.Fatalf("engine figures %+v", res.Engine)
	}
}
