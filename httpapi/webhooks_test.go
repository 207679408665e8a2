package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"walletpass/httpapi"
	"walletpass/pass"
	"walletpass/pass/apple/appletest"
	"walletpass/storage"
)

type hookBundle struct {
	srv   *httptest.Server
	db    *storage.DB
	woken *atomic.Int32
}

func setupHooks(t testing.TB, auth map[string]httpapi.WebhookAuth) hookBundle {
	t.Helper()
	f := appletest.Setup(t)
	db, err := storage.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// The store wakes its task listeners (the dispatcher) when a webhook's
	// task is written: count the wake-ups, once the listener is in place.
	var woken atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go db.ListenTasks(ctx, func() { woken.Add(1) })
	for woken.Load() == 0 {
		_ = db.NotifyTasks(ctx)
		time.Sleep(time.Millisecond)
	}
	woken.Store(0)
	if auth == nil {
		auth = map[string]httpapi.WebhookAuth{}
	}
	for _, id := range []string{"demo", "basic", "keyed"} {
		if _, ok := auth[id]; !ok {
			auth[id] = httpapi.WebhookAuth{Mode: "none"}
		}
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		Preview: httpapi.PreviewDeps{Packager: f.Registry}, Health: []httpapi.HealthCheck{{What: "the database", Pinger: db}},
		Webhooks: httpapi.WebhookDeps{Inbox: &pass.Inbox{Queue: db}, Auth: auth},
		Tenants:  []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}, {ID: "basic", Name: "B"}, {ID: "keyed", Name: "K"}},
	}))
	t.Cleanup(srv.Close)
	return hookBundle{srv: srv, db: db, woken: &woken}
}

