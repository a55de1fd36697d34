// Package dingyinsim simulates a Dingyin supplier (specs/001 and the
// assumptions in package transports/dingyin) for tests, the bench harness
// and topupsim: it takes submissions on /gameonlinepay.do, answers status
// queries on /searchpay.do and balance queries on /searchbalance.do, and
// posts signed result callbacks to back_url.
//
// What happens to an order is decided by Decide from the account, so a test
// knows every order's fate in advance:
//
//	kind                    submit answer             order   recharged  final result
//	success                 0                         yes     yes        1
//	fail                    0                         yes     no         9
//	uncertain9999           9999                      yes     yes        1
//	duplicate5006           5006                      yes     no         9
//	timeout_after_success   0, after the client's     yes     yes        1
//	                        time-out (2×ClientTimeout)
//	error5xx_after_success  HTTP 500                  yes     yes        1
//	low_balance5002         5002                      no      no         -
//	reject5003              5003                      no      no         -
//
// Before anything else a submission is checked: wrong userid 5001, bad sign
// 5005, a missing or malformed field 5004, an unknown productid 5003, and a
// sporderid seen before 5006 (the order is not recharged again). A recharge
// that the balance cannot cover is answered 5002 whatever its kind.
//
// A status query answers 5007 for NotFoundFor after submission (and for
// orders that do not exist), then 2 until the order's result is due
// (Latency±Jitter after submission), then the final result. Balance is
// charged (face value × num × 98.5%) when a recharging order is created.
//
// Callbacks waiting for their time (MaxPending), the goroutines delivering
// them (Senders) and request bodies (64 KiB) are bounded. Orders and records
// are kept for the simulator's life (a few hundred bytes each), which suits
// tests and bench runs, not a long-lived process.
package dingyinsim

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/text/encoding/simplifiedchinese"

	"topup/bench/simkit"
	"topup/engine"
	"topup/transports/dingyin"
)

// Texts and numbers the simulator uses.
const (
	productName    = "话费直充"
	remarkSuccess  = "充值成功"
	remarkFail     = "充值失败"
	costPermille   = 985
	defaultBalance = engine.Fen(1_000_000_00) // 1,000,000.00 yuan
	defaultFace    = engine.Fen(1000)         // 10 yuan
	maxBody        = 64 << 10
	dupCallbackGap = 20 * time.Millisecond
	shutdownWait   = 5 * time.Second
)

// Config configures a simulator. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	// Listen is the address to serve on, e.g. 127.0.0.1:9086 (port 0 picks
	// a free port).
	Listen string
	// UserID is the merchant number the engine must send.
	UserID string
	// Key is the signing key shared with the engine.
	Key string
	// Mix weighs the outcomes (see Decide). All zero: all success.
	Mix Mix
	// Seed feeds Decide and the latency jitter.
	Seed uint64
	// Latency is the time from submission to the order's final result;
	// Jitter spreads it uniformly over Latency±Jitter.
	Latency, Jitter time.Duration
	// ReplyDelay delays every submit answer.
	ReplyDelay time.Duration
	// ClientTimeout is the engine's time-out; timeout_after_success orders
	// are answered after twice this (default 10s).
	ClientTimeout time.Duration
	// Callbacks: post the final result to back_url when a submission gives
	// one.
	Callbacks bool
	// DuplicateCallbacks: post every callback a second time once it was
	// answered OK.
	DuplicateCallbacks bool
	// LateCallbackDelay: callbacks go this long after the result is final
	// (queries see it first).
	LateCallbackDelay time.Duration
	// CallbackBeforeReply: the result is final at once and its callback is
	// posted (one attempt, then resends as usual) before the submission is
	// answered.
	CallbackBeforeReply bool
	// NotFoundFor: searchpay answers 5007 for this long after submission.
	NotFoundFor time.Duration
	// Balance is the starting supplier balance (default 1,000,000.00 yuan).
	Balance engine.Fen
	// Products maps productid to face value (default {"": 10.00 yuan}).
	// Unknown productids are answered 5003.
	Products map[string]engine.Fen
	// CallbackRetries is how many times a callback is resent until it is
	// answered OK (default 3; negative: never).
	CallbackRetries int
	// CallbackRetryInterval spaces the resends (default 1s).
	CallbackRetryInterval time.Duration
	// CallbackTimeout bounds one callback delivery (default 5s).
	CallbackTimeout time.Duration
	// MaxPending bounds the callbacks still to deliver (default 100,000);
	// beyond it callbacks are dropped and counted.
	MaxPending int
	// Senders is the number of goroutines delivering callbacks (default 16).
	Senders int
	// Logger receives warnings (default slog.Default()).
	Logger *slog.Logger
}

