// Package sockmodsim simulates a socket module (a supplier speaking the
// specs/003 protocol) for integration tests, the bench harness and
// `make run`.
//
// The simulator accepts orders on short TCP connections, answers each with a
// signed ack, and later pushes a signed result callback to the engine,
// resending until the engine answers OK. What happens to an order is decided
// by Decide from the phone number, so a test knows every order's fate in
// advance. It keeps counts and a record per order for assertions.
//
// Everything is bounded: concurrent order connections (MaxConns), callbacks
// waiting for their time (MaxPending) and the goroutines that deliver them
// (Senders).
package sockmodsim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"topup/bench/simkit"
	"topup/engine"
	"topup/transports/sockmod"
)

// Texts the simulator sends.
const (
	detailReceived   = "定单已接收"
	detailBadSign    = "签名错误"
	detailSuccess    = "充值成功"
	detailFail       = "充值失败"
	detailUncertain  = "充值结果不确定"
	detailEmpty      = "空号"
	userEmpty        = "号码为空号"
	startBalance     = engine.Fen(1_000_000_00) // 1,000,000.000 yuan
	costPermille     = 985
	orderReadTimeout = 10 * time.Second
)

// Config configures a simulator. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	// Listen is the module's listen address, e.g. 127.0.0.1:60001 (port 0
	// picks a free port).
	Listen string
	// MD5Key is the key shared with the engine.
	MD5Key string
	// CallbackAddr is where results are pushed. Empty: the IP the order came
	// from, port CallbackPort (as the specification says).
	CallbackAddr string
	// CallbackPort is the engine's callback port when CallbackAddr is empty
	// (default 50899).
	CallbackPort int
	// Mix weighs the outcomes (see Decide). All zero: all success.
	Mix Mix
	// Seed feeds Decide and the latency jitter.
	Seed uint64
	// Latency is the delay between the ack and the first result callback;
	// Jitter spreads it uniformly over Latency±Jitter.
	Latency, Jitter time.Duration
	// AckRetCode is the ack's retCode, normally 0. With 0 or 2 results
	// follow by callback as the Mix decides. With 1 the ack itself is the
	// success (recorded as KindSuccess) and with 3 the failure (recorded as
	// KindFail); no callback follows either.
	AckRetCode int
	// CallbackRetries is how many times a callback is resent until the
	// engine answers OK (default 5; negative: never resend).
	CallbackRetries int
	// CallbackRetryInterval spaces the resends (default 1s).
	CallbackRetryInterval time.Duration
	// CallbackTimeout bounds one callback delivery, connect to OK
	// (default 10s).
	CallbackTimeout time.Duration
	// UncertainFollowUp: for KindUncertain, after the retCode 2 callback,
	// the true final result (success) is sent after this delay; 0 = never.
	UncertainFollowUp time.Duration
	// MaxPending bounds the orders with callbacks still to deliver (default
	// 1,000,000). Beyond it callbacks are dropped and counted.
	MaxPending int
	// MaxConns bounds concurrent order connections (default 4096); further
	// connections wait in the listen backlog.
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
		CallbackPort:          sockmod.DefaultCallbackPort,
		Mix:                   Mix{Success: 1},
		CallbackRetries:       5,
		CallbackRetryInterval: time.Second,
		CallbackTimeout:       10 * time.Second,
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
	if c.CallbackPort == 0 {
		c.CallbackPort = d.CallbackPort
	}
	if c.Mix.Total() == 0 {
		c.Mix = d.Mix
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
	if c.MD5Key == "" {
		errs = append(errs, errors.New("sockmodsim: MD5Key is empty"))
	}
	if err := c.Mix.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("sockmodsim: %w", err))
	}
	if c.CallbackPort < 0 || c.CallbackPort > 65535 {
		errs = append(errs, fmt.Errorf("sockmodsim: CallbackPort %d out of range", c.CallbackPort))
	}
	if c.CallbackAddr != "" {
		if _, _, err := net.SplitHostPort(c.CallbackAddr); err != nil {
			errs = append(errs, fmt.Errorf("sockmodsim: CallbackAddr: %w", err))
		}
	}
	if c.Latency < 0 || c.Jitter < 0 || c.UncertainFollowUp < 0 {
		errs = append(errs, errors.New("sockmodsim: Latency, Jitter and UncertainFollowUp must not be negative"))
	}
	if c.AckRetCode < 0 || c.AckRetCode > 3 {
		errs = append(errs, fmt.Errorf("sockmodsim: AckRetCode %d is not 0..3", c.AckRetCode))
	}
	return errors.Join(errs...)
}

