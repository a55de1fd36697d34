package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"topup/bench/load"
	"topup/bench/opersim"
	"topup/engine"
)

// Common is what every workload's Config shares.
type Common struct {
	// Target is the engine to run against.
	Target Target `json:"target"`
	// Conns bounds the operator's connections to the engine (default 64);
	// it is also the number of requests in flight at once.
	Conns int `json:"conns"`
	// Suppliers are the simulated suppliers of a started engine, in route
	// order (default: the workload's own set). Ignored for an engine
	// already running.
	Suppliers []Supplier `json:"suppliers,omitempty"`
	// MaxDuration bounds the load phase (default 10m).
	MaxDuration time.Duration `json:"max_duration"`
	// Quiet is how long nothing may move, with the suppliers idle, before
	// the harness resolves orders left without a result (default 3s; it
	// must exceed the suppliers' latency for an engine already running).
	Quiet time.Duration `json:"quiet"`
	// SettleTimeout bounds the wait for callbacks after the load (default 2m).
	SettleTimeout time.Duration `json:"settle_timeout"`
	// Grace is how long the harness keeps listening once every order was
	// called back, to catch a stray second callback (default 1s).
	Grace time.Duration `json:"grace"`
	// RunID prefixes every order_no (default: from the clock), so runs
	// against one engine never collide.
	RunID string `json:"run_id,omitempty"`
	// Logf receives progress lines (nil: silent).
	Logf func(format string, args ...any) `json:"-"`
}

