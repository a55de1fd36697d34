package operapi

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"topup/engine"
)

const testKey = "bff0378ea5ef0d5d"

// md5Of is the reference sign: crypto/md5 over the plain concatenation.
func md5Of(parts ...string) string {
	sum := md5.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

// baseOrder is a valid order push as wire fields.
func baseOrder() map[string]string {
	m := map[string]string{
		"uid":          "3928857",
		"order_no":     "20160427210604000490",
		"order_type":   "1",
		"mobile_type":  "1",
		"phone_number": "13999999999",
		"face_value":   "100",
		"notify_url":   "http://www.baidu.com",
	}
	m["sign"] = md5Of(m["uid"], m["order_no"], m["phone_number"], m["face_value"], testKey)
	return m
}

func formBody(m map[string]string) []byte {
	v := url.Values{}
	for k, s := range m {
		v.Set(k, s)
	}
	return []byte(v.Encode())
}

func jsonBody(t testing.TB, m map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	ctForm = []byte("application/x-www-form-urlencoded")
	ctJSON = []byte("application/json")
)

func TestSignVectors(t *testing.T) {
	cases := []struct{ got, want string }{
		{OrderSign("3928857", "20160427210604000490", "13999999999", 100, testKey),
			md5Of("3928857", "20160427210604000490", "13999999999", "100", testKey)},
		{BalanceSign("3928857", testKey), md5Of("3928857", testKey)},
		{QuerySign("3928857", "280399999349719680", testKey), md5Of("3928857", "280399999349719680", testKey)},
		{CallbackSign("3928857", "20160427210604000490", "13999999999", 100, 4, testKey),
			md5Of("3928857", "20160427210604000490", "13999999999", "100", "4", testKey)},
		{DataSign([]byte(`{"a":1}`), testKey), md5Of(`{"a":1}`, testKey)},
		// A long input spills out of the stack buffer.
		{OrderSign(strings.Repeat("u", 600), "o", "p", 1, "k"), md5Of(strings.Repeat("u", 600), "o", "p", "1", "k")},
		// Non-ASCII is signed as UTF-8.
		{DataSign([]byte(`{"currency":"人民币"}`), testKey), md5Of(`{"currency":"人民币"}`, testKey)},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: got %s want %s", i, c.got, c.want)
		}
	}
	// A known constant, so the reference itself is pinned.
	if got := md5Of("abc"); got != "900150983cd24fb0d6963f7d28e17f72" {
		t.Fatalf("md5(abc) = %s", got)
	}
}

func TestParseOrderFormAndJSON(t *testing.T) {
	m := baseOrder()
	want := OrderRequest{UID: "3928857", OrderNo: "20160427210604000490", OrderType: 1, MobileType: 1,
		Phone: "13999999999", FaceValue: 100, NotifyURL: "http://www.baidu.com", Sign: m["sign"]}

	bodies := map[string]struct{ ct, body []byte }{
		"form":           {ctForm, formBody(m)},
		"json strings":   {ctJSON, jsonBody(t, m)},
		"json numbers":   {ctJSON, []byte(`{"uid":3928857,"order_no":"20160427210604000490","order_type":1,"mobile_type":1,"phone_number":13999999999,"face_value":100,"notify_url":"http:\/\/www.baidu.com","sign":"` + m["sign"] + `","extra":{"x":[1,2]}}`)},
		"json charset":   {[]byte("Application/JSON; charset=utf-8"), jsonBody(t, m)},
		"json sniffed":   {nil, jsonBody(t, m)},
		"form sniffed":   {nil, formBody(m)},
		"json+suffix":    {[]byte("application/vnd.topup+json"), jsonBody(t, m)},
		"form uppercase": {ctForm, formBody(withField(m, "sign", strings.ToUpper(m["sign"])))},
	}
	for name, b := range bodies {
		t.Run(name, func(t *testing.T) {
			r, code := ParseOrder(b.ct, b.body)
			if code != engine.OK {
				t.Fatalf("code %v", code)
			}
			w := want
			w.Sign = r.Sign
			if r != w {
				t.Fatalf("got %+v\nwant %+v", r, w)
			}
			if !r.SignOK(testKey) {
				t.Fatal("sign does not verify")
			}
			if r.SignOK(testKey + "x") {
				t.Fatal("sign verifies under another key")
			}
		})
	}
}

func withField(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m))
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

func withoutField(m map[string]string, k string) map[string]string {
	out := withField(m, k, "")
	delete(out, k)
	return out
}

