package main

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"walletpass/certs"
	"walletpass/pass"
	"walletpass/storage"
	"walletpass/workers"
)

// metrics are the service's Prometheus metrics, on a registry of the App
// (several Apps in one test process do not mix). The adapters know
// nothing of Prometheus: they take hooks (httpapi.Metrics,
// workers.Config.OnAttempt, OnJob and OnLeader, secutix.Config.Observe)
// and cmd/walletpass wraps the rest (signing, APNs, FCM, Google's
// transport).
type metrics struct {
	reg *prometheus.Registry

	httpRequests     *prometheus.CounterVec
	httpDuration     *prometheus.HistogramVec
	webhooks         *prometheus.CounterVec
	taskAttempts     *prometheus.CounterVec
	taskDuration     *prometheus.HistogramVec
	jobRuns          *prometheus.CounterVec
	jobLastSuccess   *prometheus.GaugeVec
	leader           prometheus.Gauge
	secutixRequests  *prometheus.CounterVec
	secutixDuration  *prometheus.HistogramVec
	secutixQuotaWait *prometheus.HistogramVec
	passesSigned     *prometheus.CounterVec
	signingDuration  prometheus.Histogram
	apnsPushes       *prometheus.CounterVec
	fcmMessages      *prometheus.CounterVec
	googleRequests   *prometheus.CounterVec
}

// Buckets for calls to outside services and for our own work.
var (
	remoteBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	localBuckets  = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}
	waitBuckets   = []float64{0, .01, .1, .5, 1, 2.5, 5, 10, 30, 60, 120}
)

