package operapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"strings"

	"github.com/valyala/fasthttp"

	"topup/engine"
)

// Wire field names.
const (
	fUID           = "uid"
	fOrderNo       = "order_no"
	fOrderType     = "order_type"
	fMobileType    = "mobile_type"
	fPhone         = "phone_number"
	fFaceValue     = "face_value"
	fNotifyURL     = "notify_url"
	fSign          = "sign"
	fMobileOrderNo = "mobile_order_no"
	fStatus        = "status"
)

// Limits on request fields.
const (
	// MaxBodySize is the largest request body the API reads.
	MaxBodySize = 16 << 10
	// MaxFaceValue is the largest face value accepted, in fen.
	MaxFaceValue engine.Fen = 100_000_000
	// MaxNotifyURL is the longest notify_url accepted, in bytes.
	MaxNotifyURL = 512

	maxUID     = 32
	maxOrderNo = 64
	maxAccount = 50 // recharge target of order types 3 and 4
)

// maxFields bounds the fields any one message reads.
const maxFields = 8

// fieldSet holds the raw values of the wanted fields of one body. For a form
// the values point into args and are valid until release.
type fieldSet struct {
	vals [maxFields][]byte
	has  [maxFields]bool
	args *fasthttp.Args
}

func (f *fieldSet) release() {
	if f.args != nil {
		fasthttp.ReleaseArgs(f.args)
		f.args = nil
	}
}

// isJSON decides the body encoding from the Content-Type, sniffing only when
// there is none.
func isJSON(contentType, body []byte) bool {
	ct := contentType
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	if len(ct) == 0 {
		b := bytes.TrimLeft(body, " \t\r\n")
		return len(b) > 0 && b[0] == '{'
	}
	if bytes.EqualFold(ct, []byte("application/json")) {
		return true
	}
	return len(ct) > 5 && bytes.EqualFold(ct[len(ct)-5:], []byte("+json"))
}

// load reads the fields named by keys from a form or JSON body. A repeated
// form field, a body that is not a JSON object, or a JSON value that is not a
// string, number or null is ErrBadRequest. A JSON null counts as absent.
func (f *fieldSet) load(contentType, body []byte, keys []string) engine.Code {
	if len(body) > MaxBodySize {
		return engine.ErrBadRequest
	}
	if isJSON(contentType, body) {
		return f.loadJSON(body, keys)
	}
	f.args = fasthttp.AcquireArgs()
	f.args.ParseBytes(body)
	for k, v := range f.args.All() {
		for i, want := range keys {
			if string(k) != want {
				continue
			}
			if f.has[i] {
				return engine.ErrBadRequest
			}
			f.has[i], f.vals[i] = true, v
			break
		}
	}
	return engine.OK
}

func (f *fieldSet) loadJSON(body []byte, keys []string) engine.Code {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return engine.ErrBadRequest
	}
	for i, k := range keys {
		raw, ok := m[k]
		if !ok {
			continue
		}
		v, present, ok := jsonText(raw)
		if !ok {
			return engine.ErrBadRequest
		}
		f.has[i], f.vals[i] = present, v
	}
	return engine.OK
}

// jsonText is the text of a JSON scalar: a string's contents or a number's
// literal. present is false for null; ok is false for any other kind.
func jsonText(raw json.RawMessage) (v []byte, present, ok bool) {
	if len(raw) == 0 {
		return nil, false, false
	}
	switch c := raw[0]; {
	case c == '"':
		if bytes.IndexByte(raw, '\\') < 0 {
			return raw[1 : len(raw)-1], true, true
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, false, false
		}
		return []byte(s), true, true
	case c == '-' || ('0' <= c && c <= '9'):
		return raw, true, true
	case c == 'n':
		return nil, false, true
	}
	return nil, false, false
}

// strs copies the first n values into strings sharing one allocation.
func (f *fieldSet) strs(n int) [maxFields]string {
	total := 0
	for i := 0; i < n; i++ {
		total += len(f.vals[i])
	}
	var sb strings.Builder
	sb.Grow(total)
	for i := 0; i < n; i++ {
		sb.Write(f.vals[i])
	}
	all := sb.String()
	var out [maxFields]string
	off := 0
	for i := 0; i < n; i++ {
		l := len(f.vals[i])
		out[i] = all[off : off+l]
		off += l
	}
	return out
}

// allPresent reports whether the first n fields were all given.
func (f *fieldSet) allPresent(n int) bool {
	for i := 0; i < n; i++ {
		if !f.has[i] {
			return false
		}
	}
	return true
}