// withDefaults fills the zero fields; defSuppliers is the workload's
// supplier set.
func (c Common) withDefaults(defSuppliers []Supplier) Common {
	if c.Conns == 0 {
		c.Conns = 64
	}
	if len(c.Suppliers) == 0 {
		c.Suppliers = defSuppliers
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = 10 * time.Minute
	}
	if c.Quiet == 0 {
		c.Quiet = 3 * time.Second
	}
	if c.SettleTimeout == 0 {
		c.SettleTimeout = 2 * time.Minute
	}
	if c.Grace == 0 {
		c.Grace = time.Second
	}
	if c.RunID == "" {
		c.RunID = strconv.FormatInt(time.Now().UnixMilli()%(36*36*36*36*36*36), 36)
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

// Validate reports every problem at once.
func (c Common) Validate() error {
	errs := []error{c.Target.Validate()}
	if c.Conns < 1 || c.Conns > 10000 {
		errs = append(errs, fmt.Errorf("bench: Conns %d must be 1..10000", c.Conns))
	}
	if c.MaxDuration <= 0 || c.Quiet <= 0 || c.SettleTimeout <= 0 || c.Grace < 0 {
		errs = append(errs, errors.New("bench: MaxDuration, Quiet and SettleTimeout must be positive, Grace not negative"))
	}
	for _, s := range c.Suppliers {
		errs = append(errs, s.Validate())
	}
	if len(c.RunID) > 16 || !validIDPart(c.RunID) {
		errs = append(errs, fmt.Errorf("bench: RunID %q: up to 16 letters or digits", c.RunID))
	}
	return errors.Join(errs...)
}

func validIDPart(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// faceValues are the face values the harness orders, in turn.
func faceValue(i int) engine.Fen {
	return [...]engine.Fen{1000, 2000, 5000, 10000}[i%4]
}

// OrderFor is order i of a run: order_no "b<run>-<i>", a distinct mobile
// number per i (below 1e9), carriers and face values in turn (1000, 2000,
// 5000, 10000 fen), order type 1. The ceilings send the same bodies.
func OrderFor(runID string, i int, notifyURL string) opersim.Order {
	return opersim.Order{
		OrderNo:    orderNo(runID, i),
		OrderType:  1,
		MobileType: 1 + i%3,
		Phone:      fmt.Sprintf("13%09d", i%1_000_000_000),
		FaceValue:  faceValue(i),
		NotifyURL:  notifyURL,
	}
}

// orderNo is the order_no of order i of a run.
func orderNo(runID string, i int) string { return "b" + runID + "-" + strconv.Itoa(i) }

// answerState is what an order's answers say about it.
type answerState uint8

const (
	answerNone     answerState = iota
	answerAccepted             // a 200 Success
	answerRejected             // a definite refusal and no success
	answerUnknown              // only time-outs, transport errors or transient refusals
)

// slot is the harness's record of one order.
type slot struct {
	mu       sync.Mutex
	state    answerState
	sentAt   int64  // unix ns of the first (intended) send
	first    string // the first definite answer, "status/code/count/reason"
	differ   string // a later definite answer that differs, if any
	found    bool   // an unknown order found in the engine afterwards
	resolved bool   // resolved "failed" by the harness
}

// run is one workload run in progress.
type run struct {
	name   string
	c      Common
	rig    *rig
	n      int
	slots  []slot
	result Result

	requests atomic.Int64
	mu       sync.Mutex
	reasons  map[string]int

	loadStart time.Time
	usage     *sampler
	redisUse  *sampler
	began     time.Time
	before    int64
	funded    int64
}

// begin validates, sets up the rig and funds the merchant for n orders.
func begin(ctx context.Context, name string, c Common, n int, cfg any) (*run, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	r := &run{name: name, c: c, n: n, slots: make([]slot, n), reasons: map[string]int{}, began: time.Now()}
	r.result = Result{Workload: name, Config: cfg, Started: r.began, Target: "external"}
	if c.Target.Spawned() {
		r.result.Target = "started"
		for _, s := range c.Suppliers {
			d := s.Latency + s.Jitter + s.FollowUp
			r.result.SupplierDelayMs = max(r.result.SupplierDelayMs, float64(d.Microseconds())/1000)
		}
	}
	c.Logf("%s: setting up (%s engine)", name, r.result.Target)
	rg, err := newRig(ctx, c.Target, c.Suppliers, c.Conns)
	if err != nil {
		return nil, err
	}
	r.rig = rg
	m, err := rg.admin.merchant(ctx, rg.uid)
	if err != nil {
		return nil, errors.Join(err, rg.close())
	}
	r.before = m.Balance
	for i := range n {
		r.funded += int64(engine.ChargeFor(faceValue(i), rg.price))
	}
	r.funded += 100_00 // a margin: the check is exact either way
	if err := rg.admin.fund(ctx, rg.uid, r.funded, "bench-"+c.RunID+"-"+name); err != nil {
		return nil, errors.Join(err, rg.close())
	}
	return r, nil
}

// order is order i of this run.
func (r *run) order(i int) opersim.Order { return OrderFor(r.c.RunID, i, r.rig.tap.url()) }

// startLoad starts the resource samplers and marks the load's start.
func (r *run) startLoad() {
	r.usage = startSampler(r.rig.enginePID(), 250*time.Millisecond)
	r.redisUse = startSampler(r.rig.redisPID, time.Second)
	r.loadStart = time.Now()
}

// transportReason names a request that got no answer.
func transportReason(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no_free_conns"
	case errors.Is(err, opersim.ErrReply):
		return "bad_reply"
	}
	return "transport"
}

// push sends copy k of order i (copies alternate form and JSON bodies) and
// records its answer.
func (r *run) push(ctx context.Context, i, k int, intended time.Time) load.Outcome {
	a, err := r.rig.op.PlaceOrder(ctx, r.order(i), (i+k)%2 == 1)
	r.requests.Add(1)
	out := r.note(i, intended, a, err)
	if !out.OK {
		r.mu.Lock()
		r.reasons[out.Reason]++
		r.mu.Unlock()
	}
	return out
}

// note records an answer in order i's slot.
func (r *run) note(i int, intended time.Time, a opersim.Answer, err error) load.Outcome {
	s := &r.slots[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := intended.UnixNano(); s.sentAt == 0 || t < s.sentAt {
		s.sentAt = t
	}
	unknown := func(reason string) load.Outcome {
		if s.state == answerNone {
			s.state = answerUnknown
		}
		return load.Outcome{Reason: reason}
	}
	if err != nil {
		return unknown(transportReason(err))
	}
	if a.HTTPStatus == http.StatusServiceUnavailable {
		reason := a.Reason
		if reason == "" {
			reason = "http_503"
		}
		return unknown(reason)
	}
	sig := fmt.Sprintf("%d/%d/%d/%s", a.HTTPStatus, a.Code, a.Count, a.Reason)
	if s.first == "" {
		s.first = sig
	} else if sig != s.first && s.differ == "" {
		s.differ = sig
	}
	if a.OK() {
		s.state = answerAccepted
		return load.Outcome{OK: true}
	}
	if s.state != answerAccepted {
		s.state = answerRejected
	}
	reason := a.Reason
	if reason == "" {
		reason = "http_" + strconv.Itoa(a.HTTPStatus)
	}
	return load.Outcome{Reason: reason}
}

// finish settles the run: it looks up orders with no definite answer, waits
// for callbacks, resolves what no supplier will ever answer, checks
// correctness and fills the result. It always tears the rig down.
func (r *run) finish(ctx context.Context, rec load.Recording) (res Result, err error) {
	defer func() {
		if cerr := r.rig.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	v := &violations{counts: map[string]int{}}
	lf := &r.result.Load
	lf.Requests, lf.Unsent, lf.Orders = int(r.requests.Load()), rec.Unsent, r.n
	lf.Seconds = rec.Elapsed.Seconds()
	lf.Late = rec.Late
	lf.Connections = r.c.Conns
	r.result.Errors = r.reasons
	r.result.Accept = load.Summarize(rec.Latency)
	r.result.AcceptSpectrum = load.Spectrum(rec.Latency)

	r.c.Logf("%s: load done in %.1fs; looking up unanswered orders", r.name, lf.Seconds)
	if err := r.lookupUnknown(ctx); err != nil {
		v.add(ViolationCheckFailed, "", err.Error())
	}
	for i := range r.slots {
		switch r.slots[i].state {
		case answerAccepted:
			lf.Accepted++
		case answerRejected:
			lf.Rejected++
		case answerUnknown:
			lf.Unknown++
			if r.slots[i].found {
				lf.Accepted++
				lf.UnknownAccepted++
			}
		}
	}
	if lf.Seconds > 0 {
		lf.AcceptedPerSec = float64(lf.Accepted) / lf.Seconds
		lf.RequestsPerSec = float64(lf.Requests-sum(r.reasons, "timeout", "transport", "no_free_conns")) / lf.Seconds
	}

	r.c.Logf("%s: %d accepted; waiting for callbacks", r.name, lf.Accepted)
	if err := r.settle(ctx, v); err != nil {
		v.add(ViolationCheckFailed, "", err.Error())
	}
	r.check(ctx, v)
	r.figures(rec)
	r.result.ViolationCounts, r.result.Violations = v.counts, v.list
	if r.result.Violations == nil {
		r.result.Violations = []Violation{}
	}
	r.result.Passed = len(v.counts) == 0
	r.result.WallSeconds = time.Since(r.began).Seconds()
	return r.result, nil
}

func sum(m map[string]int, keys ...string) int {
	n := 0
	for _, k := range keys {
		n += m[k]
	}
	return n
}

// accepted reports whether order i was accepted (answered 200, or found in
// the engine after an unanswered request).
func (s *slot) accepted() bool {
	return s.state == answerAccepted || (s.state == answerUnknown && s.found)
}

// forEach runs fn for the indices in idx with at most par at once, until
// ctx ends; it returns the first error.
func forEach(ctx context.Context, idx []int, par int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		sem   = make(chan struct{}, par)
		once  sync.Once
		first error
	)
	for _, i := range idx {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				once.Do(func() { first = err })
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = fmt.Errorf("bench: %w", ctx.Err())
	}
	return first
}

// lookupUnknown asks the engine about every order that got no definite
// answer: found there, it was accepted.
func (r *run) lookupUnknown(ctx context.Context) error {
	var idx []int
	for i := range r.slots {
		if r.slots[i].state == answerUnknown {
			idx = append(idx, i)
		}
	}
	return forEach(ctx, idx, 16, func(i int) error {
		_, found, err := r.rig.admin.orderByNo(ctx, r.rig.uid, orderNo(r.c.RunID, i))
		if err != nil {
			return err
		}
		r.slots[i].mu.Lock()
		r.slots[i].found = found
		r.slots[i].mu.Unlock()
		return nil
	})
}

// waitCallbacks waits until every order in want has a callback, or nothing
// has moved for Quiet with the suppliers idle, or the deadline passes. It
// returns the orders still without a callback.
func (r *run) waitCallbacks(ctx context.Context, want []int, deadline time.Time) []int {
	poll := 100 * time.Millisecond
	if r.n > 100_000 {
		poll = time.Second // supplier stats copy a map per order
	}
	lastArrivals, _ := r.rig.tap.counts()
	lastMove := time.Now()
	missing := want
	for {
		var still []int
		for _, i := range missing {
			if _, ok := r.rig.tap.firstArrival(r.rig.uid, orderNo(r.c.RunID, i)); !ok {
				still = append(still, i)
			}
		}
		missing = still
		if len(missing) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return missing
		}
		arrivals, _ := r.rig.tap.counts()
		if arrivals != lastArrivals {
			lastArrivals, lastMove = arrivals, time.Now()
		}
		if time.Since(lastMove) >= r.c.Quiet && r.rig.suppliersIdle() {
			return missing
		}
		if r.rig.proc != nil && !r.rig.proc.alive() {
			return missing
		}
		select {
		case <-ctx.Done():
		case <-time.After(poll):
		}
	}
}

// maxResolveRounds bounds the resolve-and-wait rounds of settle.
const maxResolveRounds = 5

// settle waits for the callbacks of the accepted orders and resolves
// "failed" those whose supplier will never answer (uncertain or placed once
// everything is quiet).
func (r *run) settle(ctx context.Context, v *violations) error {
	deadline := time.Now().Add(r.c.SettleTimeout)
	var want []int
	for i := range r.slots {
		if r.slots[i].accepted() {
			want = append(want, i)
		}
	}
	missing := r.waitCallbacks(ctx, want, deadline)
	for round := 0; len(missing) > 0 && round < maxResolveRounds && time.Now().Before(deadline); round++ {
		if r.rig.proc != nil && !r.rig.proc.alive() {
			break
		}
		r.c.Logf("%s: %d orders without a callback; resolving those held", r.name, len(missing))
		var resolved atomic.Int64
		err := forEach(ctx, missing, 16, func(i int) error {
			no := orderNo(r.c.RunID, i)
			o, found, err := r.rig.admin.orderByNo(ctx, r.rig.uid, no)
			if err != nil || !found {
				return err // not found: reported as missing later
			}
			if o.State != "uncertain" && o.State != "placed" {
				return nil // still moving, or terminal with its callback on the way
			}
			if err := r.rig.admin.resolveFailed(ctx, o.ID, "bench: no result from the supplier after the run"); err != nil {
				if errors.Is(err, ErrAdmin) {
					return nil // a result arrived meanwhile
				}
				return err
			}
			resolved.Add(1)
			r.slots[i].mu.Lock()
			r.slots[i].resolved = true
			r.slots[i].mu.Unlock()
			return nil
		})
		r.result.Callbacks.ResolvedByBench += int(resolved.Load())
		if err != nil {
			return err
		}
		missing = r.waitCallbacks(ctx, missing, deadline)
	}
	if r.c.Grace > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(r.c.Grace):
		}
	}
	return nil
}