// Record is what the simulator did with one order (the first time its
// chargeId arrived).
type Record struct {
	ChargeID   int64
	ChargeAcct string
	Cash       engine.Fen
	Kind       Kind
	// CallbackDelivered: every callback the order was due got an OK from
	// the engine.
	CallbackDelivered bool
}

// Stats are the simulator's counters.
type Stats struct {
	// Received counts complete frames read from order connections.
	Received int `json:"received"`
	// BadSign counts orders refused for a wrong signature (ack retCode 3).
	BadSign int `json:"bad_sign"`
	// Malformed counts connections that sent no decodable order.
	Malformed int `json:"malformed"`
	// Acked counts validly signed orders answered with an ack (counted
	// before the ack is written).
	Acked int `json:"acked"`
	// Counts are the result-callback counters (sent, OK, failed,
	// abandoned, dropped, pending).
	simkit.Counts
	// DuplicateChargeIDs counts orders whose chargeId had been received
	// before. They are acked (retCode 0) and otherwise ignored: the module
	// recharges once per chargeId.
	DuplicateChargeIDs int `json:"duplicate_charge_ids"`
	// SuccessByAcct is the number of recharges actually made per chargeAcct
	// (orders whose Kind is Recharged).
	SuccessByAcct map[string]int `json:"success_by_acct,omitempty"`
}

// Sim is a running simulator.
type Sim struct {
	cfg Config
	ln  net.Listener
	log *slog.Logger

	done    chan struct{}
	wg      sync.WaitGroup // accept loop, order connections
	connSem chan struct{}
	courier *simkit.Courier
	latency *simkit.Latency

	balance atomic.Int64 // fen

	mu            sync.Mutex
	records       []Record
	byID          map[int64]int
	successByAcct map[string]int
	duplicates    int

	received, badSign, malformed, acked atomic.Int64
	closeOnce                           sync.Once
}

// delivery is the callbacks still due for one order, sent in sequence: a
// simkit.Callback.
type delivery struct {
	s      *Sim
	rec    int // index into records
	addr   string
	frames [][]byte
	step   int
	allOK  bool
}

// Start validates cfg, listens and serves until Close.
func Start(cfg Config) (*Sim, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("sockmodsim: listen: %w", err)
	}
	s := &Sim{
		cfg:           cfg,
		ln:            ln,
		log:           cfg.Logger,
		done:          make(chan struct{}),
		connSem:       make(chan struct{}, cfg.MaxConns),
		latency:       simkit.NewLatency(cfg.Latency, cfg.Jitter, cfg.Seed, 0x5eed),
		byID:          make(map[int64]int),
		successByAcct: make(map[string]int),
	}
	s.courier = simkit.StartCourier(simkit.CourierConfig{Senders: cfg.Senders, MaxPending: cfg.MaxPending,
		Retries: cfg.CallbackRetries, RetryInterval: cfg.CallbackRetryInterval}, s.done)
	s.balance.Store(int64(startBalance))
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the address the simulator listens on, host:port.
func (s *Sim) Addr() string { return s.ln.Addr().String() }

// Close stops accepting orders, finishes the connections in progress and
// stops delivering callbacks; callbacks not yet sent are abandoned silently.
func (s *Sim) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		err = s.ln.Close()
		s.wg.Wait()
		s.courier.Wait()
	})
	if err != nil {
		return fmt.Errorf("sockmodsim: close: %w", err)
	}
	return nil
}