func (h hookBundle) rows(t *testing.T) int {
	t.Helper()
	tasks, err := h.db.ListTasks(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(tasks)
}

func send(t testing.TB, method, url, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

const listener = "/webhooks/listeners/secutix/orders"
const goodBody = `{"ticketId":1,"saleMovementId":2,"orderSecretToken":"tok123","state":"PAID","lastUpdate":"2026-03-14T20:00:00+01:00"}`

func TestListenerAccepts(t *testing.T) {
	t.Parallel()
	h := setupHooks(t, nil)
	resp, body := send(t, "POST", h.srv.URL+"/api/demo"+listener, goodBody, map[string]string{"X-Request-ID": "req-42"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var r struct {
		CorrelationID string `json:"correlationId"`
	}
	json.Unmarshal(body, &r)
	if r.CorrelationID != "req-42" || resp.Header.Get("X-Correlation-ID") != "req-42" {
		t.Errorf("correlation id %q / header %q, want the incoming request id", r.CorrelationID, resp.Header.Get("X-Correlation-ID"))
	}
	tasks, _ := h.db.ListTasks(context.Background(), pass.TaskPending, 10)
	if len(tasks) != 1 || tasks[0].DedupKey != "secret:tok123" || tasks[0].CorrelationIDs[0] != "req-42" {
		t.Fatalf("tasks = %+v", tasks)
	}
	if h.woken.Load() != 1 {
		t.Errorf("the dispatcher was woken %d times, want 1", h.woken.Load())
	}
	if hints, _ := h.db.Hints(context.Background(), "demo", "tok123"); len(hints) != 0 {
		t.Errorf("a PAID webhook left hints: %+v", hints)
	}
	send(t, "POST", h.srv.URL+"/api/demo"+listener, strings.Replace(goodBody, "PAID", "VALIDATED", 1), nil)
	if hints, _ := h.db.Hints(context.Background(), "demo", "tok123"); len(hints) != 2 {
		t.Errorf("a VALIDATED webhook left hints %+v, want one per ticket and movement id", hints)
	}
	// Unknown states are stored, not rejected.
	resp, body = send(t, "POST", h.srv.URL+"/api/demo"+listener, strings.Replace(goodBody, "PAID", "RESOLD", 1), nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("unknown state: %d %s", resp.StatusCode, body)
	}
	tl, _ := h.db.Timeline(context.Background(), "demo", "tok123", 0)
	if len(tl) != 3 || !strings.Contains(tl[2].Detail, "RESOLD") {
		t.Errorf("timeline = %+v", tl)
	}
}

func TestWebhookRejectsWithoutWriting(t *testing.T) {
	t.Parallel()
	h := setupHooks(t, map[string]httpapi.WebhookAuth{
		"basic": {Mode: "basic", Username: "secutix", Password: "pw-0123456789"},
		"keyed": {Mode: "apikey", Header: "X-API-Key", Key: "key-0123456789abcdef"},
	})
	basicOK := "Basic " + base64.StdEncoding.EncodeToString([]byte("secutix:pw-0123456789"))
	tests := []struct {
		name, method, path, body string
		hdr                      map[string]string
		status                   int
		detail                   string
	}{
		{name: "malformed json", path: "/api/demo" + listener, body: `{"orderSecretToken":`, status: 400, detail: "JSON object"},
		{name: "missing state", path: "/api/demo" + listener, body: `{"orderSecretToken":"t","lastUpdate":"2026-01-01T00:00:00Z"}`, status: 400, detail: "state is required"},
		{name: "null lastUpdate", path: "/api/demo" + listener, body: `{"orderSecretToken":"t","state":"PAID","lastUpdate":null}`, status: 400, detail: "lastUpdate is required"},
		{name: "oversized", path: "/api/demo" + listener, body: `{"orderSecretToken":"t","state":"PAID","lastUpdate":"2026-01-01T00:00:00Z","pad":"` + strings.Repeat("x", httpapi.MaxListenerBody) + `"}`, status: 413, detail: "larger than"},
		{name: "unknown tenant", path: "/api/nobody" + listener, body: goodBody, status: 404, detail: "unknown tenant"},
		{name: "basic missing", path: "/api/basic" + listener, body: goodBody, status: 401, detail: "credentials"},
		{name: "basic wrong", path: "/api/basic" + listener, body: goodBody, hdr: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("secutix:nope"))}, status: 401, detail: "credentials"},
		{name: "api key wrong", path: "/api/keyed" + listener, body: goodBody, hdr: map[string]string{"X-API-Key": "key-0123456789abcdeX"}, status: 401, detail: "credentials"},
		// The key may come in the URL only for SecuTix's own V1 and V2
		// webhooks, which can send nothing else.
		{name: "api key in the listener's URL", path: "/api/keyed" + listener + "?key=key-0123456789abcdef", body: goodBody, status: 401, detail: "credentials"},
		{name: "v1 wrong key in the URL", method: "GET", path: "/api/keyed/webhooks/secutix/v1/orders/12?key=nope", status: 401, detail: "credentials"},
		{name: "v1 without key", method: "GET", path: "/api/keyed/webhooks/secutix/v1/orders/12", status: 401, detail: "credentials"},
		{name: "v1 bad id", method: "GET", path: "/api/demo/webhooks/secutix/v1/orders/12abc", status: 400, detail: "positive 64-bit"},
		{name: "v2 no id", path: "/api/demo/webhooks/secutix/v2/orders", body: `{"orderDetailsData":{"orderState":"CLOSED"}}`, status: 400, detail: "orderId or orderSecretId is required"},
	}
	for _, tc := range tests {
		method := tc.method
		if method == "" {
			method = "POST"
		}
		resp, body := send(t, method, h.srv.URL+tc.path, tc.body, tc.hdr)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != httpapi.ContentTypeProblem || !strings.Contains(string(body), tc.detail) {
			t.Errorf("%s: %d %s %s, want %d problem+json with %q", tc.name, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status, tc.detail)
		}
		if tc.status == 401 && tc.name == "basic missing" && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", tc.name)
		}
	}
	if n := h.rows(t); n != 0 {
		t.Fatalf("rejected webhooks wrote %d tasks", n)
	}
	for _, ok := range []struct {
		path string
		hdr  map[string]string
	}{{"/api/basic" + listener, map[string]string{"Authorization": basicOK}}, {"/api/keyed" + listener, map[string]string{"X-API-Key": "key-0123456789abcdef"}},
		{"/api/keyed/webhooks/secutix/v1/orders/12?key=key-0123456789abcdef", nil},
		{"/api/keyed/webhooks/secutix/v2/orders?key=key-0123456789abcdef", nil}} {
		body := goodBody
		if strings.Contains(ok.path, "/v2/") {
			body = `{"orderDetailsData":{"orderId":12,"orderSecretId":"tok-v2"}}`
		}
		if resp, body := send(t, "POST", h.srv.URL+ok.path, body, ok.hdr); resp.StatusCode != http.StatusOK {
			t.Errorf("%s with good credentials: %d %s", ok.path, resp.StatusCode, body)
		}
	}
}

func TestNativeWebhooks(t *testing.T) {
	t.Parallel()
	h := setupHooks(t, nil)
	if resp, body := send(t, "GET", h.srv.URL+"/api/demo/webhooks/secutix/v1/orders/10000702652?update=true", "", nil); resp.StatusCode != 200 {
		t.Fatalf("v1: %d %s", resp.StatusCode, body)
	}
	if resp, body := send(t, "POST", h.srv.URL+"/api/demo/webhooks/secutix/v2/orders",
		`{"orderDetailsData":{"orderId":10000702653,"orderSecretId":"Xk3p9Q2rT7","orderState":"CLOSED"}}`, nil); resp.StatusCode != 200 {
		t.Fatalf("v2: %d %s", resp.StatusCode, body)
	}
	tasks, _ := h.db.ListTasks(context.Background(), pass.TaskPending, 10)
	keys := map[string]bool{}
	for _, tk := range tasks {
		keys[tk.DedupKey] = true
	}
	if !keys["order:10000702652"] || !keys["secret:Xk3p9Q2rT7"] || len(keys) != 2 {
		t.Errorf("task keys = %v", keys)
	}
	// A group order's details beyond a megabyte: taken, and synced by its
	// id (too large to keep with the task); beyond MaxV2Body: refused.
	big := `{"orderDetailsData":{"orderId":10000702654,"orderState":"CLOSED","note":"` + strings.Repeat("x", 3<<19) + `"}}`
	if resp, body := send(t, "POST", h.srv.URL+"/api/demo/webhooks/secutix/v2/orders", big, nil); resp.StatusCode != 200 {
		t.Fatalf("a 1.5 MiB V2 body: %d %s", resp.StatusCode, body)
	}
	tasks, _ = h.db.ListTasks(context.Background(), pass.TaskPending, 10)
	found := false
	for _, tk := range tasks {
		if tk.DedupKey == "order:10000702654" {
			found = true
			if len(tk.Payload) > 1<<10 {
				t.Errorf("the large order's task keeps %d bytes", len(tk.Payload))
			}
		}
	}
	if !found {
		t.Error("the large order has no sync task")
	}
	huge := `{"orderDetailsData":{"orderId":1,"note":"` + strings.Repeat("x", httpapi.MaxV2Body) + `"}}`
	if resp, _ := send(t, "POST", h.srv.URL+"/api/demo/webhooks/secutix/v2/orders", huge, nil); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a V2 body over MaxV2Body: %d, want 413", resp.StatusCode)
	}
}

