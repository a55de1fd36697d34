// Package juhesim simulates the Juhe flow-recharge API (specs/002, the
// supplier side) for integration tests, the bench harness and `topupsim
// juhe`.
//
// The simulator serves /flow/onlineorder and /flow/ordersta over HTTP and,
// when asked to, calls back the cburl of each order it created. What happens
// to an order is decided by Decide from the phone number, so a test knows
// every order's fate in advance, including the nasty ones: a reply that says
// 10014 or 210508 for an order that exists, a reply that comes after the
// client has given up, an HTTP 502 for a recharged order. It keeps counts, a
// record per orderid and the recharges made per phone, so a test can prove
// that the engine never recharged a phone twice.
//
// The life of a created order: its result is known Latency±Jitter after the
// submission; until then a query says game_state 0, afterwards 1 (recharged)
// or 9 (failed). Its callback, if any, is sent LateCallbackDelay after the
// result is known and resent up to CallbackRetries times, CallbackRetryInterval
// apart, until the answer is a 2xx with a non-empty body.
//
// Everything is bounded: concurrent connections (MaxConns), callbacks
// waiting for their time (MaxPending) and the goroutines delivering them
// (Senders).
package juhesim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"topup/bench/simkit"
	"topup/engine"
	"topup/transports/juhe"
)

// Texts the simulator sends.
const (
	reasonAccepted  = "订单提交成功，等待充值"
	reasonQueried   = "查询成功"
	cardName        = "全国移动流量包"
	bad5xxBody      = "<html><body><h1>502 Bad Gateway</h1></body></html>"
	shutdownTimeout = 5 * time.Second
)

// Config configures a simulator. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	// Listen is the HTTP listen address, e.g. 127.0.0.1:60002 (port 0 picks
	// a free port).
	Listen string
	// OpenID is the account's OpenID, part of the submission sign.
	OpenID string
	// Key is the request key; it is also the appkey of callback signs.
	Key string
	// Mix weighs the outcomes (see Decide). All zero: all success.
	Mix Mix
	// Seed feeds Decide and the latency jitter.
	Seed uint64
	// Latency is the time from a submission until its result is known (the
	// query's game_state and the callback change then); Jitter spreads it
	// uniformly over Latency±Jitter.
	Latency, Jitter time.Duration
	// ReplyDelay delays every submission reply.
	ReplyDelay time.Duration
	// ClientTimeout is the client's time-out: a TimeoutAfterSuccess order is
	// answered only after ClientTimeout+1s (default 10s).
	ClientTimeout time.Duration
	// Callbacks: send a status callback to the cburl of every created order.
	Callbacks bool
	// DuplicateCallbacks: deliver each callback twice, one after the other.
	DuplicateCallbacks bool
	// LateCallbackDelay delays callbacks beyond the moment the result is
	// known.
	LateCallbackDelay time.Duration
	// CallbackBeforeReply: the submission handler waits until the result is
	// known, makes the first callback attempt, and only then writes the
	// submission reply (resends, if needed, follow in the background).
	CallbackBeforeReply bool

	// Products maps a pid to its face value; a pid not in it is refused with
	// 210503 (default {"105000": 1000}, 10 yuan).
	Products map[string]engine.Fen
	// CostPermille is uordercash as a share of the face value (default 980).
	CostPermille int64
	// CallbackRetries is how many times a callback is resent after the
	// first attempt (default 3; negative: never resent).
	CallbackRetries int
	// CallbackRetryInterval spaces the resends (default 1s).
	CallbackRetryInterval time.Duration
	// CallbackTimeout bounds one callback attempt (default 5s).
	CallbackTimeout time.Duration
	// MaxPending bounds the orders with callbacks still to deliver (default
	// 1,000,000). Beyond it callbacks are dropped and counted.
	MaxPending int
	// MaxConns bounds concurrent connections (default 4096).
	MaxConns int
	// Senders is the number of goroutines delivering callbacks (default 64).
	Senders int
	// Logger receives warnings (default slog.Default()).
	Logger *slog.Logger
}

