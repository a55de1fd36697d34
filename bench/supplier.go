package bench

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"topup/bench/sockmodsim"
)

// SupplierKind names a supplier simulator the harness can start.
type SupplierKind string

// Supplier kinds. HTTP suppliers plug in beside SupplierSockmod: a kind, a
// case in startSupplier that starts the simulator and writes its channel
// line, and nothing else in the harness changes.
const (
	// SupplierSockmod is a socket module (specs/003) simulated by
	// bench/sockmodsim.
	SupplierSockmod SupplierKind = "sockmod"
)

// Supplier is a simulated supplier a started engine routes orders to, and
// the route to it.
type Supplier struct {
	// Name is the channel name.
	Name string `json:"name"`
	// Kind is the protocol; "" means sockmod.
	Kind SupplierKind `json:"kind"`
	// Mix weighs the outcomes (all zero: all success). See sockmodsim.Mix.
	Mix sockmodsim.Mix `json:"mix"`
	// Seed feeds the outcome draw (sockmodsim.Decide) and the jitter.
	Seed uint64 `json:"seed"`
	// Latency is the delay between the ack and the result callback, spread
	// over Latency±Jitter.
	Latency time.Duration `json:"latency"`
	Jitter  time.Duration `json:"jitter"`
	// FollowUp is how long after an uncertain result the true one follows
	// (0: never; the order stays uncertain until the harness resolves it).
	FollowUp time.Duration `json:"follow_up"`
	// Priority and Weight place the route among the product's routes
	// (lower priority first; a weighted draw within a priority).
	Priority int `json:"priority"`
	Weight   int `json:"weight"`
	// MaxInflight is the channel's max_inflight (default 5000).
	MaxInflight int `json:"max_inflight"`
	// Timeout is the channel's submission timeout (default 30s).
	Timeout time.Duration `json:"timeout"`
}

// withDefaults fills the zero fields.
func (s Supplier) withDefaults() Supplier {
	if s.Kind == "" {
		s.Kind = SupplierSockmod
	}
	if s.MaxInflight == 0 {
		s.MaxInflight = 5000
	}
	if s.Timeout == 0 {
		s.Timeout = 30 * time.Second
	}
	return s
}

// Validate reports every problem at once.
func (s Supplier) Validate() error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("bench: supplier: Name is required"))
	}
	switch s.Kind {
	case "", SupplierSockmod:
	default:
		errs = append(errs, fmt.Errorf("bench: supplier %s: unknown kind %q", s.Name, s.Kind))
	}
	if err := s.Mix.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("bench: supplier %s: %w", s.Name, err))
	}
	if s.Latency < 0 || s.Jitter < 0 || s.FollowUp < 0 || s.Timeout < 0 || s.MaxInflight < 0 || s.Weight < 0 {
		errs = append(errs, fmt.Errorf("bench: supplier %s: negative duration, weight or bound", s.Name))
	}
	return errors.Join(errs...)
}

// SupplierStats is what a supplier simulator saw in a run.
type SupplierStats struct {
	// Name and Kind identify the supplier.
	Name string       `json:"name"`
	Kind SupplierKind `json:"kind"`
	// Orders is the distinct orders (supplier order numbers) it received.
	Orders int `json:"orders"`
	// Duplicates counts supplier order numbers received again.
	Duplicates int `json:"duplicates"`
	// ByKind counts the orders by the outcome drawn for them.
	ByKind map[string]int `json:"by_kind"`
	// CallbacksOK counts result callbacks the engine answered OK;
	// CallbacksFailed the attempts it did not; CallbacksAbandoned the
	// callbacks given up after every resend; CallbacksDropped those never
	// sent because the simulator's pending bound was reached.
	CallbacksOK        int `json:"callbacks_ok"`
	CallbacksFailed    int `json:"callbacks_failed"`
	CallbacksAbandoned int `json:"callbacks_abandoned"`
	CallbacksDropped   int `json:"callbacks_dropped"`
	// BadSigns counts orders with a wrong sign; Malformed undecodable ones.
	BadSigns  int `json:"bad_signs"`
	Malformed int `json:"malformed"`
}

