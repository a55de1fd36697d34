package actors

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the runtime's Prometheus metrics.
type Metrics struct {
	terminal     *prometheus.CounterVec
	submits      *prometheus.CounterVec
	queries      *prometheus.CounterVec
	anomalies    prometheus.Counter
	notifies     *prometheus.CounterVec
	notifyQueued prometheus.Gauge
	logFailed    prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		terminal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "topup_orders_terminal_total",
			Help: "Orders that reached a terminal status, by operator status (4, 9, 10)."}, []string{"status"}),
		submits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "topup_supplier_submits_total",
			Help: "Supplier submissions by channel and synchronous outcome."}, []string{"channel", "outcome"}),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "topup_supplier_queries_total",
			Help: "Supplier status queries by channel and outcome."}, []string{"channel", "outcome"}),
		anomalies: prometheus.NewCounter(prometheus.CounterOpts{Name: "topup_result_anomalies_total",
			Help: "Supplier results that contradicted an order's terminal status."}),
		notifies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "topup_notify_attempts_total",
			Help: "Operator callback attempts by result."}, []string{"result"}),
		notifyQueued: prometheus.NewGauge(prometheus.GaugeOpts{Name: "topup_notify_scheduled",
			Help: "Operator callbacks scheduled or queued."}),
		logFailed: prometheus.NewGauge(prometheus.GaugeOpts{Name: "topup_order_log_failed",
			Help: "1 once an order log write failed (the node stops taking orders)."}),
	}
	if reg != nil {
		reg.MustRegister(m.terminal, m.submits, m.queries, m.anomalies, m.notifies, m.notifyQueued, m.logFailed)
	}
	return m
}
