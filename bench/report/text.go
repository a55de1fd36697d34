package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"topup/bench"
	"topup/bench/load"
)

// Text writes the human summary of f: verdict, machine, ceilings, each
// workload's figures and violations, ratios and targets.
func Text(w io.Writer, f *File) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	verdict := "PASSED"
	if !f.Passed {
		verdict = "FAILED"
	}
	p("topupbench %s — %s", f.Name, verdict)
	m := f.Machine
	p("machine: %s, %s/%s, %d cores (GOMAXPROCS %d), %s, %.1f GB, kernel %s; %s",
		m.Hostname, m.OS, m.Arch, m.Cores, m.GOMAXPROCS, orDash(m.CPUModel), float64(m.MemTotalBytes)/1e9, orDash(m.Kernel), f.GoVersion)
	p("command: %s", strings.Join(f.CommandLine, " "))
	p("")
	if f.Ceilings != nil && len(f.Ceilings.Measures) > 0 {
		p("ceilings (same machine, same run, %s each):", f.Ceilings.Config.Duration)
		for _, c := range f.Ceilings.Measures {
			errs := ""
			if c.Errors > 0 {
				errs = fmt.Sprintf("  %d errors", c.Errors)
			}
			p("  %-24s %12s %-9s p50 %7.2f ms  p99 %7.2f ms  (%s)%s", c.Name, Thousands(c.Rate), c.Unit,
				c.Latency.P50, c.Latency.P99, c.What, errs)
		}
		p("")
	}
	for _, r := range f.Results {
		result(w, r, f.Ratios)
		p("")
	}
	for _, fail := range f.Failures {
		p("FAILED TO RUN: %s", fail)
	}
	if len(f.Targets) > 0 {
		p("targets (issue 5; speed, reported — only violations fail a run):")
		for _, t := range f.Targets {
			mark := "not met"
			switch {
			case !t.Judged:
				mark = "not judged"
			case t.Met:
				mark = "met"
			}
			got := t.Got
			if got == "" {
				got = "—"
			}
			p("  [%-10s] %s: %s (want %s)", mark, t.Name, got, t.Want)
		}
	}
}

// result writes one workload's block.
func result(w io.Writer, r bench.Result, ratios []Ratio) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	verdict := "passed"
	if !r.Passed {
		verdict = "FAILED"
	}
	l := r.Load
	shape := fmt.Sprintf("closed loop, %d connections", l.Connections)
	if l.OfferedRate > 0 {
		shape = fmt.Sprintf("open loop at %s/s, ≤ %d connections", Thousands(l.OfferedRate), l.Connections)
	}
	p("%s (%s engine, %s) — %s", r.Workload, r.Target, shape, verdict)
	p("  orders: %d pushed in %d requests; %d accepted, %d refused, %d unanswered (%d of those found accepted); %d unsent",
		l.Orders, l.Requests, l.Accepted, l.Rejected, l.Unknown, l.UnknownAccepted, l.Unsent)
	p("  throughput: %s accepted/s over %.2f s%s", Thousands(l.AcceptedPerSec), l.Seconds, lateNote(l))
	p("  accept latency:     %s", latency(r.Accept))
	if r.EndToEnd.Count > 0 {
		p("  end-to-end latency: %s", latency(r.EndToEnd))
		if r.BeyondSupplier.Count > 0 {
			p("   beyond supplier:  %s", latency(r.BeyondSupplier))
		}
		p("  end-to-end: %d orders finished on their own, %s/s (supplier delay up to %.0f ms)",
			l.CompletedOnTheirOwn, Thousands(l.EndToEndPerSec), r.SupplierDelayMs)
	}
	p("  errors: %s", counts(r.Errors))
	cb := r.Callbacks
	p("  callbacks: %d orders by status %s; %d deliveries, %d redelivered identically, %d resolved failed by the bench",
		cb.Orders, counts(cb.ByStatus), cb.Deliveries, cb.Redelivered, cb.ResolvedByBench)
	b := r.Balance
	ok := "ok"
	if b.Actual != b.Expected || !b.Trusted {
		ok = "MISMATCH"
	}
	p("  balance: %d = %d before + %d funded − %d charged (status 4 at %d‰): %s (engine says %d, trusted %v)",
		b.Expected, b.Before, b.Funded, b.Charged, b.PricePermille, ok, b.Actual, b.Trusted)
	e := r.Engine
	if e.PID != 0 {
		p("  engine: RSS %s → peak %s → %s; CPU %.2f s (%.3f ms per accepted order)",
			MB(e.RSSStart), MB(e.RSSPeak), MB(e.RSSEnd), e.CPUSeconds, e.CPUMsPerOrder)
	}
	if e.RedisRSSPeak > 0 {
		p("  redis-server: RSS peak %s, CPU %.2f s", MB(e.RedisRSSPeak), e.RedisCPUSeconds)
	}
	if pf := r.Pending; pf != nil {
		p("  pending: RSS %s before, %s with %d pending, %s with %d pending: %.0f bytes per pending order (slope; average %.0f); 1,000,000 pending → %s",
			MB(pf.RSSBefore), MB(pf.RSSHalf), pf.PendingHalf, MB(pf.RSSPending), pf.Pending, pf.BytesPerOrder, pf.AvgBytesPerOrder, MB(pf.RSSFor1M))
		if pf.RestartReadySeconds > 0 {
			p("  restart after SIGKILL with the orders pending: ready in %.2f s, RSS %s", pf.RestartReadySeconds, MB(pf.RSSAfterRestart))
		}
	}
	var rs []string
	for _, x := range ratios {
		if x.Workload == r.Workload {
			rs = append(rs, fmt.Sprintf("%s/%s %.3f", x.Figure, x.Ceiling, x.Ratio))
		}
	}
	if len(rs) > 0 {
		p("  ratios: %s", strings.Join(rs, ", "))
	}
	if len(r.ViolationCounts) == 0 {
		p("  violations: none")
		return
	}
	p("  VIOLATIONS: %s", counts(r.ViolationCounts))
	for i, v := range r.Violations {
		if i == 10 {
			p("    … %d more listed in the JSON file", len(r.Violations)-10)
			break
		}
		p("    %s %s: %s", v.Kind, v.Order, firstLine(v.Detail))
	}
}

func lateNote(l bench.LoadFigures) string {
	if l.Late == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d requests sent over 1 ms late: the engine or the generator fell behind)", l.Late)
}

func latency(s load.Summary) string {
	if s.Count == 0 {
		return "—"
	}
	return fmt.Sprintf("p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms (%d)", s.P50, s.P90, s.P99, s.P999, s.Max, s.Count)
}

// counts renders a map of counts as "a=1 b=2", sorted by key; "none" when
// empty.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// MB renders a byte count in mebibytes ("123.4 MB").
func MB(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// Thousands renders v rounded to an integer with thin separators every
// three digits ("12,345").
func Thousands(v float64) string {
	neg := v < 0
	if neg {
		v = -v
	}
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
