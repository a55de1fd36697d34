// Package engine is the pure domain of the top-up order engine: orders, their
// states, the events that move them and the effects a runtime must carry out.
//
// Nothing here does I/O, reads the clock or draws random numbers: time and ids
// arrive as values. Step is the one place an order's state changes.
package engine

import (
	"fmt"
	"strconv"
)

// Fen is an amount of money in fen (1/100 yuan). All money arithmetic is in
// integer fen; there are no floats anywhere on a money path.
type Fen int64

// Yuan3 renders the amount in yuan with exactly three decimals ("100.000"),
// the form the socket-module protocol signs and sends.
func (f Fen) Yuan3() string {
	neg := f < 0
	if neg {
		f = -f
	}
	s := fmt.Sprintf("%d.%02d0", f/100, f%100)
	if neg {
		return "-" + s
	}
	return s
}

// ChargeFor is what an operator is charged for a face value at a price in
// permille of face value, rounded half up to the fen.
func ChargeFor(face Fen, pricePermille int64) Fen {
	return Fen((int64(face)*pricePermille + 500) / 1000)
}

// MaxNode is the largest node id; it keeps every supplier order number
// (ID*100+attempt) inside an int64.
const MaxNode = 90

// idNodeFactor separates the node id from the per-node sequence in an ID.
const idNodeFactor = 100_000_000_000_000 // 1e14

// ID is a platform order id: node*1e14 + a per-node sequence. It is unique
// across nodes and restarts and is part of every supplier order number.
type ID uint64

// MakeID builds the id of the seq-th order of a node.
func MakeID(node uint16, seq uint64) ID { return ID(uint64(node)*idNodeFactor + seq) }

// Node is the node that owns the order.
func (id ID) Node() uint16 { return uint16(uint64(id) / idNodeFactor) }

// Seq is the per-node sequence number.
func (id ID) Seq() uint64 { return uint64(id) % idNodeFactor }

func (id ID) String() string { return strconv.FormatUint(uint64(id), 10) }

// ParseID parses the decimal form of an ID.
func ParseID(s string) (ID, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("engine: bad order id %q", s)
	}
	return ID(v), nil
}

// MaxAttempts bounds the supplier attempts of one order (two decimal digits of
// the supplier order number).
const MaxAttempts = 99

// SupplierNo is the number attempt n of the order is known by at its supplier.
func (id ID) SupplierNo(attempt int) int64 { return int64(id)*100 + int64(attempt) }

// SplitSupplierNo undoes SupplierNo.
func SplitSupplierNo(no int64) (ID, int) {
	if no <= 0 {
		return 0, 0
	}
	return ID(no / 100), int(no % 100)
}

// Merchant is an operator with a prepaid balance.
type Merchant struct {
	UID           string `json:"uid"`
	Name          string `json:"name"`
	MD5Key        string `json:"md5key"`
	PricePermille int64  `json:"price_permille"`
}

// Route is one way to fulfil a product: a supplier channel and that channel's
// product code.
type Route struct {
	Channel      string `json:"channel"`
	Kind         string `json:"kind"`
	Code         string `json:"code,omitempty"`
	CostPermille int64  `json:"cost_permille,omitempty"`
	Priority     int    `json:"priority,omitempty"`
	Weight       int    `json:"weight,omitempty"`
}

// State is where an order is in its life.
type State uint8

// Order states. Succeeded and Failed are terminal.
const (
	StateInvalid State = iota
	// Accepted: charged and logged; no supplier has been contacted for the
	// current route yet.
	StateAccepted
	// Submitting: an attempt is logged and is being sent. The supplier may or
	// may not have it.
	StateSubmitting
	// Placed: the supplier acknowledged the attempt; awaiting its result.
	StatePlaced
	// Uncertain: the current attempt's outcome is unknown (time-out, network
	// error, "result uncertain"). Never re-routed or refunded in this state.
	StateUncertain
	// Succeeded: terminal, the recharge was made.
	StateSucceeded
	// Failed: terminal, the amount was refunded.
	StateFailed
)

