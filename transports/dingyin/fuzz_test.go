package dingyin

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// encodeReply writes r as a GB2312-declared reply (the way suppliers do),
// or reports false when a value cannot be carried in GBK XML.
func encodeReply(r reply) ([]byte, bool) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="GB2312" ?>` + "\n- <order>")
	dst := r.fields()
	names := [numLeaves]string{"orderid", "productid", "num", "ordercash", "productname",
		"sporderid", "account", "resultno", "fundbalance", "balance"}
	for i, p := range dst {
		if leafIndex(names[i]) != i {
			panic("leafIndex and fields disagree")
		}
		b.WriteString("<" + names[i] + ">")
		if err := xml.EscapeText(&b, []byte(*p)); err != nil {
			return nil, false
		}
		b.WriteString("</" + names[i] + ">\n")
	}
	b.WriteString("</order>")
	out, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(b.String()))
	if err != nil {
		return nil, false
	}
	return out, true
}

// FuzzParseXML checks that parseReply never panics, returns UTF-8 text
// without surrounding space, and that whatever it accepts survives
// re-encoding as a GB2312 reply unchanged.
func FuzzParseXML(f *testing.F) {
	f.Add([]byte(specSample))
	f.Add([]byte(`<?xml version="1.0" encoding="UTF-8"?><order><resultno>1</resultno><fundbalance>1.5</fundbalance></order>`))
	f.Add([]byte(`<order><resultno>0</resultno>`))
	f.Add([]byte(`<?xml version="1.0" encoding="GB2312" ?> - <order><account>` + zhangSanGBK + `</account></order>`))
	f.Add([]byte(`<?xml version="1.0" encoding="gb18030"?><a><b><resultno>1</resultno></b></a>`))
	f.Add([]byte(`<user><balance>&#x4e2d;</balance><balance>2</balance></user>`))
	f.Add([]byte("<order><resultno>\xff\xfe</resultno></order>"))
	f.Add([]byte(`<?xml version="1.0" encoding="big5"?><x/>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseReply(body)
		if err != nil {
			return
		}
		for _, p := range r.fields() {
			if !utf8.ValidString(*p) || strings.TrimSpace(*p) != *p {
				t.Fatalf("field %q is not trimmed UTF-8", *p)
			}
		}
		enc, ok := encodeReply(r)
		if !ok {
			return
		}
		r2, err := parseReply(enc)
		if err != nil {
			t.Fatalf("re-encoded %q: %v", enc, err)
		}
		if r2 != r {
			// XML normalises \r\n and \r to \n inside text; nothing else
			// may change.
			norm := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n") }
			a, b := r.fields(), r2.fields()
			for i := range a {
				if norm(*a[i]) != norm(*b[i]) {
					t.Fatalf("round trip changed %+v into %+v (%q)", r, r2, bytes.TrimSpace(enc))
				}
			}
		}
		_ = result("query", body, nil, r.SporderID, true)
	})
}

// FuzzParseCallback checks that ParseCallback never panics and that what it
// accepts has its required fields and valid UTF-8.
func FuzzParseCallback(f *testing.F) {
	f.Add([]byte(""), []byte(callbackBody))
	f.Add([]byte(ctForm+"; charset=gbk"), []byte(callbackBody))
	f.Add([]byte(ctForm+"; charset=utf-8"), []byte("userid=1&sporderid=%E5%BC%A0&resultno=1&sign=x"))
	f.Add([]byte("text/plain"), []byte("a=b"))
	f.Add([]byte(""), []byte("userid=1&sporderid=%zz&resultno=%&sign=+&sign"))
	f.Fuzz(func(t *testing.T, ct, body []byte) {
		cb, err := ParseCallback(ct, body)
		if err != nil {
			return
		}
		if cb.UserID == "" || cb.SporderID == "" || cb.ResultNo == "" || cb.Sign == "" {
			t.Fatalf("accepted without a required field: %+v", cb)
		}
		for _, p := range cb.fields() {
			if !utf8.ValidString(*p.dst) {
				t.Fatalf("%s is not UTF-8: %q", p.name, *p.dst)
			}
		}
		_ = cb.SignOK(testKey)
		_ = cb.Outcome()
	})
}
