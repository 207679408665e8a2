package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"walletpass/auth"
	"walletpass/httpapi"
	"walletpass/pass"
)

// recordingSaver answers save links and records what it was asked.
type recordingSaver struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (r *recordingSaver) SaveLinkFits(string, []string) bool { return true }

func (r *recordingSaver) SaveURL(_ context.Context, tenant, secret string, _ []string, _ string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, tenant+"/"+secret)
	if r.err != nil {
		return "", r.err
	}
	return "https://pay.google.com/gp/v/save/jwt-for-" + secret, nil
}

func (r *recordingSaver) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.calls) }

func TestGoogleSaveLink(t *testing.T) {
	t.Parallel()
	links := httpapi.LinkSigner{Key: []byte("0123456789abcdef0123456789abcdef")}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	saver := &recordingSaver{}
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo", DefaultTemplate: "default"}, {ID: "other", Name: "Other", DefaultTemplate: "default"}},
		Google:  httpapi.GoogleDeps{Save: saver}, Links: httpapi.LinkDeps{Signer: links}, Clock: func() time.Time { return now },
		TemplateFile: func(tpl, file string) ([]byte, bool) {
			if tpl == "default" && file == "icon@3x.png" {
				return []byte("\x89PNG fake"), true
			}
			return nil, false
		},
	}))
	t.Cleanup(srv.Close)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	good := httpapi.GoogleSaveLink(srv.URL, links, "demo", "secretTok-1", now.Add(time.Hour))

	resp, err := noFollow.Get(good)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://pay.google.com/gp/v/save/jwt-for-secretTok-1" ||
		resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("good link: %d %v", resp.StatusCode, resp.Header)
	}

	expired := httpapi.GoogleSaveLink(srv.URL, links, "demo", "secretTok-1", now.Add(-time.Second))
	otherKey := httpapi.GoogleSaveLink(srv.URL, httpapi.LinkSigner{Key: []byte("ffffffffffffffffffffffffffffffff")}, "demo", "secretTok-1", now.Add(time.Hour))
	tests := []struct {
		name   string
		url    string
		status int
		detail string
	}{
		{"expired", expired, http.StatusGone, "expired"},
		{"another key", otherKey, http.StatusUnauthorized, "not valid"},
		{"another order", strings.Replace(good, "secretTok-1", "secretTok-2", 1), http.StatusUnauthorized, "not valid"},
		{"another tenant", strings.Replace(good, "/api/demo/", "/api/other/", 1), http.StatusUnauthorized, "not valid"},
		{"longer expiry", strings.Replace(good, "exp=", "exp=9", 1), http.StatusUnauthorized, "not valid"},
		{"no signature", strings.Split(good, "&sig=")[0], http.StatusUnauthorized, "not valid"},
		{"unknown tenant", strings.Replace(good, "/api/demo/", "/api/nobody/", 1), http.StatusNotFound, "unknown tenant"},
		{"malformed order", srv.URL + "/api/demo/google/save/bad%20token?exp=1&sig=x", http.StatusBadRequest, "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, tc.url, nil)
			var p httpapi.Problem
			if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != tc.status || !strings.Contains(p.Detail, tc.detail) ||
				resp.Header.Get("Content-Type") != httpapi.ContentTypeProblem {
				t.Errorf("status %d, body %s; want %d with %q", resp.StatusCode, body, tc.status, tc.detail)
			}
		})
	}
	if n := saver.count(); n != 1 {
		t.Errorf("the saver was called %d times; only the good link may reach it", n)
	}

	// An order without valid tickets: the saver's not-found comes through.
	saver.err = pass.Errorf(pass.KindNotFound, "the order has no valid ticket")
	resp, body := get(t, good, nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "no valid ticket") {
		t.Errorf("no tickets: %d %s", resp.StatusCode, body)
	}

	// Images.
	resp, body = get(t, srv.URL+"/api/demo/google/images/default/icon@3x.png", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(string(body), "\x89PNG") {
		t.Errorf("image: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, bad := range []string{"/api/demo/google/images/default/pass.json", "/api/demo/google/images/default/..%2ficon.png",
		"/api/demo/google/images/nope/icon@3x.png", "/api/nobody/google/images/default/icon@3x.png"} {
		if resp, _ := get(t, srv.URL+bad, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", bad, resp.StatusCode)
		}
	}
}

// TestOrderPageRateLimit: one client gets a burst of pages, then 429 with
// Retry-After; another client is not affected. The clock is fixed, so the
// limit does not depend on how fast the test runs.
func TestOrderPageRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	h := httpapi.New(httpapi.Deps{Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}}, Clock: func() time.Time { return now }})
	n := 0
	get := func(client string) int {
		req := httptest.NewRequest(http.MethodGet, "/demo/orders/UnknownOrder123", nil)
		req.RemoteAddr = client + ":5555"
		// Without trusted proxies a client cannot pick its address: a new
		// X-Forwarded-For on every request does not reset its limit.
		n++
		req.Header.Set("X-Forwarded-For", "198.51.100."+strconv.Itoa(n))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusTooManyRequests && rec.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		return rec.Code
	}
	for i := range 10 {
		if code := get("192.0.2.1"); code != http.StatusNotFound {
			t.Fatalf("request %d: %d, want the plain 404", i, code)
		}
	}
	if code := get("192.0.2.1"); code != http.StatusTooManyRequests {
		t.Errorf("11th request: %d, want 429", code)
	}
	if code := get("192.0.2.2"); code != http.StatusNotFound {
		t.Errorf("another client: %d", code)
	}
	// An IPv6 client taking a new address of its /64 for each request.
	for i := range 10 {
		if code := get(fmt.Sprintf("[2001:db8:5:6::%x]", i+1)); code != http.StatusNotFound {
			t.Fatalf("IPv6 request %d: %d", i, code)
		}
	}
	if code := get("[2001:db8:5:6::ff]"); code != http.StatusTooManyRequests {
		t.Errorf("the 11th request from one IPv6 /64: %d, want 429", code)
	}
}

