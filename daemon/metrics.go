package daemon

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/stsd/stsd/internal/metrics"
)

// Metrics are the daemon's Prometheus series: refreshes, failures by
// reason, STS latency, seconds to expiry, requests by endpoint and status.
// Label values are profile names, states, reasons and status codes: never
// a key id or secret.
type Metrics struct {
	Registry        *metrics.Registry
	refreshes       *metrics.CounterVec   // profile, result
	failures        *metrics.CounterVec   // profile, reason
	stsLatency      *metrics.HistogramVec // profile
	needsMFA        *metrics.CounterVec   // profile
	reloads         *metrics.CounterVec   // result
	EndpointRequest *metrics.CounterVec   // endpoint, status
	// byStatus are EndpointRequest's imds and ecs series, by status, made
	// on first use: counting a request takes no lock.
	byStatus [2][600]atomic.Pointer[metrics.Counter]
}

func newMetrics(s *Supervisor) *Metrics {
	r := metrics.NewRegistry()
	m := &Metrics{
		Registry:   r,
		refreshes:  r.Counter("stsd_refreshes_total", "STS refresh attempts by profile and result (ok, error).", "profile", "result"),
		failures:   r.Counter("stsd_refresh_failures_total", "Failed refreshes by profile and reason (STS error code, timeout, network, ...).", "profile", "reason"),
		stsLatency: r.Histogram("stsd_sts_request_duration_seconds", "Latency of GetSessionToken/GetFederationToken calls.", []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30}, "profile"),
		needsMFA:   r.Counter("stsd_needs_mfa_total", "Times a profile entered needs-mfa.", "profile"),
		reloads:    r.Counter("stsd_config_reloads_total", "Config reloads by result (ok, error).", "result"),
		EndpointRequest: r.Counter("stsd_endpoint_requests_total",
			"Credential requests by endpoint (socket = credential_process fast path, imds, ecs) and HTTP status.", "endpoint", "status"),
	}
	r.GaugeFunc("stsd_credentials_expiry_seconds", "Seconds until the served credentials expire (0 when none).", []string{"profile"},
		func(emit func(float64, ...string)) {
			now := s.o.Clock.Now()
			cur := s.cur()
			for _, name := range cur.names() {
				v := 0.0
				if snap := cur.refreshers[name].snap.Load(); snap.valid(now) {
					v = snap.creds.Expiration.Sub(now).Seconds()
				}
				emit(v, name)
			}
		})
	r.GaugeFunc("stsd_profile_state", "1 for each profile's current state (ok, refreshing, backoff, needs-mfa, waiting, expired, error).", []string{"profile", "state"},
		func(emit func(float64, ...string)) {
			v := s.cur()
			for _, name := range v.names() {
				emit(1, name, string(v.refreshers[name].Status().State))
			}
		})
	return m
}

func (m *Metrics) refreshed(profile string, took time.Duration, reason string) {
	if m == nil {
		return
	}
	m.stsLatency.Observe(took.Seconds(), profile)
	if reason == "" {
		m.refreshes.Inc(profile, "ok")
		return
	}
	m.refreshes.Inc(profile, "error")
	m.failures.Inc(profile, reason)
}

// countRequest counts one endpoint request by its answer's status.
func (s *Supervisor) countRequest(endpoint string, status int) {
	m := s.metrics
	i := -1
	switch endpoint {
	case "imds":
		i = 0
	case "ecs":
		i = 1
	}
	if i < 0 || status < 0 || status >= len(m.byStatus[i]) {
		m.EndpointRequest.Inc(endpoint, statusLabel(status))
		return
	}
	c := m.byStatus[i][status].Load()
	if c == nil {
		c = m.EndpointRequest.With(endpoint, statusLabel(status))
		m.byStatus[i][status].Store(c) // racing makers store the same series
	}
	c.Inc()
}

// statusLabels are the status label values, made once: strconv.Itoa
// allocates for every status of three digits.
var statusLabels = func() (l [600]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

func statusLabel(status int) string {
	if status >= 0 && status < len(statusLabels) {
		return statusLabels[status]
	}
	return strconv.Itoa(status)
}