// supplierSim is a running supplier simulator.
type supplierSim interface {
	// channelYAML is the channel's entry in the engine configuration.
	channelYAML() string
	// recharges is the recharges actually made, per account.
	recharges() map[string]int
	// acked is the orders acknowledged so far.
	acked() int
	// pending is the orders with results still to deliver.
	pending() int
	// callbacksOK is the result callbacks the engine answered OK.
	callbacksOK() int
	// delays is, per account, the delay the simulator was configured to
	// take before the final result of its orders for it.
	delays() map[string]time.Duration
	// stats is the simulator's view of the run.
	stats() SupplierStats
	close() error
}

// startSupplier starts the simulator of s, pushing results to callbackAddr
// (the engine's callback listener for its kind).
func startSupplier(s Supplier, callbackAddr string, logger *slog.Logger) (supplierSim, error) {
	s = s.withDefaults()
	switch s.Kind {
	case SupplierSockmod:
		key := fmt.Sprintf("sim-%s-key-%04d", s.Name, s.Seed%10000)
		sim, err := sockmodsim.Start(sockmodsim.Config{
			Listen: "127.0.0.1:0", MD5Key: key, CallbackAddr: callbackAddr,
			Mix: s.Mix, Seed: s.Seed, Latency: s.Latency, Jitter: s.Jitter, UncertainFollowUp: s.FollowUp,
			// Resend for a minute: results survive an engine restart.
			CallbackRetries: 120, CallbackRetryInterval: 500 * time.Millisecond, CallbackTimeout: 10 * time.Second,
			MaxPending: 2_000_000, MaxConns: 4096, Senders: 128, Logger: logger,
		})
		if err != nil {
			return nil, fmt.Errorf("bench: supplier %s: %w", s.Name, err)
		}
		return &sockSupplier{spec: s, key: key, sim: sim}, nil
	}
	return nil, fmt.Errorf("bench: supplier %s: unknown kind %q", s.Name, s.Kind)
}

// sockSupplier is a sockmodsim simulator.
type sockSupplier struct {
	spec Supplier
	key  string
	sim  *sockmodsim.Sim
}

func (s *sockSupplier) channelYAML() string {
	return fmt.Sprintf("{name: %q, kind: sockmod, addr: %q, md5key: %q, timeout: %s, max_inflight: %d}",
		s.spec.Name, s.sim.Addr(), s.key, s.spec.Timeout, s.spec.MaxInflight)
}

func (s *sockSupplier) recharges() map[string]int { return s.sim.Stats().SuccessByAcct }

func (s *sockSupplier) acked() int { return s.sim.Stats().Acked }

func (s *sockSupplier) pending() int { return s.sim.Stats().Pending }

func (s *sockSupplier) callbacksOK() int { return s.sim.Stats().CallbacksOK }

func (s *sockSupplier) delays() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, r := range s.sim.Records() {
		d := s.spec.Latency
		if r.Kind == sockmodsim.KindUncertain {
			d += s.spec.FollowUp
		}
		out[r.ChargeAcct] += d
	}
	return out
}

func (s *sockSupplier) stats() SupplierStats {
	st := s.sim.Stats()
	out := SupplierStats{Name: s.spec.Name, Kind: s.spec.Kind, Duplicates: st.DuplicateChargeIDs,
		ByKind: map[string]int{}, CallbacksOK: st.CallbacksOK, CallbacksFailed: st.CallbacksFailed,
		CallbacksAbandoned: st.CallbacksAbandoned, CallbacksDropped: st.CallbacksDropped,
		BadSigns: st.BadSign, Malformed: st.Malformed}
	for _, r := range s.sim.Records() {
		out.Orders++
		out.ByKind[r.Kind.String()]++
	}
	return out
}

func (s *sockSupplier) close() error { return s.sim.Close() }