// violations collects violations: every one is counted, the first
// maxViolationDetails listed.
type violations struct {
	counts map[string]int
	list   []Violation
}

func (v *violations) add(kind, order, detail string) {
	v.counts[kind]++
	if len(v.list) < maxViolationDetails {
		v.list = append(v.list, Violation{Kind: kind, Order: order, Detail: detail})
	}
}

// check verifies callbacks, answers, recharges and the balance.
func (r *run) check(ctx context.Context, v *violations) {
	rg := r.rig
	snap := rg.recv.Snapshot()
	cf := &r.result.Callbacks
	cf.ByStatus = map[string]int{}
	cf.Deliveries = rg.recv.Total()
	cf.BadSigns, cf.Malformed = rg.recv.BadSigns(), rg.recv.Malformed()
	if cf.BadSigns+cf.Malformed > 0 {
		v.add(ViolationBadSign, "", fmt.Sprintf("%d callbacks with a bad sign, %d unreadable", cf.BadSigns, cf.Malformed))
	}
	var charged int64
	for i := range r.slots {
		s := &r.slots[i]
		o := r.order(i)
		key := rg.uid + "/" + o.OrderNo
		cbs := snap[key]
		delete(snap, key)
		if s.differ != "" {
			v.add(ViolationDuplicateAnswers, o.OrderNo, fmt.Sprintf("answers %s and %s", s.first, s.differ))
		}
		if !s.accepted() {
			if len(cbs) > 0 {
				v.add(ViolationUnexpectedCallback, o.OrderNo, fmt.Sprintf("status %d for an order answered %s", cbs[0].Status, s.first))
			}
			continue
		}
		if len(cbs) == 0 {
			v.add(ViolationMissingCallback, o.OrderNo, "accepted, no callback")
			continue
		}
		cf.Orders++
		if len(cbs) > 1 {
			cf.Redelivered++
		}
		for _, cb := range cbs[1:] {
			if cb != cbs[0] {
				v.add(ViolationConflictingCallbacks, o.OrderNo, fmt.Sprintf("status %d then %d", cbs[0].Status, cb.Status))
				break
			}
		}
		cb := cbs[0]
		switch {
		case cb.Phone != o.Phone || cb.FaceValue != o.FaceValue || cb.UID != rg.uid:
			v.add(ViolationCallbackFields, o.OrderNo, fmt.Sprintf("callback for %s %s %d", cb.UID, cb.Phone, cb.FaceValue))
		case cb.Status != engine.StatusSuccess && cb.Status != engine.StatusReturned && cb.Status != engine.StatusFailed:
			v.add(ViolationCallbackFields, o.OrderNo, fmt.Sprintf("status %d is not terminal", cb.Status))
		}
		cf.ByStatus[strconv.Itoa(cb.Status)]++
		if cb.Status == engine.StatusSuccess {
			charged += int64(engine.ChargeFor(o.FaceValue, rg.price))
		}
	}
	for key, cbs := range snap {
		v.add(ViolationUnexpectedCallback, key, fmt.Sprintf("%d callbacks for an order the harness never sent", len(cbs)))
	}

	recharged := map[string]int{}
	for _, s := range rg.sims {
		for acct, k := range s.recharges() {
			recharged[acct] += k
		}
		r.result.Suppliers = append(r.result.Suppliers, s.stats())
	}
	for acct, k := range recharged {
		if k > 1 {
			v.add(ViolationDoubleRecharge, "", fmt.Sprintf("phone %s recharged %d times", acct, k))
		}
	}
	if rg.proc != nil && !rg.proc.alive() {
		v.add(ViolationEngineDied, "", "the engine exited during the run; log tail:\n"+rg.proc.logTail())
	}

	b := &r.result.Balance
	b.UID, b.PricePermille, b.Before, b.Funded, b.Charged = rg.uid, rg.price, r.before, r.funded, charged
	b.Expected = r.before + r.funded - charged
	m, err := rg.admin.merchant(ctx, rg.uid)
	if err != nil {
		v.add(ViolationCheckFailed, "", "balance: "+err.Error())
		return
	}
	b.Actual, b.Trusted = m.Balance, m.Trusted
	if !m.Trusted || m.Balance != b.Expected {
		v.add(ViolationBalance, "", fmt.Sprintf("balance %d (trusted %v), want %d = %d before + %d funded − %d charged for status 4",
			m.Balance, m.Trusted, b.Expected, r.before, r.funded, charged))
	}
}

