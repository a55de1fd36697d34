package ceiling

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"topup/bench/load"
)

// quietLogger drops Pebble's informational lines.
type quietLogger struct{}

// Infof drops the line.
func (quietLogger) Infof(string, ...any) {}

// Errorf drops the line: an error that matters fails the measurement.
func (quietLogger) Errorf(string, ...any) {}

// Fatalf panics, as Pebble expects of a fatal error.
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("ceiling: pebble: "+format, args...))
}

// measurePebble opens its own Pebble store and commits order-sized records
// with Sync: from one writer, from PebbleWriters writers, and in batches.
func measurePebble(ctx context.Context, cfg Config, dir string, want func(string) bool) (ms []Measure, err error) {
	db, err := pebble.Open(filepath.Join(dir, "pebble"), &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("ceiling: pebble: %w", err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("ceiling: pebble: %w", cerr)
		}
	}()
	value := make([]byte, cfg.RecordSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	key := func(prefix byte, i int) []byte {
		k := make([]byte, 9)
		k[0] = prefix
		binary.BigEndian.PutUint64(k[1:], uint64(i))
		return k
	}
	set := func(prefix byte) load.Func {
		return func(_ context.Context, i int, _ time.Time) load.Outcome {
			if err := db.Set(key(prefix, i), value, pebble.Sync); err != nil {
				return load.Outcome{Reason: "error"}
			}
			return load.Outcome{OK: true}
		}
	}
	run := func(workers int, fn load.Func) (load.Recording, error) {
		rec, err := load.RunClosed(ctx, load.Closed{N: unbounded, Workers: workers, MaxDuration: cfg.Duration}, fn)
		if err != nil {
			return rec, fmt.Errorf("ceiling: pebble: %w", err)
		}
		return rec, nil
	}
	if want(PebbleSync1) {
		rec, err := run(1, set('a'))
		if err != nil {
			return nil, err
		}
		ms = append(ms, fromRecording(PebbleSync1, fmt.Sprintf("Pebble Set with Sync, %d-byte records, 1 writer", cfg.RecordSize),
			"records/s", rec, 1, 1))
	}
	if want(PebbleSyncN) {
		rec, err := run(cfg.PebbleWriters, set('b'))
		if err != nil {
			return nil, err
		}
		ms = append(ms, fromRecording(PebbleSyncN, fmt.Sprintf("Pebble Set with Sync, %d-byte records, %d concurrent writers", cfg.RecordSize, cfg.PebbleWriters),
			"records/s", rec, 1, cfg.PebbleWriters))
	}
	if want(PebbleSyncBatch) {
		n := cfg.PebbleBatch
		rec, err := run(1, func(_ context.Context, i int, _ time.Time) load.Outcome {
			b := db.NewBatch()
			defer b.Close()
			for k := range n {
				if err := b.Set(key('c', i*n+k), value, nil); err != nil {
					return load.Outcome{Reason: "error"}
				}
			}
			if err := b.Commit(pebble.Sync); err != nil {
				return load.Outcome{Reason: "error"}
			}
			return load.Outcome{OK: true}
		})
		if err != nil {
			return nil, err
		}
		ms = append(ms, fromRecording(PebbleSyncBatch, fmt.Sprintf("Pebble batches of %d %d-byte records committed with Sync, 1 writer", n, cfg.RecordSize),
			"records/s", rec, n, n))
	}
	return ms, nil
}