func TestParseOrderValidation(t *testing.T) {
	type tc struct {
		field, value string
		want         engine.Code
	}
	cases := []tc{
		{"uid", "", engine.ErrBadRequest},
		{"uid", strings.Repeat("1", 33), engine.ErrBadRequest},
		{"uid", strings.Repeat("1", 32), engine.OK},
		{"uid", "a b", engine.ErrBadRequest},
		{"uid", "运营商", engine.ErrBadRequest},
		{"uid", "Ab_-9", engine.OK},
		{"order_no", "", engine.ErrBadOrderNo},
		{"order_no", strings.Repeat("9", 65), engine.ErrBadOrderNo},
		{"order_no", strings.Repeat("9", 64), engine.OK},
		{"order_no", "a/b", engine.ErrBadOrderNo},
		{"order_no", "a.b", engine.ErrBadOrderNo},
		{"order_type", "0", engine.ErrBadOrderType},
		{"order_type", "5", engine.ErrBadOrderType},
		{"order_type", "01", engine.ErrBadOrderType},
		{"order_type", "-1", engine.ErrBadOrderType},
		{"order_type", "1.0", engine.ErrBadOrderType},
		{"order_type", "x", engine.ErrBadOrderType},
		{"order_type", "", engine.ErrBadOrderType},
		{"order_type", "2", engine.OK},
		{"mobile_type", "0", engine.ErrBadOrderType},
		{"mobile_type", "4", engine.ErrBadOrderType},
		{"mobile_type", "3", engine.OK},
		{"phone_number", "12999999999", engine.ErrBadPhone},
		{"phone_number", "1399999999", engine.ErrBadPhone},
		{"phone_number", "139999999990", engine.ErrBadPhone},
		{"phone_number", "1399999999a", engine.ErrBadPhone},
		{"phone_number", "23999999999", engine.ErrBadPhone},
		{"phone_number", "user@example.com", engine.ErrBadPhone},
		{"phone_number", "", engine.ErrBadPhone},
		{"phone_number", "19000000000", engine.OK},
		{"face_value", "0", engine.ErrBadFaceValue},
		{"face_value", "-1", engine.ErrBadFaceValue},
		{"face_value", "100000001", engine.ErrBadFaceValue},
		{"face_value", "99999999999999999999999", engine.ErrBadFaceValue},
		{"face_value", "1.5", engine.ErrBadFaceValue},
		{"face_value", "1e2", engine.ErrBadFaceValue},
		{"face_value", "0100", engine.ErrBadFaceValue},
		{"face_value", "abc", engine.ErrBadFaceValue},
		{"face_value", "", engine.ErrBadFaceValue},
		{"face_value", "100000000", engine.OK},
		{"notify_url", "", engine.ErrBadNotifyURL},
		{"notify_url", "ftp://example.com/x", engine.ErrBadNotifyURL},
		{"notify_url", "www.baidu.com", engine.ErrBadNotifyURL},
		{"notify_url", "/notify", engine.ErrBadNotifyURL},
		{"notify_url", "http://", engine.ErrBadNotifyURL},
		{"notify_url", "http:///path", engine.ErrBadNotifyURL},
		{"notify_url", "http://a b/", engine.ErrBadNotifyURL},
		{"notify_url", "http://example.com:/x", engine.ErrBadNotifyURL},
		{"notify_url", "http://example.com:80a/x", engine.ErrBadNotifyURL},
		{"notify_url", "http://[::1/x", engine.ErrBadNotifyURL},
		{"notify_url", "http://例子.cn/x", engine.ErrBadNotifyURL},
		{"notify_url", "http://x.cn/" + strings.Repeat("a", 501), engine.ErrBadNotifyURL},
		{"notify_url", "http://x.cn/" + strings.Repeat("a", 500)[:MaxNotifyURL-len("http://x.cn/")], engine.OK},
		{"notify_url", "HTTPS://Example.com:8443/cb?x=1&y=%20#f", engine.OK},
		{"notify_url", "http://[::1]:8080/notify", engine.OK},
		{"notify_url", "http://user:pw@127.0.0.1:8080", engine.OK},
		{"sign", "", engine.ErrBadSign},
		{"sign", "xyz", engine.ErrBadSign},
		{"sign", strings.Repeat("a", 31), engine.ErrBadSign},
		{"sign", strings.Repeat("a", 33), engine.ErrBadSign},
		{"sign", strings.Repeat("g", 32), engine.ErrBadSign},
		{"sign", strings.Repeat("F", 32), engine.OK}, // well-formed; SignOK decides
	}
	for _, f := range []string{"uid", "order_no", "order_type", "mobile_type", "phone_number", "face_value", "notify_url", "sign"} {
		cases = append(cases, tc{field: f, value: "\x00missing", want: engine.ErrBadRequest})
	}
	for _, c := range cases {
		m := withField(baseOrder(), c.field, c.value)
		if c.value == "\x00missing" {
			m = withoutField(m, c.field)
		}
		for _, enc := range []string{"form", "json"} {
			ct, body := ctForm, formBody(m)
			if enc == "json" {
				ct, body = ctJSON, jsonBody(t, m)
			}
			if _, got := ParseOrder(ct, body); got != c.want {
				t.Errorf("%s %s=%q: got %v want %v", enc, c.field, c.value, got, c.want)
			}
		}
	}
}

