package sockmod

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"

	"topup/engine"
)

// Packet errors.
var (
	// ErrMalformed: a frame is not a valid packet (bad JSON, a missing
	// required field, a malformed amount).
	ErrMalformed = errors.New("sockmod: malformed packet")
	// ErrEncode: a packet cannot be encoded, because a text field holds a
	// character GBK cannot represent or invalid UTF-8.
	ErrEncode = errors.New("sockmod: cannot encode packet")
)

// actionCharge is the only instruction of the protocol: recharge.
const actionCharge = "CZ"

// Order is an order sent to a socket module (action CZ). Amounts are in fen;
// on the wire they are yuan with three decimals.
type Order struct {
	// ChargeID is the order serial number; the module returns it unchanged.
	// The engine uses engine.ID.SupplierNo.
	ChargeID int64
	// ChargeAcct is the account to recharge, e.g. a phone number.
	ChargeAcct string
	// ChargeCash is the amount to recharge. It must be a whole number of fen.
	ChargeCash engine.Fen
	// ChargeType is the business type: 0 phone credit, 1 Q coins, 2 QQ
	// membership, 3 games, 4 utilities, 5 data, 6 tickets, 7 landline,
	// 8 broadband, 9 fuel card.
	ChargeType int
	// Amount is the number of items, normally 1 (used for games).
	Amount int
	// FaceValue is the unit face value (used for games).
	FaceValue engine.Fen
	// Var1..Var4 are spare parameters; they are signed.
	Var1, Var2, Var3, Var4 string
	// ProductSn is a product code some game products need.
	ProductSn int64
	// NbrArea is the home area of the account ("广东省深圳-移动").
	NbrArea string
	// CardSn and CardPassword identify a recharge card.
	CardSn, CardPassword string
	// AgentAcct and AgentPass are an agent account for multi-account setups.
	AgentAcct, AgentPass string
	// CardID is a recharge card id; the module returns it unchanged.
	CardID int64
	// RetRsn is an order tag the module returns unchanged.
	RetRsn string
	// Sign is the packet signature (see ComputeSign).
	Sign string
}

// Ack is a module's synchronous answer to an order.
type Ack struct {
	// ChargeID echoes the order's ChargeID.
	ChargeID int64
	// RetCode: 0 received, 1 success, 2 uncertain, 3 failed.
	RetCode int
	// RetDetail is a human-readable explanation.
	RetDetail string
	// RetRsn is the order tag (the sample ack sends "").
	RetRsn string
	// Sign is the packet signature (see ComputeSign).
	Sign string
}

// Result is a module's asynchronous result callback for an order.
type Result struct {
	// ChargeID echoes the order's ChargeID.
	ChargeID int64
	// RetCode: 0 not processed, 1 success, 2 uncertain, 3 failed.
	RetCode int
	// RetDetail is a human-readable explanation.
	RetDetail string
	// RetRsn echoes the order's RetRsn.
	RetRsn string
	// UserContent is text that may be shown to the customer ("号码欠费").
	UserContent string
	// RetCost is what the order actually cost.
	RetCost engine.Fen
	// RetBalance is the module's agent balance after the order.
	RetBalance engine.Fen
	// RetCash is the amount actually recharged; less than the order's
	// ChargeCash means a partial success. Zero means "not reported".
	RetCash engine.Fen
	// Sign is the packet signature (see ComputeSign).
	Sign string
}

// ComputeSign returns md5(chargeId + chargeAcct + var1 + var2 + var3 + var4 +
// chargeCash + key) in lower-case hex over the GBK bytes, with chargeCash in
// yuan with three decimals. It does not modify o.
func (o *Order) ComputeSign(key string) string {
	b := make([]byte, 0, 160)
	b = strconv.AppendInt(b, o.ChargeID, 10)
	b = appendSignText(b, o.ChargeAcct)
	b = appendSignText(b, o.Var1)
	b = appendSignText(b, o.Var2)
	b = appendSignText(b, o.Var3)
	b = appendSignText(b, o.Var4)
	b = appendYuan3(b, o.ChargeCash)
	b = appendSignText(b, key)
	return md5Hex(b)
}

// VerifySign reports, in constant time, whether o.Sign is the signature of o
// under key (hex case is ignored).
func (o *Order) VerifySign(key string) bool { return signEqual(o.Sign, o.ComputeSign(key)) }

// ComputeSign returns md5(chargeId + retCode + retRsn + key) in lower-case hex
// over the GBK bytes. It does not modify a.
func (a *Ack) ComputeSign(key string) string { return retSign(a.ChargeID, a.RetCode, a.RetRsn, key) }

// VerifySign reports, in constant time, whether a.Sign is the signature of a
// under key (hex case is ignored).
func (a *Ack) VerifySign(key string) bool { return signEqual(a.Sign, a.ComputeSign(key)) }

