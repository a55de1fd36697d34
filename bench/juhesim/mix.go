package juhesim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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
func (m Mix) weights() [numKinds]int {
	return [numKinds]int{m.Success, m.Fail, m.FailTarget, m.Uncertain10014, m.Duplicate210508,
		m.TimeoutAfterSuccess, m.Error5xxAfterSuccess, m.RejectRetry}
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

// ParseMix parses "success=80,fail=10,fail_target=3,uncertain=2,duplicate=1,
// timeout=1,5xx=1,reject=2". Kinds not named weigh 0. Aliases: 10014 and
// uncertain10014; 210508 and duplicate210508; timeout_after_success;
// error5xx and error5xx_after_success; 210507, reject_retry and retry.
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
		case "fail_target", "failtarget", "210501":
			m.FailTarget = w
		case "uncertain", "uncertain10014", "uncertain_10014", "10014":
			m.Uncertain10014 = w
		case "duplicate", "duplicate210508", "duplicate_210508", "210508":
			m.Duplicate210508 = w
		case "timeout", "timeout_after_success":
			m.TimeoutAfterSuccess = w
		case "5xx", "error5xx", "error5xx_after_success":
			m.Error5xxAfterSuccess = w
		case "reject", "reject_retry", "retry", "210507":
			m.RejectRetry = w
		default:
			return Mix{}, fmt.Errorf("mix: unknown kind %q", name)
		}
	}
	return m, nil
}

// Decide is the kind of outcome the simulator gives orders for phone under
// mix m and seed: a hash of (seed, phone) picks a weight bucket. It is
// deterministic, so tests know each phone number's outcome in advance, and
// well distributed even over consecutive numbers. Negative weights count as
// zero; an all-zero mix gives KindSuccess.
func Decide(m Mix, seed uint64, phone string) Kind {
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
	for i := range len(phone) {
		h ^= uint64(phone[i])
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