var stateNames = [...]string{"invalid", "accepted", "submitting", "placed", "uncertain", "succeeded", "failed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Terminal reports whether the state is final.
func (s State) Terminal() bool { return s == StateSucceeded || s == StateFailed }

// Operator callback statuses (seed 000 and specs README).
const (
	StatusSuccess  = 4  // recharged
	StatusReturned = 9  // every route failed, expired or cancelled; refunded
	StatusFailed   = 10 // failed because of the recharge target; refunded
)

// Order query status ids (specs README).
const (
	QueryCreated  = 5
	QueryPlacing  = 6
	QueryAwaiting = 2
	QuerySuccess  = 4
	QueryReturned = 9
	QueryExpired  = 1
)

// AttemptState is the state of one supplier attempt.
type AttemptState uint8

// Attempt states.
const (
	AttemptSending AttemptState = iota + 1
	AttemptPlaced
	AttemptUncertain
	AttemptSucceeded
	AttemptFailed
)

var attemptNames = [...]string{"", "sending", "placed", "uncertain", "succeeded", "failed"}

func (s AttemptState) String() string {
	if int(s) < len(attemptNames) {
		return attemptNames[s]
	}
	return "attempt(" + strconv.Itoa(int(s)) + ")"
}

// Attempt is one submission of the order to one route.
type Attempt struct {
	N      int          `json:"n"`
	Route  Route        `json:"route"`
	State  AttemptState `json:"state"`
	Detail string       `json:"detail,omitempty"`
	SentAt int64        `json:"sent_at,omitempty"`
	DoneAt int64        `json:"done_at,omitempty"`
	Ref    string       `json:"ref,omitempty"`  // supplier's own order number, where reported
	Cost   Fen          `json:"cost,omitempty"` // supplier's cost, where reported
}

// NotifyState tracks the operator callback of a terminal order.
type NotifyState uint8

// Notification states.
const (
	NotifyNone NotifyState = iota
	NotifyPending
	NotifyDelivered
	NotifyGaveUp
)

var notifyNames = [...]string{"none", "pending", "delivered", "gave_up"}

func (s NotifyState) String() string {
	if int(s) < len(notifyNames) {
		return notifyNames[s]
	}
	return "notify(" + strconv.Itoa(int(s)) + ")"
}

// Order is the whole state of one operator order. It is what the order log
// stores; every change to it goes through Step.
type Order struct {
	ID        ID     `json:"id"`
	UID       string `json:"uid"`
	OrderNo   string `json:"order_no"`
	OrderType int    `json:"order_type"`
	Carrier   int    `json:"carrier"`
	Phone     string `json:"phone"`
	FaceValue Fen    `json:"face_value"`
	Charge    Fen    `json:"charge"`
	NotifyURL string `json:"notify_url"`
	// FieldsHash identifies the request fields, to tell a duplicate from a
	// different order with the same order_no.
	FieldsHash string `json:"fields_hash"`
	CreatedAt  int64  `json:"created_at"` // unix ms
	UpdatedAt  int64  `json:"updated_at"`
	Deadline   int64  `json:"deadline,omitempty"` // unix ms; 0: none

	State State `json:"state"`
	// Routes is the ordered list of routes, fixed at acceptance.
	Routes   []Route   `json:"routes"`
	Attempts []Attempt `json:"attempts,omitempty"`
	// Status is the operator callback status once terminal (4, 9 or 10).
	Status int    `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Refunded is set together with Failed; the refund itself is an effect
	// that is idempotent per order id.
	Refunded bool `json:"refunded,omitempty"`

	Notify         NotifyState `json:"notify,omitempty"`
	NotifyAttempts int         `json:"notify_attempts,omitempty"`
	NotifyError    string      `json:"notify_error,omitempty"`

	// HeldAt is set (unix ms) when an attempt stayed without a definite
	// result past the hold window: the order waits for a person's decision.
	HeldAt int64 `json:"held_at,omitempty"`
	// Resolution records a person's decision (who and why), if any.
	Resolution string `json:"resolution,omitempty"`
	// Anomalies records results that contradicted a terminal status and
	// late results of earlier attempts.
	Anomalies []string `json:"anomalies,omitempty"`
}

// Finished reports whether nothing more will happen to the order without
// outside input: terminal and its notification settled.
func (o *Order) Finished() bool {
	return o.State.Terminal() && (o.Notify == NotifyDelivered || o.Notify == NotifyGaveUp)
}

// Current is the latest attempt, or nil.
func (o *Order) Current() *Attempt {
	if len(o.Attempts) == 0 {
		return nil
	}
	return &o.Attempts[len(o.Attempts)-1]
}

// QueryStatus is the status id the order query reports.
func (o *Order) QueryStatus() int {
	switch o.State {
	case StateAccepted:
		return QueryCreated
	case StateSubmitting:
		return QueryPlacing
	case StatePlaced, StateUncertain:
		return QueryAwaiting
	case StateSucceeded:
		return QuerySuccess
	case StateFailed:
		if o.Reason == ReasonExpired && len(o.Attempts) == 0 {
			return QueryExpired
		}
		return QueryReturned
	}
	return QueryCreated
}

// QueryStatusName is the Chinese status name the order query reports.
func QueryStatusName(id int) string {
	switch id {
	case QueryCreated:
		return "订单生成"
	case QueryPlacing:
		return "网厅下单中"
	case QueryAwaiting:
		return "网厅支付中"
	case QuerySuccess:
		return "充值成功"
	case QueryReturned:
		return "退回运营商"
	case QueryExpired:
		return "超时未付"
	}
	return "未知"
}

// Failure reasons recorded on failed orders.
const (
	ReasonTarget       = "target"        // the recharge target is invalid, barred or wrong carrier
	ReasonRoutesFailed = "routes_failed" // every route failed definitely
	ReasonExpired      = "expired"       // deadline passed before any supplier took it
	ReasonManual       = "manual"        // resolved by a person
)
