package sockmod

import (
	"strconv"
	"strings"

	"topup/engine"
)

// Wire values of retCode.
const (
	// RetReceived (0): received, not processed yet; the result follows.
	RetReceived = 0
	// RetSuccess (1): recharged.
	RetSuccess = 1
	// RetUncertain (2): the module does not know whether it recharged.
	RetUncertain = 2
	// RetFailed (3): not recharged.
	RetFailed = 3
)

// mentionsTarget reports whether any of the texts blames the recharge target
// (invalid, barred or ported number, wrong carrier), in which case no other
// route will succeed either. Matched case-insensitively.
func mentionsTarget(texts ...string) bool {
	keywords := [...]string{
		"空号", "欠费", "停机", "销号", "号码错误", "号码有误", "号码不存在", "号码无效", "无效号码",
		"运营商不符", "携号转网", "携转", "黑名单",
		"invalid number", "invalid phone", "number not exist", "blacklist",
	}
	for _, t := range texts {
		if t == "" {
			continue
		}
		t = strings.ToLower(t)
		for _, k := range keywords {
			if strings.Contains(t, k) {
				return true
			}
		}
	}
	return false
}

// failure classifies retCode 3.
func failure(detail, userContent string) engine.Outcome {
	if mentionsTarget(detail, userContent) {
		return engine.OutcomeFailTarget
	}
	return engine.OutcomeFailRoute
}

// describe renders a reply for people and logs: "retCode 3: 空号 (号码为空号)".
func describe(retCode int, detail, userContent string) string {
	s := "retCode " + strconv.Itoa(retCode)
	if detail != "" {
		s += ": " + detail
	}
	if userContent != "" && userContent != detail {
		s += " (" + userContent + ")"
	}
	return s
}

// ClassifyAck maps a module's synchronous ack to an outcome: retCode 0
// accepted, 1 success, 2 uncertain, 3 failure (OutcomeFailTarget when the
// detail blames the recharge target, else OutcomeFailRoute), anything else
// uncertain. The string is a human-readable detail.
func ClassifyAck(a Ack) (engine.Outcome, string) {
	d := describe(a.RetCode, a.RetDetail, "")
	switch a.RetCode {
	case RetReceived:
		return engine.OutcomeAccepted, d
	case RetSuccess:
		return engine.OutcomeSuccess, d
	case RetFailed:
		return failure(a.RetDetail, ""), d
	default:
		return engine.OutcomeUncertain, d
	}
}

// ClassifyResult maps a result callback for an order of chargeCash to an
// outcome: retCode 1 success, or OutcomePartial when 0 < retCash < chargeCash;
// 2 uncertain; 3 failure (OutcomeFailTarget when retDetail or userContent
// blames the recharge target, else OutcomeFailRoute); 0 accepted (no news);
// anything else uncertain. The string is a human-readable detail.
func ClassifyResult(r Result, chargeCash engine.Fen) (engine.Outcome, string) {
	d := describe(r.RetCode, r.RetDetail, r.UserContent)
	switch r.RetCode {
	case RetSuccess:
		if r.RetCash > 0 && r.RetCash < chargeCash {
			return engine.OutcomePartial, d + "; partial: retCash " + r.RetCash.Yuan3() + " of " + chargeCash.Yuan3()
		}
		return engine.OutcomeSuccess, d
	case RetReceived:
		return engine.OutcomeAccepted, d
	case RetFailed:
		return failure(r.RetDetail, r.UserContent), d
	default:
		return engine.OutcomeUncertain, d
	}
}
