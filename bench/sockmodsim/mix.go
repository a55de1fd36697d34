package sockmodsim

import (
	"strconv"

	"topup/bench/simkit"
)

// Mix weighs the kinds of outcome the simulator draws. Only ratios matter;
// an all-zero Mix means all success.
type Mix struct {
	// Success: recharged, callback retCode 1 with the full amount.
	Success int
	// Fail: not recharged, callback retCode 3 "充值失败" (another route may work).
	Fail int
	// FailTarget: not recharged, callback retCode 3 "空号" (the number's fault).
	FailTarget int
	// Uncertain: recharged, but the callback says retCode 2; the truth
	// (success) follows after Config.UncertainFollowUp, if set.
	Uncertain int
	// NoCallback: recharged, but no callback is ever sent.
	NoCallback int
	// Partial: half the amount recharged, callback retCode 1 with retCash
	// half of chargeCash.
	Partial int
}

// Kind is the outcome the simulator chose for an order.
type Kind uint8

// Kinds, one per Mix weight.
const (
	KindSuccess Kind = iota
	KindFail
	KindFailTarget
	KindUncertain
	KindNoCallback
	KindPartial
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
	case KindUncertain:
		return "uncertain"
	case KindNoCallback:
		return "nocallback"
	case KindPartial:
		return "partial"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Recharged reports whether the simulated module actually recharged the
// account (fully or partly) for an order of this kind: true for Success,
// Uncertain (its truth is success), NoCallback (recharged, callback lost) and
// Partial. An engine that sends such an order to a second route recharges
// the account twice; Stats.SuccessByAcct shows it.
func (k Kind) Recharged() bool {
	return k == KindSuccess || k == KindUncertain || k == KindNoCallback || k == KindPartial
}

// weights lists the weights in Kind order.
func (m Mix) weights() simkit.Weights[Kind] {
	return simkit.Weights[Kind]{m.Success, m.Fail, m.FailTarget, m.Uncertain, m.NoCallback, m.Partial}
}

// Total is the sum of the weights.
func (m Mix) Total() int { return m.weights().Total() }

// Validate reports negative weights.
func (m Mix) Validate() error { return m.weights().Validate() }

// String renders the mix in ParseMix's syntax.
func (m Mix) String() string { return m.weights().String() }

// ParseMix parses "success=80,fail=10,fail_target=3,uncertain=4,nocallback=2,partial=1".
// Kinds not named weigh 0; "no_callback" is accepted for "nocallback".
func ParseMix(s string) (Mix, error) {
	var m Mix
	err := simkit.ParseMix(s, func(name string) *int {
		switch name {
		case "success":
			return &m.Success
		case "fail":
			return &m.Fail
		case "fail_target", "failtarget":
			return &m.FailTarget
		case "uncertain":
			return &m.Uncertain
		case "nocallback", "no_callback":
			return &m.NoCallback
		case "partial":
			return &m.Partial
		}
		return nil
	})
	if err != nil {
		return Mix{}, err
	}
	return m, nil
}

// Decide is the kind of outcome the simulator gives orders for chargeAcct
// under mix m and seed: a hash of (seed, chargeAcct) picks a weight
// bucket. It is deterministic, so tests know each phone number's expected
// outcome, and well distributed even over consecutive numbers. Negative
// weights count as zero; an all-zero mix gives KindSuccess.
func Decide(m Mix, seed uint64, chargeAcct string) Kind {
	return m.weights().Draw(seed, chargeAcct)
}
