package engine

// Code is a stable outcome code for a request. Every transport maps it to its
// own wire form from this one catalogue; the Reason strings are part of the
// public API (operators and tests match on them) and never change.
type Code uint8

// The catalogue. OK is the only success.
const (
	OK                     Code = iota
	ErrBadRequest               // malformed body or missing field
	ErrBadSign                  // signature missing or wrong
	ErrUnknownUID               // no such merchant
	ErrUnknownProduct           // no product for (order type, carrier, face value)
	ErrBadPhone                 // malformed recharge target
	ErrBadFaceValue             // face value not a positive integer of fen
	ErrBadOrderNo               // order_no malformed
	ErrBadNotifyURL             // notify_url not an http(s) URL
	ErrBadOrderType             // order_type or mobile_type out of range
	ErrInsufficientBalance      // balance lower than the charge
	ErrDuplicateMismatch        // order_no already used with different fields
	ErrOrderNotFound            // query for an unknown order
	ErrBalanceUntrusted         // the merchant's balance cannot be trusted (ledger lost); reconcile first
	ErrUnavailable              // a dependency is down; nothing was changed
	ErrOverloaded               // a bound was reached; nothing was changed
	ErrNotReady                 // the node is not taking orders (recovering, log failed)
	ErrUnauthorized             // admin token missing or wrong
	ErrConflict                 // admin: same funding id with a different amount
	ErrNotFound                 // admin: no such resource
	numCodes
)

type codeInfo struct {
	reason string
	msg    string
	http   int // HTTP status for APIs that use it (admin); the operator API always answers 200
}

var codes = [numCodes]codeInfo{
	OK:                     {"ok", "Success", 200},
	ErrBadRequest:          {"bad_request", "malformed request", 400},
	ErrBadSign:             {"bad_sign", "signature missing or invalid", 400},
	ErrUnknownUID:          {"unknown_uid", "unknown operator uid", 400},
	ErrUnknownProduct:      {"unknown_product", "no product for this order type, carrier and face value", 400},
	ErrBadPhone:            {"bad_phone", "malformed phone_number", 400},
	ErrBadFaceValue:        {"bad_face_value", "face_value must be a positive integer number of fen", 400},
	ErrBadOrderNo:          {"bad_order_no", "order_no must be 1-64 letters, digits, '-' or '_'", 400},
	ErrBadNotifyURL:        {"bad_notify_url", "notify_url must be an http or https URL", 400},
	ErrBadOrderType:        {"bad_order_type", "order_type or mobile_type out of range", 400},
	ErrInsufficientBalance: {"insufficient_balance", "insufficient balance", 400},
	ErrDuplicateMismatch:   {"duplicate_mismatch", "order_no already used with different fields", 400},
	ErrOrderNotFound:       {"order_not_found", "order not found", 400},
	ErrBalanceUntrusted:    {"balance_untrusted", "balance unavailable until reconciled", 400},
	ErrUnavailable:         {"unavailable", "temporarily unavailable, nothing was changed; retry", 503},
	ErrOverloaded:          {"overloaded", "too many requests in flight, nothing was changed; retry", 503},
	ErrNotReady:            {"not_ready", "node not taking orders", 503},
	ErrUnauthorized:        {"unauthorized", "missing or wrong bearer token", 401},
	ErrConflict:            {"conflict", "same id already used with different content", 409},
	ErrNotFound:            {"not_found", "not found", 404},
}

// Reason is the stable machine-readable name of the code.
func (c Code) Reason() string {
	if c < numCodes {
		return codes[c].reason
	}
	return "unknown"
}

// Msg is a human-readable message for the code.
func (c Code) Msg() string {
	if c < numCodes {
		return codes[c].msg
	}
	return "unknown"
}

// HTTPStatus is the HTTP status used by APIs that carry one (admin API).
func (c Code) HTTPStatus() int {
	if c < numCodes {
		return codes[c].http
	}
	return 500
}

// Transient reports whether retrying the same request later may succeed.
func (c Code) Transient() bool {
	return c == ErrUnavailable || c == ErrOverloaded || c == ErrNotReady || c == ErrBalanceUntrusted
}

func (c Code) String() string { return c.Reason() }

// AllCodes lists the catalogue, for documentation and tests.
func AllCodes() []Code {
	out := make([]Code, 0, numCodes)
	for c := Code(0); c < numCodes; c++ {
		out = append(out, c)
	}
	return out
}