// TestOrderPageDatabaseDown: while the orders cannot be read, the page
// says to try again (503, Retry-After), not that the order does not
// exist, and the requests do not count as a client's guesses.
func TestOrderPageDatabaseDown(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	h := httpapi.New(httpapi.Deps{Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}}, Clock: func() time.Time { return now },
		Passes: downPasses{}})
	for i := range 20 { // more than a client's guesses
		req := httptest.NewRequest(http.MethodGet, "/demo/orders/SomeRealOrder123", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "try again") {
			t.Fatalf("request %d: %d %q, want 503 with Retry-After", i, rec.Code, rec.Body)
		}
	}
}

// downPasses is a PassReader whose database does not answer.
type downPasses struct{}

func (downPasses) GetPassMeta(context.Context, string, string) (*pass.Pass, error) {
	return nil, errors.New("dial tcp: connection refused")
}

func (downPasses) PassesByOrder(context.Context, string, string) ([]pass.Pass, error) {
	return nil, errors.New("dial tcp: connection refused")
}

// TestRateLimitBehindProxy: behind a trusted load balancer each client
// named by X-Forwarded-For has its own limit (here the order page's);
// X-Real-IP names nobody, and a client that is not behind the balancer
// cannot choose its address.
func TestRateLimitBehindProxy(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	h := httpapi.New(httpapi.Deps{Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}}, Clock: func() time.Time { return now },
		TrustedProxies: []string{"10.0.0.0/8"}})
	get := func(peer string, header http.Header) int {
		req := httptest.NewRequest(http.MethodGet, "/demo/orders/UnknownOrder123", nil)
		req.RemoteAddr = peer + ":5555"
		maps.Copy(req.Header, header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }
	for i := range 15 {
		if code := get("10.0.0.1", xff(fmt.Sprintf("198.51.100.%d", i))); code != http.StatusNotFound {
			t.Fatalf("client %d behind the balancer: %d, want its own limit", i, code)
		}
	}
	for i := range 10 {
		if code := get("10.0.0.1", xff("1.2.3.4, 203.0.113.5")); code != http.StatusNotFound {
			t.Fatalf("request %d of one client: %d", i, code)
		}
	}
	if code := get("10.0.0.2", xff("9.9.9.9, 203.0.113.5")); code != http.StatusTooManyRequests {
		t.Errorf("the same client through another balancer, with another address of its own on the left: %d, want 429", code)
	}
	for i := range 10 {
		get("10.0.0.1", http.Header{"X-Real-Ip": {fmt.Sprintf("198.51.100.%d", 100+i)}})
	}
	if code := get("10.0.0.1", http.Header{"X-Real-Ip": {"198.51.100.200"}}); code != http.StatusTooManyRequests {
		t.Errorf("X-Real-IP gave the balancer's own requests a new client: %d, want 429", code)
	}
	for i := range 10 {
		get("192.0.2.1", xff(fmt.Sprintf("198.51.100.%d", 50+i)))
	}
	if code := get("192.0.2.1", xff("198.51.100.99")); code != http.StatusTooManyRequests {
		t.Errorf("a direct client with a new X-Forwarded-For: %d, want 429", code)
	}
}

