package operapi

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
)

// fakeService is a Service over fixed merchants and orders. PlaceOrder
// answers by order_no: "busy" → overloaded, "poor" → insufficient balance.
type fakeService struct {
	merchants map[string]engine.Merchant
	orders    map[string]*engine.Order // uid/order_no
	balance   BalanceData

	mu     sync.Mutex
	placed []OrderRequest
}

func newFakeService() *fakeService {
	o := testOrder()
	return &fakeService{
		merchants: map[string]engine.Merchant{
			"3928857": {UID: "3928857", Name: "yys", MD5Key: testKey},
		},
		orders:  map[string]*engine.Order{"3928857/" + o.OrderNo: o},
		balance: BalanceData{AccountBalance: 138501, Currency: "人民币", OperatorName: "yys", Record: "订单收款"},
	}
}

func (s *fakeService) Merchant(uid string) (engine.Merchant, bool) {
	m, ok := s.merchants[uid]
	return m, ok
}

func (s *fakeService) PlaceOrder(_ context.Context, _ engine.Merchant, req *OrderRequest) engine.Code {
	s.mu.Lock()
	s.placed = append(s.placed, *req)
	s.mu.Unlock()
	switch req.OrderNo {
	case "busy":
		return engine.ErrOverloaded
	case "poor":
		return engine.ErrInsufficientBalance
	}
	return engine.OK
}

func (s *fakeService) Balance(context.Context, engine.Merchant) (BalanceData, engine.Code) {
	return s.balance, engine.OK
}

func (s *fakeService) QueryOrder(_ context.Context, m engine.Merchant, orderNo string) (*engine.Order, engine.Code) {
	if o, ok := s.orders[m.UID+"/"+orderNo]; ok {
		return o, engine.OK
	}
	return nil, engine.ErrOrderNotFound
}

func (s *fakeService) placedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.placed)
}