// DefaultConfig is the configuration Start completes zero fields from.
func DefaultConfig() Config {
	return Config{
		Listen:                "127.0.0.1:0",
		Mix:                   Mix{Success: 1},
		ClientTimeout:         juhe.DefaultTimeout,
		Products:              map[string]engine.Fen{"105000": 1000},
		CostPermille:          980,
		CallbackRetries:       3,
		CallbackRetryInterval: time.Second,
		CallbackTimeout:       5 * time.Second,
		MaxPending:            1_000_000,
		MaxConns:              4096,
		Senders:               64,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Listen == "" {
		c.Listen = d.Listen
	}
	if c.Mix.Total() == 0 {
		c.Mix = d.Mix
	}
	if c.ClientTimeout <= 0 {
		c.ClientTimeout = d.ClientTimeout
	}
	if len(c.Products) == 0 {
		c.Products = d.Products
	}
	if c.CostPermille == 0 {
		c.CostPermille = d.CostPermille
	}
	if c.CallbackRetries == 0 {
		c.CallbackRetries = d.CallbackRetries
	} else if c.CallbackRetries < 0 {
		c.CallbackRetries = 0
	}
	if c.CallbackRetryInterval <= 0 {
		c.CallbackRetryInterval = d.CallbackRetryInterval
	}
	if c.CallbackTimeout <= 0 {
		c.CallbackTimeout = d.CallbackTimeout
	}
	if c.MaxPending <= 0 {
		c.MaxPending = d.MaxPending
	}
	if c.MaxConns <= 0 {
		c.MaxConns = d.MaxConns
	}
	if c.Senders <= 0 {
		c.Senders = d.Senders
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.OpenID == "" {
		errs = append(errs, errors.New("juhesim: OpenID is empty"))
	}
	if c.Key == "" {
		errs = append(errs, errors.New("juhesim: Key is empty"))
	}
	if err := c.Mix.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("juhesim: %w", err))
	}
	if c.Latency < 0 || c.Jitter < 0 || c.ReplyDelay < 0 || c.ClientTimeout < 0 || c.LateCallbackDelay < 0 {
		errs = append(errs, errors.New("juhesim: Latency, Jitter, ReplyDelay, ClientTimeout and LateCallbackDelay must not be negative"))
	}
	for pid, face := range c.Products {
		if pid == "" || face <= 0 {
			errs = append(errs, fmt.Errorf("juhesim: Products: pid %q face value %d", pid, face))
		}
	}
	if c.CostPermille < 0 {
		errs = append(errs, fmt.Errorf("juhesim: CostPermille %d is negative", c.CostPermille))
	}
	return errors.Join(errs...)
}

// Record is what the simulator did with one orderid (the first time a
// validly signed submission of it arrived for a known product).
type Record struct {
	OrderID string
	Phone   string
	Pid     string
	Kind    Kind
	// Created: the order exists at the supplier (it can be queried and is
	// called back).
	Created bool
	// Recharged: the phone was actually recharged.
	Recharged bool
	// SporderID is the supplier's order number, for created orders.
	SporderID string
	// Cost is uordercash, for created orders.
	Cost engine.Fen
	// CallbacksDelivered counts callback deliveries the receiver answered
	// with a non-empty 2xx.
	CallbacksDelivered int
}

// Stats are the simulator's counters.
type Stats struct {
	// Received counts submission requests.
	Received int `json:"received"`
	// BadKey counts requests (submissions and queries) with a wrong key,
	// answered 10001.
	BadKey int `json:"bad_key"`
	// BadSign counts submissions with a wrong sign, answered 210506.
	BadSign int `json:"bad_sign"`
	// Malformed counts submissions with a missing or malformed orderid or
	// phone, answered 210509 or 210501 without a record.
	Malformed int `json:"malformed"`
	// UnknownPid counts submissions for a pid not in Products (210503).
	UnknownPid int `json:"unknown_pid"`
	// Accepted counts submissions answered with error_code 0.
	Accepted int `json:"accepted"`
	// DuplicateOrderIDs counts submissions of an orderid that already
	// names an order; they are answered 210508 and change nothing.
	DuplicateOrderIDs int `json:"duplicate_order_ids"`
	// Queries counts status queries.
	Queries int `json:"queries"`
	// QueriesUnknown counts queries answered 210511 (no such order).
	QueriesUnknown int `json:"queries_unknown"`
	// Counts are the result-callback counters (sent, OK, failed,
	// abandoned, dropped, pending).
	simkit.Counts
	// Recharges is the number of recharges made.
	Recharges int `json:"recharges"`
	// RechargesByPhone is the number of recharges made per phone.
	RechargesByPhone map[string]int `json:"recharges_by_phone,omitempty"`
}

