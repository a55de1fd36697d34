package ceiling

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"topup/bench/load"
	"topup/persistence/redisserver"
)

// chargeScript is a small charge-like script: refuse a repeated
// idempotency key, refuse an insufficient balance, else debit the balance
// and claim the key.
const chargeScript = `
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local bal = tonumber(redis.call('GET', KEYS[1]) or '0')
local amt = tonumber(ARGV[1])
if bal < amt then return -2 end
redis.call('DECRBY', KEYS[1], amt)
redis.call('SET', KEYS[2], ARGV[2], 'EX', 3600)
return bal - amt
`

// measureRedis starts its own redis-server (append-only file on, as the
// engine's) and measures the script unpipelined and pipelined.
func measureRedis(ctx context.Context, cfg Config, dir string, want func(string) bool) (ms []Measure, err error) {
	srv, err := redisserver.Start(redisserver.Options{Dir: filepath.Join(dir, "redis"), AppendOnly: true})
	if err != nil {
		return nil, fmt.Errorf("ceiling: redis: %w", err)
	}
	defer func() {
		if serr := srv.Stop(); serr != nil && err == nil {
			err = fmt.Errorf("ceiling: redis: %w", serr)
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: max(cfg.Conns, cfg.PipelineConns),
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
	defer rdb.Close()
	const balKey = "ceiling:balance"
	if err := rdb.Set(ctx, balKey, int64(1)<<60, 0).Err(); err != nil {
		return nil, fmt.Errorf("ceiling: redis: %w", err)
	}
	script := redis.NewScript(chargeScript)
	if err := script.Load(ctx, rdb).Err(); err != nil {
		return nil, fmt.Errorf("ceiling: redis: load script: %w", err)
	}
	call := func(ctx context.Context, c redis.Scripter, prefix string, i int) *redis.Cmd {
		id := prefix + strconv.Itoa(i)
		return script.EvalSha(ctx, c, []string{balKey, "ceiling:idem:" + id}, 985, id)
	}
	if want(RedisEvalsha) {
		rec, err := load.RunClosed(ctx, load.Closed{N: unbounded, Workers: cfg.Conns, MaxDuration: cfg.Duration},
			func(ctx context.Context, i int, _ time.Time) load.Outcome {
				if err := call(ctx, rdb, "u", i).Err(); err != nil {
					return load.Outcome{Reason: "error"}
				}
				return load.Outcome{OK: true}
			})
		if err != nil {
			return nil, fmt.Errorf("ceiling: redis: %w", err)
		}
		m := fromRecording(RedisEvalsha, fmt.Sprintf("EVALSHA of a charge script, unpipelined, %d connections", cfg.Conns),
			"calls/s", rec, 1, cfg.Conns)
		ms = append(ms, m)
	}
	if want(RedisPipelined) {
		depth := cfg.PipelineDepth
		rec, err := load.RunClosed(ctx, load.Closed{N: unbounded, Workers: cfg.PipelineConns, MaxDuration: cfg.Duration},
			func(ctx context.Context, i int, _ time.Time) load.Outcome {
				p := rdb.Pipeline()
				for k := range depth {
					call(ctx, p, "p", i*depth+k)
				}
				if _, err := p.Exec(ctx); err != nil {
					return load.Outcome{Reason: "error"}
				}
				return load.Outcome{OK: true}
			})
		if err != nil {
			return nil, fmt.Errorf("ceiling: redis: %w", err)
		}
		m := fromRecording(RedisPipelined, fmt.Sprintf("EVALSHA of a charge script, pipelines of %d on %d connections", depth, cfg.PipelineConns),
			"calls/s", rec, depth, cfg.PipelineConns*depth)
		ms = append(ms, m)
	}
	return ms, nil
}