// DefaultConfig is the configuration Start completes zero fields from.
func DefaultConfig() Config {
	return Config{
		Listen:                "127.0.0.1:0",
		Mix:                   Mix{Success: 1},
		ClientTimeout:         dingyin.DefaultTimeout,
		Balance:               defaultBalance,
		Products:              map[string]engine.Fen{"": defaultFace},
		CallbackRetries:       3,
		CallbackRetryInterval: time.Second,
		CallbackTimeout:       5 * time.Second,
		MaxPending:            100_000,
		Senders:               16,
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
	if c.ClientTimeout == 0 {
		c.ClientTimeout = d.ClientTimeout
	}
	if c.Balance == 0 {
		c.Balance = d.Balance
	}
	if len(c.Products) == 0 {
		c.Products = d.Products
	} else {
		p := make(map[string]engine.Fen, len(c.Products))
		for k, v := range c.Products {
			p[k] = v
		}
		c.Products = p
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
	if c.UserID == "" {
		errs = append(errs, errors.New("dingyinsim: UserID is empty"))
	}
	if c.Key == "" {
		errs = append(errs, errors.New("dingyinsim: Key is empty"))
	}
	for _, f := range [...][2]string{{"UserID", c.UserID}, {"Key", c.Key}} {
		if _, err := simplifiedchinese.GBK.NewEncoder().String(f[1]); err != nil {
			errs = append(errs, fmt.Errorf("dingyinsim: %s is not representable in GBK", f[0]))
		}
	}
	if err := c.Mix.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("dingyinsim: %w", err))
	}
	if c.Latency < 0 || c.Jitter < 0 || c.ReplyDelay < 0 || c.ClientTimeout < 0 || c.LateCallbackDelay < 0 || c.NotFoundFor < 0 {
		errs = append(errs, errors.New("dingyinsim: durations must not be negative"))
	}
	if c.Balance < 0 {
		errs = append(errs, fmt.Errorf("dingyinsim: Balance %d is negative", c.Balance))
	}
	for p, f := range c.Products {
		if f <= 0 {
			errs = append(errs, fmt.Errorf("dingyinsim: product %q has face value %d", p, f))
		}
	}
	return errors.Join(errs...)
}

// Record is what the simulator did with one submission of a new sporderid
// (validly signed and well formed).
type Record struct {
	SporderID string
	// OrderID is the simulator's order number, "" when no order was created.
	OrderID   string
	Account   string
	ProductID string
	Num       int
	// Cost is what the order costs (face value × num × 98.5%).
	Cost engine.Fen
	// Kind is what Decide chose for the account. A recharge the balance
	// cannot cover is answered 5002 whatever the kind (Created false).
	Kind Kind
	// ResultNo is the submit answer's resultno ("" for HTTP 500).
	ResultNo string
	// Created: an order exists that status queries find.
	Created bool
	// Recharged: the account was recharged (and the balance charged).
	Recharged bool
	// CallbackDelivered: a callback for the order was answered OK.
	CallbackDelivered bool
	SubmittedAt       time.Time
}

// Stats are the simulator's counters.
type Stats struct {
	// Received counts submissions (every request to gameonlinepay.do).
	Received int `json:"received"`
	// BadSign counts requests of any kind refused for a wrong sign (5005).
	BadSign int `json:"bad_sign"`
	// Duplicates counts submissions of a sporderid that already had an order
	// (answered 5006, not recharged again).
	Duplicates int `json:"duplicates"`
	// Queries counts status queries.
	Queries int `json:"queries"`
	// BalanceQueries counts balance queries.
	BalanceQueries int `json:"balance_queries"`
	// Counts are the result-callback counters (sent, OK, failed,
	// abandoned, dropped, pending).
	simkit.Counts
	// Balance is the current supplier balance.
	Balance engine.Fen `json:"balance"`
	// RechargesByAccount is the number of recharges made per account.
	RechargesByAccount map[string]int `json:"recharges_by_account,omitempty"`
}

// order is a created order. Its fields do not change after creation.
type order struct {
	rec         int // index into Sim.records
	sporderID   string
	orderID     string
	account     string
	productID   string
	spordertime string
	num         int
	face, cost  engine.Fen
	kind        Kind
	submitted   time.Time
	finalAt     time.Time // when queries start showing finalNo
	finalNo     string    // dingyin.CodeSuccess or dingyin.CodeFailed
	backURL     string
}