// Sim is a running simulator.
type Sim struct {
	cfg    Config
	ln     net.Listener
	srv    *fasthttp.Server
	cb     *fasthttp.Client
	log    *slog.Logger
	served chan struct{} // closed when srv.Serve returns

	done    chan struct{}
	courier *simkit.Courier
	latency *simkit.Latency // lock order: Sim.mu before latency

	mu         sync.Mutex
	records    []Record
	orders     map[string]*order
	recharges  map[string]int
	seq        uint64
	duplicates int

	received, badKey, badSign, malformed, unknownPid, accepted atomic.Int64
	queries, queriesUnknown                                    atomic.Int64
	closeOnce                                                  sync.Once
	closeErr                                                   error
}

// order is the supplier-side state of one orderid; guarded by Sim.mu.
type order struct {
	rec      int       // index into records
	resultAt time.Time // game_state changes from 0 to sta then
	sta      string    // "1" or "9"
}

// delivery is one order's callback, delivered copies times in sequence: a
// simkit.Callback.
type delivery struct {
	s      *Sim
	rec    int
	url    string
	copies int // deliveries still due, this one included
}

// Start validates cfg, listens and serves until Close.
func Start(cfg Config) (*Sim, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("juhesim: listen: %w", err)
	}
	s := &Sim{
		cfg:       cfg,
		ln:        ln,
		log:       cfg.Logger,
		served:    make(chan struct{}),
		done:      make(chan struct{}),
		latency:   simkit.NewLatency(cfg.Latency, cfg.Jitter, cfg.Seed, 0x7e5e),
		orders:    make(map[string]*order),
		recharges: make(map[string]int),
	}
	s.cb = &fasthttp.Client{
		Name:                "juhesim",
		MaxConnsPerHost:     cfg.Senders + 16,
		MaxConnWaitTimeout:  cfg.CallbackTimeout,
		ReadTimeout:         cfg.CallbackTimeout,
		WriteTimeout:        cfg.CallbackTimeout,
		MaxResponseBodySize: 64 << 10,
		MaxIdleConnDuration: 4 * time.Second,
	}
	s.srv = &fasthttp.Server{
		Handler:         s.handle,
		Name:            "juhesim",
		Concurrency:     cfg.MaxConns,
		ReadTimeout:     30 * time.Second,
		WriteTimeout:    30 * time.Second,
		IdleTimeout:     60 * time.Second,
		CloseOnShutdown: true,
		Logger:          fasthttpLogger{cfg.Logger},
	}
	s.courier = simkit.StartCourier(simkit.CourierConfig{Senders: cfg.Senders, MaxPending: cfg.MaxPending,
		Retries: cfg.CallbackRetries, RetryInterval: cfg.CallbackRetryInterval}, s.done)
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); err != nil {
			s.log.Warn("juhesim: serve", "err", err)
		}
	}()
	return s, nil
}

// fasthttpLogger sends fasthttp's messages to slog at debug level.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug("juhesim: fasthttp: " + fmt.Sprintf(format, args...))
}