// TestSigningRateLimit: the previews, which sign a pass on the spot
// without a login, have a per-client bucket: a burst, then 429 problems
// with Retry-After; another client is not affected.
func TestSigningRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	h := httpapi.New(httpapi.Deps{Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}}, Clock: func() time.Time { return now },
		Preview: httpapi.PreviewDeps{Enabled: true}})
	get := func(path, client string) *httptest.ResponseRecorder { return getFrom(h, path, client) }
	// An unknown tenant: the limit comes first, so nothing is signed here.
	preview := "/api/nobody/preview/default"
	for i := range 20 {
		if rec := get(preview, "192.0.2.1"); rec.Code != http.StatusNotFound {
			t.Fatalf("request %d: %d, want 404", i, rec.Code)
		}
	}
	rec := get(preview, "192.0.2.1")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
		t.Errorf("after the burst: %d %v, want a 429 problem with Retry-After", rec.Code, rec.Header())
	}
	if rec := get(preview, "192.0.2.2"); rec.Code != http.StatusNotFound {
		t.Errorf("another client: %d", rec.Code)
	}
}

// TestGoogleSaveRateLimit: a signed save link may be opened SaveBurst
// times, then 429 with Retry-After, from any client (buyers on one network
// share an address, so the limit is the link's); a ticket's link of the
// same order, and another order, are not affected; a forged link is
// refused before the limit; one client opening many orders' links is
// stopped after SaveClientBurst.
func TestGoogleSaveRateLimit(t *testing.T) {
	t.Parallel()
	links := httpapi.LinkSigner{Key: []byte("0123456789abcdef0123456789abcdef")}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	saver := &recordingSaver{}
	h := httpapi.New(httpapi.Deps{Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}}, Clock: func() time.Time { return now },
		Google: httpapi.GoogleDeps{Save: saver}, Links: httpapi.LinkDeps{Signer: links}})
	open := func(link, client string) *httptest.ResponseRecorder { return getFrom(h, link, client) }
	link := httpapi.GoogleSaveLink("", links, "demo", "secretTok-1", now.Add(time.Hour))
	for i := range httpapi.SaveBurst {
		if rec := open(link, fmt.Sprintf("198.51.100.%d", i)); rec.Code != http.StatusFound {
			t.Fatalf("opening %d: %d, want 302", i, rec.Code)
		}
	}
	rec := open(link, "203.0.113.77")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
		t.Errorf("after the burst, from another client: %d %v, want a 429 problem with Retry-After", rec.Code, rec.Header())
	}
	if n := saver.count(); n != httpapi.SaveBurst {
		t.Errorf("%d save tokens made, want %d", n, httpapi.SaveBurst)
	}
	forged := httpapi.GoogleSaveLink("", httpapi.LinkSigner{Key: []byte("ffffffffffffffffffffffffffffffff")}, "demo", "secretTok-1", now.Add(time.Hour))
	if rec := open(forged, "203.0.113.78"); rec.Code != http.StatusUnauthorized {
		t.Errorf("a forged link after the burst: %d, want 401", rec.Code)
	}
	ticket := httpapi.GoogleTicketSaveLink("", links, "demo", "0a1b2c", now.Add(time.Hour))
	if rec := open(ticket, "203.0.113.79"); rec.Code != http.StatusFound || strings.Contains(ticket, "secretTok") {
		t.Errorf("a ticket's link of the same order: %s %d, want 302 and no order secret in the link", ticket, rec.Code)
	}
	// A ticket's link signs its serial: another serial, or the order-wide
	// link's signature on it, is refused.
	if rec := open(strings.Replace(ticket, "0a1b2c", "0a1b2d", 1), "203.0.113.79"); rec.Code != http.StatusUnauthorized {
		t.Errorf("a ticket's link for another serial: %d, want 401", rec.Code)
	}
	_, orderSig, _ := strings.Cut(link, "?")
	if rec := open("/api/demo/google/pass/secretTok-1?"+orderSig, "203.0.113.79"); rec.Code != http.StatusUnauthorized {
		t.Errorf("the order's signature on a ticket's path: %d, want 401", rec.Code)
	}
	other := httpapi.GoogleSaveLink("", links, "demo", "secretTok-2", now.Add(time.Hour))
	if rec := open(other, "203.0.113.77"); rec.Code != http.StatusFound {
		t.Errorf("another order: %d, want 302", rec.Code)
	}
	for i := range httpapi.SaveClientBurst {
		link := httpapi.GoogleSaveLink("", links, "demo", fmt.Sprintf("resold-%d", i), now.Add(time.Hour))
		if rec := open(link, "203.0.113.50"); rec.Code != http.StatusFound {
			t.Fatalf("one client's order %d: %d, want 302", i, rec.Code)
		}
	}
	if rec := open(httpapi.GoogleSaveLink("", links, "demo", "resold-last", now.Add(time.Hour)), "203.0.113.50"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("one client past its burst of save links: %d, want 429", rec.Code)
	}
}

