// Package metrics exposes what `certctl watch` knows and does as
// Prometheus metrics, on a registry of its own (never the global one).
//
// Entry point: New, then serve Metrics.Handler at /metrics. The watch loop
// calls Metrics.ObserveState after each snapshot it reads, Metrics.
// ObserveReconcile after each pass, and hands Metrics.ObserveIssuance to
// reconcile.Deps.Observe so that every issuing change is counted.
//
// Metrics (all prefixed certctl_):
//
//	build_info{version}                                      gauge, 1
//	certificates{status}                                     gauge: certificates by `certctl status` status
//	certificate_expiration_timestamp_seconds{name,issuer,owner,team}  gauge: not after
//	certificate_renewal_timestamp_seconds{name,issuer,owner,team}     gauge: when it renews
//	notifications{status}                                    gauge: notification rows by status
//	notification_dead_total                                  gauge: dead rows (see below)
//	issuance_total{issuer,action,result}                     counter
//	issuance_duration_seconds{issuer,action}                 histogram
//	reconcile_total{result}                                  counter
//	reconcile_duration_seconds                               histogram
//	reconcile_last_success_timestamp_seconds                 gauge
//	source_info{revision,author}                             gauge, 1
//
// The per-certificate gauges mirror cert-manager's
// certmanager_certificate_expiration_timestamp_seconds and
// certmanager_certificate_renewal_timestamp_seconds, so that the same
// alerts work: `certctl_certificate_expiration_timestamp_seconds - time()`
// is the seconds left.
//
// certctl_notification_dead_total is a gauge although its name ends in
// _total: DESIGN.md and the issue fix the name, and the value is the number
// of dead rows now, which goes down when `certctl requeue` revives them.
// It equals `certctl status`'s dead count for the same snapshot.
//
// Cost: the state gauges are per certificate, so they are kept out of the
// registry and served as text encoded once per ObserveState (view.go,
// handler.go); a scrape over 10,000 certificates then costs a few
// milliseconds, not a hundred.
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

const ns = "certctl"

// Result label values of certctl_issuance_total and certctl_reconcile_total.
const (
	ResultSuccess = "success"
	ResultError   = "error"
)

// Buckets, in seconds. A local CA signs in milliseconds, an ACME order
// takes seconds to minutes; a pass over thousands of certificates with
// nothing to do takes tens of milliseconds, one that issues them minutes.
var (
	issuanceBuckets  = []float64{0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300}
	reconcileBuckets = []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600}
)

// Metrics holds certctl's metrics and the registry that serves them. All
// methods are safe for concurrent use, with each other and with scrapes.
type Metrics struct {
	// reg has every metric but the state gauges, which come from the
	// view ObserveState stores (view.go) and are added by the handler
	// and by Gatherer.
	reg     *prometheus.Registry
	handler http.Handler
	view    atomic.Pointer[stateView]

	issuance         *prometheus.CounterVec
	issuanceDuration *prometheus.HistogramVec
	reconciles       *prometheus.CounterVec
	reconcileDur     prometheus.Histogram
	lastSuccess      prometheus.Gauge

	mu        sync.Mutex // guards source and revision
	source    *prometheus.GaugeVec
	revision  [2]string // the revision and author source holds
	hasSource bool
}

// New returns the metrics of a certctl of the given version, on a new
// registry that also has the Go runtime and process collectors. Until the
// first ObserveState the state gauges are absent (unknown, not zero).
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.issuance = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "issuance_total",
		Help: "Issuing changes (create, renew, replace) attempted, by issuer, action and result.",
	}, []string{"issuer", "action", "result"})
	m.issuanceDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "issuance_duration_seconds",
		Help:    "Time from the start of an issuing change to the commit of its certificate (or its failure), by issuer and action.",
		Buckets: issuanceBuckets,
	}, []string{"issuer", "action"})
	m.reconciles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "reconcile_total",
		Help: "Reconcile passes, by result.",
	}, []string{"result"})
	m.reconcileDur = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: ns, Name: "reconcile_duration_seconds",
		Help:    "Duration of reconcile passes.",
		Buckets: reconcileBuckets,
	})
	m.lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Name: "reconcile_last_success_timestamp_seconds",
		Help: "When the last successful reconcile pass ended, in Unix seconds; 0 if none has yet.",
	})
	m.source = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Name: "source_info",
		Help: "The configuration's source revision that the last pass read (always 1).",
	}, []string{"revision", "author"})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Name: "build_info",
		Help:        "certctl's version (always 1).",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	// Both results exist from the start, so that rate() and increase()
	// see the first error.
	for _, r := range []string{ResultSuccess, ResultError} {
		m.reconciles.WithLabelValues(r)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
		m.issuance, m.issuanceDuration, m.reconciles, m.reconcileDur, m.lastSuccess, m.source,
	)
	// Built once: InstrumentMetricHandler registers its own counters.
	m.handler = promhttp.InstrumentMetricHandler(m.reg, newHandler(m))
	return m
}

