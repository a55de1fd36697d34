package operapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"topup/engine"
)

func TestReplyBytes(t *testing.T) {
	if got := string(Reply(engine.OK)); got != `{"code":200,"count":1,"msg":"Success"}` {
		t.Fatalf("OK reply %s", got)
	}
	got := string(Reply(engine.ErrBadSign))
	want := `{"code":400,"count":0,"msg":"signature missing or invalid","reason":"bad_sign"}`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	for _, c := range engine.AllCodes() {
		if c == engine.OK {
			continue
		}
		msg, _ := json.Marshal(c.Msg())
		reason, _ := json.Marshal(c.Reason())
		want := `{"code":400,"count":0,"msg":` + string(msg) + `,"reason":` + string(reason) + `}`
		if got := string(Reply(c)); got != want {
			t.Errorf("%v: got %s want %s", c, got, want)
		}
		var v struct {
			Code   int    `json:"code"`
			Count  int    `json:"count"`
			Msg    string `json:"msg"`
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal(Reply(c), &v); err != nil || v.Code != 400 || v.Count != 0 || v.Msg != c.Msg() || v.Reason != c.Reason() {
			t.Errorf("%v: decoded %+v %v", c, v, err)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\`, "tab\tnl\ncr\r\x01\x1f", "中文<>&", "\u2028\u2029", "bad\xffutf8"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s: %v", s, got, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if back != want {
			t.Errorf("%q: round trip %q", s, back)
		}
	}
}

func TestSignedReply(t *testing.T) {
	d := BalanceData{AccountBalance: 138501, BillingDate: 1614009600000, Currency: "人民币", GmtCreate: 1614058382000,
		ID: 35, Income: 1188, OperatorName: "运营商 <&>", PayMoney: 1200, PaymentDetailID: 54631, Record: "订单收款"}
	data, err := MarshalData(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("<&>")) || bytes.HasSuffix(data, []byte("\n")) {
		t.Fatalf("data %s", data)
	}
	got := SignedReply(data, testKey)
	want := `{"code":200,"count":1,"msg":"success","sign":"` + md5Of(string(data), testKey) + `","data":` + string(data) + `}`
	if string(got) != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	var env struct {
		Code  int             `json:"code"`
		Count int             `json:"count"`
		Msg   string          `json:"msg"`
		Sign  string          `json:"sign"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(got, &env); err != nil {
		t.Fatal(err)
	}
	if env.Code != 200 || env.Count != 1 || env.Msg != "success" {
		t.Fatalf("envelope %+v", env)
	}
	if md5Of(string(env.Data), testKey) != env.Sign || !DataSignOK(env.Data, testKey, env.Sign) {
		t.Fatal("sign does not verify over the extracted data")
	}
	if DataSignOK(env.Data, "other", env.Sign) {
		t.Fatal("sign verifies under another key")
	}
	var back BalanceData
	if err := json.Unmarshal(env.Data, &back); err != nil || back != d {
		t.Fatalf("data %+v %v", back, err)
	}
}

func testOrder() *engine.Order {
	return &engine.Order{
		ID:        engine.MakeID(3, 54630),
		UID:       "3928857",
		OrderNo:   "280399999349719680",
		OrderType: 1,
		Carrier:   1,
		Phone:     "18888888888",
		FaceValue: 1000,
		NotifyURL: "http://127.0.0.1:1/notify",
		CreatedAt: 1615105254000,
		State:     engine.StateSucceeded,
		Status:    engine.StatusSuccess,
	}
}

func TestOrderDataFor(t *testing.T) {
	o := testOrder()
	got := OrderDataFor(o, "yys")
	want := OrderData{Amount: 1000, GmtCreate: 1615105254000, ID: 54630, MobileOrderNo: "300000000054630",
		OperatorSn: "280399999349719680", OperatorsName: "yys", RechargePhoneNumber: "18888888888",
		SerialNumber: "300000000054630", StatusID: 4, StatusName: "充值成功"}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	o.State = engine.StatePlaced
	if d := OrderDataFor(o, "yys"); d.StatusID != engine.QueryAwaiting || d.StatusName != "网厅支付中" {
		t.Fatalf("placed: %+v", d)
	}
}

func TestCallbackRoundTrip(t *testing.T) {
	o := testOrder()
	o.UID = "uid with space&amp"
	body := CallbackBody(o, testKey)
	if !bytes.Equal(body, CallbackBody(o, testKey)) {
		t.Fatal("callback body not deterministic")
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		t.Fatal(err)
	}
	if v.Get("uid") != o.UID || v.Get("mobile_order_no") != "300000000054630" || v.Get("status") != "4" || v.Get("face_value") != "1000" {
		t.Fatalf("form %v", v)
	}
	if v.Get("sign") != md5Of(o.UID, o.OrderNo, o.Phone, "1000", "4", testKey) {
		t.Fatal("sign is not md5(uid+order_no+phone+face+status+key)")
	}
	cb, err := ParseCallback(ctForm, body)
	if err != nil {
		t.Fatal(err)
	}
	want := Callback{UID: o.UID, OrderNo: o.OrderNo, MobileOrderNo: o.ID.String(), Phone: o.Phone, FaceValue: 1000, Status: 4, Sign: v.Get("sign")}
	if cb != want {
		t.Fatalf("got %+v\nwant %+v", cb, want)
	}
	if !cb.SignOK(testKey) || cb.SignOK("other") {
		t.Fatal("SignOK")
	}
	cb.Status = engine.StatusReturned
	if cb.SignOK(testKey) {
		t.Fatal("sign does not cover status")
	}
	// JSON callbacks parse too.
	j, _ := json.Marshal(map[string]any{"uid": o.UID, "order_no": o.OrderNo, "mobile_order_no": o.ID.String(),
		"phone_number": o.Phone, "face_value": 1000, "status": "4", "sign": want.Sign})
	if cb, err := ParseCallback(ctJSON, j); err != nil || cb != want {
		t.Fatalf("json: %+v %v", cb, err)
	}
	for _, bad := range []string{"", "uid=1", strings.Replace(string(body), "status=4", "status=x", 1)} {
		if _, err := ParseCallback(ctForm, []byte(bad)); !errors.Is(err, ErrBadCallback) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}
