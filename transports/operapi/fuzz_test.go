package operapi

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"topup/engine"
)

// FuzzParseOrder checks that ParseOrder never panics, and that whatever it
// accepts survives re-encoding as a form and as JSON unchanged, with the same
// FieldsHash and a notify_url net/url agrees is an absolute http(s) URL.
func FuzzParseOrder(f *testing.F) {
	m := baseOrder()
	f.Add(false, formBody(m))
	f.Add(true, jsonBody(f, m))
	f.Add(true, []byte(`{"uid":3928857,"order_no":"1","order_type":1,"mobile_type":3,"phone_number":13999999999,"face_value":100,"notify_url":"https://[::1]:80/x","sign":"`+m["sign"]+`"}`))
	f.Add(false, []byte("uid=1&uid=2&order_no=%zz&face_value=1e9"))
	f.Add(true, []byte(`{"uid":"\u0031","order_no":null,"face_value":-0.5e3}`))
	f.Add(false, formBody(withField(withField(m, "order_type", "3"), "phone_number", "a@b.c")))
	f.Add(true, []byte(`{"uid":`))
	f.Fuzz(func(t *testing.T, asJSON bool, body []byte) {
		ct := ctForm
		if asJSON {
			ct = ctJSON
		}
		r, code := ParseOrder(ct, body)
		if code != engine.OK {
			return
		}
		fields := map[string]string{
			"uid": r.UID, "order_no": r.OrderNo, "order_type": strconv.Itoa(r.OrderType),
			"mobile_type": strconv.Itoa(r.MobileType), "phone_number": r.Phone,
			"face_value": strconv.FormatInt(int64(r.FaceValue), 10), "notify_url": r.NotifyURL, "sign": r.Sign,
		}
		for _, enc := range []struct{ ct, body []byte }{{ctForm, formBody(fields)}, {ctJSON, jsonBody(t, fields)}} {
			r2, code := ParseOrder(enc.ct, enc.body)
			if code != engine.OK || r2 != r || r2.FieldsHash() != r.FieldsHash() {
				t.Fatalf("re-encoded %s: %v %+v, was %+v", enc.body, code, r2, r)
			}
		}
		u, err := url.Parse(r.NotifyURL)
		if err != nil || u.Host == "" || (strings.ToLower(u.Scheme) != "http" && strings.ToLower(u.Scheme) != "https") {
			t.Fatalf("accepted notify_url %q: %v %+v", r.NotifyURL, err, u)
		}
		if r.FaceValue < 1 || r.FaceValue > MaxFaceValue || r.OrderType < 1 || r.OrderType > 4 || r.MobileType < 1 || r.MobileType > 3 {
			t.Fatalf("accepted out of range %+v", r)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkParseOrderForm(b *testing.B) {
	body := formBody(baseOrder())
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, code := ParseOrder(ctForm, body); code != engine.OK {
			b.Fatal(code)
		}
	}
}

func BenchmarkParseOrderJSON(b *testing.B) {
	body := jsonBody(b, baseOrder())
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, code := ParseOrder(ctJSON, body); code != engine.OK {
			b.Fatal(code)
		}
	}
}

func BenchmarkSignCheck(b *testing.B) {
	r, code := ParseOrder(ctForm, formBody(baseOrder()))
	if code != engine.OK {
		b.Fatal(code)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !r.SignOK(testKey) {
			b.Fatal("sign")
		}
	}
}
