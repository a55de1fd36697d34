package juhe

import (
	"errors"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"topup/engine"
)

func TestParseCallback(t *testing.T) {
	var a fasthttp.Args
	a.Parse("sporder_id=F22070512362939019255270&orderid=20220705043629&sta=1&sign=048db1476621019480391b6b82107c21")
	cb, err := ParseCallback(&a)
	if err != nil {
		t.Fatal(err)
	}
	want := Callback{SporderID: "F22070512362939019255270", OrderID: testOrder, Sta: "1", Sign: "048db1476621019480391b6b82107c21"}
	if cb != want {
		t.Errorf("got %+v", cb)
	}
	if !cb.SignOK(testKey) {
		t.Error("good sign refused")
	}
	upper := cb
	upper.Sign = "048DB1476621019480391B6B82107C21"
	if !upper.SignOK(testKey) {
		t.Error("upper-case sign refused")
	}
	if cb.SignOK("otherkey") {
		t.Error("sign accepted under another key")
	}
	for _, mod := range []func(*Callback){
		func(c *Callback) { c.OrderID = "20220705043620" },
		func(c *Callback) { c.SporderID += "x" },
		func(c *Callback) { c.Sign = c.Sign[:31] },
		func(c *Callback) { c.Sign = "" },
		func(c *Callback) { c.Sign = c.Sign + "0" },
	} {
		bad := cb
		mod(&bad)
		if bad.SignOK(testKey) {
			t.Errorf("bad callback %+v accepted", bad)
		}
	}

	for _, q := range []string{
		"",
		"orderid=1&sta=1&sign=x",
		"sporder_id=S&sta=1&sign=x",
		"sporder_id=S&orderid=1&sign=x",
		"sporder_id=S&orderid=1&sta=1",
		"sporder_id=S&orderid=1&sta=&sign=x",
	} {
		var a fasthttp.Args
		a.Parse(q)
		if _, err := ParseCallback(&a); !errors.Is(err, ErrCallback) {
			t.Errorf("%q: %v, want ErrCallback", q, err)
		}
	}
}

func TestCallbackOutcome(t *testing.T) {
	for sta, want := range map[string]engine.Outcome{
		"1": engine.OutcomeSuccess, "9": engine.OutcomeFailRoute,
		"0": engine.OutcomeUncertain, "2": engine.OutcomeUncertain, "": engine.OutcomeUncertain, "01": engine.OutcomeUncertain,
	} {
		cb := Callback{Sta: sta}
		if got := cb.Outcome(); got != want {
			t.Errorf("sta %q: %v, want %v", sta, got, want)
		}
	}
	if string(CallbackReply()) != "success" {
		t.Error("CallbackReply")
	}
}

// A callback as Juhe sends it: a GET to the callback URL on a real server,
// read from the query string and answered with CallbackReply.
func TestCallbackOverHTTP(t *testing.T) {
	got := make(chan Callback, 1)
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		cb, err := ParseCallback(ctx.QueryArgs())
		if err != nil || !cb.SignOK(testKey) {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			return
		}
		got <- cb
		ctx.SetBody(CallbackReply())
	})
	var a fasthttp.Args
	a.Add("sporder_id", "F22070512362939019255270")
	a.Add("orderid", testOrder)
	a.Add("sta", "9")
	a.Add("sign", CallbackSign(testKey, "F22070512362939019255270", testOrder))
	var c fasthttp.Client
	status, body, err := c.GetTimeout(nil, base+"/juhe/callback?"+a.String(), 2*time.Second)
	if err != nil || status != 200 || string(body) != "success" {
		t.Fatalf("status %d body %q err %v", status, body, err)
	}
	cb := <-got
	if cb.Outcome() != engine.OutcomeFailRoute || cb.OrderID != testOrder {
		t.Errorf("%+v", cb)
	}
}
