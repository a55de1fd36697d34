package sockmodsim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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
func (m Mix) weights() [numKinds]int {
	return [numKinds]int{m.Success, m.Fail, m.FailTarget, m.Uncertain, m.NoCallback, m.Partial}
}

// Total is the sum of the weights.
func (m Mix) Total() int {
	t := 0
	for _, w := range m.weights() {
		t += w
	}
	return t
}

// Validate reports negative weights.
func (m Mix) Validate() error {
	var errs []error
	for k, w := range m.weights() {
		if w < 0 {
			errs = append(errs, fmt.Errorf("mix: %s weight %d is negative", Kind(k), w))
		}
	}
	return errors.Join(errs...)
}

// String renders the mix in ParseMix's syntax.
func (m Mix) String() string {
	parts := make([]string, 0, numKinds)
	for k, w := range m.weights() {
		parts = append(parts, Kind(k).String()+"="+strconv.Itoa(w))
	}
	return strings.Join(parts, ",")
}

// ParseMix parses "success=80,fail=10,fail_target=3,uncertain=4,nocallback=2,partial=1".
// Kinds not named weigh 0; "no_callback" is accepted for "nocallback".
func ParseMix(s string) (Mix, error) {
	var m Mix
	if strings.TrimSpace(s) == "" {
		return m, errors.New("mix: empty")
	}
	for part := range strings.SplitSeq(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Mix{}, fmt.Errorf("mix: %q is not kind=weight", part)
		}
		w, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || w < 0 {
			return Mix{}, fmt.Errorf("mix: weight of %q must be a non-negative integer", name)
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "success":
			m.Success = w
		case "fail":
			m.Fail = w
		case "fail_target", "failtarget":
			m.FailTarget = w
		case "uncertain":
			m.Uncertain = w
		case "nocallback", "no_callback":
			m.NoCallback = w
		case "partial":
			m.Partial = w
		default:
			return Mix{}, fmt.Errorf("mix: unknown kind %q", name)
		}
	}
	return m, nil
}

// Decide is the kind of outcome the simulator gives orders for chargeAcct
// under mix m and seed: a hash of (seed, chargeAcct) picks a weight
// bucket. It is deterministic, so tests know each phone number's expected
// outcome, and well distributed even over consecutive numbers. Negative
// weights count as zero; an all-zero mix gives KindSuccess.
func Decide(m Mix, seed uint64, chargeAcct string) Kind {
	ws := m.weights()
	var total uint64
	for _, w := range ws {
		if w > 0 {
			total += uint64(w)
		}
	}
	if total == 0 {
		return KindSuccess
	}
	// FNV-1a with the seed folded into the offset basis, then the
	// splitmix64 finaliser so that every input bit reaches every output bit.
	h := uint64(14695981039346656037) ^ mix64(seed)
	for i := range len(chargeAcct) {
		h ^= uint64(chargeAcct[i])
		h *= 1099511628211
	}
	r := mix64(h) % total
	for k, w := range ws {
		if w <= 0 {
			continue
		}
		if r < uint64(w) {
			return Kind(k)
		}
		r -= uint64(w)
	}
	return KindSuccess // unreachable
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
