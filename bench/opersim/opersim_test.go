package opersim

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"topup/engine"
	"topup/transports/operapi"
)

const (
	uid = "3928857"
	key = "bff0378ea5ef0d5d"
)

// memService is a minimal operapi.Service: it keeps accepted orders in memory.
type memService struct {
	mu     sync.Mutex
	seq    uint64
	orders map[string]*engine.Order
}

func (s *memService) Merchant(u string) (engine.Merchant, bool) {
	if u != uid {
		return engine.Merchant{}, false
	}
	return engine.Merchant{UID: uid, Name: "yys", MD5Key: key}, true
}

func (s *memService) PlaceOrder(_ context.Context, m engine.Merchant, r *operapi.OrderRequest) engine.Code {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := m.UID + "/" + r.OrderNo
	if o, ok := s.orders[k]; ok {
		if o.FieldsHash != r.FieldsHash() {
			return engine.ErrDuplicateMismatch
		}
		return engine.OK
	}
	s.seq++
	s.orders[k] = &engine.Order{ID: engine.MakeID(1, s.seq), UID: m.UID, OrderNo: r.OrderNo, OrderType: r.OrderType,
		Carrier: r.MobileType, Phone: r.Phone, FaceValue: r.FaceValue, NotifyURL: r.NotifyURL,
		FieldsHash: r.FieldsHash(), CreatedAt: 1615105254000, State: engine.StateAccepted}
	return engine.OK
}

func (s *memService) Balance(context.Context, engine.Merchant) (operapi.BalanceData, engine.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return operapi.BalanceData{AccountBalance: 100000 - int64(len(s.orders))*100, Currency: "人民币", OperatorName: "yys"}, engine.OK
}

func (s *memService) QueryOrder(_ context.Context, m engine.Merchant, orderNo string) (*engine.Order, engine.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.orders[m.UID+"/"+orderNo]; ok {
		c := *o
		return &c, engine.OK
	}
	return nil, engine.ErrOrderNotFound
}

func serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Error(err)
		}
		<-done
	})
	return "http://" + ln.Addr().String()
}

func testOrder(no string) Order {
	return Order{OrderNo: no, OrderType: 1, MobileType: 1, Phone: "13999999999", FaceValue: 100, NotifyURL: "http://127.0.0.1:1/notify"}
}

