// Package ceiling measures, on the machine and in the run where the engine
// is measured, what the engine's building blocks can do on their own: a bare
// fasthttp handler answering the operator's request bodies, Redis running a
// small charge-like Lua script (one call at a time per connection, and
// pipelined), Pebble committing order-sized records with Sync (one writer,
// many writers, batches), and short TCP connections on loopback. The engine
// is then judged by ratios of these ceilings, which drift less between
// machines than absolute figures.
//
// Every measurement is bounded by Config.Duration; the package owns no
// mutable globals.
package ceiling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"topup/bench/load"
	"topup/engine"
)

// Names of the measurements.
const (
	// FastHTTP: a fasthttp POST handler that reads the operator's order
	// body and answers the success reply, driven like the engine.
	FastHTTP = "fasthttp"
	// RedisEvalsha: EVALSHA of a charge-like script, one call at a time on
	// each of Config.Conns connections.
	RedisEvalsha = "redis_evalsha"
	// RedisPipelined: the same script, Config.PipelineDepth calls per round
	// trip on each of Config.PipelineConns connections; counted per call.
	RedisPipelined = "redis_evalsha_pipelined"
	// PebbleSync1: one writer committing one record per synced commit.
	PebbleSync1 = "pebble_sync_1"
	// PebbleSyncN: Config.PebbleWriters writers, one record per synced
	// commit each; counted per record.
	PebbleSyncN = "pebble_sync_concurrent"
	// PebbleSyncBatch: one writer committing batches of Config.PebbleBatch
	// records with Sync; counted per record.
	PebbleSyncBatch = "pebble_sync_batch"
	// TCPShort: short loopback TCP connections (connect, write an order
	// frame, read the ack, close) from Config.TCPConns goroutines.
	TCPShort = "tcp_short_conn"
)

// All lists every measurement, in the order Run takes them.
func All() []string {
	return []string{FastHTTP, RedisEvalsha, RedisPipelined, PebbleSync1, PebbleSyncN, PebbleSyncBatch, TCPShort}
}

// Config configures Run. Zero fields take the defaults of Default.
type Config struct {
	// Duration is the length of each measurement (default 5s).
	Duration time.Duration `json:"duration"`
	// Conns is the HTTP connection count and the number of unpipelined
	// Redis connections (default 64, as the engine's load).
	Conns int `json:"conns"`
	// PipelineConns and PipelineDepth shape the pipelined Redis
	// measurement (default 4 connections, 100 calls per round trip).
	PipelineConns int `json:"pipeline_conns"`
	PipelineDepth int `json:"pipeline_depth"`
	// PebbleWriters is the concurrent writers of PebbleSyncN (default 64);
	// PebbleBatch the records per commit of PebbleSyncBatch (default 100).
	PebbleWriters int `json:"pebble_writers"`
	PebbleBatch   int `json:"pebble_batch"`
	// RecordSize is the value size of a Pebble record (default: the size
	// of an accepted order's log record, RecordSize()).
	RecordSize int `json:"record_size"`
	// TCPConns is the concurrent short connections (default 64).
	TCPConns int `json:"tcp_conns"`
	// WorkDir holds the Pebble and Redis data (default: a temporary
	// directory, removed afterwards). Put it on the engine's file system.
	WorkDir string `json:"work_dir,omitempty"`
	// Only restricts the run to these measurements (default: All()).
	Only []string `json:"only,omitempty"`
	// Logf receives progress lines (nil: silent).
	Logf func(format string, args ...any) `json:"-"`
}

// Default is the configuration zero fields are taken from.
func Default() Config {
	return Config{Duration: 5 * time.Second, Conns: 64, PipelineConns: 4, PipelineDepth: 100,
		PebbleWriters: 64, PebbleBatch: 100, RecordSize: RecordSize(), TCPConns: 64}
}