// Stats returns a snapshot of the counters.
func (s *Sim) Stats() Stats {
	st := Stats{
		Counts:    s.courier.Counts(),
		Received:  int(s.received.Load()),
		BadSign:   int(s.badSign.Load()),
		Malformed: int(s.malformed.Load()),
		Acked:     int(s.acked.Load()),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.DuplicateChargeIDs = s.duplicates
	st.SuccessByAcct = make(map[string]int, len(s.successByAcct))
	for k, v := range s.successByAcct {
		st.SuccessByAcct[k] = v
	}
	return st
}

// Records returns a copy of the per-order records, in arrival order.
func (s *Sim) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.records...)
}

func (s *Sim) accept() {
	defer s.wg.Done()
	for {
		select {
		case s.connSem <- struct{}{}:
		case <-s.done:
			return
		}
		c, err := s.ln.Accept()
		if err != nil {
			<-s.connSem
			select {
			case <-s.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Warn("sockmodsim: accept", "err", err)
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.connSem }()
			s.serveOrder(c)
		}()
	}
}

// readFrame reads one frame (sockmod.FrameEnd) from c. On error it returns
// the bytes read so far.
func readFrame(c net.Conn) ([]byte, error) {
	buf := make([]byte, 0, 1024)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch end := sockmod.FrameEnd(buf); {
		case end > 0:
			return buf[:end], nil
		case end < 0:
			return buf, sockmod.ErrFrame
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
}

func (s *Sim) serveOrder(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(orderReadTimeout))
	frame, err := readFrame(c)
	if err != nil {
		if len(frame) > 0 { // a silent connection (a port probe) is not counted
			s.malformed.Add(1)
		}
		return
	}
	s.received.Add(1)
	o, err := sockmod.DecodeOrder(frame)
	if err != nil {
		s.malformed.Add(1)
		return
	}
	if !o.VerifySign(s.cfg.MD5Key) {
		s.badSign.Add(1)
		s.writeAck(c, sockmod.Ack{ChargeID: o.ChargeID, RetCode: sockmod.RetFailed, RetDetail: detailBadSign, RetRsn: o.RetRsn})
		return
	}

	kind := Decide(s.cfg.Mix, s.cfg.Seed, o.ChargeAcct)
	switch s.cfg.AckRetCode {
	case sockmod.RetSuccess:
		kind = KindSuccess
	case sockmod.RetFailed:
		kind = KindFail
	}
	idx, dup := s.record(o, kind)
	ackDetail := detailReceived
	if !dup && s.cfg.AckRetCode == sockmod.RetFailed {
		ackDetail = detailFail
	}
	s.acked.Add(1)
	s.writeAck(c, sockmod.Ack{ChargeID: o.ChargeID, RetCode: s.cfg.AckRetCode, RetDetail: ackDetail, RetRsn: o.RetRsn})
	if dup || s.cfg.AckRetCode == sockmod.RetSuccess || s.cfg.AckRetCode == sockmod.RetFailed {
		return
	}
	frames, err := s.results(o, kind)
	if err != nil {
		s.log.Warn("sockmodsim: encode result", "chargeId", o.ChargeID, "err", err)
		return
	}
	if len(frames) == 0 {
		return
	}
	addr := s.cfg.CallbackAddr
	if addr == "" {
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		addr = net.JoinHostPort(host, strconv.Itoa(s.cfg.CallbackPort))
	}
	if s.courier.Admit() {
		s.courier.Send(s.latency.Draw(), &delivery{s: s, rec: idx, addr: addr, frames: frames, allOK: true})
	}
}

// record notes a validly signed order; dup reports a repeated chargeId.
func (s *Sim) record(o sockmod.Order, kind Kind) (idx int, dup bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.byID[o.ChargeID]; ok {
		s.duplicates++
		return i, true
	}
	s.records = append(s.records, Record{ChargeID: o.ChargeID, ChargeAcct: o.ChargeAcct, Cash: o.ChargeCash, Kind: kind})
	idx = len(s.records) - 1
	s.byID[o.ChargeID] = idx
	if kind.Recharged() {
		s.successByAcct[o.ChargeAcct]++
	}
	return idx, false
}

