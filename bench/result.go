package bench

import (
	"time"

	"topup/bench/load"
)

// Result is what one workload run measured and found. A run with any
// violation did not pass, whatever its speed.
type Result struct {
	// Workload names the workload (burst, rate, mixed, duplicates, pending).
	Workload string `json:"workload"`
	// Config is the workload's configuration as run.
	Config any `json:"config"`
	// Target is "started" (the harness ran the engine) or "external".
	Target string `json:"target"`
	// Started is when the run began; WallSeconds its whole length, set-up
	// and checks included.
	Started     time.Time `json:"started"`
	WallSeconds float64   `json:"wall_seconds"`

	// SupplierDelayMs is the longest delay a supplier was configured to
	// take before its result (latency + jitter + follow-up), 0 for an
	// engine already running.
	SupplierDelayMs float64 `json:"supplier_delay_max_ms"`

	// Load is the load phase's figures.
	Load LoadFigures `json:"load"`
	// Accept is the latency of the order requests (open loop: from each
	// request's intended send time), with its percentile spectrum.
	Accept         load.Summary `json:"accept_latency"`
	AcceptSpectrum []load.Point `json:"accept_spectrum,omitempty"`
	// EndToEnd is from an order's (intended) send to its first callback at
	// the operator, for orders the engine finished without the harness
	// resolving them. It includes the suppliers' own delay.
	EndToEnd         load.Summary `json:"end_to_end_latency"`
	EndToEndSpectrum []load.Point `json:"end_to_end_spectrum,omitempty"`
	// BeyondSupplier is EndToEnd minus the delay the suppliers were
	// configured to take for each order (their latency, plus the follow-up
	// of an uncertain result, summed over the order's attempts): the
	// engine's own share. Their jitter (±) remains in it; values below
	// zero count as zero. Started engines only.
	BeyondSupplier load.Summary `json:"end_to_end_beyond_supplier_latency"`
	// Errors counts failed order requests by reason code ("timeout" and
	// "transport" for requests with no answer).
	Errors map[string]int `json:"errors"`
	// Series is the per-second timeline from the start of the load.
	Series []Second `json:"series"`
	// Engine is the engine's resource use.
	Engine EngineFigures `json:"engine"`
	// Pending is set by the many-pending workload.
	Pending *PendingFigures `json:"pending,omitempty"`
	// Callbacks is what the operator's receiver got.
	Callbacks CallbackFigures `json:"callbacks"`
	// Balance is the money check.
	Balance BalanceFigures `json:"balance"`
	// Suppliers is each simulator's view (started engines only).
	Suppliers []SupplierStats `json:"suppliers,omitempty"`
	// ViolationCounts counts the correctness violations by kind; Violations
	// lists the first ones in detail.
	ViolationCounts map[string]int `json:"violation_counts"`
	Violations      []Violation    `json:"violations"`
	// Passed is true when there was no violation.
	Passed bool `json:"passed"`
}

// LoadFigures is the load phase in numbers.
type LoadFigures struct {
	// Requests is the order requests sent (duplicates included); Unsent
	// those the time bound stopped.
	Requests int `json:"requests"`
	Unsent   int `json:"unsent"`
	// Orders is the distinct orders pushed; Accepted, Rejected and Unknown
	// split them by answer (Unknown: no definite answer — a time-out or a
	// transient refusal — later looked up in the engine, and counted in
	// Accepted if it was found there).
	Orders   int `json:"orders"`
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	Unknown  int `json:"unknown"`
	// UnknownAccepted is the Unknown orders found in the engine.
	UnknownAccepted int `json:"unknown_accepted"`
	// Seconds is the load phase from the first send to the last answer.
	Seconds float64 `json:"seconds"`
	// AcceptedPerSec is distinct accepted orders per second of the load
	// phase: the engine's accept throughput.
	AcceptedPerSec float64 `json:"accepted_per_sec"`
	// RequestsPerSec is answered requests per second.
	RequestsPerSec float64 `json:"requests_per_sec"`
	// OfferedRate is the open-loop arrival rate (0: closed loop).
	OfferedRate float64 `json:"offered_rate,omitempty"`
	// Late counts open-loop requests sent over 1 ms behind schedule.
	Late int `json:"late,omitempty"`
	// Connections is the operator's connection bound.
	Connections int `json:"connections"`
	// CompletedOnTheirOwn is the accepted orders called back without the
	// harness resolving them; EndToEndPerSec is their number per second
	// from the first send to the last of those callbacks.
	CompletedOnTheirOwn int     `json:"completed_on_their_own"`
	EndToEndPerSec      float64 `json:"end_to_end_per_sec"`
}

// Second is one second of the run's timeline.
type Second struct {
	// T is seconds since the load began.
	T int `json:"t"`
	// Accepted is order requests answered 200 in that second; Callbacks is
	// orders whose first callback arrived in it.
	Accepted  int `json:"accepted"`
	Callbacks int `json:"callbacks"`
	// RSSBytes is the engine's RSS at the end of the second (0: not read).
	RSSBytes int64 `json:"rss_bytes,omitempty"`
}

// EngineFigures is the engine's resource use during the run (from the
// start of the load to the end of the checks).
type EngineFigures struct {
	// PID is the engine process (0: unknown, no figures).
	PID int `json:"pid,omitempty"`
	// RSS of the engine process, bytes: before the load, the highest seen
	// and at the end.
	RSSStart int64 `json:"rss_start_bytes"`
	RSSPeak  int64 `json:"rss_peak_bytes"`
	RSSEnd   int64 `json:"rss_end_bytes"`
	// CPUSeconds is the engine's user + system CPU time.
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUMsPerOrder is CPUSeconds per accepted order, in milliseconds.
	CPUMsPerOrder float64 `json:"cpu_ms_per_order"`
	// RedisRSSPeak and RedisCPUSeconds are the started engine's
	// redis-server (0: not started by the harness).
	RedisRSSPeak    int64   `json:"redis_rss_peak_bytes,omitempty"`
	RedisCPUSeconds float64 `json:"redis_cpu_seconds,omitempty"`
}

