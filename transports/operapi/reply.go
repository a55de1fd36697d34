package operapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"topup/engine"
)

// replyOK is the body of a successful order push.
const replyOK = `{"code":200,"count":1,"msg":"Success"}`

// Reply is the JSON body answering a request with code c:
// {"code":200,"count":1,"msg":"Success"} for engine.OK and
// {"code":400,"count":0,"msg":"<c.Msg()>","reason":"<c.Reason()>"} otherwise.
func Reply(c engine.Code) []byte {
	if c == engine.OK {
		return []byte(replyOK)
	}
	msg, reason := c.Msg(), c.Reason()
	b := make([]byte, 0, 48+len(msg)+len(reason))
	b = append(b, `{"code":400,"count":0,"msg":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, reason)
	return append(b, '}')
}

// SignedReply is the JSON body of a successful balance or order query:
// {"code":200,"count":1,"msg":"success","sign":"<md5(data+key)>","data":<data>}.
// data must be one JSON object; it is copied verbatim, so the sign is over
// exactly the bytes the client finds as "data".
func SignedReply(data []byte, key string) []byte {
	sign := dataDigest(data, key)
	b := make([]byte, 0, 80+len(sign)+len(data))
	b = append(b, `{"code":200,"count":1,"msg":"success","sign":"`...)
	b = append(b, sign[:]...)
	b = append(b, `","data":`...)
	b = append(b, data...)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string literal. Invalid UTF-8 becomes
// U+FFFD; '<', '>' and '&' are left as they are.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// BalanceData is the signed "data" object of a balance reply. Amounts are in
// fen, dates in unix milliseconds.
type BalanceData struct {
	AccountBalance  int64  `json:"accountBalance"`
	BillingDate     int64  `json:"billingDate"`
	Currency        string `json:"currency"`
	Expenditure     int64  `json:"expenditure"`
	GmtCreate       int64  `json:"gmtCreate"`
	ID              int64  `json:"id"`
	Income          int64  `json:"income"`
	OperatorName    string `json:"operatorName"`
	PayMoney        int64  `json:"payMoney"`
	PaymentDetailID int64  `json:"paymentDetailId"`
	Record          string `json:"record"`
}

// OrderData is the signed "data" object of an order query reply.
type OrderData struct {
	Amount              int64  `json:"amount"`
	GmtCreate           int64  `json:"gmtCreate"`
	ID                  int64  `json:"id"`
	MobileOrderNo       string `json:"mobileOrderNo"`
	OperatorSn          string `json:"operatorSn"`
	OperatorsName       string `json:"operatorsName"`
	RechargePhoneNumber string `json:"rechargePhoneNumber"`
	SerialNumber        string `json:"serialNumber"`
	StatusID            int    `json:"statusId"`
	StatusName          string `json:"statusName"`
}

// OrderDataFor is the order query answer for o: the face value in fen, the
// creation time, our order id (as id's per-node sequence and in full as
// mobileOrderNo and serialNumber), the operator's order_no, and the query
// status id and name.
func OrderDataFor(o *engine.Order, merchantName string) OrderData {
	st := o.QueryStatus()
	return OrderData{
		Amount:              int64(o.FaceValue),
		GmtCreate:           o.CreatedAt,
		ID:                  int64(o.ID.Seq()),
		MobileOrderNo:       o.ID.String(),
		OperatorSn:          o.OrderNo,
		OperatorsName:       merchantName,
		RechargePhoneNumber: o.Phone,
		SerialNumber:        o.ID.String(),
		StatusID:            st,
		StatusName:          engine.QueryStatusName(st),
	}
}

// MarshalData encodes a reply's data object as compact JSON without HTML
// escaping; these are the bytes SignedReply signs.
func MarshalData(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("operapi: encode reply data: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
