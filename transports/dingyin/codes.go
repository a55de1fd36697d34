package dingyin

import "topup/engine"

// Values of resultno. The meanings of the 5xxx codes other than 5002, 5005,
// 5006 and 5007 are assumptions (see the package documentation); the adapter
// treats every request error alike.
const (
	// CodeWaiting (0): accepted, waiting to be recharged.
	CodeWaiting = "0"
	// CodeSuccess (1): recharged.
	CodeSuccess = "1"
	// CodeInProgress (2): being recharged.
	CodeInProgress = "2"
	// CodeFailed (9): failed, the amount was refunded to our account.
	CodeFailed = "9"
	// CodeNoUser (5001, assumed): unknown userid.
	CodeNoUser = "5001"
	// CodeLowBalance (5002): our balance at the supplier is too low.
	CodeLowBalance = "5002"
	// CodeNoProduct (5003, assumed): unknown or unavailable product.
	CodeNoProduct = "5003"
	// CodeBadParam (5004, assumed): a missing or malformed parameter.
	CodeBadParam = "5004"
	// CodeBadSign (5005): the sign does not verify.
	CodeBadSign = "5005"
	// CodeDuplicate (5006): the sporderid was submitted before.
	CodeDuplicate = "5006"
	// CodeNoOrder (5007): no order with this sporderid (yet).
	CodeNoOrder = "5007"
	// CodeUnknown (9999): the supplier does not know the result.
	CodeUnknown = "9999"
)

// isRequestError reports whether no is one of 5001–5012.
func isRequestError(no string) bool {
	if len(no) != 4 || no[0] != '5' || no[1] != '0' {
		return false
	}
	switch no[2] {
	case '0':
		return no[3] >= '1' && no[3] <= '9'
	case '1':
		return no[3] >= '0' && no[3] <= '2'
	}
	return false
}

// ClassifyResultNo maps a resultno to an outcome (see the table in the
// package documentation). query selects the meaning in a status-query reply
// or a callback, where request errors say nothing about the order and 5007
// means "not registered yet"; otherwise the meaning in a submit reply, where
// a request error means the order was not created.
func ClassifyResultNo(no string, query bool) engine.Outcome {
	switch no {
	case CodeWaiting, CodeInProgress:
		return engine.OutcomeAccepted
	case CodeSuccess:
		return engine.OutcomeSuccess
	case CodeFailed:
		return engine.OutcomeFailRoute
	case CodeDuplicate, CodeUnknown:
		return engine.OutcomeUncertain
	case CodeNoOrder:
		if query {
			return engine.OutcomeAccepted
		}
		return engine.OutcomeFailRoute
	}
	if isRequestError(no) {
		if query {
			return engine.OutcomeUncertain
		}
		return engine.OutcomeFailRoute
	}
	return engine.OutcomeUncertain
}

// IsLowBalance reports whether resultno says our balance at the supplier is
// too low (5002): the channel needs topping up before it takes more orders.
func IsLowBalance(no string) bool { return no == CodeLowBalance }

// describe renders a resultno for people and logs: "resultno 9: failed,
// refunded".
func describe(no string) string {
	var what string
	switch no {
	case CodeWaiting:
		what = "waiting"
	case CodeSuccess:
		what = "success"
	case CodeInProgress:
		what = "in progress"
	case CodeFailed:
		what = "failed, refunded"
	case CodeNoUser:
		what = "request error: unknown userid"
	case CodeLowBalance:
		what = "supplier balance too low"
	case CodeNoProduct:
		what = "request error: product unavailable"
	case CodeBadParam:
		what = "request error: bad parameter"
	case CodeBadSign:
		what = "request error: bad sign"
	case CodeDuplicate:
		what = "duplicate sporderid"
	case CodeNoOrder:
		what = "no such order"
	case CodeUnknown:
		what = "result unknown"
	default:
		if isRequestError(no) {
			what = "request error"
		} else {
			what = "unknown code"
		}
	}
	return "resultno " + no + ": " + what
}