// PendingFigures is the many-pending workload's memory and restart
// measurements. The orders are pushed in two halves and the RSS read once
// each half is pending.
type PendingFigures struct {
	// RSSBefore is the engine's RSS before the load.
	RSSBefore int64 `json:"rss_before_bytes"`
	// PendingHalf and RSSHalf: orders pending and RSS after the first half.
	PendingHalf int   `json:"pending_half"`
	RSSHalf     int64 `json:"rss_half_bytes"`
	// Pending and RSSPending: orders pending and RSS after both halves.
	Pending    int   `json:"pending"`
	RSSPending int64 `json:"rss_pending_bytes"`
	// BytesPerOrder is the memory of one more pending order: (RSSPending −
	// RSSHalf) / (Pending − PendingHalf). AvgBytesPerOrder is (RSSPending −
	// RSSBefore) / Pending, which also carries the working set the load
	// itself grew (noisy for small N).
	BytesPerOrder    float64 `json:"bytes_per_pending_order"`
	AvgBytesPerOrder float64 `json:"avg_bytes_per_pending_order"`
	// RSSFor1M extrapolates RSSPending + (1,000,000 − Pending) ×
	// BytesPerOrder (RSSPending itself from 1,000,000 pending up).
	RSSFor1M int64 `json:"rss_for_1m_pending_bytes"`
	// RestartReadySeconds is from the exec of an engine killed with the
	// orders pending to its /readyz answering 200 (0: no restart).
	RestartReadySeconds float64 `json:"restart_ready_seconds,omitempty"`
	// RSSAfterRestart is the restarted engine's RSS once ready.
	RSSAfterRestart int64 `json:"rss_after_restart_bytes,omitempty"`
}

// CallbackFigures is what the operator's receiver got.
type CallbackFigures struct {
	// Deliveries is every callback request; Orders the distinct orders.
	Deliveries int `json:"deliveries"`
	Orders     int `json:"orders"`
	// ByStatus counts orders by callback status ("4", "9", "10").
	ByStatus map[string]int `json:"by_status"`
	// Redelivered counts orders called back more than once, all
	// identically (allowed; different callbacks are a violation).
	Redelivered int `json:"redelivered"`
	// ResolvedByBench is the orders the harness resolved "failed" through
	// the admin API because no result came.
	ResolvedByBench int `json:"resolved_by_bench"`
	// BadSigns and Malformed are deliveries the receiver refused.
	BadSigns  int `json:"bad_signs"`
	Malformed int `json:"malformed"`
}

// BalanceFigures is the money check: Actual must equal Before + Funded −
// Charged, Charged being the charge of every order called back with status
// 4 (engine.ChargeFor(face, price_permille)).
type BalanceFigures struct {
	// UID is the merchant; PricePermille its price (charge = face ×
	// price / 1000, rounded half up).
	UID           string `json:"uid"`
	PricePermille int64  `json:"price_permille"`
	// Before is the balance before the run's funding; Funded what the run
	// funded; Charged the charges of the orders called back with status 4
	// (all in fen).
	Before  int64 `json:"before"`
	Funded  int64 `json:"funded"`
	Charged int64 `json:"charged"`
	// Expected is Before + Funded − Charged; Actual and Trusted are what
	// the admin API reports at the end.
	Expected int64 `json:"expected"`
	Actual   int64 `json:"actual"`
	Trusted  bool  `json:"trusted"`
}

// Violation is one correctness violation.
type Violation struct {
	// Kind is one of the Violation* constants.
	Kind string `json:"kind"`
	// Order is the order_no concerned ("" for run-wide violations).
	Order string `json:"order,omitempty"`
	// Detail says what was seen.
	Detail string `json:"detail"`
}

// Violation kinds.
const (
	// ViolationMissingCallback: an accepted order never got a terminal
	// callback, even after the harness resolved what it could.
	ViolationMissingCallback = "missing_callback"
	// ViolationConflictingCallbacks: an order got callbacks that differ.
	ViolationConflictingCallbacks = "conflicting_callbacks"
	// ViolationUnexpectedCallback: a callback for an order that was refused
	// or never sent.
	ViolationUnexpectedCallback = "unexpected_callback"
	// ViolationCallbackFields: a callback whose phone, face value or status
	// does not belong to the order.
	ViolationCallbackFields = "callback_fields"
	// ViolationBadSign: the receiver got callbacks with a wrong sign or
	// unreadable body.
	ViolationBadSign = "callback_bad_sign"
	// ViolationBalance: the balance is not funded − charged, or is untrusted.
	ViolationBalance = "balance"
	// ViolationDuplicateAnswers: copies of one order got different
	// definite answers.
	ViolationDuplicateAnswers = "duplicate_answers_differ"
	// ViolationDoubleRecharge: suppliers recharged one phone more than once.
	ViolationDoubleRecharge = "double_recharge"
	// ViolationEngineDied: a started engine exited during the run.
	ViolationEngineDied = "engine_exited"
	// ViolationCheckFailed: the check itself could not be completed (the
	// admin API failed), so correctness is not established.
	ViolationCheckFailed = "check_incomplete"
)

// maxViolationDetails bounds Result.Violations.
const maxViolationDetails = 100
