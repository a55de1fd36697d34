package sockmod

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"topup/engine"
)

const specKey = "bff0378ea5ef0d5d"

// The sample packets of specs/003, joined back onto one line each.
const (
	specOrder  = `{"action":"CZ","chargeId":196,"chargeAcct":"13530017201","chargeCash":100.000,"chargeType":0,"amount":1,"faceValue":100.000,"var1":"","var2":"","var3":"","var4":"","productSn":0,"nbrArea":"广东省深圳-移动","cardSn":"","cardPassword":"","agentAcct":"","agentPass":"","cardId":0,"retRsn":"0","sign":"8e6f40693e0380fdb0c504768e5e70ab"}`
	specAck    = `{"action":"CZ","chargeId":196,"retCode":0,"retDetail":"定单已接收","retRsn":"","sign":"6de2b30585c463d5fa6d7188400522ed"}`
	specResult = `{"action":"CZ","chargeId":196,"retCode":1,"retDetail":"充值成功","retRsn":"","userContent":"","retCost":99.100,"retBalance":58921.980,"retCash":100.000,"sign":"30b0e1dc67695ebfd501ac1ab9fcb7fd"}`
)

// gbk encodes UTF-8 test text to GBK.
func gbk(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("gbk(%q): %v", s, err)
	}
	return b
}

func TestSignVectors(t *testing.T) {
	o := Order{ChargeID: 196, ChargeAcct: "13530017201", ChargeCash: 10000}
	if got, want := o.ComputeSign(specKey), "8e6f40693e0380fdb0c504768e5e70ab"; got != want {
		t.Errorf("order sign = %s, want %s", got, want)
	}
	a := Ack{ChargeID: 196, RetCode: 0}
	if got, want := a.ComputeSign(specKey), "6de2b30585c463d5fa6d7188400522ed"; got != want {
		t.Errorf("ack sign = %s, want %s", got, want)
	}
	r := Result{ChargeID: 196, RetCode: 1}
	if got, want := r.ComputeSign(specKey), "30b0e1dc67695ebfd501ac1ab9fcb7fd"; got != want {
		t.Errorf("result sign = %s, want %s", got, want)
	}
}

func TestDecodeSpecSamples(t *testing.T) {
	o, err := DecodeOrder(gbk(t, specOrder))
	if err != nil {
		t.Fatal(err)
	}
	wantO := Order{
		ChargeID: 196, ChargeAcct: "13530017201", ChargeCash: 10000, Amount: 1, FaceValue: 10000,
		NbrArea: "广东省深圳-移动", RetRsn: "0", Sign: "8e6f40693e0380fdb0c504768e5e70ab",
	}
	if o != wantO {
		t.Errorf("order = %+v\nwant    %+v", o, wantO)
	}
	if !o.VerifySign(specKey) {
		t.Error("order sign does not verify")
	}
	if o.VerifySign("wrong") {
		t.Error("order sign verifies under a wrong key")
	}

	a, err := DecodeAck(gbk(t, specAck))
	if err != nil {
		t.Fatal(err)
	}
	wantA := Ack{ChargeID: 196, RetCode: 0, RetDetail: "定单已接收", Sign: "6de2b30585c463d5fa6d7188400522ed"}
	if a != wantA {
		t.Errorf("ack = %+v, want %+v", a, wantA)
	}
	if !a.VerifySign(specKey) {
		t.Error("ack sign does not verify")
	}

	r, err := DecodeResult(gbk(t, specResult))
	if err != nil {
		t.Fatal(err)
	}
	wantR := Result{
		ChargeID: 196, RetCode: 1, RetDetail: "充值成功", RetCost: 9910, RetBalance: 5892198, RetCash: 10000,
		Sign: "30b0e1dc67695ebfd501ac1ab9fcb7fd",
	}
	if r != wantR {
		t.Errorf("result = %+v, want %+v", r, wantR)
	}
	if !r.VerifySign(specKey) {
		t.Error("result sign does not verify")
	}
	r.Sign = strings.ToUpper(r.Sign)
	if !r.VerifySign(specKey) {
		t.Error("upper-case hex sign does not verify")
	}
	r.RetCode = 3
	if r.VerifySign(specKey) {
		t.Error("tampered retCode still verifies")
	}
}

