package juhe

import (
	"encoding/json"
	"errors"
	"testing"

	"topup/engine"
)

const (
	sampleSubmit = `{
  "reason": "订单提交成功，等待充值",
  "result": {
    "pid": "105000",
    "uordercash": "19.630",
    "cardname": "全国移动1G流量月包",
    "sporder_id": "F22070512362939019255270",
    "orderid": "20220705043629",
    "phone": "15925601712"
  },
  "error_code": 0
}`
	sampleQuery = `{
  "reason": "查询成功",
  "result": {
    "uordercash": "19.630",
    "sporder_id": "F22070512362939019255270",
    "game_state": "0"
  },
  "error_code": 0
}`
)

func TestParseReplySamples(t *testing.T) {
	r, err := parseReply([]byte(sampleSubmit))
	if err != nil {
		t.Fatal(err)
	}
	want := reply{Code: 0, Reason: "订单提交成功，等待充值", Result: replyResult{SporderID: "F22070512362939019255270",
		OrderID: "20220705043629", Phone: "15925601712", Pid: "105000", UOrderCash: "19.630"}}
	if r != want {
		t.Errorf("submit: %+v", r)
	}
	r, err = parseReply([]byte(sampleQuery))
	if err != nil {
		t.Fatal(err)
	}
	want = reply{Code: 0, Reason: "查询成功", Result: replyResult{SporderID: "F22070512362939019255270",
		UOrderCash: "19.630", GameState: "0"}}
	if r != want {
		t.Errorf("query: %+v", r)
	}
}

func TestParseReplyLenient(t *testing.T) {
	for body, want := range map[string]reply{
		`{"error_code":"210501","reason":"错误的手机号码","result":null}`:     {Code: 210501, Reason: "错误的手机号码"},
		`{"error_code":10014,"reason":"","result":""}`:                 {Code: 10014},
		`{"error_code":10014,"result":[]}`:                             {Code: 10014},
		`{"error_code":0,"result":{"game_state":1,"uordercash":9.8}}`:  {Result: replyResult{GameState: "1", UOrderCash: "9.8"}},
		`{"error_code":0,"result":{"sporder_id":null},"extra":[1,{}]}`: {},
		"\n {\"error_code\":0,\"reason\":\"\\u6210\\u529f\"} \n":       {Reason: "成功"},
	} {
		got, err := parseReply([]byte(body))
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", body, got, err, want)
		}
	}
	for _, body := range []string{
		``, ` `, `null`, `[]`, `"x"`, `<html></html>`, `{}`, `{"reason":"x"}`,
		`{"error_code":null}`, `{"error_code":"x"}`, `{"error_code":1.5}`, `{"error_code":1e3}`,
		`{"error_code":true}`, `{"error_code":0`, `{"error_code":0}x`,
		`{"error_code":0,"result":{"game_state":{}}}`, `{"error_code":0,"reason":[]}`,
		`{"error_code":99999999999999999999}`,
	} {
		if _, err := parseReply([]byte(body)); !errors.Is(err, errReply) {
			t.Errorf("%q: %v, want errReply", body, err)
		}
	}
}

func TestParseYuan(t *testing.T) {
	for s, want := range map[string]engine.Fen{
		"19.630": 1963, "19.635": 1964, "19.634": 1963, "19.6349": 1963, "19.6351": 1964, "19.639": 1964,
		"0.005": 1, "0.004": 0, "0": 0, "7": 700, "7.5": 750, "0.995": 100, "99.995": 10000,
		"999999999999999.999": 100000000000000000,
	} {
		got, err := parseYuan(s)
		if err != nil || got != want {
			t.Errorf("parseYuan(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", ".5", "5.", "-1", "+1", "1e3", "1,5", "1.2.3", " 1", "1 ", "１", "1000000000000000"} {
		if _, err := parseYuan(s); err == nil {
			t.Errorf("parseYuan(%q) succeeded", s)
		}
	}
}

// FuzzParseReply checks that the parser never panics and that whatever it
// accepts survives a round trip through a canonical encoding.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		sampleSubmit, sampleQuery,
		`{"error_code":210508,"reason":"重复的订单号","result":null}`,
		`{"error_code":"0","result":{"game_state":9}}`,
		`{"error_code":0,"result":""}`, `{"error_code":0,"result":[]}`,
		`{"error_code":0`, `{"error_code":0,"result":{"uordercash":"1`, `{`, ``, `<html>`,
		`{"error_code":0,"reason":"\ud800"}`, `{"ERROR_CODE":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseReply(body)
		if err != nil {
			if !errors.Is(err, errReply) {
				t.Fatalf("error %v does not wrap errReply", err)
			}
			return
		}
		canon, err := json.Marshal(map[string]any{
			"error_code": r.Code, "reason": r.Reason,
			"result": map[string]string{
				"sporder_id": r.Result.SporderID, "orderid": r.Result.OrderID, "phone": r.Result.Phone,
				"pid": r.Result.Pid, "uordercash": r.Result.UOrderCash, "game_state": r.Result.GameState,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseReply(canon)
		if err != nil {
			t.Fatalf("canonical %s: %v", canon, err)
		}
		if again != r {
			t.Fatalf("round trip: %+v != %+v", again, r)
		}
		if r.Result.UOrderCash != "" {
			_, _ = parseYuan(r.Result.UOrderCash)
		}
		_ = classify(200, body, false, "20220705043629")
		_ = classify(200, body, true, "20220705043629")
	})
}

func BenchmarkParseReplySubmit(b *testing.B) {
	body := []byte(sampleSubmit)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := parseReply(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseReplyQuery(b *testing.B) {
	body := []byte(sampleQuery)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := parseReply(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseReplyError(b *testing.B) {
	body := []byte(`{"reason":"重复的订单号","result":null,"error_code":210508}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseReply(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClassifySubmit(b *testing.B) {
	body := []byte(sampleSubmit)
	b.ReportAllocs()
	for b.Loop() {
		if r := classify(200, body, false, "20220705043629"); r.Outcome != engine.OutcomeAccepted {
			b.Fatal(r)
		}
	}
}

func BenchmarkParseYuan(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseYuan("19.630"); err != nil {
			b.Fatal(err)
		}
	}
}