func newMetrics(db *storage.DB, identities map[string]*certs.Identity) *metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &metrics{reg: reg}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "walletpass_http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and status."}, []string{"route", "method", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "walletpass_http_request_duration_seconds",
		Help: "Time to answer an HTTP request, by route pattern and method.", Buckets: remoteBuckets}, []string{"route", "method"})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "walletpass_webhooks_total",
		Help: "SecuTix webhooks received, by tenant, source and outcome (queued, merged, unauthorized, throttled, rejected, failed)."},
		[]string{"tenant", "source", "outcome"})
	m.taskAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "walletpass_task_attempts_total",
		Help: "Task attempts finished, by tenant, kind and result (done, deferred, retry, dead)."}, []string{"tenant", "kind", "result"})
	m.taskDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "walletpass_task_duration_seconds",
		Help: "Time a task attempt ran, by kind.", Buckets: remoteBuckets}, []string{"kind"})
	m.jobRuns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "walletpass_job_runs_total",
		Help: "Runs of the periodic jobs finished on this instance, by job name and result (success, error)."}, []string{"job_name", "result"})
	m.jobLastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "walletpass_job_last_success_timestamp_seconds",
		Help: "When a periodic job last succeeded on this instance (Unix time), by job name; no series before its first success."}, []string{"job_name"})
	m.leader = prometheus.NewGauge(prometheus.GaugeOpts{Name: "walletpass_leader",
		Help: "1 while this instance runs the periodic jobs that run on one instance at a time, 0 otherwise."})
	m.secutixRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "walletpass_secutix_requests_total",
		Help: "Requests sent to SecuTix, by tenant, service, method and result (over_quota counts HTTP 509 and 429)."},
		[]string{"tenant", "service", "method", "result"})
	m.secutixDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "walletpass_secutix_request_duration_seconds",
		Help: "Time of one exchange with SecuTix, by tenant, service and method.", Buckets: remoteBuckets},
		[]string{"tenant", "service", "method"})
	m.secutixQuotaWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "walletpass_secutix_quota_wait_seconds",
		Help: "Time a request waited for its SecuTix quota, by tenant, service and priority.", Buckets: waitBuckets},
		[]string{"tenant", "service", "priority"})
	m.passesSigned = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "walletpass_passes_signed_total",
		Help: "Apple Wallet passes signed, by tenant and result (ok, error)."}, []string{"tenant", "result"})
	m.signingDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "walletpass_pass_signing_duration_seconds",
		Help: "Time to package and sign one .pkpass.", Buckets: localBuckets})
	m.apnsPushes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "walletpass_apns_pushes_total",
		Help: "Pushes sent to APNs, by tenant and result (delivered, unregistered, ..., error)."}, []string{"tenant", "result"})
	m.fcmMessages = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "walletpass_fcm_messages_total",
		Help: "Messages sent to FCM (the organiser's app), by tenant and result."}, []string{"tenant", "result"})
	m.googleRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "walletpass_google_requests_total",
		Help: "Requests sent to Google Wallet, by tenant, call (method and resource) and result (HTTP status class, or network_error)."},
		[]string{"tenant", "call", "result"})
	for _, c := range []prometheus.Collector{m.httpRequests, m.httpDuration, m.webhooks, m.taskAttempts, m.taskDuration,
		m.jobRuns, m.jobLastSuccess, m.leader, m.secutixRequests, m.secutixDuration, m.secutixQuotaWait, m.passesSigned,
		m.signingDuration, m.apnsPushes, m.fcmMessages, m.googleRequests} {
		f(c)
	}
	v := buildVersion()
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "walletpass_build_info",
		Help: "Always 1: the build's module version, VCS revision and Go version."}, []string{"version", "revision", "goversion"})
	info.WithLabelValues(v.Version, v.Revision, v.GoVersion).Set(1)
	f(info)
	f(&taskCollector{db: db})
	f(&certCollector{identities: identities})
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Request and Webhook make metrics an httpapi.Metrics.
func (m *metrics) Request(route, method string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

func (m *metrics) Webhook(tenant, source, outcome string) {
	m.webhooks.WithLabelValues(tenant, source, outcome).Inc()
}

// taskAttempt is workers.Config.OnAttempt. Tenants are the configured
// ones, so the tenant label stays bounded; the duration, a histogram, is
// by kind only.
func (m *metrics) taskAttempt(tenant, kind, result string, d time.Duration) {
	m.taskAttempts.WithLabelValues(tenant, kind, result).Inc()
	m.taskDuration.WithLabelValues(kind).Observe(d.Seconds())
}

// jobRun is workers.Config.OnJob: a success also sets when the job last
// succeeded.
func (m *metrics) jobRun(job, result string) {
	m.jobRuns.WithLabelValues(job, result).Inc()
	if result == workers.JobSuccess {
		m.jobLastSuccess.WithLabelValues(job).SetToCurrentTime()
	}
}

// knownJobs gives every run count of the jobs named its series at 0, so
// that increase() sees a job's first failure. The success timestamp has
// none until the job succeeds: 0 would read as a job that never ran.
func (m *metrics) knownJobs(names []string) {
	for _, job := range names {
		for _, result := range []string{workers.JobSuccess, workers.JobError} {
			m.jobRuns.WithLabelValues(job, result)
		}
	}
}

// leading is workers.Config.OnLeader.
func (m *metrics) leading(yes bool) {
	if yes {
		m.leader.Set(1)
	} else {
		m.leader.Set(0)
	}
}

// secutixHooks are secutix.Config.Observe and QuotaWait for a tenant.
func (m *metrics) secutixHooks(tenant string) (func(service, method, result string, d time.Duration), func(string, pass.Priority, time.Duration)) {
	return func(service, method, result string, d time.Duration) {
			m.secutixRequests.WithLabelValues(tenant, service, method, result).Inc()
			m.secutixDuration.WithLabelValues(tenant, service, method).Observe(d.Seconds())
		}, func(service string, p pass.Priority, d time.Duration) {
			m.secutixQuotaWait.WithLabelValues(tenant, service, p.String()).Observe(d.Seconds())
		}
}

// countedPackager counts and times the signing of passes.
type countedPackager struct {
	pass.Packager
	m *metrics
}

func (p countedPackager) Sign(ctx context.Context, tenant string, r pass.Rendered) ([]byte, error) {
	start := time.Now()
	out, err := p.Packager.Sign(ctx, tenant, r)
	p.m.signingDuration.Observe(time.Since(start).Seconds())
	p.m.passesSigned.WithLabelValues(tenant, okOrError(err)).Inc()
	return out, err
}

func okOrError(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// countedPusher counts APNs pushes by outcome.
type countedPusher struct {
	pass.Pusher
	tenant string
	m      *metrics
}

func (p countedPusher) PushPass(ctx context.Context, tenant, deviceToken, passTypeID string) (pass.PushResult, error) {
	res, err := p.Pusher.PushPass(ctx, tenant, deviceToken, passTypeID)
	p.m.apnsPushes.WithLabelValues(p.tenant, outcomeLabel(res.Outcome, err)).Inc()
	return res, err
}

// countedNotifier counts FCM messages by outcome.
type countedNotifier struct {
	pass.AppNotifier
	tenant string
	m      *metrics
}

func (n countedNotifier) NotifyApp(ctx context.Context, tenant, fcmToken string, an pass.AppNotice) (pass.PushOutcome, string, error) {
	o, reason, err := n.AppNotifier.NotifyApp(ctx, tenant, fcmToken, an)
	n.m.fcmMessages.WithLabelValues(n.tenant, outcomeLabel(o, err)).Inc()
	return o, reason, err
}

func outcomeLabel(o pass.PushOutcome, _ error) string {
	switch o {
	case pass.PushDelivered, pass.PushUnregistered, pass.PushRetry, pass.PushConfigError:
		return strings.ReplaceAll(o.String(), " ", "_")
	}
	return "error"
}

func (m *metrics) pushers(in pass.TenantPushers) pass.TenantPushers {
	out := pass.TenantPushers{}
	for t, p := range in {
		out[t] = countedPusher{Pusher: p, tenant: t, m: m}
	}
	return out
}

func (m *metrics) notifiers(in pass.TenantNotifiers) pass.TenantNotifiers {
	out := pass.TenantNotifiers{}
	for t, n := range in {
		out[t] = countedNotifier{AppNotifier: n, tenant: t, m: m}
	}
	return out
}

// googleTransport counts a tenant's requests to Google Wallet (and to its
// token endpoint) by call and result.
func (m *metrics) googleTransport(tenant string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(req)
		result := "network_error"
		if err == nil {
			result = strconv.Itoa(resp.StatusCode/100) + "xx"
		}
		m.googleRequests.WithLabelValues(tenant, googleCall(req), result).Inc()
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// googleCall names a request by method and resource, without ids:
// "PATCH eventTicketObject", "POST token".
func googleCall(req *http.Request) string {
	path := strings.Trim(req.URL.Path, "/")
	resource := "other"
	if i := strings.Index(path, "walletobjects/v1/"); i >= 0 {
		resource, _, _ = strings.Cut(path[i+len("walletobjects/v1/"):], "/")
	} else if strings.HasSuffix(path, "token") {
		resource = "token"
	}
	switch resource {
	case "eventTicketClass", "eventTicketObject", "token":
	default:
		resource = "other"
	}
	return req.Method + " " + resource
}

// taskCollector reads the queue at each scrape: tasks by kind and state,
// and how long the longest-waiting due task has waited.
type taskCollector struct{ db *storage.DB }

var (
	tasksDesc = prometheus.NewDesc("walletpass_tasks",
		"Tasks not done, by kind and state (pending, running, dead).", []string{"kind", "state"}, nil)
	oldestDueDesc = prometheus.NewDesc("walletpass_task_oldest_due_age_seconds",
		"How long the longest-waiting due pending task of a kind has waited (0: none waiting).", []string{"kind"}, nil)
	scrapeErrorDesc = prometheus.NewDesc("walletpass_task_stats_up",
		"1 when the queue could be read for these metrics, 0 when not.", nil, nil)
)

func (c *taskCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tasksDesc
	ch <- oldestDueDesc
	ch <- scrapeErrorDesc
}

// taskKinds and taskStates are the series taskCollector always gives (0
// when empty), so that a query sees the queue empty, not gone.
var (
	taskKinds = []string{pass.TaskSyncOrder, pass.TaskPushPass, pass.TaskGoogleSync, pass.TaskAppNotice,
		pass.TaskEventFanout, pass.TaskWebhookDelivery, pass.TaskInstallStatus, pass.TaskPerformanceSync,
		pass.TaskPushPerformance, pass.TaskGooglePerformance, pass.TaskEventBatch}
	taskStates = []pass.TaskState{pass.TaskPending, pass.TaskRunning, pass.TaskDead}
)

func (c *taskCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := time.Now()
	stats, err := c.db.TaskStats(ctx, now)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(scrapeErrorDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrorDesc, prometheus.GaugeValue, 1)
	type key struct{ kind, state string }
	counts, oldest := map[key]int{}, map[string]float64{}
	for _, k := range taskKinds {
		oldest[k] = 0
		for _, st := range taskStates {
			counts[key{k, string(st)}] = 0
		}
	}
	for _, s := range stats {
		counts[key{s.Kind, s.State}] += s.Count
		if !s.OldestDue.IsZero() {
			oldest[s.Kind] = max(oldest[s.Kind], now.Sub(s.OldestDue).Seconds())
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(n), k.kind, k.state)
	}
	for kind, age := range oldest {
		ch <- prometheus.MustNewConstMetric(oldestDueDesc, prometheus.GaugeValue, age, kind)
	}
}

// certCollector gives each tenant's certificates' expiry: days left are
// (walletpass_certificate_expiry_timestamp_seconds - time()) / 86400.
type certCollector struct{ identities map[string]*certs.Identity }

var certDesc = prometheus.NewDesc("walletpass_certificate_expiry_timestamp_seconds",
	"When a tenant's certificate expires (Unix time), by tenant and certificate (pass, wwdr).", []string{"tenant", "certificate"}, nil)

func (c *certCollector) Describe(ch chan<- *prometheus.Desc) { ch <- certDesc }

func (c *certCollector) Collect(ch chan<- prometheus.Metric) {
	for tenant, id := range c.identities {
		if id == nil {
			continue
		}
		if id.Leaf != nil {
			ch <- prometheus.MustNewConstMetric(certDesc, prometheus.GaugeValue, float64(id.Leaf.NotAfter.Unix()), tenant, "pass")
		}
		if id.WWDR != nil {
			ch <- prometheus.MustNewConstMetric(certDesc, prometheus.GaugeValue, float64(id.WWDR.NotAfter.Unix()), tenant, "wwdr")
		}
	}
}

// loopbackOnly serves h to clients on a loopback address only: an
// operator's curl on the host or inside the container (docker exec), or a
// port-forward. A profile shows the process's memory (its secrets among
// it), and a CPU profile or a trace runs for as long as it asks; a 403
// says where to ask from.
func loopbackOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip, perr := netip.ParseAddr(host)
		if err != nil || perr != nil || !ip.Unmap().IsLoopback() {
			http.Error(w, "walletpass admin: /debug/pprof answers loopback clients only (a port-forward, or a client in the service's network namespace)",
				http.StatusForbidden)
			return
		}
		h(w, r)
	}
}

// adminHandler serves /metrics and /debug/pprof on the admin listener:
// the metrics to whoever reaches it (Prometheus, across the container
// network: the images listen on 0.0.0.0), the profiles to this machine's
// own clients only (loopbackOnly).
func (m *metrics) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("GET /debug/pprof/", loopbackOnly(pprof.Index))
	mux.HandleFunc("GET /debug/pprof/cmdline", loopbackOnly(pprof.Cmdline))
	mux.HandleFunc("GET /debug/pprof/profile", loopbackOnly(pprof.Profile))
	mux.HandleFunc("GET /debug/pprof/symbol", loopbackOnly(pprof.Symbol))
	mux.HandleFunc("GET /debug/pprof/trace", loopbackOnly(pprof.Trace))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("walletpass admin: /metrics, /debug/pprof/\n"))
	})
	return mux
}