// The encoders reproduce the spec's samples byte for byte: same field order,
// same number format, same GBK.
func TestEncodeReproducesSpecSamples(t *testing.T) {
	o, err := DecodeOrder(gbk(t, specOrder))
	if err != nil {
		t.Fatal(err)
	}
	o.Sign = ""
	got, err := EncodeOrder(o, specKey)
	if err != nil {
		t.Fatal(err)
	}
	if want := gbk(t, specOrder); !bytes.Equal(got, want) {
		t.Errorf("EncodeOrder:\n got %s\nwant %s", got, want)
	}

	a, err := DecodeAck(gbk(t, specAck))
	if err != nil {
		t.Fatal(err)
	}
	if got, err = EncodeAck(a, specKey); err != nil {
		t.Fatal(err)
	}
	if want := gbk(t, specAck); !bytes.Equal(got, want) {
		t.Errorf("EncodeAck:\n got %s\nwant %s", got, want)
	}

	r, err := DecodeResult(gbk(t, specResult))
	if err != nil {
		t.Fatal(err)
	}
	if got, err = EncodeResult(r, specKey); err != nil {
		t.Fatal(err)
	}
	if want := gbk(t, specResult); !bytes.Equal(got, want) {
		t.Errorf("EncodeResult:\n got %s\nwant %s", got, want)
	}
}

// hostile is text whose GBK form contains 0x5C ('\\'), 0x7B ('{') and 0x7D
// ('}') as second bytes, plus JSON metacharacters.
const hostile = "誠乗盶輠莭 \"quoted\" back\\slash {brace} [x] \t\n\x01 €"

