package dingyin

import (
	"errors"
	"strings"
	"testing"

	"topup/engine"
)

const ctForm = "application/x-www-form-urlencoded"

// callbackBody is a signed success callback (sign from TestSignVectors) with
// remark1 "张三" in GBK.
const callbackBody = "userid=10001&orderid=XS090428000003&sporderid=2009042800001&merchantsubmittime=20210224134552" +
	"&resultno=1&parvalue=100&remark1=%D5%C5%C8%FD&payno=&fundbalance=1024.50&sign=0EC73D975CAE7F4DC9D6A8AB6BA2F113"

func TestParseCallback(t *testing.T) {
	want := Callback{UserID: "10001", OrderID: "XS090428000003", SporderID: "2009042800001",
		MerchantSubmitTime: "20210224134552", ResultNo: "1", Parvalue: "100", Remark1: "张三",
		FundBalance: "1024.50", Sign: "0EC73D975CAE7F4DC9D6A8AB6BA2F113"}
	for _, ct := range []string{"", ctForm, ctForm + "; charset=GBK", ctForm + ";charset=gb2312"} {
		cb, err := ParseCallback([]byte(ct), []byte(callbackBody))
		if err != nil {
			t.Fatalf("%q: %v", ct, err)
		}
		if cb != want {
			t.Errorf("%q: got %+v\nwant %+v", ct, cb, want)
		}
		if !cb.SignOK(testKey) {
			t.Errorf("%q: sign does not verify", ct)
		}
		if cb.Outcome() != engine.OutcomeSuccess {
			t.Errorf("outcome %v", cb.Outcome())
		}
	}

	// UTF-8 values are read as such; the sign is case-insensitive.
	utf := strings.Replace(callbackBody, "%D5%C5%C8%FD", "%E5%BC%A0%E4%B8%89", 1)
	utf = strings.Replace(utf, "0EC73D975CAE7F4DC9D6A8AB6BA2F113", "0ec73d975cae7f4dc9d6a8ab6ba2f113", 1)
	for _, ct := range []string{"", ctForm + "; charset=utf-8"} {
		cb, err := ParseCallback([]byte(ct), []byte(utf))
		if err != nil || cb.Remark1 != "张三" || !cb.SignOK(testKey) {
			t.Errorf("utf-8 %q: %+v, %v", ct, cb, err)
		}
	}

	// Tampering or the wrong key fails the sign.
	cb, _ := ParseCallback(nil, []byte(strings.Replace(callbackBody, "resultno=1", "resultno=9", 1)))
	if cb.SignOK(testKey) {
		t.Error("tampered resultno verifies")
	}
	cb, _ = ParseCallback(nil, []byte(callbackBody))
	if cb.SignOK("other") {
		t.Error("wrong key verifies")
	}
	cb.Sign = cb.Sign[:31]
	if cb.SignOK(testKey) {
		t.Error("short sign verifies")
	}

	// Empty signed values are signed as empty strings.
	empty := "userid=10001&sporderid=2009042800001&resultno=9&sign=7C30A1436F3C89C33FD8DFBDEF303540"
	cb, err := ParseCallback([]byte(ctForm), []byte(empty))
	if err != nil || !cb.SignOK(testKey) || cb.Outcome() != engine.OutcomeFailRoute {
		t.Errorf("empty values: %+v, %v", cb, err)
	}

	if got := string(CallbackReply()); got != "OK" {
		t.Errorf("CallbackReply = %q", got)
	}
}

func TestParseCallbackRejects(t *testing.T) {
	cases := []struct{ ct, body string }{
		{"application/json", `{"userid":"1"}`},
		{"text/plain", callbackBody},
		{"application/x-www-form-urlencoded; charset=big5", callbackBody},
		{"application/x-www-form-urlencoded; charset=utf-8", callbackBody}, // GBK bytes
		{";;", callbackBody},
		{"", "userid=10001&sporderid=1&sign=X"},                       // no resultno
		{"", "userid=10001&resultno=1&sign=X"},                        // no sporderid
		{"", "sporderid=1&resultno=1&sign=X"},                         // no userid
		{"", "userid=10001&sporderid=1&resultno=1"},                   // no sign
		{"", "userid=10001&sporderid=1&resultno=1&resultno=9&sign=X"}, // twice
		{"", ""},
	}
	for _, c := range cases {
		if cb, err := ParseCallback([]byte(c.ct), []byte(c.body)); !errors.Is(err, ErrBadCallback) {
			t.Errorf("%q %q: %+v, %v", c.ct, c.body, cb, err)
		}
	}
}

func TestCallbackOutcome(t *testing.T) {
	for no, want := range map[string]engine.Outcome{
		"1": engine.OutcomeSuccess, "9": engine.OutcomeFailRoute, "0": engine.OutcomeAccepted,
		"2": engine.OutcomeAccepted, "5005": engine.OutcomeUncertain, "9999": engine.OutcomeUncertain, "": engine.OutcomeUncertain,
	} {
		cb := Callback{ResultNo: no}
		if got := cb.Outcome(); got != want {
			t.Errorf("%q: %v, want %v", no, got, want)
		}
	}
}

func BenchmarkParseCallback(b *testing.B) {
	body, ct := []byte(callbackBody), []byte(ctForm)
	b.ReportAllocs()
	for b.Loop() {
		cb, err := ParseCallback(ct, body)
		if err != nil || !cb.SignOK(testKey) {
			b.Fatal(err)
		}
	}
}