// FuzzListenerEndpoint posts arbitrary bodies to the listener: a 200 only
// for a valid body (and then exactly one more event), a 4xx otherwise with
// nothing written, never a 5xx.
func FuzzListenerEndpoint(f *testing.F) {
	f.Add([]byte(goodBody))
	f.Add([]byte(`{"orderSecretToken":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("\x00\xff"))
	h := setupHooks(f, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		before := h.rowsEvents(t)
		resp, err := http.Post(h.srv.URL+"/api/demo"+listener, "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		after := h.rowsEvents(t)
		switch {
		case resp.StatusCode == http.StatusOK:
			if after != before+1 {
				t.Fatalf("200 but %d events written", after-before)
			}
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			if after != before {
				t.Fatalf("%d but an event was written", resp.StatusCode)
			}
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func (h hookBundle) rowsEvents(t *testing.T) int {
	t.Helper()
	tl := 0
	tasks, err := h.db.ListTasks(context.Background(), "", 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks {
		tl += 1 + tk.Merged
	}
	return tl
}

// TestWebhookCredentialGuessing: a client that gets the webhook
// credentials wrong 10 times is refused (429 with Retry-After) even with
// the right ones until its allowance refills; nothing is written.
func TestWebhookCredentialGuessing(t *testing.T) {
	t.Parallel()
	h := setupHooks(t, map[string]httpapi.WebhookAuth{"keyed": {Mode: "apikey", Header: "X-API-Key", Key: "key-0123456789abcdef"}})
	url := h.srv.URL + "/api/keyed/webhooks/listeners/secutix/orders"
	body := `{"orderSecretToken":"tok-1","state":"PAID","lastUpdate":"2026-01-01T00:00:00Z"}`
	for i := range 10 {
		if resp, _ := send(t, "POST", url, body, map[string]string{"X-API-Key": fmt.Sprintf("guess-%016d", i)}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, resp.StatusCode)
		}
	}
	resp, _ := send(t, "POST", url, body, map[string]string{"X-API-Key": "key-0123456789abcdef"})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("the right key after 10 wrong ones: %d (Retry-After %q), want 429", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if n := h.rows(t); n != 0 {
		t.Errorf("%d tasks written", n)
	}
}

// TestWebhookGuessingLocksOneTenant: wrong credentials sent to one tenant
// from SecuTix's addresses do not lock out another tenant's webhooks from
// the same addresses; a tenant the server has no credentials for is
// refused, not open.
func TestWebhookGuessingLocksOneTenant(t *testing.T) {
	t.Parallel()
	h := setupHooks(t, map[string]httpapi.WebhookAuth{
		"keyed": {Mode: "apikey", Header: "X-API-Key", Key: "key-0123456789abcdef"},
		"basic": {Mode: "basic", Username: "secutix", Password: "pw-0123456789"},
		"demo":  {},
	})
	body := `{"orderSecretToken":"tok-1","state":"PAID","lastUpdate":"2026-01-01T00:00:00Z"}`
	for i := range 12 {
		send(t, "POST", h.srv.URL+"/api/basic/webhooks/listeners/secutix/orders", body, map[string]string{
			"Authorization": "Basic " + base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "secutix:guess-%d", i))})
	}
	resp, _ := send(t, "POST", h.srv.URL+"/api/keyed/webhooks/listeners/secutix/orders", body,
		map[string]string{"X-API-Key": "key-0123456789abcdef"})
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		t.Errorf("another tenant's right key after 12 wrong ones for basic: %d, want it taken", resp.StatusCode)
	}
	resp, _ = send(t, "POST", h.srv.URL+"/api/demo/webhooks/listeners/secutix/orders", body, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a tenant without a mode: %d, want 401", resp.StatusCode)
	}
}