// parseUint parses a canonical decimal (digits only, no leading zero) no
// larger than max.
func parseUint(s string, max int64) (int64, bool) {
	if len(s) == 0 || len(s) > 18 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, v <= max
}

func isIDByte(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c == '_' || c == '-'
}

// validID reports whether s is 1..max characters of [0-9A-Za-z_-].
func validID(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIDByte(s[i]) {
			return false
		}
	}
	return true
}

// validMobile reports whether s matches ^1[3-9][0-9]{9}$.
func validMobile(s string) bool {
	if len(s) != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validAccount reports whether s is 1..50 characters of [0-9A-Za-z@._-].
func validAccount(s string) bool {
	if len(s) == 0 || len(s) > maxAccount {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isIDByte(c) && c != '@' && c != '.' {
			return false
		}
	}
	return true
}

// validPhone checks the recharge target for the order type: a mainland
// mobile number for types 1 (airtime) and 2 (data), an account for 3 and 4.
func validPhone(orderType int, s string) bool {
	if orderType == 1 || orderType == 2 {
		return validMobile(s)
	}
	return validAccount(s)
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validNotifyURL reports whether s is an absolute http or https URL of at
// most MaxNotifyURL printable ASCII bytes with a non-empty host.
func validNotifyURL(s string) bool {
	if len(s) == 0 || len(s) > MaxNotifyURL {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	rest, ok := cutPrefixFold(s, "http://")
	if !ok {
		if rest, ok = cutPrefixFold(s, "https://"); !ok {
			return false
		}
	}
	host := rest
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	port := ""
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return false
		}
		lit, after := host[1:end], host[end+1:]
		ip, err := netip.ParseAddr(lit)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return false
		}
		if after != "" {
			p, ok := strings.CutPrefix(after, ":")
			if !ok {
				return false
			}
			port = p
		}
	} else {
		if i := strings.LastIndexByte(host, ':'); i >= 0 {
			host, port = host[:i], host[i+1:]
			if port == "" {
				return false
			}
		}
		if host == "" {
			return false
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !isIDByte(c) && c != '.' {
				return false
			}
		}
	}
	return len(port) <= 5 && allDigits(port)
}