// URL is the simulator's base URL, http://host:port, for juhe.Config.BaseURL.
func (s *Sim) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops serving, waits (up to 5s) for requests in progress, wakes
// handlers that sleep (their clients are long gone) and stops delivering
// callbacks; callbacks not yet sent are abandoned silently.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		// Shutdown is a no-op until Serve has registered the listener.
		for {
			if err := s.srv.ShutdownWithContext(ctx); err != nil {
				s.closeErr = fmt.Errorf("juhesim: close: %w", err)
				_ = s.ln.Close()
				break
			}
			select {
			case <-s.served:
			case <-time.After(10 * time.Millisecond):
				continue
			}
			break
		}
		s.courier.Wait()
		s.cb.CloseIdleConnections()
	})
	return s.closeErr
}

// Stats returns a snapshot of the counters.
func (s *Sim) Stats() Stats {
	st := Stats{
		Counts:         s.courier.Counts(),
		Received:       int(s.received.Load()),
		BadKey:         int(s.badKey.Load()),
		BadSign:        int(s.badSign.Load()),
		Malformed:      int(s.malformed.Load()),
		UnknownPid:     int(s.unknownPid.Load()),
		Accepted:       int(s.accepted.Load()),
		Queries:        int(s.queries.Load()),
		QueriesUnknown: int(s.queriesUnknown.Load()),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.DuplicateOrderIDs = s.duplicates
	st.RechargesByPhone = make(map[string]int, len(s.recharges))
	for k, v := range s.recharges {
		st.RechargesByPhone[k] = v
		st.Recharges += v
	}
	return st
}

// Records returns a copy of the per-orderid records, in arrival order.
func (s *Sim) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.records...)
}

// Record returns the record of one orderid.
func (s *Sim) Record(orderID string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.orders[orderID]; ok {
		return s.records[o.rec], true
	}
	return Record{}, false
}

func (s *Sim) handle(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case juhe.PathSubmit:
		s.submit(ctx)
	case juhe.PathQuery:
		s.query(ctx)
	default:
		ctx.Error("not found", fasthttp.StatusNotFound)
	}
}

// wireReply is the JSON shape of every reply; Result is null on errors.
type wireReply struct {
	Reason    string `json:"reason"`
	Result    any    `json:"result"`
	ErrorCode int    `json:"error_code"`
}

type submitResult struct {
	Pid        string `json:"pid"`
	UOrderCash string `json:"uordercash"`
	CardName   string `json:"cardname"`
	SporderID  string `json:"sporder_id"`
	OrderID    string `json:"orderid"`
	Phone      string `json:"phone"`
}

type queryResult struct {
	UOrderCash string `json:"uordercash"`
	SporderID  string `json:"sporder_id"`
	GameState  string `json:"game_state"`
}