// serve runs h on a loopback listener until the test ends and returns its
// base URL.
func serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h, MaxRequestBodySize: 1 << 20, ReadTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.ShutdownWithContext(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

type answer struct {
	status int
	body   string
}

func post(t *testing.T, method, url, ct string, body []byte) answer {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(method)
	if ct != "" {
		req.Header.SetContentType(ct)
	}
	req.SetBody(body)
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if method != fasthttp.MethodHead && !strings.HasPrefix(string(resp.Header.ContentType()), "application/json") {
		t.Errorf("%s %s: content type %q", method, url, resp.Header.ContentType())
	}
	return answer{resp.StatusCode(), string(resp.Body())}
}

func wantReply(t *testing.T, got answer, status int, c engine.Code) {
	t.Helper()
	if got.status != status || got.body != string(Reply(c)) {
		t.Errorf("got HTTP %d %s\nwant HTTP %d %s", got.status, got.body, status, Reply(c))
	}
}

func TestHandlerOrder(t *testing.T) {
	svc := newFakeService()
	base := serve(t, NewHandler(svc, nil))
	form := "application/x-www-form-urlencoded"

	m := baseOrder()
	wantReply(t, post(t, "POST", base+PathOrder, form, formBody(m)), 200, engine.OK)
	wantReply(t, post(t, "POST", base+PathOrder, "application/json", jsonBody(t, m)), 200, engine.OK)
	if n := svc.placedCount(); n != 2 {
		t.Fatalf("placed %d", n)
	}
	if got := svc.placed[1]; got.UID != "3928857" || got.FaceValue != 100 || got.OrderNo != m["order_no"] {
		t.Fatalf("placed %+v", got)
	}

	// Unknown uid wins over a wrong or malformed sign.
	unknown := withField(m, "uid", "999")
	wantReply(t, post(t, "POST", base+PathOrder, form, formBody(unknown)), 200, engine.ErrUnknownUID)
	wantReply(t, post(t, "POST", base+PathOrder, form, formBody(withField(unknown, "sign", "zz"))), 200, engine.ErrUnknownUID)
	// Known uid, wrong or malformed sign.
	wantReply(t, post(t, "POST", base+PathOrder, form, formBody(withField(m, "sign", strings.Repeat("0", 32)))), 200, engine.ErrBadSign)
	wantReply(t, post(t, "POST", base+PathOrder, form, formBody(withField(m, "sign", "zz"))), 200, engine.ErrBadSign)
	// A sign for other fields (face value changed after signing).
	wantReply(t, post(t, "POST", base+PathOrder, form, formBody(withField(m, "face_value", "1000"))), 200, engine.ErrBadSign)
	// Validation precedes the uid lookup.
	wantReply(t, post(t, "POST", base+PathOrder, form, formBody(withField(unknown, "phone_number", "123"))), 200, engine.ErrBadPhone)
	wantReply(t, post(t, "POST", base+PathOrder, form, []byte("garbage")), 200, engine.ErrBadRequest)
	if n := svc.placedCount(); n != 2 {
		t.Fatalf("service called on a rejected request: %d", n)
	}

	// Service codes: business answers are 200, 503-class codes are 503.
	resign := func(orderNo string) map[string]string {
		o := withField(m, "order_no", orderNo)
		o["sign"] = md5Of(o["uid"], o["order_no"], o["phone_number"], o["face_value"], testKey)
		return o
	}
	wantReply(t, post(t, "POST", base+PathOrder, form, formBody(resign("busy"))), 503, engine.ErrOverloaded)
	wantReply(t, post(t, "POST", base+PathOrder, form, formBody(resign("poor"))), 200, engine.ErrInsufficientBalance)

	// Body over the limit.
	big := append(formBody(m), "&pad="+strings.Repeat("x", MaxBodySize)...)
	wantReply(t, post(t, "POST", base+PathOrder, form, big), 413, engine.ErrBadRequest)
}

func TestHandlerBalance(t *testing.T) {
	svc := newFakeService()
	base := serve(t, NewHandler(svc, nil))
	got := post(t, "POST", base+PathBalance, "application/x-www-form-urlencoded",
		[]byte("uid=3928857&sign="+md5Of("3928857", testKey)))
	if got.status != 200 {
		t.Fatalf("status %d %s", got.status, got.body)
	}
	var env struct {
		Code  int             `json:"code"`
		Count int             `json:"count"`
		Sign  string          `json:"sign"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(got.body), &env); err != nil {
		t.Fatal(err)
	}
	if env.Code != 200 || env.Count != 1 || md5Of(string(env.Data), testKey) != env.Sign {
		t.Fatalf("reply %s", got.body)
	}
	var d BalanceData
	if err := json.Unmarshal(env.Data, &d); err != nil || d != svc.balance {
		t.Fatalf("data %+v %v", d, err)
	}

	wantReply(t, post(t, "POST", base+PathBalance, "application/json",
		[]byte(`{"uid":"3928857","sign":"`+strings.Repeat("a", 32)+`"}`)), 200, engine.ErrBadSign)
	wantReply(t, post(t, "POST", base+PathBalance, "application/json",
		[]byte(`{"uid":"1","sign":"`+md5Of("1", testKey)+`"}`)), 200, engine.ErrUnknownUID)
	wantReply(t, post(t, "POST", base+PathBalance, "application/json", []byte(`{"uid":"1"}`)), 200, engine.ErrBadRequest)
}

func TestHandlerQuery(t *testing.T) {
	svc := newFakeService()
	base := serve(t, NewHandler(svc, nil))
	o := testOrder()
	got := post(t, "POST", base+PathQueryOrder, "application/json",
		[]byte(`{"uid":3928857,"order_no":"`+o.OrderNo+`","sign":"`+md5Of("3928857", o.OrderNo, testKey)+`"}`))
	var env struct {
		Code int             `json:"code"`
		Sign string          `json:"sign"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(got.body), &env); err != nil || got.status != 200 {
		t.Fatalf("HTTP %d %s %v", got.status, got.body, err)
	}
	if env.Code != 200 || md5Of(string(env.Data), testKey) != env.Sign {
		t.Fatalf("reply %s", got.body)
	}
	var d OrderData
	if err := json.Unmarshal(env.Data, &d); err != nil || d != OrderDataFor(o, "yys") {
		t.Fatalf("data %+v %v", d, err)
	}

	wantReply(t, post(t, "POST", base+PathQueryOrder, "application/x-www-form-urlencoded",
		[]byte("uid=3928857&order_no=nope&sign="+md5Of("3928857", "nope", testKey))), 200, engine.ErrOrderNotFound)
	wantReply(t, post(t, "POST", base+PathQueryOrder, "application/x-www-form-urlencoded",
		[]byte("uid=3928857&order_no=nope&sign="+md5Of("3928857", "other", testKey))), 200, engine.ErrBadSign)
	wantReply(t, post(t, "POST", base+PathQueryOrder, "application/x-www-form-urlencoded",
		[]byte("uid=3928857&order_no=a.b&sign="+md5Of("3928857", "a.b", testKey))), 200, engine.ErrBadOrderNo)
}

func TestHandlerRouting(t *testing.T) {
	base := serve(t, NewHandler(newFakeService(), nil))
	got := post(t, "POST", base+"/nope", "", nil)
	if got.status != 404 || got.body != replyNotFound {
		t.Errorf("unknown path: %+v", got)
	}
	for _, p := range []string{PathOrder, PathBalance, PathQueryOrder} {
		got := post(t, "GET", base+p, "", nil)
		if got.status != 405 || got.body != replyMethodNotAllowed {
			t.Errorf("GET %s: %+v", p, got)
		}
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(replyNotFound), &v); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(replyMethodNotAllowed), &v); err != nil {
		t.Fatal(err)
	}

	withFallback := serve(t, NewHandler(newFakeService(), func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetStatusCode(299)
		ctx.SetBodyString(`{"fallback":true}`)
	}))
	if got := post(t, "GET", withFallback+"/metrics", "", nil); got.status != 299 || got.body != `{"fallback":true}` {
		t.Errorf("fallback: %+v", got)
	}
}