// delivery is one callback still to deliver: a simkit.Callback.
type delivery struct {
	s    *Sim
	rec  int
	url  string
	body []byte
	dups int // further copies to send after an OK
}

// Sim is a running simulator.
type Sim struct {
	cfg    Config
	log    *slog.Logger
	ln     net.Listener
	srv    *fasthttp.Server
	served chan error
	cb     *fasthttp.Client
	key    []byte // GBK

	done    chan struct{}
	courier *simkit.Courier
	latency *simkit.Latency

	mu        sync.Mutex
	orders    map[string]*order
	records   []Record
	recharges map[string]int
	balance   engine.Fen
	seq       uint64

	received, badSign, duplicates, queries, balanceQueries atomic.Int64
	closeOnce                                              sync.Once
	closeErr                                               error
}

// Start validates cfg, listens and serves until Close.
func Start(cfg Config) (*Sim, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(cfg.Key))
	if err != nil {
		return nil, fmt.Errorf("dingyinsim: key: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("dingyinsim: listen: %w", err)
	}
	s := &Sim{
		cfg:    cfg,
		log:    cfg.Logger,
		ln:     ln,
		served: make(chan error, 1),
		key:    key,
		cb: &fasthttp.Client{
			Name:                   "dingyinsim",
			ReadTimeout:            cfg.CallbackTimeout,
			WriteTimeout:           cfg.CallbackTimeout,
			MaxConnWaitTimeout:     cfg.CallbackTimeout,
			MaxConnsPerHost:        cfg.Senders * 2,
			MaxResponseBodySize:    4 << 10,
			DisablePathNormalizing: true,
		},
		done:      make(chan struct{}),
		latency:   simkit.NewLatency(cfg.Latency, cfg.Jitter, cfg.Seed, 0xd1),
		orders:    make(map[string]*order),
		recharges: make(map[string]int),
		balance:   cfg.Balance,
	}
	s.srv = &fasthttp.Server{
		Handler:            s.handle,
		Name:               "dingyinsim",
		ReadTimeout:        30 * time.Second,
		WriteTimeout:       30 * time.Second,
		IdleTimeout:        30 * time.Second,
		MaxRequestBodySize: maxBody,
		CloseOnShutdown:    true,
		Logger:             fasthttpLogger{cfg.Logger},
	}
	go func() { s.served <- s.srv.Serve(ln) }()
	s.courier = simkit.StartCourier(simkit.CourierConfig{Senders: cfg.Senders, MaxPending: cfg.MaxPending,
		Retries: cfg.CallbackRetries, RetryInterval: cfg.CallbackRetryInterval}, s.done)
	return s, nil
}

// fasthttpLogger sends fasthttp's messages to slog at debug level.
type fasthttpLogger struct{ l *slog.Logger }

// Printf implements fasthttp.Logger.
func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("dingyinsim: fasthttp: " + fmt.Sprintf(format, args...))
}

// URL is the simulator's base URL, e.g. http://127.0.0.1:9086.
func (s *Sim) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops serving (waking submissions that are being held back) and
// stops delivering callbacks; callbacks not yet delivered are abandoned
// silently.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
		err := s.srv.ShutdownWithContext(ctx)
		cancel()
		_ = s.ln.Close() // in case Serve had not registered it yet
		<-s.served
		s.courier.Wait()
		s.cb.CloseIdleConnections()
		if err != nil {
			s.closeErr = fmt.Errorf("dingyinsim: close: %w", err)
		}
	})
	return s.closeErr
}

// Stats returns a snapshot of the counters.
func (s *Sim) Stats() Stats {
	st := Stats{
		Counts:         s.courier.Counts(),
		Received:       int(s.received.Load()),
		BadSign:        int(s.badSign.Load()),
		Duplicates:     int(s.duplicates.Load()),
		Queries:        int(s.queries.Load()),
		BalanceQueries: int(s.balanceQueries.Load()),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.Balance = s.balance
	st.RechargesByAccount = make(map[string]int, len(s.recharges))
	for k, v := range s.recharges {
		st.RechargesByAccount[k] = v
	}
	return st
}

// Records returns a copy of the per-submission records, in arrival order.
func (s *Sim) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.records...)
}

func (s *Sim) handle(ctx *fasthttp.RequestCtx) {
	args := ctx.QueryArgs()
	if ctx.IsPost() {
		args = ctx.PostArgs()
	}
	switch string(ctx.Path()) {
	case dingyin.SubmitPath:
		s.submit(ctx, args)
	case dingyin.QueryPath:
		s.query(ctx, args)
	case dingyin.BalancePath:
		s.balanceQuery(ctx, args)
	default:
		ctx.Error("not found", fasthttp.StatusNotFound)
	}
}

