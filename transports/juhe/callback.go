package juhe

import (
	"errors"
	"fmt"

	"github.com/valyala/fasthttp"

	"topup/engine"
)

// ErrCallback: a status callback lacks one of its fields.
var ErrCallback = errors.New("juhe: bad callback")

// Callback is one status callback from Juhe: a GET request to cburl with
// the four fields in its query string.
type Callback struct {
	// SporderID is Juhe's order number (sporder_id).
	SporderID string
	// OrderID is our order number as submitted (orderid).
	OrderID string
	// Sta is the status: "1" success, "9" failed.
	Sta string
	// Sign is md5(appkey + sporder_id + orderid), lower-case hex.
	Sign string
}

// ParseCallback reads a callback from the query arguments of its GET
// request. Every field is required; a missing or empty one is an error
// wrapping ErrCallback. The strings are copies, safe to keep after the
// request ends.
func ParseCallback(args *fasthttp.Args) (Callback, error) {
	var cb Callback
	var missing []string
	get := func(name string, dst *string) {
		v := args.Peek(name)
		if len(v) == 0 {
			missing = append(missing, name)
			return
		}
		*dst = string(v)
	}
	get("sporder_id", &cb.SporderID)
	get("orderid", &cb.OrderID)
	get("sta", &cb.Sta)
	get("sign", &cb.Sign)
	if len(missing) > 0 {
		return Callback{}, fmt.Errorf("%w: missing %v", ErrCallback, missing)
	}
	return cb, nil
}

// SignOK reports whether the callback's sign is md5(key + sporder_id +
// orderid), key being the account's appkey (Config.Key). The comparison
// takes the same time wherever the signs differ; the received sign's case
// is ignored.
func (cb *Callback) SignOK(key string) bool {
	return signEqual(cb.Sign, CallbackSign(key, cb.SporderID, cb.OrderID))
}

// Outcome is what the callback says about the order: sta 1 OutcomeSuccess,
// 9 OutcomeFailRoute, anything else OutcomeUncertain. Check SignOK first.
func (cb *Callback) Outcome() engine.Outcome {
	switch cb.Sta {
	case stateSuccess:
		return engine.OutcomeSuccess
	case stateFailed:
		return engine.OutcomeFailRoute
	}
	return engine.OutcomeUncertain
}

// Detail renders the callback for people and logs.
func (cb *Callback) Detail() string {
	return "callback sta " + cb.Sta + " sporder_id " + cb.SporderID
}

// CallbackReply is the body to answer a callback with once it is handled
// ("success"). Juhe resends a callback whose answer is empty.
func CallbackReply() []byte { return []byte("success") }
