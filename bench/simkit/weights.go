package simkit

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is what a simulator's outcome kinds are: small numbers, 0 being
// success, that name themselves as a mix spells them ("fail_target").
type Kind interface {
	~uint8
	String() string
}

// Weights are the weights of a simulator's outcome kinds, indexed by kind.
// Only ratios matter.
type Weights[K Kind] []int

// Total is the sum of the weights.
func (w Weights[K]) Total() int {
	t := 0
	for _, v := range w {
		t += v
	}
	return t
}

// Validate reports negative weights.
func (w Weights[K]) Validate() error {
	var errs []error
	for k, v := range w {
		if v < 0 {
			errs = append(errs, fmt.Errorf("mix: %s weight %d is negative", K(k), v))
		}
	}
	return errors.Join(errs...)
}

// String renders the weights as "success=80,fail=10,…", every kind in kind
// order, the syntax ParseMix reads.
func (w Weights[K]) String() string {
	parts := make([]string, 0, len(w))
	for k, v := range w {
		parts = append(parts, K(k).String()+"="+strconv.Itoa(v))
	}
	return strings.Join(parts, ",")
}

// Draw is the kind of outcome for key under seed: a hash of (seed, key)
// picks a weight bucket. It is deterministic, so tests know each key's
// outcome in advance, and well distributed even over consecutive numbers.
// Negative weights count as zero; when all are zero it is kind 0.
func (w Weights[K]) Draw(seed uint64, key string) K {
	var total uint64
	for _, v := range w {
		if v > 0 {
			total += uint64(v)
		}
	}
	if total == 0 {
		return 0
	}
	// FNV-1a with the seed folded into the offset basis, then the
	// splitmix64 finaliser so that every input bit reaches every output bit.
	h := uint64(14695981039346656037) ^ mix64(seed)
	for i := range len(key) {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	r := mix64(h) % total
	for k, v := range w {
		if v <= 0 {
			continue
		}
		if r < uint64(v) {
			return K(k)
		}
		r -= uint64(v)
	}
	return 0 // unreachable
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// ParseMix parses a mix, "kind=weight,kind=weight,…", storing each weight
// where field(kind) points. field gets the kind's name trimmed and
// lower-cased, and returns nil for a name it does not know. Weights must be
// non-negative integers; an empty mix is an error.
func ParseMix(s string, field func(name string) *int) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("mix: empty")
	}
	for part := range strings.SplitSeq(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("mix: %q is not kind=weight", part)
		}
		w, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || w < 0 {
			return fmt.Errorf("mix: weight of %q must be a non-negative integer", name)
		}
		p := field(strings.ToLower(strings.TrimSpace(name)))
		if p == nil {
			return fmt.Errorf("mix: unknown kind %q", name)
		}
		*p = w
	}
	return nil
}

// Latency draws delays uniformly from base±jitter, never below zero. It is
// safe for concurrent use.
type Latency struct {
	base, jitter time.Duration
	mu           sync.Mutex
	rng          *rand.Rand
}

// NewLatency draws from base±jitter with a PCG generator seeded with (seed,
// stream).
func NewLatency(base, jitter time.Duration, seed, stream uint64) *Latency {
	return &Latency{base: base, jitter: jitter, rng: rand.New(rand.NewPCG(seed, stream))}
}

// Draw is the next delay.
func (l *Latency) Draw() time.Duration {
	d := l.base
	if j := l.jitter; j > 0 {
		l.mu.Lock()
		d += time.Duration(l.rng.Int64N(2*int64(j)+1)) - j
		l.mu.Unlock()
	}
	return max(d, 0)
}