// sleep waits d or until Close; it reports whether d passed.
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

// signOK checks a received sign against the upper-case MD5 of the raw
// (GBK) request bytes in text followed by the key.
func (s *Sim) signOK(got []byte, text []byte) bool {
	text = append(text, s.key...)
	sum := md5.Sum(text)
	return bytes.EqualFold(got, []byte(hex.EncodeToString(sum[:])))
}

func (s *Sim) submit(ctx *fasthttp.RequestCtx, args *fasthttp.Args) {
	s.received.Add(1)
	p := func(name string) []byte { return args.Peek(name) }
	spo := string(p("sporderid"))
	if string(p("userid")) != s.cfg.UserID {
		s.reply(ctx, "order", kv{"sporderid", spo}, kv{"resultno", dingyin.CodeNoUser})
		return
	}
	var text []byte
	for i, f := range [...]string{"userid", "productid", "num", "areaid", "serverid", "account", "spordertime", "sporderid"} {
		if i > 0 {
			text = append(text, '&')
		}
		text = append(append(append(text, f...), '='), p(f)...)
	}
	if !s.signOK(p("sign"), append(text, "&key="...)) {
		s.badSign.Add(1)
		s.reply(ctx, "order", kv{"sporderid", spo}, kv{"resultno", dingyin.CodeBadSign})
		return
	}
	account := gbkText(p("account"))
	productID := gbkText(p("productid"))
	num, err := strconv.Atoi(string(p("num")))
	if spo == "" || account == "" || err != nil || num < 1 || num > 1000 || !isOrderTime(p("spordertime")) {
		s.reply(ctx, "order", kv{"sporderid", spo}, kv{"resultno", dingyin.CodeBadParam})
		return
	}
	face, ok := s.cfg.Products[productID]
	if !ok {
		s.reply(ctx, "order", kv{"sporderid", spo}, kv{"resultno", dingyin.CodeNoProduct})
		return
	}

	kind := Decide(s.cfg.Mix, s.cfg.Seed, account)
	now := time.Now()
	s.mu.Lock()
	if o := s.orders[spo]; o != nil {
		s.mu.Unlock()
		s.duplicates.Add(1)
		s.reply(ctx, "order", o.fields(dingyin.CodeDuplicate, nil)...)
		return
	}
	rec := Record{SporderID: spo, Account: account, ProductID: productID, Num: num,
		Cost: engine.ChargeFor(face*engine.Fen(num), costPermille), Kind: kind, SubmittedAt: now}
	switch {
	case kind == KindLowBalance5002 || kind.Recharged() && s.balance < rec.Cost:
		rec.ResultNo = dingyin.CodeLowBalance
	case kind == KindReject5003:
		rec.ResultNo = dingyin.CodeNoProduct
	}
	if rec.ResultNo != "" {
		s.records = append(s.records, rec)
		s.mu.Unlock()
		s.reply(ctx, "order", kv{"sporderid", spo}, kv{"account", account}, kv{"resultno", rec.ResultNo})
		return
	}
	s.seq++
	o := &order{
		rec:         len(s.records),
		sporderID:   spo,
		orderID:     "DY" + now.Format("060102") + fmt.Sprintf("%08d", s.seq),
		account:     account,
		productID:   productID,
		spordertime: string(p("spordertime")),
		num:         num,
		face:        face,
		cost:        rec.Cost,
		kind:        kind,
		submitted:   now,
		finalAt:     now.Add(s.latency.Draw()),
		finalNo:     dingyin.CodeFailed,
		backURL:     string(p("back_url")),
	}
	if s.cfg.CallbackBeforeReply {
		o.finalAt = now
	}
	if kind.Recharged() {
		o.finalNo = dingyin.CodeSuccess
		s.balance -= o.cost
		s.recharges[account]++
		rec.Recharged = true
	}
	rec.OrderID, rec.Created = o.orderID, true
	switch kind {
	case KindUncertain9999:
		rec.ResultNo = dingyin.CodeUnknown
	case KindDuplicate5006:
		rec.ResultNo = dingyin.CodeDuplicate
	case KindError5xxAfterSuccess:
	default:
		rec.ResultNo = dingyin.CodeWaiting
	}
	s.records = append(s.records, rec)
	s.orders[spo] = o
	s.mu.Unlock()

	if s.cfg.Callbacks && o.backURL != "" {
		d := s.newDelivery(o)
		if s.courier.Admit() {
			if s.cfg.CallbackBeforeReply {
				s.courier.Deliver(d)
			} else {
				s.courier.Send(time.Until(o.finalAt)+s.cfg.LateCallbackDelay, d)
			}
		}
	}

	wait := s.cfg.ReplyDelay
	if kind == KindTimeoutAfterSuccess {
		wait = max(wait, 2*s.cfg.ClientTimeout)
	}
	s.sleep(wait)
	if kind == KindError5xxAfterSuccess {
		ctx.Error("<html><body><h1>500 Internal Server Error</h1></body></html>", fasthttp.StatusInternalServerError)
		return
	}
	s.reply(ctx, "order", o.fields(rec.ResultNo, nil)...)
}

