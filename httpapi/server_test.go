package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"walletpass/httpapi"
	"walletpass/pass"
	"walletpass/pass/apple/appletest"
)

type fakeStore struct{ err error }

func (f fakeStore) Ping(context.Context) error { return f.err }

func setup(t *testing.T, store httpapi.Pinger) (*httptest.Server, appletest.Fixture) {
	t.Helper()
	f := appletest.Setup(t)
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		Preview: httpapi.PreviewDeps{Enabled: true, Packager: f.Registry}, Health: []httpapi.HealthCheck{{What: "the database", Pinger: store}},
		Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo Concerts", DefaultTemplate: "default"}},
	}))
	t.Cleanup(srv.Close)
	return srv, f
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestPreviewDownloadsAVerifiedPass(t *testing.T) {
	t.Parallel()
	srv, f := setup(t, fakeStore{})
	for _, kind := range []string{"concert", "festival", "sports"} {
		resp, body := get(t, srv.URL+"/api/demo/preview/default?kind="+kind, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d: %s", kind, resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != pass.ContentTypePkpass {
			t.Errorf("content type %q", ct)
		}
		if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, ".pkpass") {
			t.Errorf("content disposition %q", cd)
		}
		pj := appletest.Verify(t, body, f.WWDR)
		if sem := pj["semantics"].(map[string]any); sem["eventName"] == "" {
			t.Errorf("no event name")
		}
	}
	resp, body := get(t, srv.URL+"/api/demo/preview/default?kind=sports&state=cancelled", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cancelled: %d %s", resp.StatusCode, body)
	}
	if pj := appletest.Verify(t, body, f.WWDR); pj["voided"] != true {
		t.Errorf("cancelled preview is not voided")
	}
	// A season ticket lists its upcoming events; nfc=1 signs as an NFC
	// tenant, in the poster layout, with the poster's images.
	resp, body = get(t, srv.URL+"/api/demo/preview/default?kind=season", nil)
	if pj := appletest.Verify(t, body, f.WWDR); resp.StatusCode != 200 || len(pj["upcomingPassInformation"].([]any)) != 3 || pj["nfc"] != nil {
		t.Errorf("season: %d, upcoming %v, nfc %v", resp.StatusCode, pj["upcomingPassInformation"], pj["nfc"])
	}
	resp, body = get(t, srv.URL+"/api/demo/preview/default?kind=concert&nfc=1", nil)
	if pj := appletest.Verify(t, body, f.WWDR); resp.StatusCode != 200 || pj["nfc"] == nil || pj["preferredStyleSchemes"] == nil {
		t.Errorf("nfc=1: %d, nfc %v, schemes %v", resp.StatusCode, pj["nfc"], pj["preferredStyleSchemes"])
	}
	if _, ok := appletest.Unzip(t, body)["artwork.png"]; !ok {
		t.Errorf("nfc=1: no artwork")
	}
}

func TestProblems(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, fakeStore{})
	tests := []struct {
		name, path string
		status     int
		detail     string
	}{
		{name: "unknown tenant", path: "/api/other/preview/default", status: 404, detail: "unknown tenant"},
		{name: "unknown template", path: "/api/demo/preview/fancy", status: 404, detail: `no template called "fancy"`},
		{name: "bad template name", path: "/api/demo/preview/Bad.Name", status: 400, detail: "template name"},
		{name: "bad kind", path: "/api/demo/preview/default?kind=opera", status: 400, detail: `kind "opera"`},
		{name: "bad state", path: "/api/demo/preview/default?state=LOST", status: 400, detail: "state must be"},
		{name: "bad nfc", path: "/api/demo/preview/default?nfc=yes", status: 400, detail: "nfc must be 1 or 0"},
		{name: "no route", path: "/nowhere", status: 404, detail: "no such resource"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := get(t, srv.URL+tc.path, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != httpapi.ContentTypeProblem {
				t.Errorf("content type %q, want problem+json", ct)
			}
			var p httpapi.Problem
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Status != tc.status || !strings.Contains(p.Detail, tc.detail) || p.CorrelationID == "" || p.CorrelationID != resp.Header.Get("X-Correlation-ID") {
				t.Errorf("problem = %+v, want status %d, detail containing %q and the correlation id", p, tc.status, tc.detail)
			}
		})
	}
}