// writeAck answers an order. A failed write is the engine's problem (it sees
// an uncertain submission); the simulator carries on as a module would.
func (s *Sim) writeAck(c net.Conn, a sockmod.Ack) {
	frame, err := sockmod.EncodeAck(a, s.cfg.MD5Key)
	if err != nil {
		s.log.Warn("sockmodsim: encode ack", "chargeId", a.ChargeID, "err", err)
		return
	}
	_, _ = c.Write(frame)
}

// results builds the callbacks due for an order of this kind, in order.
func (s *Sim) results(o sockmod.Order, kind Kind) ([][]byte, error) {
	success := func(cash engine.Fen) sockmod.Result {
		cost := engine.ChargeFor(cash, costPermille)
		bal := engine.Fen(s.balance.Add(-int64(cost)))
		return sockmod.Result{ChargeID: o.ChargeID, RetCode: sockmod.RetSuccess, RetDetail: detailSuccess,
			RetRsn: o.RetRsn, RetCost: cost, RetBalance: bal, RetCash: cash}
	}
	var rs []sockmod.Result
	switch kind {
	case KindSuccess:
		rs = append(rs, success(o.ChargeCash))
	case KindPartial:
		rs = append(rs, success(o.ChargeCash/2))
	case KindFail:
		rs = append(rs, sockmod.Result{ChargeID: o.ChargeID, RetCode: sockmod.RetFailed, RetDetail: detailFail,
			RetRsn: o.RetRsn, RetBalance: engine.Fen(s.balance.Load())})
	case KindFailTarget:
		rs = append(rs, sockmod.Result{ChargeID: o.ChargeID, RetCode: sockmod.RetFailed, RetDetail: detailEmpty,
			RetRsn: o.RetRsn, UserContent: userEmpty, RetBalance: engine.Fen(s.balance.Load())})
	case KindUncertain:
		rs = append(rs, sockmod.Result{ChargeID: o.ChargeID, RetCode: sockmod.RetUncertain, RetDetail: detailUncertain,
			RetRsn: o.RetRsn, RetBalance: engine.Fen(s.balance.Load())})
		truth := success(o.ChargeCash) // recharged now, reported later
		if s.cfg.UncertainFollowUp > 0 {
			rs = append(rs, truth)
		}
	case KindNoCallback:
		success(o.ChargeCash) // recharged; the callback is lost
	}
	frames := make([][]byte, 0, len(rs))
	for _, r := range rs {
		f, err := sockmod.EncodeResult(r, s.cfg.MD5Key)
		if err != nil {
			return nil, err
		}
		frames = append(frames, f)
	}
	return frames, nil
}

// Push sends the current callback frame.
func (d *delivery) Push() error { return d.s.push(d.addr, d.frames[d.step]) }

// Next moves on to the follow-up, if any, UncertainFollowUp later; after
// the last frame it marks the record delivered if every frame was.
func (d *delivery) Next(delivered bool) (time.Duration, bool) {
	d.allOK = d.allOK && delivered
	d.step++
	if d.step < len(d.frames) {
		return d.s.cfg.UncertainFollowUp, true
	}
	if d.allOK {
		d.s.mu.Lock()
		d.s.records[d.rec].CallbackDelivered = true
		d.s.mu.Unlock()
	}
	return 0, false
}

// push sends one callback frame and waits for the engine's OK.
func (s *Sim) push(addr string, frame []byte) error {
	c, err := net.DialTimeout("tcp", addr, s.cfg.CallbackTimeout)
	if err != nil {
		return fmt.Errorf("sockmodsim: callback to %s: %w", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(s.cfg.CallbackTimeout))
	if _, err := c.Write(frame); err != nil {
		return fmt.Errorf("sockmodsim: callback to %s: %w", addr, err)
	}
	var buf [64]byte
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if reply := bytes.TrimSpace(buf[:n]); bytes.EqualFold(reply, []byte("OK")) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sockmodsim: callback to %s: answer %q: %w", addr, buf[:n], err)
		}
	}
	return fmt.Errorf("sockmodsim: callback to %s: answer %q is not OK", addr, buf[:n])
}