func TestParseOrderAccountTargets(t *testing.T) {
	for _, ot := range []string{"3", "4"} {
		for phone, want := range map[string]engine.Code{
			"user@example.com":      engine.OK,
			"13999999999":           engine.OK,
			"a_b-c.d":               engine.OK,
			strings.Repeat("x", 50): engine.OK,
			strings.Repeat("x", 51): engine.ErrBadPhone,
			"a b":                   engine.ErrBadPhone,
			"a+b":                   engine.ErrBadPhone,
			"":                      engine.ErrBadPhone,
		} {
			m := withField(withField(baseOrder(), "order_type", ot), "phone_number", phone)
			if _, got := ParseOrder(ctForm, formBody(m)); got != want {
				t.Errorf("order_type %s phone %q: got %v want %v", ot, phone, got, want)
			}
		}
	}
	m := withField(withField(baseOrder(), "order_type", "2"), "phone_number", "user@example.com")
	if _, got := ParseOrder(ctForm, formBody(m)); got != engine.ErrBadPhone {
		t.Errorf("data order to an account: got %v", got)
	}
}

func TestParseOrderMalformedBodies(t *testing.T) {
	m := baseOrder()
	sign := m["sign"]
	cases := map[string]struct{ ct, body []byte }{
		"duplicate form field": {ctForm, append(formBody(m), "&uid=other"...)},
		"json array":           {ctJSON, []byte(`[1,2]`)},
		"json scalar":          {ctJSON, []byte(`"x"`)},
		"json null":            {ctJSON, []byte(`null`)},
		"json broken":          {ctJSON, []byte(`{"uid":`)},
		"json trailing":        {ctJSON, append(jsonBody(t, m), `{}`...)},
		"json bool field":      {ctJSON, []byte(`{"uid":"1","order_no":"1","order_type":true,"mobile_type":1,"phone_number":"13999999999","face_value":1,"notify_url":"http://a","sign":"` + sign + `"}`)},
		"json object field":    {ctJSON, []byte(`{"uid":{"a":1},"order_no":"1","order_type":1,"mobile_type":1,"phone_number":"13999999999","face_value":1,"notify_url":"http://a","sign":"` + sign + `"}`)},
		"json null field":      {ctJSON, []byte(`{"uid":null,"order_no":"1","order_type":1,"mobile_type":1,"phone_number":"13999999999","face_value":1,"notify_url":"http://a","sign":"` + sign + `"}`)},
		"form as json":         {ctJSON, formBody(m)},
		"json as form":         {ctForm, jsonBody(t, m)},
		"empty":                {ctForm, nil},
		"too large":            {ctForm, append(formBody(m), "&pad="+strings.Repeat("x", MaxBodySize)...)},
	}
	for name, c := range cases {
		if _, got := ParseOrder(c.ct, c.body); got != engine.ErrBadRequest {
			t.Errorf("%s: got %v want bad_request", name, got)
		}
	}
	// Key names are exact.
	j := strings.Replace(string(jsonBody(t, m)), `"uid"`, `"UID"`, 1)
	if _, got := ParseOrder(ctJSON, []byte(j)); got != engine.ErrBadRequest {
		t.Errorf("JSON key case: got %v", got)
	}
}

func TestParseOrderSignLast(t *testing.T) {
	// A malformed sign is reported only when every other field is valid, and
	// the other fields are still returned, so the handler can look up the uid.
	m := withField(baseOrder(), "sign", "nothex")
	r, code := ParseOrder(ctForm, formBody(m))
	if code != engine.ErrBadSign || r.UID != "3928857" {
		t.Fatalf("got %v %+v", code, r)
	}
	m = withField(withField(baseOrder(), "sign", "nothex"), "face_value", "0")
	if _, code := ParseOrder(ctForm, formBody(m)); code != engine.ErrBadFaceValue {
		t.Fatalf("got %v", code)
	}
}