func TestMethodNotAllowedAndBodyLimit(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, fakeStore{})
	resp, err := http.Post(srv.URL+"/healthz", "application/json", strings.NewReader(strings.Repeat("x", httpapi.MaxBody+1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d, want 413", resp.StatusCode)
	}
	resp, err = http.Post(srv.URL+"/healthz", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: status %d, want 405", resp.StatusCode)
	}
}

func TestCorrelationID(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, fakeStore{})
	resp, _ := get(t, srv.URL+"/healthz", map[string]string{"X-Request-ID": "req-123"})
	if got := resp.Header.Get("X-Correlation-ID"); got != "req-123" {
		t.Errorf("X-Request-ID not reused: %q", got)
	}
	resp, _ = get(t, srv.URL+"/healthz", map[string]string{"X-Correlation-ID": "corr.9", "X-Request-ID": "req-1"})
	if got := resp.Header.Get("X-Correlation-ID"); got != "corr.9" {
		t.Errorf("X-Correlation-ID not preferred: %q", got)
	}
	resp, _ = get(t, srv.URL+"/healthz", map[string]string{"X-Correlation-ID": "bad id\twith<junk>"})
	if got := resp.Header.Get("X-Correlation-ID"); got == "" || strings.ContainsAny(got, " <>\t") {
		t.Errorf("malformed id echoed: %q", got)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, fakeStore{})
	if resp, body := get(t, srv.URL+"/healthz", nil); resp.StatusCode != 200 || !strings.Contains(string(body), "ok") {
		t.Errorf("healthz: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, srv.URL+"/readyz", nil); resp.StatusCode != 200 {
		t.Errorf("readyz: %d", resp.StatusCode)
	}
	down, _ := setup(t, fakeStore{err: errors.New("dial tcp: connection refused password=hunter2")})
	resp, body := get(t, down.URL+"/readyz", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(body), "hunter2") {
		t.Errorf("readyz with the database down: %d %s", resp.StatusCode, body)
	}
	// The pass file store counts too, and a draining server is not ready.
	var draining atomic.Bool
	both := httptest.NewServer(httpapi.New(httpapi.Deps{
		Health: []httpapi.HealthCheck{{What: "the database", Pinger: fakeStore{}},
			{What: "the pass file store", Pinger: fakeStore{err: errors.New("bucket gone")}}},
		Draining: draining.Load,
	}))
	defer both.Close()
	resp, body = get(t, both.URL+"/readyz", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "the pass file store does not answer") {
		t.Errorf("readyz with the blob store down: %d %s", resp.StatusCode, body)
	}
	draining.Store(true)
	up := httptest.NewServer(httpapi.New(httpapi.Deps{Draining: draining.Load}))
	defer up.Close()
	resp, body = get(t, up.URL+"/readyz", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "shutting down") {
		t.Errorf("readyz while draining: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, up.URL+"/healthz", nil); resp.StatusCode != 200 {
		t.Errorf("healthz while draining: %d (the process is alive)", resp.StatusCode)
	}
	resp, body = get(t, srv.URL+"/", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "/api/demo/preview/default?kind=festival") {
		t.Errorf("home page lacks the preview links: %d", resp.StatusCode)
	}
	// Without previews (production), the home page names no tenant.
	prod := httptest.NewServer(httpapi.New(httpapi.Deps{Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo Concerts"}}}))
	defer prod.Close()
	if resp, body := get(t, prod.URL+"/", nil); resp.StatusCode != 200 || strings.Contains(string(body), "Demo Concerts") ||
		strings.Contains(string(body), "/api/demo/") {
		t.Errorf("the home page without previews: %d, names the tenant: %s", resp.StatusCode, body)
	}
}

// countingPinger counts its pings, each of which takes a moment.
type countingPinger struct {
	pings atomic.Int64
	err   atomic.Pointer[error]
}

func (p *countingPinger) Ping(context.Context) error {
	p.pings.Add(1)
	time.Sleep(20 * time.Millisecond)
	if e := p.err.Load(); e != nil {
		return *e
	}
	return nil
}

// TestReadinessChecksShared: /readyz is public; 200 probes at once share
// one health check, whose result is reused for httpapi.ReadyCacheFor (a
// failure too), then checked again.
func TestReadinessChecksShared(t *testing.T) {
	t.Parallel()
	db := &countingPinger{}
	var clock atomic.Int64 // Unix nanoseconds
	clock.Store(time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC).UnixNano())
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		Health: []httpapi.HealthCheck{{What: "the database", Pinger: db}},
		Clock:  func() time.Time { return time.Unix(0, clock.Load()) },
	}))
	defer srv.Close()
	probes := func(n, want int) {
		t.Helper()
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				resp, err := http.Get(srv.URL + "/readyz")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("readyz: got %d, want %d", resp.StatusCode, want)
				}
			})
		}
		wg.Wait()
	}
	probes(200, http.StatusOK)
	if got := db.pings.Load(); got != 1 {
		t.Errorf("200 concurrent probes pinged the database %d times, want 1", got)
	}
	down := errors.New("dial tcp 10.0.0.5:5432: connection refused")
	db.err.Store(&down)
	probes(10, http.StatusOK) // within ReadyCacheFor: the last result
	clock.Add(int64(httpapi.ReadyCacheFor))
	probes(50, http.StatusServiceUnavailable)
	if got := db.pings.Load(); got != 2 {
		t.Errorf("after ReadyCacheFor: %d pings in all, want 2", got)
	}
	db.err.Store(nil)
	probes(10, http.StatusServiceUnavailable) // the failure is kept as long
	clock.Add(int64(httpapi.ReadyCacheFor))
	probes(1, http.StatusOK)
	if got := db.pings.Load(); got != 3 {
		t.Errorf("%d pings in all, want 3", got)
	}
}