func TestGBKTrailBytes(t *testing.T) {
	enc := gbk(t, "誠乗輠莭")
	for _, b := range []byte{0x5c, 0x7b, 0x7d} {
		if !bytes.Contains(enc, []byte{b}) {
			t.Fatalf("test text lacks trail byte %#x: % x", b, enc)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	o := Order{
		ChargeID: engine.MakeID(3, 12345).SupplierNo(7), ChargeAcct: "13800138000", ChargeCash: 5001,
		ChargeType: 5, Amount: 2, FaceValue: 250, Var1: hostile, Var2: "v2", Var3: "誠", Var4: `\`,
		ProductSn: 99, NbrArea: hostile, CardSn: "c", CardPassword: "p", AgentAcct: "a", AgentPass: "pw",
		CardID: -4, RetRsn: hostile,
	}
	frame, err := EncodeOrder(o, specKey)
	if err != nil {
		t.Fatal(err)
	}
	if n := FrameEnd(frame); n != len(frame) {
		t.Fatalf("FrameEnd = %d, want %d", n, len(frame))
	}
	got, err := DecodeOrder(frame)
	if err != nil {
		t.Fatal(err)
	}
	o.Sign = o.ComputeSign(specKey)
	if got != o {
		t.Errorf("order round trip:\n got %+v\nwant %+v", got, o)
	}
	if !got.VerifySign(specKey) {
		t.Error("order sign does not verify after round trip")
	}

	a := Ack{ChargeID: 1, RetCode: 3, RetDetail: hostile, RetRsn: "誠"}
	if frame, err = EncodeAck(a, specKey); err != nil {
		t.Fatal(err)
	}
	if n := FrameEnd(frame); n != len(frame) {
		t.Fatalf("ack FrameEnd = %d, want %d", n, len(frame))
	}
	gotA, err := DecodeAck(frame)
	if err != nil {
		t.Fatal(err)
	}
	a.Sign = a.ComputeSign(specKey)
	if gotA != a || !gotA.VerifySign(specKey) {
		t.Errorf("ack round trip: got %+v want %+v", gotA, a)
	}

	r := Result{ChargeID: 2, RetCode: 1, RetDetail: hostile, RetRsn: hostile, UserContent: "乗",
		RetCost: 9851, RetBalance: -12, RetCash: 10000}
	if frame, err = EncodeResult(r, specKey); err != nil {
		t.Fatal(err)
	}
	if n := FrameEnd(frame); n != len(frame) {
		t.Fatalf("result FrameEnd = %d, want %d", n, len(frame))
	}
	gotR, err := DecodeResult(frame)
	if err != nil {
		t.Fatal(err)
	}
	r.Sign = r.ComputeSign(specKey)
	if gotR != r || !gotR.VerifySign(specKey) {
		t.Errorf("result round trip: got %+v want %+v", gotR, r)
	}
}

func TestEncodeRejectsNonGBK(t *testing.T) {
	_, err := EncodeOrder(Order{ChargeID: 1, ChargeAcct: "1", ChargeCash: 1, Var1: "😀"}, specKey)
	if !errors.Is(err, ErrEncode) {
		t.Errorf("emoji: err = %v, want ErrEncode", err)
	}
	_, err = EncodeOrder(Order{ChargeID: 1, ChargeAcct: "1", ChargeCash: -1}, specKey)
	if !errors.Is(err, ErrEncode) {
		t.Errorf("negative cash: err = %v, want ErrEncode", err)
	}
}

func TestParseYuan(t *testing.T) {
	for _, tc := range []struct {
		in    string
		mode  rounding
		want  engine.Fen
		isErr bool
	}{
		{"100.000", exactFen, 10000, false},
		{"100", exactFen, 10000, false},
		{"0.5", exactFen, 50, false},
		{"0.01", exactFen, 1, false},
		{"100.0100", exactFen, 10001, false},
		{"100.001", exactFen, 0, true},
		{"100.0001", exactFen, 0, true},
		{"99.105", halfUpFen, 9911, false},
		{"99.104", halfUpFen, 9910, false},
		{"99.1049", halfUpFen, 9910, false},
		{"99.995", halfUpFen, 10000, false},
		{"-1.005", halfUpFen, -101, false},
		{"-58921.980", halfUpFen, -5892198, false},
		{"999999999999999.99", exactFen, 99999999999999999, false},
		{"999999999999999.995", halfUpFen, 0, true},
		{"1000000000000000", exactFen, 0, true},
		{"1e2", exactFen, 0, true},
		{"", exactFen, 0, true},
		{".5", exactFen, 0, true},
		{"1.", exactFen, 0, true},
		{"1.2.3", exactFen, 0, true},
		{"abc", halfUpFen, 0, true},
		{"-", halfUpFen, 0, true},
	} {
		got, err := parseYuan(tc.in, tc.mode)
		if (err != nil) != tc.isErr || got != tc.want {
			t.Errorf("parseYuan(%q, %d) = %d, %v; want %d, err %v", tc.in, tc.mode, got, err, tc.want, tc.isErr)
		}
	}
}

func TestAppendYuan3MatchesEngine(t *testing.T) {
	for _, f := range []engine.Fen{0, 1, 10, 99, 100, 10000, 5892198, -1, -5892198, 1<<62 + 7} {
		if got, want := string(appendYuan3(nil, f)), f.Yuan3(); got != want {
			t.Errorf("appendYuan3(%d) = %s, want %s", f, got, want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for name, frame := range map[string]string{
		"not json":        `{"action":"CZ",`,
		"wrong action":    `{"action":"XX","chargeId":1,"chargeAcct":"1","chargeCash":1.000}`,
		"no chargeId":     `{"action":"CZ","chargeAcct":"1","chargeCash":1.000}`,
		"no chargeAcct":   `{"action":"CZ","chargeId":1,"chargeCash":1.000}`,
		"no chargeCash":   `{"action":"CZ","chargeId":1,"chargeAcct":"1"}`,
		"third decimal":   `{"action":"CZ","chargeId":1,"chargeAcct":"1","chargeCash":1.001}`,
		"float chargeId":  `{"action":"CZ","chargeId":1.5,"chargeAcct":"1","chargeCash":1.000}`,
		"exponent amount": `{"action":"CZ","chargeId":1,"chargeAcct":"1","chargeCash":1e3}`,
		"trailing data":   `{"action":"CZ","chargeId":1,"chargeAcct":"1","chargeCash":1.000}x`,
	} {
		if _, err := DecodeOrder([]byte(frame)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeOrder(%s): err = %v, want ErrMalformed", name, err)
		}
	}
	for name, frame := range map[string]string{
		"no retCode":   `{"chargeId":1}`,
		"no chargeId":  `{"retCode":1}`,
		"bad retCash":  `{"chargeId":1,"retCode":1,"retCash":"x"}`,
		"huge retCode": `{"chargeId":1,"retCode":99999999999}`,
		"array":        `[1]`,
	} {
		if _, err := DecodeResult([]byte(frame)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeResult(%s): err = %v, want ErrMalformed", name, err)
		}
		if _, err := DecodeAck([]byte(frame)); name != "bad retCash" && !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeAck(%s): err = %v, want ErrMalformed", name, err)
		}
	}
}

// Some modules quote numbers; an empty or null amount is absent.
func TestDecodeLenientNumbers(t *testing.T) {
	r, err := DecodeResult([]byte(`{"chargeId":"42","retCode":"1","retCost":"","retBalance":null,"retCash":"10.005"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.ChargeID != 42 || r.RetCode != 1 || r.RetCost != 0 || r.RetBalance != 0 || r.RetCash != 1001 {
		t.Errorf("got %+v", r)
	}
}

func TestClassifyAck(t *testing.T) {
	for _, tc := range []struct {
		a    Ack
		want engine.Outcome
	}{
		{Ack{RetCode: 0, RetDetail: "定单已接收"}, engine.OutcomeAccepted},
		{Ack{RetCode: 1}, engine.OutcomeSuccess},
		{Ack{RetCode: 2}, engine.OutcomeUncertain},
		{Ack{RetCode: 3, RetDetail: "签名错误"}, engine.OutcomeFailRoute},
		{Ack{RetCode: 3, RetDetail: "该号码为空号"}, engine.OutcomeFailTarget},
		{Ack{RetCode: 3, RetDetail: "Invalid Number"}, engine.OutcomeFailTarget},
		{Ack{RetCode: 9}, engine.OutcomeUncertain},
		{Ack{RetCode: -1}, engine.OutcomeUncertain},
	} {
		got, detail := ClassifyAck(tc.a)
		if got != tc.want || detail == "" {
			t.Errorf("ClassifyAck(%+v) = %v %q, want %v", tc.a, got, detail, tc.want)
		}
	}
}

func TestClassifyResult(t *testing.T) {
	for _, tc := range []struct {
		r    Result
		cash engine.Fen
		want engine.Outcome
	}{
		{Result{RetCode: 1, RetCash: 10000}, 10000, engine.OutcomeSuccess},
		{Result{RetCode: 1}, 10000, engine.OutcomeSuccess},
		{Result{RetCode: 1, RetCash: 5000}, 10000, engine.OutcomePartial},
		{Result{RetCode: 1, RetCash: 20000}, 10000, engine.OutcomeSuccess},
		{Result{RetCode: 2}, 10000, engine.OutcomeUncertain},
		{Result{RetCode: 3, RetDetail: "充值失败"}, 10000, engine.OutcomeFailRoute},
		{Result{RetCode: 3, RetDetail: "空号"}, 10000, engine.OutcomeFailTarget},
		{Result{RetCode: 3, RetDetail: "充值失败", UserContent: "号码欠费"}, 10000, engine.OutcomeFailTarget},
		{Result{RetCode: 3, UserContent: "运营商不符"}, 10000, engine.OutcomeFailTarget},
		{Result{RetCode: 3, RetDetail: "携号转网用户"}, 10000, engine.OutcomeFailTarget},
		{Result{RetCode: 3, RetDetail: "黑名单"}, 10000, engine.OutcomeFailTarget},
		{Result{RetCode: 0}, 10000, engine.OutcomeAccepted},
		{Result{RetCode: 7}, 10000, engine.OutcomeUncertain},
	} {
		got, detail := ClassifyResult(tc.r, tc.cash)
		if got != tc.want || detail == "" {
			t.Errorf("ClassifyResult(%+v, %d) = %v %q, want %v", tc.r, tc.cash, got, detail, tc.want)
		}
	}
}

func BenchmarkEncodeOrder(b *testing.B) {
	o := Order{ChargeID: 123456789012, ChargeAcct: "13800138000", ChargeCash: 10000, Amount: 1,
		FaceValue: 10000, NbrArea: "广东省深圳-移动", RetRsn: "0"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeOrder(o, specKey); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeResult(b *testing.B) {
	frame := gbk(b, specResult)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := DecodeResult(frame); err != nil {
			b.Fatal(err)
		}
	}
}