func TestFieldsHash(t *testing.T) {
	base, code := ParseOrder(ctForm, formBody(baseOrder()))
	if code != engine.OK {
		t.Fatal(code)
	}
	h := base.FieldsHash()
	if len(h) != 64 || strings.ToLower(h) != h {
		t.Fatalf("hash %q", h)
	}
	fromJSON, code := ParseOrder(ctJSON, []byte(`{"uid":3928857,"order_no":"20160427210604000490","order_type":"1","mobile_type":1,"phone_number":"13999999999","face_value":100,"notify_url":"http://www.baidu.com","sign":"`+strings.ToUpper(base.Sign)+`"}`))
	if code != engine.OK {
		t.Fatal(code)
	}
	if fromJSON.FieldsHash() != h {
		t.Fatal("same order in JSON hashes differently")
	}
	other := base
	other.Sign = strings.Repeat("0", 32)
	if other.FieldsHash() != h {
		t.Fatal("sign changes the hash")
	}
	variants := []func(r *OrderRequest){
		func(r *OrderRequest) { r.UID = "3928858" },
		func(r *OrderRequest) { r.OrderNo += "1" },
		func(r *OrderRequest) { r.OrderType = 2 },
		func(r *OrderRequest) { r.MobileType = 2 },
		func(r *OrderRequest) { r.Phone = "13999999998" },
		func(r *OrderRequest) { r.FaceValue = 1000 },
		func(r *OrderRequest) { r.NotifyURL += "/" },
		// Moving bytes between adjacent fields must change the hash.
		func(r *OrderRequest) { r.UID, r.OrderNo = "392885", "7"+r.OrderNo },
		func(r *OrderRequest) { r.Phone, r.NotifyURL = r.Phone+"h", "ttp://www.baidu.com" },
	}
	seen := map[string]int{h: -1}
	for i, mut := range variants {
		r := base
		mut(&r)
		got := r.FieldsHash()
		if j, dup := seen[got]; dup {
			t.Errorf("variant %d hashes like %d", i, j)
		}
		seen[got] = i
	}
}

func TestParseBalanceAndQuery(t *testing.T) {
	sign := md5Of("3928857", testKey)
	for _, b := range []struct{ ct, body []byte }{
		{ctForm, []byte("uid=3928857&sign=" + sign)},
		{ctJSON, []byte(`{"uid":3928857,"sign":"` + sign + `"}`)},
	} {
		r, code := ParseBalance(b.ct, b.body)
		if code != engine.OK || r.UID != "3928857" || r.Sign != sign || !r.SignOK(testKey) || r.SignOK("other") {
			t.Fatalf("balance %s: %v %+v", b.body, code, r)
		}
	}
	for body, want := range map[string]engine.Code{
		"uid=3928857":                    engine.ErrBadRequest,
		"sign=" + sign:                   engine.ErrBadRequest,
		"uid=a%20b&sign=" + sign:         engine.ErrBadRequest,
		"uid=3928857&sign=zz":            engine.ErrBadSign,
		"uid=3928857&uid=1&sign=" + sign: engine.ErrBadRequest,
	} {
		if _, got := ParseBalance(ctForm, []byte(body)); got != want {
			t.Errorf("balance %q: got %v want %v", body, got, want)
		}
	}

	qsign := md5Of("3928857", "280399999349719680", testKey)
	for _, b := range []struct{ ct, body []byte }{
		{ctForm, []byte("uid=3928857&order_no=280399999349719680&sign=" + qsign)},
		{ctJSON, []byte(`{"uid":"3928857","order_no":280399999349719680,"sign":"` + qsign + `"}`)},
	} {
		r, code := ParseQuery(b.ct, b.body)
		if code != engine.OK || r.OrderNo != "280399999349719680" || !r.SignOK(testKey) || r.SignOK("other") {
			t.Fatalf("query %s: %v %+v", b.body, code, r)
		}
	}
	for body, want := range map[string]engine.Code{
		"uid=3928857&sign=" + qsign:                 engine.ErrBadRequest,
		"uid=3928857&order_no=a%2Fb&sign=" + qsign:  engine.ErrBadOrderNo,
		"uid=3928857&order_no=1&sign=" + qsign[:30]: engine.ErrBadSign,
		"uid=&order_no=1&sign=" + qsign:             engine.ErrBadRequest,
	} {
		if _, got := ParseQuery(ctForm, []byte(body)); got != want {
			t.Errorf("query %q: got %v want %v", body, got, want)
		}
	}
}