// panicking is a health check whose Ping panics.
type panicking struct{}

func (panicking) Ping(context.Context) error { panic("the driver broke") }

// requests records what the server counts.
type requests struct {
	mu  sync.Mutex
	got []string // method route status
}

func (r *requests) Request(route, method string, status int, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, fmt.Sprintf("%s %s %d", method, route, status))
}
func (r *requests) Webhook(string, string, string) {}

// TestPanicsAndMethodsCounted: a handler's panic is a 500 problem that the
// request metrics and log count like any other, logged with its stack; a
// method a client makes up is counted as "other", not as a series of its
// own.
func TestPanicsAndMethodsCounted(t *testing.T) {
	t.Parallel()
	var logs syncWriter
	rec := &requests{}
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		Log: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: rec,
		Health: []httpapi.HealthCheck{{What: "the database", Pinger: panicking{}}},
	}))
	defer srv.Close()
	if resp, body := get(t, srv.URL+"/readyz", nil); resp.StatusCode != 500 || !strings.Contains(string(body), "correlation id") {
		t.Errorf("a panic: %d %s", resp.StatusCode, body)
	}
	for _, m := range []string{"XQ1", "XQ2", "GET"} {
		req, _ := http.NewRequest(m, srv.URL+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	rec.mu.Lock()
	got := strings.Join(rec.got, "\n")
	rec.mu.Unlock()
	for _, want := range []string{"GET /readyz 500", "other ", "GET /healthz 200"} {
		if !strings.Contains(got, want) {
			t.Errorf("the metrics lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "XQ") {
		t.Errorf("a made-up method is a label:\n%s", got)
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"panic"`) || !strings.Contains(out, `"stack":"goroutine`) ||
		!strings.Contains(out, `"msg":"http"`) || !strings.Contains(out, `"status":500`) {
		t.Errorf("the log lacks the panic's stack or its request line:\n%s", out)
	}
}

// syncWriter is a log destination safe for the server's goroutines.
type syncWriter struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// switchable is a health check the test takes down and brings back.
type switchable struct{ down atomic.Bool }

func (s *switchable) Ping(context.Context) error {
	if s.down.Load() {
		return errors.New("dial tcp 10.0.0.5:5432: connection refused")
	}
	return nil
}

// logRecords parses a JSON log.
func logRecords(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(log) {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// TestFailedReadinessLogsOncePerChange: readiness probes that fail (the
// database down, then a drain) are no failed requests for the log: no
// error line, one warning when the server stops being ready and one info
// line when it is ready again, however many probes; the metrics count
// every probe. With the access log on, each probe has its info line.
func TestFailedReadinessLogsOncePerChange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		accessLog bool
		// wantHTTP is how many "http" lines the probes make.
		wantHTTP int
	}{
		{name: "access log off", accessLog: false, wantHTTP: 0},
		{name: "access log on", accessLog: true, wantHTTP: 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncWriter
			rec := &requests{}
			db := &switchable{}
			var draining atomic.Bool
			var clock atomic.Int64 // Unix nanoseconds
			clock.Store(time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC).UnixNano())
			srv := httptest.NewServer(httpapi.New(httpapi.Deps{
				Log: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: rec, AccessLog: tc.accessLog,
				Health: []httpapi.HealthCheck{{What: "the database", Pinger: db}}, Draining: draining.Load,
				Clock: func() time.Time { return time.Unix(0, clock.Load()) },
			}))
			defer srv.Close()
			probe := func(times, want int) {
				t.Helper()
				clock.Add(int64(httpapi.ReadyCacheFor)) // the last result is stale
				for range times {
					if resp, body := get(t, srv.URL+"/readyz", nil); resp.StatusCode != want {
						t.Fatalf("readyz: got %d %s, want %d", resp.StatusCode, body, want)
					}
				}
			}
			probe(1, http.StatusOK)
			db.down.Store(true)
			probe(3, http.StatusServiceUnavailable)
			db.down.Store(false)
			probe(2, http.StatusOK)
			draining.Store(true)
			probe(3, http.StatusServiceUnavailable)

			var warnings, readyAgain []string
			httpLines := 0
			for _, r := range logRecords(t, logs.String()) {
				switch {
				case r["level"] == "ERROR":
					t.Errorf("a failed readiness probe logged an error: %v", r)
				case r["msg"] == "http":
					httpLines++
					if r["level"] != "INFO" {
						t.Errorf("a readiness probe's request line is at %v, want INFO: %v", r["level"], r)
					}
				case r["level"] == "WARN":
					reason, _ := r["reason"].(string)
					warnings = append(warnings, fmt.Sprint(r["msg"], ": ", reason))
				case r["msg"] == "ready again":
					readyAgain = append(readyAgain, fmt.Sprint(r["level"]))
				}
			}
			if want := []string{"not ready: the database does not answer", "not ready: shutting down"}; !slices.Equal(warnings, want) {
				t.Errorf("warnings: got %q, want %q (one per change to not ready)", warnings, want)
			}
			if want := []string{"INFO"}; !slices.Equal(readyAgain, want) {
				t.Errorf("ready again: got %q, want %q", readyAgain, want)
			}
			if httpLines != tc.wantHTTP {
				t.Errorf("%d http lines, want %d", httpLines, tc.wantHTTP)
			}
			rec.mu.Lock()
			got := slices.Clone(rec.got)
			rec.mu.Unlock()
			counts := map[string]int{}
			for _, g := range got {
				counts[g]++
			}
			if counts["GET /readyz 503"] != 6 || counts["GET /readyz 200"] != 3 {
				t.Errorf("the metrics counted %v, want 6 failed and 3 good probes", counts)
			}
		})
	}
}

// TestUntrustedProxyWarnsOnce: while no proxy is trusted, the first
// request from a loopback or private peer that carries X-Forwarded-For or
// X-Real-IP (a proxy the per-client limits take for one client) logs one
// warning naming server.trustedProxies, and later ones log nothing more; a
// public peer sending the headers (a client lying about its address), a
// private peer without them, and any request once a proxy is trusted log
// nothing.
func TestUntrustedProxyWarnsOnce(t *testing.T) {
	t.Parallel()
	type request struct{ peer, header, value string }
	tests := []struct {
		name    string
		trusted []string
		reqs    []request
		// want is how many warnings there are after each request.
		want []int
	}{
		{
			name: "no proxy trusted",
			reqs: []request{
				{"198.51.100.1:4000", "X-Forwarded-For", "203.0.113.9"}, // a client lying
				{"[2001:db8::1]:4000", "X-Real-IP", "203.0.113.9"},      // a client lying, IPv6
				{"10.0.0.5:4000", "", ""},                               // an internal client
				{"10.0.0.5:4000", "X-Forwarded-For", "203.0.113.9"},     // the balancer
				{"10.0.0.5:4000", "X-Forwarded-For", "203.0.113.10"},
				{"127.0.0.1:4000", "X-Real-IP", "203.0.113.11"}, // another proxy
			},
			want: []int{0, 0, 0, 1, 1, 1},
		},
		{
			name:    "the balancer trusted",
			trusted: []string{"10.0.0.0/8"},
			reqs: []request{
				{"10.0.0.5:4000", "X-Forwarded-For", "203.0.113.9"},
				{"192.168.1.5:4000", "X-Real-IP", "203.0.113.9"},
			},
			want: []int{0, 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncWriter
			h := httpapi.New(httpapi.Deps{Log: slog.New(slog.NewJSONHandler(&logs, nil)), TrustedProxies: tc.trusted})
			warnings := func() []map[string]any {
				var out []map[string]any
				for _, r := range logRecords(t, logs.String()) {
					if msg, _ := r["msg"].(string); strings.Contains(msg, "server.trustedProxies") {
						out = append(out, r)
					}
				}
				return out
			}
			for i, rq := range tc.reqs {
				// The order page counts its clients (a rate limit).
				req := httptest.NewRequest(http.MethodGet, "/demo/orders/"+strings.Repeat("a", 24), nil)
				req.RemoteAddr = rq.peer
				if rq.header != "" {
					req.Header.Set(rq.header, rq.value)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusNotFound {
					t.Fatalf("request %d: %d, want the order page's 404", i, w.Code)
				}
				if got := len(warnings()); got != tc.want[i] {
					t.Fatalf("after request %d (%s, %s: %s): %d warnings, want %d\n%s", i, rq.peer, rq.header, rq.value, got,
						tc.want[i], logs.String())
				}
			}
			for _, r := range warnings() {
				if r["level"] != "WARN" || r["peer"] != "10.0.0.5" || r["header"] != "X-Forwarded-For" {
					t.Errorf("the warning: %v, want WARN naming peer 10.0.0.5 and X-Forwarded-For", r)
				}
			}
		})
	}
}