// figures fills the latency, timeline and resource figures.
func (r *run) figures(rec load.Recording) {
	rg := r.rig
	e2e, beyond := load.NewHistogram(), load.NewHistogram()
	delays := map[string]time.Duration{}
	for _, s := range rg.sims {
		for acct, d := range s.delays() {
			delays[acct] += d
		}
	}
	var last time.Time
	perSecond := map[int]int{}
	lf := &r.result.Load
	for i := range r.slots {
		s := &r.slots[i]
		at, ok := rg.tap.firstArrival(rg.uid, orderNo(r.c.RunID, i))
		if !ok {
			continue
		}
		if sec := int(at.Sub(r.loadStart) / time.Second); sec >= 0 && sec < maxSamples {
			perSecond[sec]++
		}
		if !s.accepted() || s.resolved || s.sentAt == 0 {
			continue
		}
		lf.CompletedOnTheirOwn++
		took := at.Sub(time.Unix(0, s.sentAt))
		_ = e2e.RecordValue(max(took.Microseconds(), 1))
		if len(rg.sims) > 0 {
			_ = beyond.RecordValue(max((took - delays[r.order(i).Phone]).Microseconds(), 1))
		}
		if at.After(last) {
			last = at
		}
	}
	if lf.CompletedOnTheirOwn > 0 && last.After(r.loadStart) {
		lf.EndToEndPerSec = float64(lf.CompletedOnTheirOwn) / last.Sub(r.loadStart).Seconds()
	}
	r.result.EndToEnd = load.Summarize(e2e)
	r.result.EndToEndSpectrum = load.Spectrum(e2e)
	r.result.BeyondSupplier = load.Summarize(beyond)

	samples, peak := r.usage.close()
	redisSamples, redisPeak := r.redisUse.close()
	ef := &r.result.Engine
	ef.PID = rg.enginePID()
	if len(samples) > 0 {
		ef.RSSStart, ef.RSSEnd, ef.RSSPeak = samples[0].RSSBytes, samples[len(samples)-1].RSSBytes, peak
		ef.CPUSeconds = cpuUsed(samples)
		if lf.Accepted > 0 {
			ef.CPUMsPerOrder = ef.CPUSeconds * 1000 / float64(lf.Accepted)
		}
	}
	ef.RedisRSSPeak, ef.RedisCPUSeconds = redisPeak, cpuUsed(redisSamples)

	rss := map[int]int64{}
	for _, u := range samples {
		if sec := int(u.At.Sub(r.loadStart) / time.Second); sec >= 0 && sec < maxSamples {
			rss[sec] = u.RSSBytes
		}
	}
	n := len(rec.PerSecond)
	for sec := range perSecond {
		n = max(n, sec+1)
	}
	for sec := range rss {
		n = max(n, sec+1)
	}
	r.result.Series = make([]Second, n)
	for sec := range r.result.Series {
		s := Second{T: sec, Callbacks: perSecond[sec], RSSBytes: rss[sec]}
		if sec < len(rec.PerSecond) {
			s.Accepted = rec.PerSecond[sec]
		}
		r.result.Series[sec] = s
	}
}