// isOrderTime reports whether b looks like yyyyMMddHHmmss.
func isOrderTime(b []byte) bool {
	if len(b) != 14 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// gbkText decodes GBK request bytes.
func gbkText(b []byte) string {
	s, err := simplifiedchinese.GBK.NewDecoder().Bytes(b)
	if err != nil {
		return string(b)
	}
	return string(s)
}

// kv is one element of a reply.
type kv struct{ k, v string }

// fields are the order's reply elements with resultno no, and fundbalance
// when bal is given.
func (o *order) fields(no string, bal *engine.Fen) []kv {
	f := []kv{
		{"orderid", o.orderID}, {"productid", o.productID}, {"num", strconv.Itoa(o.num)},
		{"ordercash", dingyin.FormatYuan(o.cost)}, {"productname", productName},
		{"sporderid", o.sporderID}, {"account", o.account}, {"resultno", no},
	}
	if bal != nil {
		f = append(f, kv{"fundbalance", dingyin.FormatYuan(*bal)})
	}
	return f
}

// reply answers with a GB2312 XML document in the style of the
// specification's sample, stray "- " included.
func (s *Sim) reply(ctx *fasthttp.RequestCtx, root string, fields ...kv) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="GB2312" ?>` + "\n- <" + root + ">\n")
	for _, f := range fields {
		b.WriteString("  <" + f.k + ">")
		xmlEscape(&b, f.v)
		b.WriteString("</" + f.k + ">\n")
	}
	b.WriteString("</" + root + ">\n")
	body, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(b.String()))
	if err != nil {
		s.log.Warn("dingyinsim: reply not representable in GBK", "err", err)
		ctx.Error("encoding", fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetContentType("text/xml; charset=GB2312")
	ctx.SetBody(body)
}

func xmlEscape(b *strings.Builder, s string) {
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
}

func (s *Sim) query(ctx *fasthttp.RequestCtx, args *fasthttp.Args) {
	s.queries.Add(1)
	user, spoRaw := args.Peek("userid"), args.Peek("sporderid")
	spo := string(spoRaw)
	if string(user) != s.cfg.UserID {
		s.reply(ctx, "order", kv{"sporderid", spo}, kv{"resultno", dingyin.CodeNoUser})
		return
	}
	text := append(append(append(append([]byte("userid="), user...), "&sporderid="...), spoRaw...), "&key="...)
	if !s.signOK(args.Peek("sign"), text) {
		s.badSign.Add(1)
		s.reply(ctx, "order", kv{"sporderid", spo}, kv{"resultno", dingyin.CodeBadSign})
		return
	}
	s.mu.Lock()
	o := s.orders[spo]
	bal := s.balance
	s.mu.Unlock()
	now := time.Now()
	if o == nil || now.Sub(o.submitted) < s.cfg.NotFoundFor {
		s.reply(ctx, "order", kv{"sporderid", spo}, kv{"resultno", dingyin.CodeNoOrder})
		return
	}
	no := dingyin.CodeInProgress
	if !now.Before(o.finalAt) {
		no = o.finalNo
	}
	s.reply(ctx, "order", o.fields(no, &bal)...)
}

func (s *Sim) balanceQuery(ctx *fasthttp.RequestCtx, args *fasthttp.Args) {
	s.balanceQueries.Add(1)
	user := args.Peek("userid")
	if string(user) != s.cfg.UserID {
		s.reply(ctx, "user", kv{"resultno", dingyin.CodeNoUser})
		return
	}
	if !s.signOK(args.Peek("sign"), append(append([]byte("userid="), user...), "&key="...)) {
		s.badSign.Add(1)
		s.reply(ctx, "user", kv{"resultno", dingyin.CodeBadSign})
		return
	}
	s.mu.Lock()
	bal := s.balance
	s.mu.Unlock()
	s.reply(ctx, "user", kv{"userid", s.cfg.UserID}, kv{"balance", dingyin.FormatYuan(bal)})
}