// TestTicketsAPIKeys: an API key is accepted for its own tenant only, and
// not once revoked; the store's errors do not turn into a success.
func TestTicketsAPIKeys(t *testing.T) {
	t.Parallel()
	keys := map[string]httpapi.APIKeyInfo{}
	demoKey, _ := auth.NewAPIKey()
	otherKey, _ := auth.NewAPIKey()
	oldKey, _ := auth.NewAPIKey()
	otherOldKey, _ := auth.NewAPIKey()
	keys[auth.HashAPIKey(otherOldKey)] = httpapi.APIKeyInfo{Tenant: "other", Revoked: true}
	keys[auth.HashAPIKey(demoKey)] = httpapi.APIKeyInfo{Tenant: "demo"}
	keys[auth.HashAPIKey(otherKey)] = httpapi.APIKeyInfo{Tenant: "other"}
	keys[auth.HashAPIKey(oldKey)] = httpapi.APIKeyInfo{Tenant: "demo", Revoked: true}
	synced := 0
	h := httpapi.New(httpapi.Deps{
		Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}, {ID: "other", Name: "Other"}},
		Tickets: httpapi.TicketsAPI{
			Scopes: map[string]string{"demo": "tickets:read"},
			APIKey: func(_ context.Context, hash string) (httpapi.APIKeyInfo, error) {
				k, ok := keys[hash]
				if !ok {
					return k, pass.ErrNotFound
				}
				return k, nil
			},
			Orders: syncerFunc(func() (pass.SyncResult, error) {
				synced++
				return pass.SyncResult{}, pass.Errorf(pass.KindNotFound, "no such file")
			}),
		},
	})
	tests := []struct {
		name   string
		hdr    map[string]string
		status int
	}{
		{"own key (bearer)", map[string]string{"Authorization": "Bearer " + demoKey}, http.StatusNotFound}, // authorized: the file is unknown
		{"own key (X-API-Key)", map[string]string{"X-API-Key": demoKey}, http.StatusNotFound},
		{"another tenant's key", map[string]string{"X-API-Key": otherKey}, http.StatusForbidden},
		{"revoked key", map[string]string{"X-API-Key": oldKey}, http.StatusUnauthorized},
		{"another tenant's revoked key", map[string]string{"X-API-Key": otherOldKey}, http.StatusUnauthorized}, // revoked is revoked
		{"a JWT where only keys are accepted", map[string]string{"Authorization": "Bearer a.b.c"}, http.StatusUnauthorized},
		{"a key cut short", map[string]string{"X-API-Key": demoKey[:len(demoKey)-1]}, http.StatusUnauthorized},
		{"a key cut short (bearer)", map[string]string{"Authorization": "Bearer " + demoKey[:len(demoKey)-1]}, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(http.MethodGet, "/api/demo/external/secutix/orders/getTicketsUrl/42", nil)
		for k, v := range tc.hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.status)
		}
		if tc.status >= 401 && tc.status <= 403 && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", tc.name)
		}
		if strings.Contains(tc.name, "cut short") && !strings.Contains(rec.Body.String(), "the API key is not valid") {
			t.Errorf("%s: %s, want it called a key that is not valid (not a malformed token)", tc.name, rec.Body)
		}
	}
	if synced != 2 {
		t.Errorf("SecuTix was asked %d times, want only for the 2 authorized requests", synced)
	}
}

