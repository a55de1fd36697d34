package operapi

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"topup/engine"
)

// ErrBadCallback is wrapped by ParseCallback's errors.
var ErrBadCallback = errors.New("operapi: malformed callback")

// CallbackBody is the form we POST to the order's notify_url once it is
// terminal: uid, order_no, mobile_order_no, phone_number, face_value, status
// and sign, in that order. It depends only on the order and the key, so every
// delivery attempt sends the same bytes.
func CallbackBody(o *engine.Order, key string) []byte {
	sign := callbackDigest(o.UID, o.OrderNo, o.Phone, o.FaceValue, o.Status, key)
	b := make([]byte, 0, 160+len(o.UID)+len(o.OrderNo)+len(o.Phone))
	b = appendField(b, fUID, o.UID)
	b = append(b, '&')
	b = appendField(b, fOrderNo, o.OrderNo)
	b = append(b, '&')
	b = appendField(b, fMobileOrderNo, o.ID.String())
	b = append(b, '&')
	b = appendField(b, fPhone, o.Phone)
	b = append(b, "&face_value="...)
	b = strconv.AppendInt(b, int64(o.FaceValue), 10)
	b = append(b, "&status="...)
	b = strconv.AppendInt(b, int64(o.Status), 10)
	b = append(b, "&sign="...)
	return append(b, sign[:]...)
}

func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, '=')
	return append(b, url.QueryEscape(v)...)
}

// Callback is a result callback as the operator receives it.
type Callback struct {
	UID           string
	OrderNo       string
	MobileOrderNo string
	Phone         string
	FaceValue     engine.Fen
	Status        int
	Sign          string
}

// ParseCallback reads a result callback from a form or JSON body. It checks
// that every field is present and that face_value and status are integers; it
// does not check the sign (see SignOK).
func ParseCallback(contentType, body []byte) (Callback, error) {
	keys := [...]string{fUID, fOrderNo, fMobileOrderNo, fPhone, fFaceValue, fStatus, fSign}
	var f fieldSet
	defer f.release()
	if c := f.load(contentType, body, keys[:]); c != engine.OK {
		return Callback{}, fmt.Errorf("%w: unreadable body", ErrBadCallback)
	}
	for i, k := range keys {
		if !f.has[i] {
			return Callback{}, fmt.Errorf("%w: missing %s", ErrBadCallback, k)
		}
	}
	s := f.strs(len(keys))
	cb := Callback{UID: s[0], OrderNo: s[1], MobileOrderNo: s[2], Phone: s[3], Sign: s[6]}
	face, err := strconv.ParseInt(s[4], 10, 64)
	if err != nil {
		return cb, fmt.Errorf("%w: face_value %q", ErrBadCallback, s[4])
	}
	status, err := strconv.Atoi(s[5])
	if err != nil {
		return cb, fmt.Errorf("%w: status %q", ErrBadCallback, s[5])
	}
	cb.FaceValue, cb.Status = engine.Fen(face), status
	return cb, nil
}

// SignOK reports whether the callback's sign is CallbackSign of its fields
// under key (constant-time, case-insensitive).
func (c *Callback) SignOK(key string) bool {
	return signMatches(callbackDigest(c.UID, c.OrderNo, c.Phone, c.FaceValue, c.Status, key), c.Sign)
}