// reply writes a JSON reply with status 200.
func (s *Sim) reply(ctx *fasthttp.RequestCtx, code int, result any) {
	reason := reasonText(code)
	b, err := json.Marshal(wireReply{Reason: reason, Result: result, ErrorCode: code})
	if err != nil { // cannot happen with these types
		ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetContentType("application/json;charset=utf-8")
	ctx.SetBody(b)
}

func reasonText(code int) string {
	switch code {
	case juhe.CodeOK:
		return reasonAccepted
	case juhe.CodeBadPhone:
		return "错误的手机号码"
	case juhe.CodeNoProduct:
		return "检索不到符合该手机号码的流量套餐"
	case juhe.CodeBadSign:
		return "校验值sign错误"
	case juhe.CodeChannelDown:
		return "渠道暂时不可用"
	case juhe.CodeDuplicateOrder:
		return "重复的订单号"
	case juhe.CodeOrderNotCreated:
		return "订单生成失败"
	case juhe.CodeNoSuchOrder:
		return "订单号错误/不存在"
	case juhe.CodeBadKey:
		return "错误的请求KEY"
	case juhe.CodeSystemError:
		return "系统内部异常"
	}
	return "error"
}

// sleep waits d or until Close; it reports whether the full time passed.
func (s *Sim) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

func validOrderID(id string) bool {
	if len(id) < 8 || len(id) > 32 {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func validPhone(p string) bool {
	if len(p) != 11 || p[0] != '1' {
		return false
	}
	for i := range len(p) {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// submit serves /flow/onlineorder.
func (s *Sim) submit(ctx *fasthttp.RequestCtx) {
	s.received.Add(1)
	phone := string(ctx.FormValue("phone"))
	pid := string(ctx.FormValue("pid"))
	orderID := string(ctx.FormValue("orderid"))
	key := string(ctx.FormValue("key"))
	sign := string(ctx.FormValue("sign"))
	cburl := string(ctx.FormValue("cburl"))

	code, kind, rec, due := s.accept(phone, pid, orderID, key, sign, cburl)
	if due != nil && s.cfg.CallbackBeforeReply {
		if s.sleep(time.Until(due.at)) {
			s.courier.Deliver(due.d)
		} else {
			s.courier.Discard()
		}
	} else if due != nil {
		s.courier.Send(time.Until(due.at), due.d)
	}
	if !s.sleep(s.cfg.ReplyDelay) {
		return
	}
	if code != juhe.CodeOK {
		s.reply(ctx, code, nil)
		return
	}
	switch kind {
	case KindTimeoutAfterSuccess:
		if !s.sleep(s.cfg.ClientTimeout + time.Second) {
			return
		}
	case KindError5xxAfterSuccess:
		ctx.SetStatusCode(fasthttp.StatusBadGateway)
		ctx.SetContentType("text/html")
		ctx.SetBodyString(bad5xxBody)
		return
	}
	s.accepted.Add(1)
	s.reply(ctx, juhe.CodeOK, &submitResult{Pid: pid, UOrderCash: rec.Cost.Yuan3(), CardName: cardName,
		SporderID: rec.SporderID, OrderID: orderID, Phone: phone})
}

// dueCallback is a callback to send at a time.
type dueCallback struct {
	at time.Time
	d  *delivery
}

// accept checks a submission and, for a new orderid, records the order and
// what becomes of it. It returns the reply's error_code, the kind and
// record of a new order, and the callback due, if any (counted as pending).
func (s *Sim) accept(phone, pid, orderID, key, sign, cburl string) (int, Kind, Record, *dueCallback) {
	switch {
	case key != s.cfg.Key:
		s.badKey.Add(1)
		return juhe.CodeBadKey, 0, Record{}, nil
	case sign != juhe.SubmitSign(s.cfg.OpenID, s.cfg.Key, phone, pid, orderID):
		s.badSign.Add(1)
		return juhe.CodeBadSign, 0, Record{}, nil
	case !validOrderID(orderID):
		s.malformed.Add(1)
		return juhe.CodeOrderNotCreated, 0, Record{}, nil
	case !validPhone(phone):
		s.malformed.Add(1)
		return juhe.CodeBadPhone, 0, Record{}, nil
	}
	face, ok := s.cfg.Products[pid]
	if !ok {
		s.unknownPid.Add(1)
		return juhe.CodeNoProduct, 0, Record{}, nil
	}
	kind := Decide(s.cfg.Mix, s.cfg.Seed, phone)
	now := time.Now()

	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.orders[orderID]; ok {
		if s.records[o.rec].Created {
			s.duplicates++
			return juhe.CodeDuplicateOrder, 0, Record{}, nil
		}
		// A refused orderid created nothing; it is refused again the same way.
		return refusal(s.records[o.rec].Kind), 0, Record{}, nil
	}
	rec := Record{OrderID: orderID, Phone: phone, Pid: pid, Kind: kind, Created: kind.Creates(), Recharged: kind.Recharged()}
	o := &order{rec: len(s.records)}
	if rec.Created {
		s.seq++
		rec.SporderID = fmt.Sprintf("F%s%011d", now.Format("060102150405"), s.seq)
		rec.Cost = engine.ChargeFor(face, s.cfg.CostPermille)
		o.resultAt = now.Add(s.latency.Draw())
		o.sta = "9"
		if rec.Recharged {
			o.sta = "1"
		}
	}
	if rec.Recharged {
		s.recharges[phone]++
	}
	s.records = append(s.records, rec)
	s.orders[orderID] = o
	if !rec.Created {
		return refusal(kind), kind, rec, nil
	}
	var due *dueCallback
	if s.cfg.Callbacks && cburl != "" {
		u, err := callbackURL(cburl, s.cfg.Key, rec.SporderID, orderID, o.sta)
		switch {
		case err != nil:
			s.log.Debug("juhesim: no callback", "orderid", orderID, "err", err)
		case !s.courier.Admit(): // MaxPending reached: counted as dropped
		default:
			copies := 1
			if s.cfg.DuplicateCallbacks {
				copies = 2
			}
			due = &dueCallback{at: o.resultAt.Add(s.cfg.LateCallbackDelay), d: &delivery{s: s, rec: o.rec, url: u, copies: copies}}
		}
	}
	switch kind {
	case KindUncertain10014:
		return juhe.CodeSystemError, kind, rec, due
	case KindDuplicate210508:
		return juhe.CodeDuplicateOrder, kind, rec, due
	}
	return juhe.CodeOK, kind, rec, due
}

// refusal is the error_code of a kind that creates no order.
func refusal(k Kind) int {
	if k == KindFailTarget {
		return juhe.CodeBadPhone
	}
	return juhe.CodeChannelDown
}

// callbackURL is cburl with the callback's query arguments added.
func callbackURL(cburl, key, sporderID, orderID, sta string) (string, error) {
	u, err := url.Parse(cburl)
	if err != nil {
		return "", fmt.Errorf("cburl: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("cburl %q is not an absolute http URL", cburl)
	}
	var a fasthttp.Args
	a.Add("sporder_id", sporderID)
	a.Add("orderid", orderID)
	a.Add("sta", sta)
	a.Add("sign", juhe.CallbackSign(key, sporderID, orderID))
	sep := "?"
	if strings.Contains(cburl, "?") {
		sep = "&"
	}
	return cburl + sep + a.String(), nil
}

// query serves /flow/ordersta.
func (s *Sim) query(ctx *fasthttp.RequestCtx) {
	s.queries.Add(1)
	if string(ctx.FormValue("key")) != s.cfg.Key {
		s.badKey.Add(1)
		s.reply(ctx, juhe.CodeBadKey, nil)
		return
	}
	orderID := string(ctx.FormValue("orderid"))
	s.mu.Lock()
	o, ok := s.orders[orderID]
	var rec Record
	if ok {
		rec = s.records[o.rec]
	}
	s.mu.Unlock()
	if !ok || !rec.Created {
		s.queriesUnknown.Add(1)
		s.reply(ctx, juhe.CodeNoSuchOrder, nil)
		return
	}
	state := "0"
	if !time.Now().Before(o.resultAt) {
		state = o.sta
	}
	b, err := json.Marshal(wireReply{Reason: reasonQueried, ErrorCode: juhe.CodeOK,
		Result: &queryResult{UOrderCash: rec.Cost.Yuan3(), SporderID: rec.SporderID, GameState: state}})
	if err != nil {
		ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetContentType("application/json;charset=utf-8")
	ctx.SetBody(b)
}

// Push makes one attempt at the callback.
func (d *delivery) Push() error {
	err := d.s.push(d.url)
	if err != nil {
		d.s.log.Debug("juhesim: callback", "err", err)
	}
	return err
}

// Next counts a delivery on the record and moves on to the duplicate copy,
// if one is due.
func (d *delivery) Next(delivered bool) (time.Duration, bool) {
	if delivered {
		d.s.mu.Lock()
		d.s.records[d.rec].CallbacksDelivered++
		d.s.mu.Unlock()
	}
	d.copies--
	return 0, d.copies > 0
}

// push sends one callback and waits for a 2xx with a non-empty body.
func (s *Sim) push(u string) error {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(u)
	req.Header.SetMethod(fasthttp.MethodGet)
	if err := s.cb.DoTimeout(req, resp, s.cfg.CallbackTimeout); err != nil {
		return fmt.Errorf("juhesim: callback: %w", err)
	}
	if st := resp.StatusCode(); st < 200 || st > 299 || len(resp.Body()) == 0 {
		return fmt.Errorf("juhesim: callback: status %d, %d-byte answer", st, len(resp.Body()))
	}
	return nil
}
