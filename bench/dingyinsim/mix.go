package dingyinsim

import (
	"strconv"
	"strings"

	"topup/bench/simkit"
)

// Mix weighs the kinds of outcome the simulator draws. Only ratios matter;
// an all-zero Mix means all success.
type Mix struct {
	// Success: accepted (resultno 0), recharged, result 1 after Latency.
	Success int
	// Fail: accepted (resultno 0), not recharged, result 9 after Latency.
	Fail int
	// Uncertain9999: the submission is answered 9999, but the order exists
	// and is recharged (result 1 after Latency).
	Uncertain9999 int
	// Duplicate5006: the first submission is answered 5006 although it
	// created the order, which later fails (9).
	Duplicate5006 int
	// TimeoutAfterSuccess: the order is created and recharged, but the
	// answer comes only after the client has given up (Config.ClientTimeout).
	TimeoutAfterSuccess int
	// Error5xxAfterSuccess: the order is created and recharged, but the
	// answer is HTTP 500.
	Error5xxAfterSuccess int
	// LowBalance5002: answered 5002, no order is created.
	LowBalance5002 int
	// Reject5003: answered 5003, no order is created.
	Reject5003 int
}

// Kind is the outcome the simulator chose for an order.
type Kind uint8

// Kinds, one per Mix weight, in Mix's field order.
const (
	KindSuccess Kind = iota
	KindFail
	KindUncertain9999
	KindDuplicate5006
	KindTimeoutAfterSuccess
	KindError5xxAfterSuccess
	KindLowBalance5002
	KindReject5003
	numKinds
)

// String is the kind's name as ParseMix spells it ("timeout_after_success").
func (k Kind) String() string {
	switch k {
	case KindSuccess:
		return "success"
	case KindFail:
		return "fail"
	case KindUncertain9999:
		return "uncertain9999"
	case KindDuplicate5006:
		return "duplicate5006"
	case KindTimeoutAfterSuccess:
		return "timeout_after_success"
	case KindError5xxAfterSuccess:
		return "error5xx_after_success"
	case KindLowBalance5002:
		return "low_balance5002"
	case KindReject5003:
		return "reject5003"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Recharged reports whether an order of this kind is actually recharged:
// Success, Uncertain9999, TimeoutAfterSuccess and Error5xxAfterSuccess. An
// engine that sends such an order to a second route recharges the account
// twice; Stats.RechargesByAccount shows it.
func (k Kind) Recharged() bool {
	switch k {
	case KindSuccess, KindUncertain9999, KindTimeoutAfterSuccess, KindError5xxAfterSuccess:
		return true
	}
	return false
}

// Creates reports whether a submission of this kind creates an order that
// status queries find (all but LowBalance5002 and Reject5003).
func (k Kind) Creates() bool { return k != KindLowBalance5002 && k != KindReject5003 }

// weights lists the weights in Kind order.
func (m Mix) weights() simkit.Weights[Kind] {
	return simkit.Weights[Kind]{m.Success, m.Fail, m.Uncertain9999, m.Duplicate5006,
		m.TimeoutAfterSuccess, m.Error5xxAfterSuccess, m.LowBalance5002, m.Reject5003}
}

// fields points at the weights in Kind order.
func (m *Mix) fields() [numKinds]*int {
	return [numKinds]*int{&m.Success, &m.Fail, &m.Uncertain9999, &m.Duplicate5006,
		&m.TimeoutAfterSuccess, &m.Error5xxAfterSuccess, &m.LowBalance5002, &m.Reject5003}
}

// Total is the sum of the weights.
func (m Mix) Total() int { return m.weights().Total() }

// Validate reports negative weights.
func (m Mix) Validate() error { return m.weights().Validate() }

// String renders the mix in ParseMix's syntax.
func (m Mix) String() string { return m.weights().String() }

// ParseMix parses "success=85,fail=8,uncertain9999=2,duplicate5006=1,
// timeout_after_success=1,error5xx_after_success=1,low_balance5002=1,reject5003=1".
// Kinds not named weigh 0. Names are case-insensitive and '-' or '_' may be
// left out ("timeoutaftersuccess", "low-balance5002").
func ParseMix(s string) (Mix, error) {
	var m Mix
	norm := strings.NewReplacer("_", "", "-", "").Replace
	err := simkit.ParseMix(s, func(name string) *int {
		for k := range numKinds {
			if norm(name) == norm(k.String()) {
				return m.fields()[k]
			}
		}
		return nil
	})
	if err != nil {
		return Mix{}, err
	}
	return m, nil
}

// Decide is the kind of outcome the simulator gives orders for account under
// mix m and seed: a hash of (seed, account) picks a weight bucket. It is
// deterministic, so tests know each account's outcome in advance, and well
// distributed even over consecutive numbers. Negative weights count as zero;
// an all-zero mix gives KindSuccess.
func Decide(m Mix, seed uint64, account string) Kind {
	return m.weights().Draw(seed, account)
}
