package juhesim

import (
	"strconv"

	"topup/bench/simkit"
)

// Mix weighs the kinds of outcome the simulator draws. Only ratios matter;
// an all-zero Mix means all success.
type Mix struct {
	// Success: accepted (error_code 0), recharged; game_state/sta 1.
	Success int
	// Fail: accepted (error_code 0), not recharged; game_state/sta 9.
	Fail int
	// FailTarget: refused at once with 210501 (bad phone number); no order.
	FailTarget int
	// Uncertain10014: the reply is 10014 (system error), but the order exists
	// and is recharged; game_state/sta 1.
	Uncertain10014 int
	// Duplicate210508: the first submission is answered 210508 (duplicate
	// order number), but the order exists and fails; game_state/sta 9.
	Duplicate210508 int
	// TimeoutAfterSuccess: the order is recharged, but the reply comes only
	// after Config.ClientTimeout+1s, when the client has given up.
	TimeoutAfterSuccess int
	// Error5xxAfterSuccess: the order is recharged, but the reply is an
	// HTTP 502.
	Error5xxAfterSuccess int
	// RejectRetry: refused at once with 210507 (channel unavailable); no
	// order.
	RejectRetry int
}

// Kind is the outcome the simulator chose for an order.
type Kind uint8

// Kinds, one per Mix weight.
const (
	KindSuccess Kind = iota
	KindFail
	KindFailTarget
	KindUncertain10014
	KindDuplicate210508
	KindTimeoutAfterSuccess
	KindError5xxAfterSuccess
	KindRejectRetry
	numKinds
)

// String is the kind's name as ParseMix spells it ("fail_target").
func (k Kind) String() string {
	switch k {
	case KindSuccess:
		return "success"
	case KindFail:
		return "fail"
	case KindFailTarget:
		return "fail_target"
	case KindUncertain10014:
		return "uncertain"
	case KindDuplicate210508:
		return "duplicate"
	case KindTimeoutAfterSuccess:
		return "timeout"
	case KindError5xxAfterSuccess:
		return "5xx"
	case KindRejectRetry:
		return "reject"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Recharged reports whether the simulated supplier actually recharges the
// phone for an order of this kind: Success, Uncertain10014,
// TimeoutAfterSuccess and Error5xxAfterSuccess. An engine that sends such an
// order to a second route recharges the phone twice; Stats.RechargesByPhone
// shows it.
func (k Kind) Recharged() bool {
	return k == KindSuccess || k == KindUncertain10014 || k == KindTimeoutAfterSuccess || k == KindError5xxAfterSuccess
}

// Creates reports whether an order of this kind exists at the supplier (it
// can be queried and is called back): every kind but FailTarget and
// RejectRetry.
func (k Kind) Creates() bool { return k != KindFailTarget && k != KindRejectRetry }

// weights lists the weights in Kind order.
func (m Mix) weights() simkit.Weights[Kind] {
	return simkit.Weights[Kind]{m.Success, m.Fail, m.FailTarget, m.Uncertain10014, m.Duplicate210508,
		m.TimeoutAfterSuccess, m.Error5xxAfterSuccess, m.RejectRetry}
}

// Total is the sum of the weights.
func (m Mix) Total() int { return m.weights().Total() }

// Validate reports negative weights.
func (m Mix) Validate() error { return m.weights().Validate() }

// String renders the mix in ParseMix's syntax.
func (m Mix) String() string { return m.weights().String() }

// ParseMix parses "success=80,fail=10,fail_target=3,uncertain=2,duplicate=1,
// timeout=1,5xx=1,reject=2". Kinds not named weigh 0. Aliases: 10014 and
// uncertain10014; 210508 and duplicate210508; timeout_after_success;
// error5xx and error5xx_after_success; 210507, reject_retry and retry.
func ParseMix(s string) (Mix, error) {
	var m Mix
	err := simkit.ParseMix(s, func(name string) *int {
		switch name {
		case "success":
			return &m.Success
		case "fail":
			return &m.Fail
		case "fail_target", "failtarget", "210501":
			return &m.FailTarget
		case "uncertain", "uncertain10014", "uncertain_10014", "10014":
			return &m.Uncertain10014
		case "duplicate", "duplicate210508", "duplicate_210508", "210508":
			return &m.Duplicate210508
		case "timeout", "timeout_after_success":
			return &m.TimeoutAfterSuccess
		case "5xx", "error5xx", "error5xx_after_success":
			return &m.Error5xxAfterSuccess
		case "reject", "reject_retry", "retry", "210507":
			return &m.RejectRetry
		}
		return nil
	})
	if err != nil {
		return Mix{}, err
	}
	return m, nil
}

// Decide is the kind of outcome the simulator gives orders for phone under
// mix m and seed: a hash of (seed, phone) picks a weight bucket. It is
// deterministic, so tests know each phone number's outcome in advance, and
// well distributed even over consecutive numbers. Negative weights count as
// zero; an all-zero mix gives KindSuccess.
func Decide(m Mix, seed uint64, phone string) Kind {
	return m.weights().Draw(seed, phone)
}