// Handler serves every metric in the Prometheus text format (version
// 0.0.4), gzipped when the scraper accepts it, whatever other format it
// asks for: Prometheus and every scraper read it. It is the same handler
// on every call, and it answers 503 while two scrapes are being served.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Gatherer gathers every metric the handler serves, for a caller that
// wants them without HTTP (a test, a push). It is much slower than the
// handler over many certificates: see the handler for why.
func (m *Metrics) Gatherer() prometheus.Gatherer {
	return prometheus.Gatherers{m.reg, prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		v := m.view.Load()
		if v == nil {
			return nil, nil
		}
		return v.families(), nil
	})}
}

// Register adds a collector to the metrics the handler serves; it fails
// like prometheus.Registry.Register. Its metrics must not be named like
// the state gauges (view.go), which the registry does not know of.
func (m *Metrics) Register(c prometheus.Collector) error { return m.reg.Register(c) }

// ObserveState replaces the state gauges with those of cfg and snap at now:
// certificates by the status `certctl status` gives them, each configured
// certificate's expiration and renewal time, and notification rows by
// status. A certificate that left the configuration (orphaned) is counted
// but has no per-certificate series: the whole set is replaced, so series
// of certificates that are gone disappear. A certificate without a current
// certificate has no expiration series, and no renewal series either.
// cfg may be nil (every recorded certificate is then orphaned); snap may
// be nil (empty). ObserveState keeps neither, only some of their strings.
func (m *Metrics) ObserveState(cfg *spec.Config, snap *state.Snapshot, now time.Time) {
	inv := reconcile.Inventory(cfg, snap, now)
	m.view.Store(newStateView(inv, reconcile.StatusOf(inv, snap)))
	if cfg != nil {
		m.touchIssuers(cfg)
	}
}

// touchIssuers creates the issuance series of every configured issuer at
// 0, so that the first failure of an issuer is an increase, not a new
// series that rate() cannot see.
func (m *Metrics) touchIssuers(cfg *spec.Config) {
	for name := range cfg.Issuers {
		for _, a := range issuingActions {
			m.issuanceDuration.WithLabelValues(name, a)
			for _, r := range []string{ResultSuccess, ResultError} {
				m.issuance.WithLabelValues(name, a, r)
			}
		}
	}
}

var issuingActions = []string{reconcile.ActionCreate.String(), reconcile.ActionRenew.String(), reconcile.ActionReplace.String()}

// ObserveIssuance counts one issuing change and its duration under its
// issuer and action. It has the type of reconcile.Deps.Observe.
func (m *Metrics) ObserveIssuance(o reconcile.Outcome) {
	action := o.Action.String()
	result := ResultSuccess
	if o.Err != nil {
		result = ResultError
	}
	m.issuance.WithLabelValues(o.Issuer, action, result).Inc()
	m.issuanceDuration.WithLabelValues(o.Issuer, action).Observe(o.Duration.Seconds())
}

// Pass is one reconcile pass, for ObserveReconcile.
type Pass struct {
	Start    time.Time
	Duration time.Duration
	// Revision and Author name the configuration's source revision (a git
	// commit and its author; for a directory, whatever identifies its
	// content). An empty Revision leaves certctl_source_info as it was:
	// a pass that failed before reading its source knows none.
	Revision, Author string
	// Err is the pass's error; nil is a success.
	Err error
}

// ObserveReconcile records one pass: its duration, its result, the time
// it ended if it succeeded, and its source revision. certctl_source_info
// keeps one series, the last revision seen.
func (m *Metrics) ObserveReconcile(p Pass) {
	m.reconcileDur.Observe(p.Duration.Seconds())
	if p.Err != nil {
		m.reconciles.WithLabelValues(ResultError).Inc()
	} else {
		m.reconciles.WithLabelValues(ResultSuccess).Inc()
		m.lastSuccess.Set(unixSeconds(p.Start.Add(p.Duration)))
	}
	if p.Revision == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if rev := [2]string{p.Revision, p.Author}; !m.hasSource || rev != m.revision {
		// Reset then set, under mu: a scrape between the two sees no
		// revision for an instant, never two.
		m.source.Reset()
		m.source.WithLabelValues(rev[0], rev[1]).Set(1)
		m.revision, m.hasSource = rev, true
	}
}