type syncerFunc func() (pass.SyncResult, error)

func (f syncerFunc) SyncOrder(context.Context, pass.OrderRef, string) (pass.SyncResult, error) {
	return f()
}

// getFrom sends GET path to h from the client address.
func getFrom(h http.Handler, path, client string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = client + ":5555"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// refusingCallbacks refuses every callback of one tenant as a bad
// signature and takes the others'.
type refusingCallbacks struct{ refuse string }

func (r refusingCallbacks) Handle(_ context.Context, tenant string, _ []byte) (bool, error) {
	if tenant == r.refuse {
		return false, pass.Errorf(pass.KindUnauthorized, "the signature does not hold")
	}
	return true, nil
}

// TestGoogleCallbackFailuresPerTenant: callbacks that keep failing their
// signature checks for one tenant (its issuer misconfigured) get 429 from
// Google's address after the allowance, while the same address's
// callbacks for another tenant still go through.
func TestGoogleCallbackFailuresPerTenant(t *testing.T) {
	t.Parallel()
	h := httpapi.New(httpapi.Deps{Tenants: []httpapi.TenantInfo{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}},
		Google: httpapi.GoogleDeps{Callbacks: refusingCallbacks{refuse: "b"}}})
	post := func(tenant string) int {
		req := httptest.NewRequest(http.MethodPost, "/api/"+tenant+"/google/callback", strings.NewReader(`{}`))
		req.RemoteAddr = "74.125.0.1:5555"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	codes := map[int]int{}
	for range 30 {
		codes[post("b")]++
	}
	if codes[http.StatusTooManyRequests] == 0 {
		t.Fatalf("30 refused callbacks for b: %v, want some 429", codes)
	}
	if code := post("a"); code != http.StatusOK {
		t.Errorf("a callback for a from the same address: %d, want 200", code)
	}
}
