package engine

// Outcome is what a supplier said about an attempt, as classified by the
// supplier's transport. Transports map their wire codes to these and decide
// nothing else.
type Outcome uint8

// Outcomes.
const (
	OutcomeNone Outcome = iota
	// OutcomeAccepted: the supplier took the attempt; the result follows.
	OutcomeAccepted
	// OutcomeSuccess: the recharge was made.
	OutcomeSuccess
	// OutcomeFailRoute: definite failure of this supplier; another route may work.
	OutcomeFailRoute
	// OutcomeFailTarget: definite failure because of the recharge target
	// (invalid or barred number, wrong carrier); no other route will help.
	OutcomeFailTarget
	// OutcomeUncertain: the supplier may or may not recharge. Query, wait, hold.
	OutcomeUncertain
	// OutcomePartial: only part of the amount was recharged; held for a person.
	OutcomePartial
)

var outcomeNames = [...]string{"none", "accepted", "success", "fail_route", "fail_target", "uncertain", "partial"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome?"
}

// Definite reports whether the outcome settles the attempt.
func (o Outcome) Definite() bool {
	return o == OutcomeSuccess || o == OutcomeFailRoute || o == OutcomeFailTarget
}

// Event is an input to Step.
type Event interface{ isEvent() }

// EvStart starts (or resumes) placing an accepted order with its next route.
type EvStart struct{}

// EvSubmitted reports the synchronous answer to an attempt's submission.
// Network errors and time-outs arrive as OutcomeUncertain.
type EvSubmitted struct {
	Attempt int
	Outcome Outcome
	Detail  string
	Ref     string
}

// EvResult reports an asynchronous result (callback or status query) for an
// attempt. Channel is the channel the result came from; it must match the
// attempt's channel.
type EvResult struct {
	Attempt int
	Channel string
	Outcome Outcome
	Detail  string
	Ref     string
	Cost    Fen
	// Recharged is the amount the supplier says it recharged, where it says
	// (0: not reported). A success for less than the face value is partial.
	Recharged Fen
}

// EvRecovered is delivered once for every live order found in the log at
// start-up, before anything else happens to it.
type EvRecovered struct{}

// EvNotified reports one delivery attempt of the operator callback.
type EvNotified struct {
	Delivered bool
	Err       string
	// Final is set when this was the last attempt the policy allows.
	Final bool
}

// EvResolve is a person's decision on an order whose attempt is uncertain.
type EvResolve struct {
	Success bool
	By      string
	Why     string
}

// EvDeadline fires when the order's deadline passes.
type EvDeadline struct{}

// EvHold fires when attempt Attempt has had no definite result for the hold
// window: the order is held for a person's decision.
type EvHold struct{ Attempt int }

func (EvStart) isEvent()     {}
func (EvSubmitted) isEvent() {}
func (EvResult) isEvent()    {}
func (EvRecovered) isEvent() {}
func (EvNotified) isEvent()  {}
func (EvResolve) isEvent()   {}
func (EvDeadline) isEvent()  {}
func (EvHold) isEvent()      {}

// Effect is an instruction from Step to the runtime. The runtime carries out
// the effects of one Step in the order given and stops at the first failure.
type Effect interface{ isEffect() }

// PersistOrder: write the order to the log with Sync. It must be durable
// before any effect that follows it (Submit, Refund, Notify, AckSupplier) is
// carried out.
type PersistOrder struct{}

// Submit: send the attempt to its route's channel. Its answer comes back as
// EvSubmitted. Only ever emitted after PersistOrder of the attempt.
type Submit struct{ Attempt int }

// Refund: return the order's charge to the merchant. Idempotent per order id
// in the ledger, so replaying it after a crash refunds once.
type Refund struct{ Amount Fen }

// Notify: deliver (or keep delivering) the operator callback. Every attempt
// carries the same content, derived from the terminal order.
type Notify struct{}

// Alert: something contradicts a terminal status (a success after a
// failure, or the reverse). Raise a metric and an alert line.
type Alert struct{ Msg string }

// Done: the order is finished; its actor may stop.
type Done struct{}

func (PersistOrder) isEffect() {}
func (Submit) isEffect()       {}
func (Refund) isEffect()       {}
func (Notify) isEffect()       {}
func (Alert) isEffect()        {}
func (Done) isEffect()         {}
