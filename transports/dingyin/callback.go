package dingyin

import (
	"errors"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"topup/engine"
)

// ErrBadCallback is wrapped by ParseCallback's errors.
var ErrBadCallback = errors.New("dingyin: malformed callback")

// Callback is a supplier's result callback, values as UTF-8 text.
type Callback struct {
	// UserID is our merchant number (userid).
	UserID string
	// OrderID is the supplier's order number (orderid).
	OrderID string
	// SporderID is our supplier order number (sporderid).
	SporderID string
	// MerchantSubmitTime is merchantsubmittime, as sent.
	MerchantSubmitTime string
	// ResultNo is the result code (resultno), see Outcome.
	ResultNo string
	// Parvalue, Remark1 and Payno are optional and not signed.
	Parvalue, Remark1, Payno string
	// FundBalance is our balance at the supplier in yuan, optional and not
	// signed (see ParseYuan).
	FundBalance string
	// Sign is the received sign (see SignOK).
	Sign string
}

// formField is a form field a callback may carry and where its value goes.
type formField struct {
	name string
	dst  *string
}

// fields lists the form fields a callback may carry.
func (cb *Callback) fields() [10]formField {
	return [10]formField{
		{"userid", &cb.UserID}, {"orderid", &cb.OrderID}, {"sporderid", &cb.SporderID},
		{"merchantsubmittime", &cb.MerchantSubmitTime}, {"resultno", &cb.ResultNo},
		{"parvalue", &cb.Parvalue}, {"remark1", &cb.Remark1}, {"payno", &cb.Payno},
		{"fundbalance", &cb.FundBalance}, {"sign", &cb.Sign},
	}
}

// ParseCallback reads a callback's application/x-www-form-urlencoded body
// (an empty contentType is taken for one). Values are GBK when the
// Content-Type's charset says so (gbk, gb2312, gb18030) and, without a
// charset, when they are not valid UTF-8. userid, sporderid, resultno and
// sign are required; a field sent twice is refused; unknown fields are
// ignored. Errors wrap ErrBadCallback. It does not check the sign.
func ParseCallback(contentType, body []byte) (Callback, error) {
	var cb Callback
	gbk, strictUTF8 := false, false
	if len(contentType) > 0 {
		mt, params, err := mime.ParseMediaType(string(contentType))
		if err != nil {
			return cb, fmt.Errorf("%w: Content-Type %q: %w", ErrBadCallback, contentType, err)
		}
		if mt != "application/x-www-form-urlencoded" {
			return cb, fmt.Errorf("%w: Content-Type %q is not a form", ErrBadCallback, mt)
		}
		switch cs := strings.ToLower(params["charset"]); cs {
		case "":
		case "gbk", "gb2312", "gb18030", "cp936", "x-gbk":
			gbk = true
		case "utf-8", "utf8", "us-ascii":
			strictUTF8 = true
		default:
			return cb, fmt.Errorf("%w: unsupported charset %q", ErrBadCallback, cs)
		}
	}

	args := fasthttp.AcquireArgs()
	defer fasthttp.ReleaseArgs(args)
	args.ParseBytes(body)
	fields := cb.fields()
	var raw [len(fields)][]byte
	var seen uint32
	allUTF8 := true
	for k, v := range args.All() {
		for i, f := range fields {
			if string(k) != f.name {
				continue
			}
			if seen&(1<<i) != 0 {
				return Callback{}, fmt.Errorf("%w: %s sent twice", ErrBadCallback, f.name)
			}
			seen |= 1 << i
			raw[i] = v
			if !utf8.Valid(v) {
				allUTF8 = false
			}
		}
	}
	if strictUTF8 && !allUTF8 {
		return Callback{}, fmt.Errorf("%w: values are not UTF-8 as the charset says", ErrBadCallback)
	}
	if !allUTF8 {
		gbk = true
	}
	var missing []string
	for i, f := range fields {
		if gbk {
			*f.dst = fromGBK(raw[i])
		} else {
			*f.dst = string(raw[i])
		}
		switch f.name {
		case "userid", "sporderid", "resultno", "sign":
			if *f.dst == "" {
				missing = append(missing, f.name)
			}
		}
	}
	if len(missing) > 0 {
		return Callback{}, fmt.Errorf("%w: missing %s", ErrBadCallback, strings.Join(missing, ", "))
	}
	return cb, nil
}

// SignOK reports, in constant time, whether the callback's sign is
// CallbackSign of its fields under key; the received sign's hex case is
// ignored.
func (cb *Callback) SignOK(key string) bool {
	return signEqual(cb.Sign, CallbackSign(cb.UserID, cb.OrderID, cb.SporderID, cb.MerchantSubmitTime, cb.ResultNo, key))
}

// Outcome is what the callback says about the attempt, classified like a
// status-query reply (ClassifyResultNo with query true).
func (cb *Callback) Outcome() engine.Outcome { return ClassifyResultNo(cb.ResultNo, true) }

// Detail describes the callback's result for people and logs.
func (cb *Callback) Detail() string { return describe(cb.ResultNo) }

// CallbackReply is the body to answer a callback with once it has been
// taken: "OK". The supplier resends until it gets it.
func CallbackReply() []byte { return []byte("OK") }