func (c Config) withDefaults() Config {
	d := Default()
	if c.Duration == 0 {
		c.Duration = d.Duration
	}
	if c.Conns == 0 {
		c.Conns = d.Conns
	}
	if c.PipelineConns == 0 {
		c.PipelineConns = d.PipelineConns
	}
	if c.PipelineDepth == 0 {
		c.PipelineDepth = d.PipelineDepth
	}
	if c.PebbleWriters == 0 {
		c.PebbleWriters = d.PebbleWriters
	}
	if c.PebbleBatch == 0 {
		c.PebbleBatch = d.PebbleBatch
	}
	if c.RecordSize == 0 {
		c.RecordSize = d.RecordSize
	}
	if c.TCPConns == 0 {
		c.TCPConns = d.TCPConns
	}
	if len(c.Only) == 0 {
		c.Only = All()
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Duration <= 0 || c.Duration > time.Hour {
		errs = append(errs, fmt.Errorf("ceiling: Duration %s must be in (0, 1h]", c.Duration))
	}
	for name, v := range map[string]int{"Conns": c.Conns, "PipelineConns": c.PipelineConns, "PipelineDepth": c.PipelineDepth,
		"PebbleWriters": c.PebbleWriters, "PebbleBatch": c.PebbleBatch, "TCPConns": c.TCPConns} {
		if v < 1 || v > 10000 {
			errs = append(errs, fmt.Errorf("ceiling: %s %d must be 1..10000", name, v))
		}
	}
	if c.RecordSize < 1 || c.RecordSize > 1<<20 {
		errs = append(errs, fmt.Errorf("ceiling: RecordSize %d must be 1..1MiB", c.RecordSize))
	}
	for _, n := range c.Only {
		if !slices.Contains(All(), n) {
			errs = append(errs, fmt.Errorf("ceiling: unknown measurement %q (known: %s)", n, strings.Join(All(), ", ")))
		}
	}
	return errors.Join(errs...)
}

// Measure is one ceiling.
type Measure struct {
	// Name is one of the measurement names; What describes it.
	Name string `json:"name"`
	What string `json:"what"`
	// Unit is what Rate counts per second ("req/s", "calls/s", "records/s",
	// "conns/s").
	Unit string `json:"unit"`
	// Rate is operations per second; Ops and Seconds what it came from.
	Rate    float64 `json:"rate"`
	Ops     int64   `json:"ops"`
	Seconds float64 `json:"seconds"`
	// Latency is per request, call, round trip, commit or connection.
	Latency load.Summary `json:"latency"`
	// Errors counts failed operations.
	Errors int `json:"errors"`
	// Concurrency is the operations in flight at once.
	Concurrency int `json:"concurrency"`
}

// Results is every ceiling measured in a run.
type Results struct {
	// Config is the configuration as run.
	Config Config `json:"config"`
	// Measures lists the ceilings in the order measured.
	Measures []Measure `json:"measures"`
}

// Get returns the ceiling called name.
func (r Results) Get(name string) (Measure, bool) {
	for _, m := range r.Measures {
		if m.Name == name {
			return m, true
		}
	}
	return Measure{}, false
}

// fromRecording turns a load recording of ops operations each counting per
// items into a Measure.
func fromRecording(name, what, unit string, rec load.Recording, per, concurrency int) Measure {
	m := Measure{Name: name, What: what, Unit: unit, Ops: int64(rec.OK) * int64(per), Seconds: rec.Elapsed.Seconds(),
		Latency: load.Summarize(rec.Latency), Concurrency: concurrency}
	for reason, n := range rec.Reasons {
		if reason != load.ReasonCutOff {
			m.Errors += n
		}
	}
	if m.Seconds > 0 {
		m.Rate = float64(m.Ops) / m.Seconds
	}
	return m
}

// unbounded is the request count of a measurement bounded by time only.
const unbounded = 1 << 40

// Run measures the ceilings in cfg.Only, one after another.
func Run(ctx context.Context, cfg Config) (Results, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Results{}, err
	}
	dir, cleanup, err := workDir(cfg.WorkDir)
	if err != nil {
		return Results{}, err
	}
	defer cleanup()
	res := Results{Config: cfg}
	want := func(n string) bool { return slices.Contains(cfg.Only, n) }
	steps := []struct {
		names []string
		run   func() ([]Measure, error)
	}{
		{[]string{FastHTTP}, func() ([]Measure, error) { return one(measureFastHTTP(ctx, cfg)) }},
		{[]string{RedisEvalsha, RedisPipelined}, func() ([]Measure, error) { return measureRedis(ctx, cfg, dir, want) }},
		{[]string{PebbleSync1, PebbleSyncN, PebbleSyncBatch}, func() ([]Measure, error) { return measurePebble(ctx, cfg, dir, want) }},
		{[]string{TCPShort}, func() ([]Measure, error) { return one(measureTCP(ctx, cfg)) }},
	}
	for _, s := range steps {
		if !slices.ContainsFunc(s.names, want) {
			continue
		}
		cfg.Logf("ceiling: measuring %s for %s each", strings.Join(s.names, ", "), cfg.Duration)
		ms, err := s.run()
		if err != nil {
			return res, err
		}
		for _, m := range ms {
			if want(m.Name) {
				res.Measures = append(res.Measures, m)
			}
		}
	}
	return res, nil
}

func one(m Measure, err error) ([]Measure, error) {
	if err != nil {
		return nil, err
	}
	return []Measure{m}, nil
}

// workDir returns dir, or a new temporary directory and its removal.
func workDir(dir string) (string, func(), error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, fmt.Errorf("ceiling: work dir: %w", err)
		}
		d, err := os.MkdirTemp(dir, "ceiling-")
		if err != nil {
			return "", nil, fmt.Errorf("ceiling: work dir: %w", err)
		}
		return d, func() { _ = os.RemoveAll(d) }, nil
	}
	d, err := os.MkdirTemp("", "topupbench-ceiling-")
	if err != nil {
		return "", nil, fmt.Errorf("ceiling: work dir: %w", err)
	}
	return d, func() { _ = os.RemoveAll(d) }, nil
}

// RecordSize is the size of the log record of an order as the engine
// writes it at acceptance (a version byte and the order's JSON), for an
// order of the bench harness's shape.
func RecordSize() int {
	route := engine.Route{Channel: "sock-a", Kind: "sockmod", Code: "0", Priority: 1, Weight: 1}
	o := engine.Order{ID: engine.MakeID(1, 123456789), UID: "900001", OrderNo: "b1x2y3z-123456", OrderType: 1,
		Carrier: 1, Phone: "13000123456", FaceValue: 5000, Charge: 4925, NotifyURL: "http://127.0.0.1:40000/notify",
		FieldsHash: strings.Repeat("0f", 32), CreatedAt: 1_760_000_000_000, UpdatedAt: 1_760_000_000_000,
		State: engine.StateAccepted, Routes: []engine.Route{route}}
	b, err := json.Marshal(o)
	if err != nil {
		return 512
	}
	return 1 + len(b)
}
