package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"topup/bench"
	"topup/bench/ceiling"
	"topup/bench/load"
)

func TestFrac(t *testing.T) {
	for _, c := range []struct{ a, b, want float64 }{{1, 2, 0.5}, {3, 0, 0}, {3, -1, 0}, {0, 5, 0}, {1, math.NaN(), 0}} {
		if got := Frac(c.a, c.b); got != c.want {
			t.Errorf("Frac(%g, %g) = %g, want %g", c.a, c.b, got, c.want)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for v, want := range map[float64]float64{0: 1, -3: 1, 0.7: 1, 1: 1, 1.01: 2, 3: 5, 7: 10, 10: 10, 1234: 2000, 49000: 50000, 0.012: 0.02} {
		if got := NiceCeil(v); math.Abs(got-want) > want*1e-9 {
			t.Errorf("NiceCeil(%g) = %g, want %g", v, got, want)
		}
	}
}

func TestNines(t *testing.T) {
	for p, want := range map[float64]float64{0: 0, 90: 1, 99: 2, 99.9: 3, 99.99: 4, 100: 6, 99.99999: 6} {
		if got := Nines(p); math.Abs(got-want) > 1e-9 {
			t.Errorf("Nines(%g) = %g, want %g", p, got, want)
		}
	}
}

func TestThousands(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -45000: "-45,000", 99.5: "100"} {
		if got := Thousands(v); got != want {
			t.Errorf("Thousands(%g) = %q, want %q", v, got, want)
		}
	}
}

// sample is a file with every workload, ceilings and one violation.
func sample() *File {
	c := &ceiling.Results{Config: ceiling.Config{Duration: time.Second}, Measures: []ceiling.Measure{
		{Name: ceiling.FastHTTP, Unit: "req/s", Rate: 40000, Latency: load.Summary{P99: 4}},
		{Name: ceiling.RedisEvalsha, Unit: "calls/s", Rate: 30000},
		{Name: ceiling.PebbleSync1, Unit: "records/s", Rate: 4000},
		{Name: ceiling.TCPShort, Unit: "conns/s", Rate: 10000},
	}}
	series := []bench.Second{{T: 0, Accepted: 900, Callbacks: 500, RSSBytes: 80 << 20}, {T: 1, Accepted: 1100, Callbacks: 1400, RSSBytes: 90 << 20}}
	spec := []load.Point{{Percentile: 0, Ms: 0.5}, {Percentile: 50, Ms: 2}, {Percentile: 99, Ms: 9}, {Percentile: 100, Ms: 30}}
	res := func(w string, rate, e2e float64) bench.Result {
		return bench.Result{Workload: w, Target: "started", Passed: true, ViolationCounts: map[string]int{},
			Load:   bench.LoadFigures{Orders: 2000, Accepted: 2000, AcceptedPerSec: rate, EndToEndPerSec: e2e, Seconds: 70},
			Accept: load.Summary{Count: 2000, P99: 8}, AcceptSpectrum: spec, EndToEndSpectrum: spec,
			EndToEnd: load.Summary{Count: 2000, P99: 900}, BeyondSupplier: load.Summary{Count: 2000, P99: 700},
			Series: series, Callbacks: bench.CallbackFigures{ByStatus: map[string]int{"4": 2000}}}
	}
	burst := res(bench.WorkloadBurst, 20000, 0)
	rate := res(bench.WorkloadRate, 14000, 0)
	rate.Load.OfferedRate = 14000
	mixed := res(bench.WorkloadMixed, 5000, 4500)
	pending := res(bench.WorkloadPending, 3000, 100)
	pending.Pending = &bench.PendingFigures{Pending: 1_000_000, BytesPerOrder: 1000, RSSFor1M: 1_100_000_000, RestartReadySeconds: 2}
	dup := res(bench.WorkloadDuplicates, 1000, 0)
	dup.Passed = false
	dup.ViolationCounts = map[string]int{bench.ViolationBalance: 1}
	dup.Violations = []bench.Violation{{Kind: bench.ViolationBalance, Detail: "balance 5 <want> 6 & more\nsecond line"}}
	f := &File{Schema: Schema, Name: "unit", Started: time.Unix(1_700_000_000, 0), Machine: Machine{Hostname: "h", Cores: 2},
		GoVersion: "go1.26", CommandLine: []string{"topupbench", "smoke"}, Ceilings: c,
		Results: []bench.Result{burst, rate, mixed, dup, pending}}
	f.Finish()
	return f
}

func TestRatios(t *testing.T) {
	f := sample()
	get := func(w, fig, c string) float64 {
		for _, r := range f.Ratios {
			if r.Workload == w && r.Figure == fig && r.Ceiling == c {
				return r.Ratio
			}
		}
		t.Fatalf("no ratio %s %s/%s", w, fig, c)
		return 0
	}
	if got := get(bench.WorkloadBurst, "accepted_per_sec", ceiling.FastHTTP); got != 0.5 {
		t.Errorf("burst/fasthttp %g", got)
	}
	if got := get(bench.WorkloadBurst, "accepted_per_sec", ceiling.PebbleSync1); got != 5 {
		t.Errorf("burst/pebble %g", got)
	}
	if got := get(bench.WorkloadMixed, "end_to_end_per_sec", ceiling.TCPShort); got != 0.45 {
		t.Errorf("mixed e2e/tcp %g", got)
	}
	if got := get(bench.WorkloadBurst, "accept_p99_ms", ceiling.FastHTTP); got != 2 {
		t.Errorf("p99 ratio %g", got)
	}
	for _, r := range f.Ratios {
		if r.Ceiling == ceiling.RedisPipelined || (r.Workload == bench.WorkloadBurst && r.Figure == "end_to_end_per_sec") {
			t.Errorf("ratio against a missing ceiling or figure: %+v", r)
		}
	}
	if len(Ratios(f.Results, nil)) != 0 {
		t.Error("ratios without ceilings")
	}
}

func TestTargets(t *testing.T) {
	f := sample()
	met := map[string]bool{}
	for _, tg := range f.Targets {
		if !tg.Judged {
			t.Errorf("not judged: %+v", tg)
		}
		met[tg.Name[:12]] = tg.Met
	}
	want := map[string]bool{
		"accepted ord": true,  // 20000 of 40000
		"p99 accept l": true,  // 8 ms at 0.7 of the burst's rate
		"end-to-end o": true,  // 0.45 for 70 s
		"p99 end-to-e": true,  // 0.7 s beyond the supplier
		"1,000,000 pe": true,  // 1.1 GB
		"restart with": true,  // 2 s
		"no correctne": false, // the duplicates run has a violation
	}
	for k, v := range want {
		if met[k] != v {
			t.Errorf("target %q met %v, want %v", k, met[k], v)
		}
	}
	if f.Passed {
		t.Error("a file with a violation passed")
	}
	// Fewer than 1,000,000 pending: reported, not judged (the slope of a
	// small run overstates memory per order).
	small := *f.Results[4].Pending
	small.Pending = 50_000
	small.RSSFor1M = 3_000_000_000
	few := append([]bench.Result(nil), f.Results...)
	few[4].Pending = &small
	for _, tg := range Targets(few, f.Ceilings) {
		if strings.HasPrefix(tg.Name, "1,000,000 pe") || strings.HasPrefix(tg.Name, "restart with") {
			if tg.Judged || tg.Got == "" {
				t.Errorf("small pending run: %+v, want reported and not judged", tg)
			}
		}
	}
	empty := Targets(nil, nil)
	for _, tg := range empty {
		if tg.Judged || tg.Met {
			t.Errorf("judged without results: %+v", tg)
		}
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	f := sample()
	paths, err := Write(dir, f)
	if err != nil || len(paths) != 3 {
		t.Fatalf("paths %v err %v", paths, err)
	}
	js, err := os.ReadFile(filepath.Join(dir, "unit.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back File
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("JSON does not read back: %v", err)
	}
	if back.Schema != Schema || len(back.Results) != 5 || back.Passed || back.Ceilings == nil ||
		back.Results[4].Pending == nil || back.Results[0].Load.AcceptedPerSec != 20000 || len(back.Ratios) != len(f.Ratios) {
		t.Fatalf("read back %+v", back)
	}
	txt, _ := os.ReadFile(filepath.Join(dir, "unit.txt"))
	for _, want := range []string{"topupbench unit — FAILED", "VIOLATIONS: balance=1", "fasthttp", "[met       ] accepted orders/s"} {
		if !bytes.Contains(txt, []byte(want)) {
			t.Errorf("summary lacks %q:\n%s", want, txt)
		}
	}
	if _, err := Write(dir, &File{Name: "../x"}); err == nil {
		t.Error("a name with a slash was written")
	}
}

// TestSVGIsWellFormed parses the SVG as XML and checks that it draws a
// chart row per workload and escapes text.
func TestSVGIsWellFormed(t *testing.T) {
	f := sample()
	f.CommandLine = append(f.CommandLine, `-name=<a&b>`)
	var b bytes.Buffer
	SVG(&b, f)
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	elems := map[string]int{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b.String())
		}
		if se, ok := tok.(xml.StartElement); ok {
			elems[se.Name.Local]++
		}
	}
	if elems["svg"] != 1 || elems["polyline"] < 10 || elems["rect"] < 20 {
		t.Fatalf("elements %v", elems)
	}
	s := b.String()
	for _, w := range []string{bench.WorkloadBurst, bench.WorkloadPending, "FAILED", "latency by percentile", "engine RSS"} {
		if !strings.Contains(s, w) {
			t.Errorf("SVG lacks %q", w)
		}
	}
	// An empty file still makes a valid document.
	b.Reset()
	SVG(&b, &File{Name: "empty"})
	if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
		t.Fatalf("empty SVG: %v", err)
	}
}