func TestClientAgainstHandler(t *testing.T) {
	svc := &memService{orders: map[string]*engine.Order{}}
	base := serve(t, operapi.NewHandler(svc, nil))
	c := &Client{BaseURL: base + "/", UID: uid, Key: key}
	ctx := context.Background()

	for i, asJSON := range []bool{false, true} {
		a, err := c.PlaceOrder(ctx, testOrder("o"+string(rune('1'+i))), asJSON)
		if err != nil || !a.OK() || a.Count != 1 || a.Msg != "Success" || a.Reason != "" {
			t.Fatalf("json=%v: %+v %v", asJSON, a, err)
		}
	}
	// The same order again is fine; different fields are not.
	if a, err := c.PlaceOrder(ctx, testOrder("o1"), true); err != nil || !a.OK() {
		t.Fatalf("repeat: %+v %v", a, err)
	}
	changed := testOrder("o1")
	changed.FaceValue = 200
	if a, err := c.PlaceOrder(ctx, changed, false); err != nil || a.Reason != "duplicate_mismatch" || a.Code != 400 {
		t.Fatalf("mismatch: %+v %v", a, err)
	}
	bad := testOrder("o3")
	bad.Phone = "123"
	if a, err := c.PlaceOrder(ctx, bad, true); err != nil || a.Reason != "bad_phone" || a.HTTPStatus != 200 {
		t.Fatalf("bad phone: %+v %v", a, err)
	}
	wrongKey := &Client{BaseURL: base, UID: uid, Key: "other"}
	if a, err := wrongKey.PlaceOrder(ctx, testOrder("o4"), false); err != nil || a.Reason != "bad_sign" {
		t.Fatalf("wrong key: %+v %v", a, err)
	}
	stranger := &Client{BaseURL: base, UID: "42", Key: key}
	if a, err := stranger.PlaceOrder(ctx, testOrder("o4"), false); err != nil || a.Reason != "unknown_uid" {
		t.Fatalf("unknown uid: %+v %v", a, err)
	}

	d, a, err := c.Balance(ctx)
	if err != nil || !a.OK() || d.AccountBalance != 99800 || d.Currency != "人民币" {
		t.Fatalf("balance: %+v %+v %v", d, a, err)
	}
	if _, a, err := wrongKey.Balance(ctx); err != nil || a.Reason != "bad_sign" {
		t.Fatalf("balance wrong key: %+v %v", a, err)
	}

	od, a, err := c.QueryOrder(ctx, "o2")
	if err != nil || !a.OK() || od.OperatorSn != "o2" || od.Amount != 100 || od.StatusID != engine.QueryCreated ||
		od.MobileOrderNo != engine.MakeID(1, 2).String() || od.OperatorsName != "yys" {
		t.Fatalf("query: %+v %+v %v", od, a, err)
	}
	if od, a, err := c.QueryOrder(ctx, "nope"); err != nil || a.Reason != "order_not_found" || od != (operapi.OrderData{}) {
		t.Fatalf("query missing: %+v %+v %v", od, a, err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.PlaceOrder(cancelled, testOrder("o5"), false); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestClientChecksReplies(t *testing.T) {
	data := []byte(`{"accountBalance":5,"currency":"CNY"}`)
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case operapi.PathBalance: // signed with the wrong key
			ctx.SetBody(operapi.SignedReply(data, "wrong"))
		case operapi.PathQueryOrder: // not JSON
			ctx.SetBodyString("<html>")
		case operapi.PathOrder: // code and count as strings
			ctx.SetStatusCode(503)
			ctx.SetBodyString(`{"code":"400","count":"0","msg":"m","reason":"overloaded"}`)
		}
	})
	c := &Client{BaseURL: base, UID: uid, Key: key, HTTP: &fasthttp.Client{}}
	ctx := context.Background()
	if _, _, err := c.Balance(ctx); !errors.Is(err, ErrReplySign) {
		t.Errorf("balance: %v", err)
	}
	if _, _, err := c.QueryOrder(ctx, "x"); !errors.Is(err, ErrReply) {
		t.Errorf("query: %v", err)
	}
	a, err := c.PlaceOrder(ctx, testOrder("x"), false)
	if err != nil || a.HTTPStatus != 503 || a.Code != 400 || a.Count != 0 || a.Reason != "overloaded" || a.OK() {
		t.Errorf("order: %+v %v", a, err)
	}

	// The right key verifies.
	good := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBody(operapi.SignedReply(data, key)) })
	c.BaseURL = good
	if d, _, err := c.Balance(ctx); err != nil || d.AccountBalance != 5 {
		t.Errorf("good balance: %+v %v", d, err)
	}
}

func callbackOrder(no string, status int) *engine.Order {
	return &engine.Order{ID: engine.MakeID(1, 7), UID: uid, OrderNo: no, Phone: "13999999999", FaceValue: 100,
		State: engine.StateSucceeded, Status: status}
}