// validSignFormat reports whether s is 32 hex digits of any case.
func validSignFormat(s string) bool {
	if len(s) != 2*16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9') && !('a' <= c && c <= 'f') && !('A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// OrderRequest is a parsed and validated order push.
type OrderRequest struct {
	UID        string
	OrderNo    string
	OrderType  int // 1 airtime, 2 data, 3 card, 4 direct
	MobileType int // 1 China Mobile, 2 China Unicom, 3 China Telecom
	Phone      string
	FaceValue  engine.Fen
	NotifyURL  string
	Sign       string
}

// ParseOrder reads an order push from a form or JSON body and validates every
// field, returning the first problem as a code: ErrBadRequest (malformed body,
// missing field, bad uid), ErrBadOrderNo, ErrBadOrderType, ErrBadPhone,
// ErrBadFaceValue, ErrBadNotifyURL, ErrBadSign (not 32 hex digits). The sign
// format is checked last, so ErrBadSign means every other field is valid.
// On failure the fields read so far are still set, for logging.
func ParseOrder(contentType, body []byte) (OrderRequest, engine.Code) {
	keys := [...]string{fUID, fOrderNo, fOrderType, fMobileType, fPhone, fFaceValue, fNotifyURL, fSign}
	var f fieldSet
	defer f.release()
	if c := f.load(contentType, body, keys[:]); c != engine.OK {
		return OrderRequest{}, c
	}
	if !f.allPresent(len(keys)) {
		return OrderRequest{}, engine.ErrBadRequest
	}
	s := f.strs(len(keys))
	r := OrderRequest{UID: s[0], OrderNo: s[1], Phone: s[4], NotifyURL: s[6], Sign: s[7]}
	if !validID(r.UID, maxUID) {
		return r, engine.ErrBadRequest
	}
	if !validID(r.OrderNo, maxOrderNo) {
		return r, engine.ErrBadOrderNo
	}
	ot, ok1 := parseUint(s[2], 4)
	mt, ok2 := parseUint(s[3], 3)
	if !ok1 || !ok2 || ot < 1 || mt < 1 {
		return r, engine.ErrBadOrderType
	}
	r.OrderType, r.MobileType = int(ot), int(mt)
	if !validPhone(r.OrderType, r.Phone) {
		return r, engine.ErrBadPhone
	}
	face, ok := parseUint(s[5], int64(MaxFaceValue))
	if !ok || face < 1 {
		return r, engine.ErrBadFaceValue
	}
	r.FaceValue = engine.Fen(face)
	if !validNotifyURL(r.NotifyURL) {
		return r, engine.ErrBadNotifyURL
	}
	if !validSignFormat(r.Sign) {
		return r, engine.ErrBadSign
	}
	return r, engine.OK
}

// SignOK reports whether the request's sign is OrderSign of its fields under
// key (constant-time, case-insensitive).
func (r *OrderRequest) SignOK(key string) bool {
	return signMatches(orderDigest(r.UID, r.OrderNo, r.Phone, r.FaceValue, key), r.Sign)
}

// fieldsHashTag versions the FieldsHash input layout.
const fieldsHashTag = "operapi.order.v1"

// FieldsHash identifies the order's content: the lower-case hex SHA-256 of
// every field but the sign, each length-prefixed. Two requests have the same
// hash iff they carry the same order, whatever encoding they came in.
func (r *OrderRequest) FieldsHash() string {
	var buf [1024]byte
	b := buf[:0]
	put := func(b []byte, s string) []byte {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		return append(b, s...)
	}
	putInt := func(b []byte, v int64) []byte {
		return binary.BigEndian.AppendUint64(b, uint64(v))
	}
	b = put(b, fieldsHashTag)
	b = put(b, r.UID)
	b = put(b, r.OrderNo)
	b = putInt(b, int64(r.OrderType))
	b = putInt(b, int64(r.MobileType))
	b = put(b, r.Phone)
	b = putInt(b, int64(r.FaceValue))
	b = put(b, r.NotifyURL)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// BalanceRequest is a parsed balance query.
type BalanceRequest struct {
	UID  string
	Sign string
}

// ParseBalance reads a balance query from a form or JSON body: ErrBadRequest
// for a malformed body, a missing field or a bad uid, ErrBadSign for a sign
// that is not 32 hex digits.
func ParseBalance(contentType, body []byte) (BalanceRequest, engine.Code) {
	keys := [...]string{fUID, fSign}
	var f fieldSet
	defer f.release()
	if c := f.load(contentType, body, keys[:]); c != engine.OK {
		return BalanceRequest{}, c
	}
	if !f.allPresent(len(keys)) {
		return BalanceRequest{}, engine.ErrBadRequest
	}
	s := f.strs(len(keys))
	r := BalanceRequest{UID: s[0], Sign: s[1]}
	if !validID(r.UID, maxUID) {
		return r, engine.ErrBadRequest
	}
	if !validSignFormat(r.Sign) {
		return r, engine.ErrBadSign
	}
	return r, engine.OK
}

// SignOK reports whether the request's sign is BalanceSign(uid, key).
func (r *BalanceRequest) SignOK(key string) bool {
	return signMatches(concatDigest(r.UID, key, ""), r.Sign)
}

// QueryRequest is a parsed order query.
type QueryRequest struct {
	UID     string
	OrderNo string
	Sign    string
}

// ParseQuery reads an order query from a form or JSON body: ErrBadRequest for
// a malformed body, a missing field or a bad uid, ErrBadOrderNo, and
// ErrBadSign for a sign that is not 32 hex digits.
func ParseQuery(contentType, body []byte) (QueryRequest, engine.Code) {
	keys := [...]string{fUID, fOrderNo, fSign}
	var f fieldSet
	defer f.release()
	if c := f.load(contentType, body, keys[:]); c != engine.OK {
		return QueryRequest{}, c
	}
	if !f.allPresent(len(keys)) {
		return QueryRequest{}, engine.ErrBadRequest
	}
	s := f.strs(len(keys))
	r := QueryRequest{UID: s[0], OrderNo: s[1], Sign: s[2]}
	if !validID(r.UID, maxUID) {
		return r, engine.ErrBadRequest
	}
	if !validID(r.OrderNo, maxOrderNo) {
		return r, engine.ErrBadOrderNo
	}
	if !validSignFormat(r.Sign) {
		return r, engine.ErrBadSign
	}
	return r, engine.OK
}

// SignOK reports whether the request's sign is QuerySign(uid, order_no, key).
func (r *QueryRequest) SignOK(key string) bool {
	return signMatches(concatDigest(r.UID, r.OrderNo, key), r.Sign)
}