// ComputeSign returns md5(chargeId + retCode + retRsn + key) in lower-case hex
// over the GBK bytes. It does not modify r.
func (r *Result) ComputeSign(key string) string {
	return retSign(r.ChargeID, r.RetCode, r.RetRsn, key)
}

// VerifySign reports, in constant time, whether r.Sign is the signature of r
// under key (hex case is ignored).
func (r *Result) VerifySign(key string) bool { return signEqual(r.Sign, r.ComputeSign(key)) }

func retSign(chargeID int64, retCode int, retRsn, key string) string {
	b := make([]byte, 0, 96)
	b = strconv.AppendInt(b, chargeID, 10)
	b = strconv.AppendInt(b, int64(retCode), 10)
	b = appendSignText(b, retRsn)
	b = appendSignText(b, key)
	return md5Hex(b)
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// signEqual compares a received signature with the computed lower-case one
// in constant time, ignoring the case of the received hex digits.
func signEqual(got, want string) bool {
	var buf [md5.Size * 2]byte
	if len(got) != len(buf) || len(want) != len(buf) {
		return false
	}
	for i := range len(got) {
		c := got[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return subtle.ConstantTimeCompare(buf[:], []byte(want)) == 1
}

// appendSignText appends s as GBK bytes for a signature. A character GBK
// cannot represent becomes the encoding's replacement byte; such text is
// refused by the encoders, so it never reaches a peer.
func appendSignText(dst []byte, s string) []byte {
	if isASCII(s) {
		return append(dst, s...)
	}
	enc, err := encoding.ReplaceUnsupported(simplifiedchinese.GBK.NewEncoder()).String(s)
	if err != nil {
		// Only invalid UTF-8 gets here; sign the raw bytes, which no
		// peer can reproduce, so verification fails closed.
		return append(dst, s...)
	}
	return append(dst, enc...)
}

func isASCII[T string | []byte](s T) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// toWire turns the UTF-8 JSON text in b into GBK.
func toWire(b []byte, what string) ([]byte, error) {
	if isASCII(b) {
		return b, nil
	}
	out, err := simplifiedchinese.GBK.NewEncoder().Bytes(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrEncode, what, err)
	}
	return out, nil
}

// fromWire turns a GBK frame into UTF-8. Invalid GBK sequences become U+FFFD.
func fromWire(frame []byte, what string) ([]byte, error) {
	if isASCII(frame) {
		return frame, nil
	}
	out, err := simplifiedchinese.GBK.NewDecoder().Bytes(frame)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not GBK: %w", ErrMalformed, what, err)
	}
	return out, nil
}

// appendString appends s as a JSON string. Non-ASCII text is kept as is (it
// is transcoded to GBK with the rest of the packet).
func appendString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for i := range len(s) {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

func appendField(dst []byte, name string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

func appendStrField(dst []byte, name, v string) []byte {
	return appendString(appendField(dst, name), v)
}

func appendIntField(dst []byte, name string, v int64) []byte {
	return strconv.AppendInt(appendField(dst, name), v, 10)
}

func appendMoneyField(dst []byte, name string, v engine.Fen) []byte {
	return appendYuan3(appendField(dst, name), v)
}

// EncodeOrder signs o with key and returns it as a GBK JSON frame, fields in
// the order of the specification's sample.
func EncodeOrder(o Order, key string) ([]byte, error) {
	if o.ChargeCash < 0 || o.FaceValue < 0 {
		return nil, fmt.Errorf("%w: order %d: negative amount", ErrEncode, o.ChargeID)
	}
	o.Sign = o.ComputeSign(key)
	b := make([]byte, 0, 384)
	b = append(b, `{"action":"CZ"`...)
	b = appendIntField(b, "chargeId", o.ChargeID)
	b = appendStrField(b, "chargeAcct", o.ChargeAcct)
	b = appendMoneyField(b, "chargeCash", o.ChargeCash)
	b = appendIntField(b, "chargeType", int64(o.ChargeType))
	b = appendIntField(b, "amount", int64(o.Amount))
	b = appendMoneyField(b, "faceValue", o.FaceValue)
	b = appendStrField(b, "var1", o.Var1)
	b = appendStrField(b, "var2", o.Var2)
	b = appendStrField(b, "var3", o.Var3)
	b = appendStrField(b, "var4", o.Var4)
	b = appendIntField(b, "productSn", o.ProductSn)
	b = appendStrField(b, "nbrArea", o.NbrArea)
	b = appendStrField(b, "cardSn", o.CardSn)
	b = appendStrField(b, "cardPassword", o.CardPassword)
	b = appendStrField(b, "agentAcct", o.AgentAcct)
	b = appendStrField(b, "agentPass", o.AgentPass)
	b = appendIntField(b, "cardId", o.CardID)
	b = appendStrField(b, "retRsn", o.RetRsn)
	b = appendStrField(b, "sign", o.Sign)
	b = append(b, '}')
	return toWire(b, "order")
}

// EncodeAck signs a with key and returns it as a GBK JSON frame.
func EncodeAck(a Ack, key string) ([]byte, error) {
	a.Sign = a.ComputeSign(key)
	b := make([]byte, 0, 160)
	b = append(b, `{"action":"CZ"`...)
	b = appendIntField(b, "chargeId", a.ChargeID)
	b = appendIntField(b, "retCode", int64(a.RetCode))
	b = appendStrField(b, "retDetail", a.RetDetail)
	b = appendStrField(b, "retRsn", a.RetRsn)
	b = appendStrField(b, "sign", a.Sign)
	b = append(b, '}')
	return toWire(b, "ack")
}

// EncodeResult signs r with key and returns it as a GBK JSON frame.
func EncodeResult(r Result, key string) ([]byte, error) {
	r.Sign = r.ComputeSign(key)
	b := make([]byte, 0, 256)
	b = append(b, `{"action":"CZ"`...)
	b = appendIntField(b, "chargeId", r.ChargeID)
	b = appendIntField(b, "retCode", int64(r.RetCode))
	b = appendStrField(b, "retDetail", r.RetDetail)
	b = appendStrField(b, "retRsn", r.RetRsn)
	b = appendStrField(b, "userContent", r.UserContent)
	b = appendMoneyField(b, "retCost", r.RetCost)
	b = appendMoneyField(b, "retBalance", r.RetBalance)
	b = appendMoneyField(b, "retCash", r.RetCash)
	b = appendStrField(b, "sign", r.Sign)
	b = append(b, '}')
	return toWire(b, "result")
}

// wireInt is an integer field that may arrive as a number or a quoted number.
type wireInt struct {
	v   int64
	set bool
}

func (w *wireInt) UnmarshalJSON(b []byte) error {
	s, isNull, err := scalarText(b)
	if err != nil || isNull {
		return err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("integer %q: %w", s, err)
	}
	w.v, w.set = v, true
	return nil
}

// wireMoney is an amount kept as its decimal text until the decoder knows
// how to round it.
type wireMoney struct {
	s   string
	set bool
}

func (w *wireMoney) UnmarshalJSON(b []byte) error {
	s, isNull, err := scalarText(b)
	if err != nil || isNull {
		return err
	}
	w.s, w.set = s, true
	return nil
}

func (w wireMoney) fen(mode rounding) (engine.Fen, error) {
	if !w.set {
		return 0, nil
	}
	return parseYuan(w.s, mode)
}

// scalarText returns the text of a JSON number, or of a string holding one.
// null and "" count as absent.
func scalarText(b []byte) (s string, isNull bool, err error) {
	if string(b) == "null" {
		return "", true, nil
	}
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return "", false, err
		}
		return s, s == "", nil
	}
	return string(b), false, nil
}

type wireOrder struct {
	Action       string    `json:"action"`
	ChargeID     wireInt   `json:"chargeId"`
	ChargeAcct   string    `json:"chargeAcct"`
	ChargeCash   wireMoney `json:"chargeCash"`
	ChargeType   wireInt   `json:"chargeType"`
	Amount       wireInt   `json:"amount"`
	FaceValue    wireMoney `json:"faceValue"`
	Var1         string    `json:"var1"`
	Var2         string    `json:"var2"`
	Var3         string    `json:"var3"`
	Var4         string    `json:"var4"`
	ProductSn    wireInt   `json:"productSn"`
	NbrArea      string    `json:"nbrArea"`
	CardSn       string    `json:"cardSn"`
	CardPassword string    `json:"cardPassword"`
	AgentAcct    string    `json:"agentAcct"`
	AgentPass    string    `json:"agentPass"`
	CardID       wireInt   `json:"cardId"`
	RetRsn       string    `json:"retRsn"`
	Sign         string    `json:"sign"`
}

type wireReply struct {
	ChargeID    wireInt   `json:"chargeId"`
	RetCode     wireInt   `json:"retCode"`
	RetDetail   string    `json:"retDetail"`
	RetRsn      string    `json:"retRsn"`
	UserContent string    `json:"userContent"`
	RetCost     wireMoney `json:"retCost"`
	RetBalance  wireMoney `json:"retBalance"`
	RetCash     wireMoney `json:"retCash"`
	Sign        string    `json:"sign"`
}

// DecodeOrder parses one GBK JSON order frame. It requires action "CZ",
// chargeId, chargeAcct and chargeCash, and whole fen in chargeCash and
// faceValue. It does not check the signature (see VerifySign).
func DecodeOrder(frame []byte) (Order, error) {
	text, err := fromWire(frame, "order")
	if err != nil {
		return Order{}, err
	}
	var w wireOrder
	if err := json.Unmarshal(text, &w); err != nil {
		return Order{}, fmt.Errorf("%w: order: %w", ErrMalformed, err)
	}
	switch {
	case w.Action != actionCharge:
		return Order{}, fmt.Errorf("%w: order: action %q, want %q", ErrMalformed, w.Action, actionCharge)
	case !w.ChargeID.set:
		return Order{}, fmt.Errorf("%w: order: no chargeId", ErrMalformed)
	case w.ChargeAcct == "":
		return Order{}, fmt.Errorf("%w: order %d: no chargeAcct", ErrMalformed, w.ChargeID.v)
	case !w.ChargeCash.set:
		return Order{}, fmt.Errorf("%w: order %d: no chargeCash", ErrMalformed, w.ChargeID.v)
	}
	cash, err := w.ChargeCash.fen(exactFen)
	if err != nil {
		return Order{}, fmt.Errorf("%w: order %d chargeCash: %w", ErrMalformed, w.ChargeID.v, err)
	}
	face, err := w.FaceValue.fen(exactFen)
	if err != nil {
		return Order{}, fmt.Errorf("%w: order %d faceValue: %w", ErrMalformed, w.ChargeID.v, err)
	}
	return Order{
		ChargeID:     w.ChargeID.v,
		ChargeAcct:   w.ChargeAcct,
		ChargeCash:   cash,
		ChargeType:   int(w.ChargeType.v),
		Amount:       int(w.Amount.v),
		FaceValue:    face,
		Var1:         w.Var1,
		Var2:         w.Var2,
		Var3:         w.Var3,
		Var4:         w.Var4,
		ProductSn:    w.ProductSn.v,
		NbrArea:      w.NbrArea,
		CardSn:       w.CardSn,
		CardPassword: w.CardPassword,
		AgentAcct:    w.AgentAcct,
		AgentPass:    w.AgentPass,
		CardID:       w.CardID.v,
		RetRsn:       w.RetRsn,
		Sign:         w.Sign,
	}, nil
}

func decodeReply(frame []byte, what string) (wireReply, error) {
	text, err := fromWire(frame, what)
	if err != nil {
		return wireReply{}, err
	}
	var w wireReply
	if err := json.Unmarshal(text, &w); err != nil {
		return wireReply{}, fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
	}
	switch {
	case !w.ChargeID.set:
		return wireReply{}, fmt.Errorf("%w: %s: no chargeId", ErrMalformed, what)
	case !w.RetCode.set:
		return wireReply{}, fmt.Errorf("%w: %s %d: no retCode", ErrMalformed, what, w.ChargeID.v)
	case int64(int32(w.RetCode.v)) != w.RetCode.v:
		return wireReply{}, fmt.Errorf("%w: %s %d: retCode %d out of range", ErrMalformed, what, w.ChargeID.v, w.RetCode.v)
	}
	return w, nil
}

// DecodeAck parses one GBK JSON ack frame. It requires chargeId and retCode.
// It does not check the signature (see VerifySign).
func DecodeAck(frame []byte) (Ack, error) {
	w, err := decodeReply(frame, "ack")
	if err != nil {
		return Ack{}, err
	}
	return Ack{
		ChargeID:  w.ChargeID.v,
		RetCode:   int(w.RetCode.v),
		RetDetail: w.RetDetail,
		RetRsn:    w.RetRsn,
		Sign:      w.Sign,
	}, nil
}

// DecodeResult parses one GBK JSON result frame. It requires chargeId and
// retCode; missing amounts are zero, and amounts are rounded half up to the
// fen. It does not check the signature (see VerifySign).
func DecodeResult(frame []byte) (Result, error) {
	w, err := decodeReply(frame, "result")
	if err != nil {
		return Result{}, err
	}
	r := Result{
		ChargeID:    w.ChargeID.v,
		RetCode:     int(w.RetCode.v),
		RetDetail:   w.RetDetail,
		RetRsn:      w.RetRsn,
		UserContent: w.UserContent,
		Sign:        w.Sign,
	}
	for _, m := range []struct {
		name string
		in   wireMoney
		out  *engine.Fen
	}{
		{"retCost", w.RetCost, &r.RetCost},
		{"retBalance", w.RetBalance, &r.RetBalance},
		{"retCash", w.RetCash, &r.RetCash},
	} {
		v, err := m.in.fen(halfUpFen)
		if err != nil {
			return Result{}, fmt.Errorf("%w: result %d %s: %w", ErrMalformed, r.ChargeID, m.name, err)
		}
		*m.out = v
	}
	return r, nil
}