func TestReceiver(t *testing.T) {
	r, err := NewReceiver("127.0.0.1:0", map[string]string{uid: key})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
		if err := r.Close(); err != nil { // idempotent
			t.Error(err)
		}
	}()
	if !strings.HasPrefix(r.URL(), "http://127.0.0.1:") || !strings.HasSuffix(r.URL(), "/notify") {
		t.Fatalf("URL %s", r.URL())
	}
	n := operapi.NewNotifier(operapi.NotifierOptions{Timeout: 2 * time.Second})
	defer n.Close()
	ctx := context.Background()

	o1 := callbackOrder("a1", engine.StatusSuccess)
	if err := n.Deliver(ctx, r.URL(), operapi.CallbackBody(o1, key)); err != nil {
		t.Fatal(err)
	}
	cbs := r.Callbacks(uid, "a1")
	if len(cbs) != 1 || cbs[0].Status != engine.StatusSuccess || cbs[0].MobileOrderNo != o1.ID.String() || !cbs[0].SignOK(key) {
		t.Fatalf("callbacks %+v", cbs)
	}
	if r.Acked(uid, "a1") != 1 || r.Orders() != 1 {
		t.Fatal("not acknowledged")
	}

	// Bad signs: wrong key and unknown uid. Malformed: missing fields.
	if err := n.Deliver(ctx, r.URL(), operapi.CallbackBody(callbackOrder("a2", 9), "wrong")); !errors.Is(err, operapi.ErrNotAcknowledged) || !strings.Contains(err.Error(), "bad sign") {
		t.Fatalf("bad sign delivered: %v", err)
	}
	stranger := callbackOrder("a2", 9)
	stranger.UID = "42"
	if err := n.Deliver(ctx, r.URL(), operapi.CallbackBody(stranger, key)); err == nil {
		t.Fatal("unknown uid delivered")
	}
	if err := n.Deliver(ctx, r.URL(), []byte("uid=1")); err == nil {
		t.Fatal("malformed delivered")
	}
	if r.BadSigns() != 2 || r.Malformed() != 1 || r.Total() != 4 || len(r.Callbacks(uid, "a2")) != 0 {
		t.Fatalf("bad %d malformed %d total %d", r.BadSigns(), r.Malformed(), r.Total())
	}

	// Fault injection: the first two deliveries of each order fail.
	r.SetFailFirst(2)
	o3 := callbackOrder("a3", engine.StatusFailed)
	body := operapi.CallbackBody(o3, key)
	for i := 0; i < 2; i++ {
		err := n.Deliver(ctx, r.URL(), body)
		if !errors.Is(err, operapi.ErrNotAcknowledged) || !strings.Contains(err.Error(), "HTTP 500") {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := r.WaitCount(short, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitCount before the ack: %v", err)
	}
	waited := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		waited <- r.WaitCount(wctx, 2)
	}()
	if err := n.Deliver(ctx, r.URL(), body); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	bodies := r.Bodies(uid, "a3")
	if len(bodies) != 3 || !bytes.Equal(bodies[0], body) || !bytes.Equal(bodies[2], body) {
		t.Fatalf("bodies %q", bodies)
	}
	if got := r.Callbacks(uid, "a3"); len(got) != 3 || got[2].Status != engine.StatusFailed {
		t.Fatalf("callbacks %+v", got)
	}
	snap := r.Snapshot()
	if len(snap) != 2 || len(snap[uid+"/a1"]) != 1 || len(snap[uid+"/a3"]) != 3 {
		t.Fatalf("snapshot %v", snap)
	}
	// a1 already had one delivery, so its second is also an injected failure.
	if err := n.Deliver(ctx, r.URL(), operapi.CallbackBody(o1, key)); err == nil {
		t.Fatal("a1 second delivery acknowledged under SetFailFirst(2)")
	}
	if r.Acked(uid, "a1") != 1 {
		t.Fatal("acked count")
	}
}

func TestReceiverConcurrent(t *testing.T) {
	r, err := NewReceiver("127.0.0.1:0", map[string]string{uid: key})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := operapi.NewNotifier(operapi.NotifierOptions{Timeout: 5 * time.Second, MaxConnsPerHost: 8})
	defer n.Close()
	const orders = 200
	var wg sync.WaitGroup
	errs := make(chan error, orders)
	for i := range orders {
		wg.Go(func() {
			o := callbackOrder("c"+strings.Repeat("x", i%5)+string(rune('a'+i%26))+string(rune('a'+i/26)), engine.StatusSuccess)
			errs <- n.Deliver(context.Background(), r.URL(), operapi.CallbackBody(o, key))
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.WaitCount(ctx, orders); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if r.Total() != orders || len(r.Snapshot()) != orders {
		t.Fatalf("total %d distinct %d", r.Total(), len(r.Snapshot()))
	}
}
