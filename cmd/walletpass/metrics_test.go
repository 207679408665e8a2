package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"walletpass/pass"
	"walletpass/storage"
	"walletpass/workers"
)

// TestMetricsAfterAnOrdersLife is the operations issue's acceptance run: a
// sandbox order is paid (a phone adds the pass to Apple Wallet, the app
// registers, the buyer saves it to Google Wallet), modified, validated
// and cancelled; then the admin listener's /metrics shows every family
// with the values that run caused, and /debug/pprof answers there (and
// neither on the public listener).
func TestMetricsAfterAnOrdersLife(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	if s.app.AdminURL == "" {
		t.Fatal("no admin listener")
	}
	o := s.createOrder(map[string]any{"count": 1})
	ps := s.waitPasses(o.Secret, "1 pass", func(ps []pass.Pass) bool { return len(ps) == 1 })
	tk := o.Tickets[0]

	// A phone adds the pass: it registers for pushes.
	s.phoneFor(t, ps[0], "d1").register()
	// The organiser's app registers for the order.
	b, _ := json.Marshal(map[string]string{"orderSecretToken": o.Secret, "fcmToken": "fcm-metrics-1", "platform": "android", "locale": "en"})
	resp, err := http.Post(s.base+"/api/demo/customers/devices", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The buyer saves the ticket to Google Wallet.
	if resp, body := fetch(t, s.orderLinks(o.Secret)["google-save"], nil); resp.StatusCode != http.StatusFound {
		t.Fatalf("google save: %d %s", resp.StatusCode, body)
	}

	s.action(o, tk.TicketID, "modify", map[string]any{})
	s.waitPasses(o.Secret, "the modified pass", func(ps []pass.Pass) bool { return ps[0].Version == 2 })
	s.action(o, tk.TicketID, "validate", nil)
	s.waitPasses(o.Secret, "the used pass", func(ps []pass.Pass) bool { return ps[0].Status == pass.StatusUsed })
	s.action(o, tk.TicketID, "cancel", nil)
	s.waitPasses(o.Secret, "the voided pass", func(ps []pass.Pass) bool { return ps[0].Status == pass.StatusVoided })
	s.idle()

	fams := scrape(t, s.app.AdminURL+"/metrics")
	logNonZero(t, fams)
	demo := map[string]string{"tenant": "demo"}
	for _, c := range []struct {
		family string
		labels map[string]string
	}{
		{"walletpass_http_requests_total", map[string]string{"route": "/api/:tenantId/webhooks/listeners/secutix/orders", "method": "POST", "status": "200"}},
		{"walletpass_http_request_duration_seconds", map[string]string{"route": "/api/:tenantId/apple/v1/devices/:deviceLibraryIdentifier/registrations/:passTypeIdentifier/:serialNumber"}},
		{"walletpass_webhooks_total", map[string]string{"tenant": "demo", "source": "secutix-order"}},
		{"walletpass_task_attempts_total", map[string]string{"tenant": "demo", "kind": pass.TaskSyncOrder, "result": "done"}},
		{"walletpass_task_attempts_total", map[string]string{"kind": pass.TaskPushPass, "result": "done"}},
		{"walletpass_task_attempts_total", map[string]string{"kind": pass.TaskGoogleSync, "result": "done"}},
		{"walletpass_task_attempts_total", map[string]string{"kind": pass.TaskAppNotice, "result": "done"}},
		{"walletpass_task_duration_seconds", map[string]string{"kind": pass.TaskSyncOrder}},
		{"walletpass_secutix_requests_total", map[string]string{"tenant": "demo", "service": "externalOrderService", "result": "success"}},
		{"walletpass_secutix_requests_total", map[string]string{"tenant": "demo", "service": "catalogService", "result": "success"}},
		{"walletpass_secutix_request_duration_seconds", demo},
		{"walletpass_secutix_quota_wait_seconds", map[string]string{"tenant": "demo", "priority": "webhook"}},
		{"walletpass_passes_signed_total", map[string]string{"tenant": "demo", "result": "ok"}},
		{"walletpass_pass_signing_duration_seconds", nil},
		{"walletpass_apns_pushes_total", map[string]string{"tenant": "demo", "result": "delivered"}},
		{"walletpass_fcm_messages_total", map[string]string{"tenant": "demo", "result": "delivered"}},
		{"walletpass_google_requests_total", map[string]string{"tenant": "demo", "result": "2xx"}},
		{"walletpass_certificate_expiry_timestamp_seconds", map[string]string{"tenant": "demo", "certificate": "pass"}},
		{"walletpass_build_info", nil},
		{"walletpass_task_stats_up", nil},
		{"walletpass_leader", nil}, // SQLite: this instance runs the periodic jobs
		{"go_goroutines", nil},
	} {
		if v := sum(fams[c.family], c.labels); v <= 0 {
			t.Errorf("%s%v = %v, want > 0", c.family, c.labels, v)
		}
	}
	// Each periodic job has its run counts from the start, at 0 until it
	// runs (none is due during this test).
	for _, result := range []string{"success", "error"} {
		if got := series(fams["walletpass_job_runs_total"], map[string]string{"job_name": "secutix-backlog", "result": result}); got != 1 {
			t.Errorf("walletpass_job_runs_total{job_name=secutix-backlog,result=%s}: %d series, want 1", result, got)
		}
	}
	// Every family the README and docs/ tell operators to watch is one.
	// A job's success timestamp appears once it succeeded, which an
	// order's life does not wait for: the jobs run by runJobs serve it.
	jobsURL, stopJobs := runJobs(t)
	served := maps.Clone(fams)
	for name, fam := range scrape(t, jobsURL) {
		if _, ok := served[name]; !ok {
			served[name] = fam
		}
	}
	stopJobs()
	docs, _ := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	named := 0
	for _, f := range append(docs, filepath.Join("..", "..", "README.md")) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range docMetric.FindAllString(string(data), -1) {
			named++
			if _, ok := served[histogramOf(served, name)]; !ok {
				t.Errorf("%s names %s, which /metrics does not serve", filepath.Base(f), name)
			}
		}
	}
	if named < 10 {
		t.Errorf("the docs name %d metrics: the extraction is broken", named)
	}
	// The alerts docs/production.md suggests can be pasted as they are: a
	// counter under rate() or increase() (its raw value only grows), a
	// histogram by its _bucket, _sum or _count series.
	prod, err := os.ReadFile(filepath.Join("..", "..", "docs", "production.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, alerts, _ := strings.Cut(string(prod), "Worth alerting on:")
	alerts, _, _ = strings.Cut(alerts, "\n- ")
	for _, at := range docMetric.FindAllStringIndex(alerts, -1) {
		name := alerts[at[0]:at[1]]
		fam := served[histogramOf(served, name)]
		switch {
		case fam == nil:
		case fam.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(alerts[:at[0]], "rate(") && !strings.HasSuffix(alerts[:at[0]], "increase("):
			t.Errorf("production.md alerts on the counter %s outside rate() or increase()", name)
		case fam.GetType() == dto.MetricType_HISTOGRAM && name == fam.GetName():
			t.Errorf("production.md alerts on the histogram %s by its bare name, which has no series", name)
		}
	}
	if exp := sum(fams["walletpass_certificate_expiry_timestamp_seconds"], map[string]string{"tenant": "demo", "certificate": "pass"}); exp < float64(time.Now().Unix()) {
		t.Errorf("certificate expiry %v is in the past", exp)
	}
	// Every kind and state has a series, zero when empty, not none.
	for _, st := range []string{"pending", "running", "dead"} {
		if got := series(fams["walletpass_tasks"], map[string]string{"kind": pass.TaskSyncOrder, "state": st}); got != 1 {
			t.Errorf("walletpass_tasks{kind=sync-order,state=%s}: %d series", st, got)
		}
	}
	// Nothing died (work may still be queued: the scrape follows the
	// drain, and announcements queue more).
	if v := sum(fams["walletpass_tasks"], map[string]string{"state": "dead"}); v != 0 {
		t.Errorf("walletpass_tasks{state=dead} = %v", v)
	}
	// Only known routes become labels: a path with an id in it does not.
	for _, m := range fams["walletpass_http_requests_total"].GetMetric() {
		if r := label(m, "route"); strings.Contains(r, o.Secret) || strings.Contains(r, fmt.Sprint(o.FileID)) {
			t.Errorf("a route label holds an id: %s", r)
		}
	}

	if resp, _ := fetch(t, s.app.AdminURL+"/debug/pprof/", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("pprof on the admin listener: %d", resp.StatusCode)
	}
	for _, p := range []string{"/metrics", "/debug/pprof/"} {
		if resp, _ := fetch(t, s.base+p, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s on the public listener: %d, want 404", p, resp.StatusCode)
		}
	}
}

// TestJobMetrics: a periodic job's failed run is counted as an error, a
// good run counts as a success and sets the job's success timestamp, and
// a job that never succeeded has counts at 0 and no timestamp; the
// instance (SQLite) leads while its dispatcher runs, and no longer once
// it stopped.
func TestJobMetrics(t *testing.T) {
	t.Parallel()
	before := float64(time.Now().UnixMilli()) / 1000
	url, stop := runJobs(t)
	fams := scrape(t, url)
	after := float64(time.Now().UnixMilli()+1) / 1000
	runs, last := fams["walletpass_job_runs_total"], fams["walletpass_job_last_success_timestamp_seconds"]
	for _, c := range []struct {
		job, result string
		min, max    float64
	}{
		{"broken", "error", 1, math.Inf(1)},
		{"broken", "success", 0, 0},
		{"fine", "success", 1, math.Inf(1)},
		{"fine", "error", 0, 0},
		{"daily", "success", 0, 0},
		{"daily", "error", 0, 0},
	} {
		labels := map[string]string{"job_name": c.job, "result": c.result}
		if n := series(runs, labels); n != 1 {
			t.Errorf("walletpass_job_runs_total%v: %d series, want 1", labels, n)
		}
		if v := sum(runs, labels); v < c.min || v > c.max {
			t.Errorf("walletpass_job_runs_total%v = %v, want between %v and %v", labels, v, c.min, c.max)
		}
	}
	if v := sum(last, map[string]string{"job_name": "fine"}); v < before || v > after {
		t.Errorf("walletpass_job_last_success_timestamp_seconds{job_name=fine} = %.3f, want between %.3f and %.3f", v, before, after)
	}
	for _, job := range []string{"broken", "daily"} {
		if n := series(last, map[string]string{"job_name": job}); n != 0 {
			t.Errorf("walletpass_job_last_success_timestamp_seconds{job_name=%s}: %d series of a job that never succeeded", job, n)
		}
	}
	if v := sum(fams["walletpass_leader"], nil); v != 1 {
		t.Errorf("walletpass_leader = %v while the dispatcher runs, want 1", v)
	}
	stop()
	if v := sum(scrape(t, url)["walletpass_leader"], nil); v != 0 {
		t.Errorf("walletpass_leader = %v once the dispatcher stopped, want 0", v)
	}
}

// runJobs starts a dispatcher over SQLite with the metrics' hooks as App
// gives them, and the periodic jobs broken (fails), fine (succeeds) and
// daily (not due during a test). Once broken and fine ran, it returns the
// URL of the metrics' /metrics and a function that stops the dispatcher.
func runJobs(t *testing.T) (metricsURL string, stop func()) {
	t.Helper()
	db, err := storage.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m := newMetrics(db, nil)
	admin := httptest.NewServer(m.adminHandler())
	t.Cleanup(admin.Close)
	every := 20 * time.Millisecond
	d := workers.New(workers.Config{Reconcile: -1, RetentionEvery: -1, Elector: db.Elector("walletpass-jobs"),
		Jobs: []workers.Job{
			{Name: "broken", Every: every, Run: func(context.Context) error { return errors.New("the database is locked") }},
			{Name: "fine", Every: every, Run: func(context.Context) error { return nil }},
			{Name: "daily", Every: 24 * time.Hour, Run: func(context.Context) error { return nil }},
		},
		OnAttempt: m.taskAttempt, OnJob: m.jobRun, OnLeader: m.leading}, db, db, nil, nil)
	m.knownJobs(d.JobNames())
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := d.Stop(context.Background()); err != nil {
				t.Errorf("stop the dispatcher: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		runs := scrape(t, admin.URL+"/metrics")["walletpass_job_runs_total"]
		if sum(runs, map[string]string{"job_name": "broken", "result": "error"}) > 0 &&
			sum(runs, map[string]string{"job_name": "fine", "result": "success"}) > 0 {
			return admin.URL + "/metrics", stop
		}
		if time.Now().After(deadline) {
			t.Fatal("the jobs did not run")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// histogramOf is the family a series name belongs to: a histogram's for
// its _bucket, _sum and _count series, name itself otherwise.
func histogramOf(fams map[string]*dto.MetricFamily, name string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && fams[base].GetType() == dto.MetricType_HISTOGRAM {
			return base
		}
	}
	return name
}

// docMetric finds a metric family's name in the docs.
var docMetric = regexp.MustCompile(`\bwalletpass_[a-z_]+[a-z]\b`)

// logNonZero logs the walletpass_ series the run made non-zero (go test
// -v shows them), histograms by their count.
func logNonZero(t *testing.T, fams map[string]*dto.MetricFamily) {
	names := make([]string, 0, len(fams))
	for name := range fams {
		if strings.HasPrefix(name, "walletpass_") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		for _, m := range fams[name].GetMetric() {
			if v := sum(&dto.MetricFamily{Metric: []*dto.Metric{m}}, nil); v != 0 {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+"="+strconv.Quote(l.GetValue()))
				}
				suffix := ""
				if m.Histogram != nil {
					suffix = "_count"
				}
				t.Logf("%s%s{%s} %g", name, suffix, strings.Join(labels, ","), v)
			}
		}
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the metrics do not parse: %v", err)
	}
	return fams
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func matches(m *dto.Metric, labels map[string]string) bool {
	for k, v := range labels {
		if label(m, k) != v {
			return false
		}
	}
	return true
}

// sum adds the values (a histogram's count) of the family's series that
// carry labels.
func sum(f *dto.MetricFamily, labels map[string]string) float64 {
	var v float64
	for _, m := range f.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v
}

func series(f *dto.MetricFamily, labels map[string]string) int {
	n := 0
	for _, m := range f.GetMetric() {
		if matches(m, labels) {
			n++
		}
	}
	return n
}

// TestAdminProfilesLoopbackOnly: the admin listener gives its metrics to
// any client (Prometheus scrapes across the container network) and its
// profiles to clients on a loopback address only.
func TestAdminProfilesLoopbackOnly(t *testing.T) {
	t.Parallel()
	db, err := storage.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := newMetrics(db, nil).adminHandler()
	for _, tc := range []struct {
		remote, path string
		want         int
	}{
		{"10.1.2.3:40000", "/metrics", http.StatusOK},
		{"10.1.2.3:40000", "/debug/pprof/", http.StatusForbidden},
		{"10.1.2.3:40000", "/debug/pprof/cmdline", http.StatusForbidden},
		{"10.1.2.3:40000", "/debug/pprof/profile?seconds=1", http.StatusForbidden},
		{"10.1.2.3:40000", "/debug/pprof/trace?seconds=1", http.StatusForbidden},
		{"[2001:db8::1]:40000", "/debug/pprof/symbol", http.StatusForbidden},
		{"[::ffff:192.0.2.1]:40000", "/debug/pprof/", http.StatusForbidden},
		{"garbage", "/debug/pprof/", http.StatusForbidden},
		{"127.0.0.1:40000", "/debug/pprof/", http.StatusOK},
		{"[::1]:40000", "/debug/pprof/cmdline", http.StatusOK},
		{"[::ffff:127.0.0.1]:40000", "/debug/pprof/", http.StatusOK},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.RemoteAddr = tc.remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s from %s: %d, want %d", tc.path, tc.remote, rec.Code, tc.want)
		}
	}
}
