package dingyin

import (
	"errors"
	"strings"
	"testing"

	"topup/engine"
)

// specSample is the specification's success reply, with the product name
// "游戏直充" written by hand in GB2312 and the stray "- " kept.
const specSample = `<?xml version="1.0" encoding="GB2312" ?> - <order> <orderid>XS090428000003</orderid> ` +
	`<productid>3312</productid> <num>1</num> <ordercash>98.5</ordercash> ` +
	"<productname>\xd3\xce\xcf\xb7\xd6\xb1\xb3\xe4</productname> <sporderid>2009042800001</sporderid> " +
	`<account>13590101510</account> <resultno>0</resultno> </order>`

func TestParseSpecSample(t *testing.T) {
	r, err := parseReply([]byte(specSample))
	if err != nil {
		t.Fatal(err)
	}
	want := reply{OrderID: "XS090428000003", ProductID: "3312", Num: "1", OrderCash: "98.5",
		ProductName: "游戏直充", SporderID: "2009042800001", Account: "13590101510", ResultNo: "0"}
	if r != want {
		t.Errorf("got %+v\nwant %+v", r, want)
	}
	res := result("submit", []byte(specSample), nil, "2009042800001", false)
	if res.Outcome != engine.OutcomeAccepted || res.ResultNo != "0" || res.Ref != "XS090428000003" || res.Cost != 9850 || res.HasBalance {
		t.Errorf("result %+v", res)
	}
}

func TestParseReplyVariants(t *testing.T) {
	cases := []struct {
		name, body string
		want       reply
	}{
		{"utf-8 declared", `<?xml version="1.0" encoding="UTF-8"?><order><resultno>1</resultno><productname>游戏</productname></order>`,
			reply{ResultNo: "1", ProductName: "游戏"}},
		{"no declaration", `<order><resultno> 2 </resultno></order>`, reply{ResultNo: "2"}},
		{"undeclared GBK", "<order><resultno>9</resultno><productname>" + zhangSanGBK + "</productname></order>",
			reply{ResultNo: "9", ProductName: "张三"}},
		{"gbk label", `<?xml version="1.0" encoding="gbk"?><user><balance>12.5</balance></user>`, reply{Balance: "12.5"}},
		{"gb18030 label", `<?xml version="1.0" encoding="gb18030"?><order><resultno>1</resultno><account>` + zhangSanGBK + `</account></order>`,
			reply{ResultNo: "1", Account: "张三"}},
		{"first occurrence wins, unknown and nested ignored", `<r><x><resultno>1</resultno></x><resultno>9</resultno><foo>3</foo></r>`,
			reply{ResultNo: "1"}},
		{"trailing text after root", `<order><resultno>0</resultno></order> junk`, reply{ResultNo: "0"}},
		{"entities and CDATA", `<order><account>a&amp;b</account><productname><![CDATA[<x>]]></productname></order>`,
			reply{Account: "a&b", ProductName: "<x>"}},
	}
	for _, c := range cases {
		r, err := parseReply([]byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if r != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, r, c.want)
		}
	}
}

func TestParseReplyRejects(t *testing.T) {
	for _, body := range []string{
		"",
		"OK",
		"<html><body>502 Bad Gateway",
		`<?xml version="1.0" encoding="big5"?><order><resultno>1</resultno></order>`,
		`<order><resultno>1</resultno>`,
		`<order><resultno>1</order>`,
	} {
		if r, err := parseReply([]byte(body)); err == nil || !errors.Is(err, ErrBadReply) {
			t.Errorf("parseReply(%q) = %+v, %v", body, r, err)
		}
	}
}

func TestParseYuan(t *testing.T) {
	cases := []struct {
		in   string
		want engine.Fen
	}{
		{"98.5", 9850}, {"98.50", 9850}, {"98.505", 9851}, {"98.504", 9850}, {"98.5049", 9850},
		{"0.005", 1}, {"0.004", 0}, {"7", 700}, {" 7.1 ", 710}, {"-3.125", -313}, {"-0.004", 0},
		{"0", 0}, {"999999999999999.999", 100000000000000000},
	}
	for _, c := range cases {
		got, err := ParseYuan(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "-", ".5", "5.", "1e3", "+1", "1,5", "1.2.3", "0x10", "1000000000000000", "NaN", "1 2"} {
		if got, err := ParseYuan(bad); err == nil {
			t.Errorf("ParseYuan(%q) = %d, want an error", bad, got)
		}
	}
	for _, f := range []engine.Fen{0, 1, 99, 100, 9850, -1, -250, 123456789} {
		back, err := ParseYuan(FormatYuan(f))
		if err != nil || back != f {
			t.Errorf("FormatYuan(%d) = %q read back as %d, %v", f, FormatYuan(f), back, err)
		}
	}
	if s := FormatYuan(9850); s != "98.50" {
		t.Errorf("FormatYuan(9850) = %q", s)
	}
}

func TestClassifyResultNo(t *testing.T) {
	A, S, F, U := engine.OutcomeAccepted, engine.OutcomeSuccess, engine.OutcomeFailRoute, engine.OutcomeUncertain
	cases := []struct {
		no            string
		submit, query engine.Outcome
	}{
		{"0", A, A}, {"2", A, A}, {"1", S, S}, {"9", F, F},
		{"5001", F, U}, {"5002", F, U}, {"5003", F, U}, {"5004", F, U}, {"5005", F, U},
		{"5006", U, U}, {"5007", F, A},
		{"5008", F, U}, {"5009", F, U}, {"5010", F, U}, {"5011", F, U}, {"5012", F, U},
		{"5000", U, U}, {"5013", U, U}, {"5020", U, U}, {"9999", U, U},
		{"", U, U}, {"3", U, U}, {"01", U, U}, {"1 ", U, U}, {"50011", U, U}, {"abc", U, U},
	}
	for _, c := range cases {
		if got := ClassifyResultNo(c.no, false); got != c.submit {
			t.Errorf("submit %q: %v, want %v", c.no, got, c.submit)
		}
		if got := ClassifyResultNo(c.no, true); got != c.query {
			t.Errorf("query %q: %v, want %v", c.no, got, c.query)
		}
	}
	if !IsLowBalance("5002") || IsLowBalance("5003") || IsLowBalance("") {
		t.Error("IsLowBalance")
	}
	if d := describe("5002"); !strings.HasPrefix(d, "resultno 5002: supplier balance too low") {
		t.Errorf("describe(5002) = %q", d)
	}
}

func BenchmarkParseReply(b *testing.B) {
	body := []byte(specSample)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := parseReply(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseReplyUTF8(b *testing.B) {
	body := []byte(`<?xml version="1.0" encoding="UTF-8"?><order><orderid>XS1</orderid><ordercash>98.5</ordercash>` +
		`<sporderid>2009042800001</sporderid><resultno>1</resultno><fundbalance>1024.50</fundbalance></order>`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := parseReply(body); err != nil {
			b.Fatal(err)
		}
	}
}
