package bench

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"topup/engine"
	"topup/transports/operapi"
)

// fakeEngine is a stand-in engine on loopback (operator and admin APIs)
// whose faults the harness must catch.
type fakeEngine struct {
	key string
	// keepMoney: never charge (the balance check must fail).
	keepMoney bool
	// flip: send this order a success and then a failure callback.
	flip string
	// ghost: also call back an order number the harness never sent.
	ghost string

	mu      sync.Mutex
	balance int64
	seq     uint64
	orders  map[string]*engine.Order
	wg      sync.WaitGroup
	cl      fasthttp.Client
}

func (f *fakeEngine) serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { f.wg.Wait(); _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

func (f *fakeEngine) notify(url string, o engine.Order) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod("POST")
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.SetBody(operapi.CallbackBody(&o, f.key))
	_ = f.cl.DoTimeout(req, resp, 5*time.Second)
}

func (f *fakeEngine) operator(ctx *fasthttp.RequestCtx) {
	r, code := operapi.ParseOrder(ctx.Request.Header.ContentType(), ctx.PostBody())
	if code != engine.OK {
		ctx.SetBodyString(`{"code":400,"count":0,"msg":"no","reason":"bad_request"}`)
		return
	}
	f.mu.Lock()
	o, dup := f.orders[r.OrderNo]
	if !dup {
		f.seq++
		o = &engine.Order{ID: engine.MakeID(1, f.seq), UID: r.UID, OrderNo: r.OrderNo, Phone: r.Phone, FaceValue: r.FaceValue,
			Status: engine.StatusSuccess, State: engine.StateSucceeded}
		f.orders[r.OrderNo] = o
		if !f.keepMoney {
			f.balance -= int64(engine.ChargeFor(r.FaceValue, 1000))
		}
	}
	cp := *o
	f.mu.Unlock()
	ctx.SetBodyString(`{"code":200,"count":1,"msg":"Success"}`)
	if dup {
		return
	}
	f.wg.Go(func() {
		f.notify(r.NotifyURL, cp)
		if cp.OrderNo == f.flip {
			cp.Status = engine.StatusReturned
			f.notify(r.NotifyURL, cp)
		}
		if f.ghost != "" && cp.ID.Seq() == 1 {
			ghost := cp
			ghost.OrderNo = f.ghost
			f.notify(r.NotifyURL, ghost)
		}
	})
}

func (f *fakeEngine) admin(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	f.mu.Lock()
	defer f.mu.Unlock()
	reply := func(v any) {
		b, _ := json.Marshal(v)
		ctx.SetContentType("application/json")
		ctx.SetBody(b)
	}
	switch {
	case strings.HasSuffix(path, "/fund"):
		var req struct{ Amount int64 }
		_ = json.Unmarshal(ctx.PostBody(), &req)
		f.balance += req.Amount
		reply(map[string]any{"balance": f.balance})
	case strings.HasPrefix(path, "/admin/merchants/"):
		reply(map[string]any{"uid": "42", "balance": f.balance, "trusted": true, "price_permille": 1000})
	case path == "/admin/orders":
		o, ok := f.orders[string(ctx.QueryArgs().Peek("order_no"))]
		if !ok {
			ctx.SetStatusCode(404)
			return
		}
		reply(map[string]any{"id": o.ID.String(), "order_no": o.OrderNo, "state": "succeeded", "status": o.Status})
	default:
		ctx.SetStatusCode(404)
	}
}

// runFake runs a burst against f and returns the verdict.
func runFake(t *testing.T, f *fakeEngine) Result {
	t.Helper()
	f.key, f.orders = "fake-key-123", map[string]*engine.Order{}
	op, adm := f.serve(t, f.operator), f.serve(t, f.admin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := RunBurst(ctx, BurstConfig{N: 40, Common: Common{Conns: 4, Quiet: 300 * time.Millisecond, Grace: 300 * time.Millisecond,
		RunID: "v", Target: Target{OperatorURL: op, AdminURL: adm, AdminToken: "t", UID: "42", Key: f.key}}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestVerdict runs the harness against a fake engine, honest and then with
// faults, and checks that the verdict names each fault.
func TestVerdict(t *testing.T) {
	honest := runFake(t, &fakeEngine{})
	if !honest.Passed || honest.Callbacks.Orders != 40 || honest.Balance.Actual != honest.Balance.Expected {
		t.Fatalf("honest engine: passed %v, violations %v %+v, balance %+v", honest.Passed, honest.ViolationCounts, honest.Violations, honest.Balance)
	}
	bad := runFake(t, &fakeEngine{keepMoney: true, flip: "bv-7", ghost: "not-sent"})
	if bad.Passed {
		t.Fatal("a faulty engine passed")
	}
	for _, kind := range []string{ViolationBalance, ViolationConflictingCallbacks, ViolationUnexpectedCallback} {
		if bad.ViolationCounts[kind] != 1 {
			t.Errorf("%s counted %d, want 1 (all: %v)", kind, bad.ViolationCounts[kind], bad.ViolationCounts)
		}
	}
}
