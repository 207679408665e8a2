package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"walletpass/auth"
	"walletpass/httpapi"
	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/apple/appletest"
	"walletpass/storage"
)

// TestUnknownOrderLookupsPerClient: one client registering the app for
// made-up orders gets its own few SecuTix lookups, then 429, and leaves
// the tenant's budget to another client's buyer.
func TestUnknownOrderLookupsPerClient(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	lookups := 0
	h := httpapi.New(httpapi.Deps{Passes: db, Clock: func() time.Time { return now }, // moved by the test only between requests
		App:     httpapi.AppDeps{Installations: db, Notices: &pass.AppNoticeService{Store: db}},
		Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}},
		Tickets: httpapi.TicketsAPI{Orders: syncerFunc(func() (pass.SyncResult, error) {
			lookups++
			return pass.SyncResult{}, pass.Errorf(pass.KindNotFound, "no such order")
		})}})
	post := func(client, token string) int {
		body := `{"orderSecretToken":"` + token + `","fcmToken":"fcm-` + token + `","platform":"ios","locale":"fr"}`
		req := httptest.NewRequest(http.MethodPost, "/api/demo/customers/devices", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = client + ":5555"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	codes := map[int]int{}
	for i := range httpapi.UnknownOrderBurst {
		codes[post("198.51.100.7", "madeUpOrderToken"+string(rune('A'+i)))]++
	}
	if codes[http.StatusNotFound] != httpapi.UnknownOrderClientBurst || lookups != httpapi.UnknownOrderClientBurst {
		t.Errorf("one client's %d made-up orders: %v, %d lookups; want %d looked up, the rest 429", httpapi.UnknownOrderBurst, codes,
			lookups, httpapi.UnknownOrderClientBurst)
	}
	if code := post("203.0.113.9", "aBuyersRealOrderToken"); code != http.StatusNotFound || lookups != httpapi.UnknownOrderClientBurst+1 {
		t.Errorf("another client's lookup: %d after %d lookups, want it looked up (404 here)", code, lookups)
	}
	// An IPv6 client is its /64: new addresses in it share its share.
	now = now.Add(time.Hour) // the tenant's budget full again
	before := lookups
	codes = map[int]int{}
	for i := range httpapi.UnknownOrderClientBurst + 2 {
		codes[post(fmt.Sprintf("[2001:db8:7::%x]", i+1), "v6MadeUpOrderToken"+string(rune('A'+i)))]++
	}
	if lookups-before != httpapi.UnknownOrderClientBurst || codes[http.StatusTooManyRequests] != 2 {
		t.Errorf("one /64's made-up orders: %v, %d lookups; want %d looked up, the rest 429", codes, lookups-before, httpapi.UnknownOrderClientBurst)
	}
}

// TestInstallationsPerOrderRefused: an order takes
// pass.MaxInstallationsPerOrder app installations, each from a client
// address of its own (no per-client limit stands in the way); the next
// is refused with a 409 problem and not stored, and one registered
// already is still registered again.
func TestInstallationsPerOrderRefused(t *testing.T) {
	t.Parallel()
	fx := appletest.Setup(t)
	db := openStore(t)
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	svc := &pass.Service{Passes: db, Packager: fx.Registry, Clock: func() time.Time { return now }}
	tk := apple.SampleTicket(pass.EventConcert)
	if _, _, err := svc.Apply(context.Background(), tk, "default"); err != nil {
		t.Fatal(err)
	}
	h := httpapi.New(httpapi.Deps{Passes: db, Clock: func() time.Time { return now },
		App:     httpapi.AppDeps{Installations: db, Notices: &pass.AppNoticeService{Store: db}},
		Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}}})
	post := func(client int, token string) *httptest.ResponseRecorder {
		body := `{"orderSecretToken":"` + tk.OrderSecretToken + `","fcmToken":"` + token + `","platform":"android","locale":"fr"}`
		req := httptest.NewRequest(http.MethodPost, "/api/demo/customers/devices", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = fmt.Sprintf("[2001:db8:%x::1]:5555", client) // a /64 of its own
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := range pass.MaxInstallationsPerOrder {
		if rec := post(i, fmt.Sprintf("fcm-token-%02d", i)); rec.Code != http.StatusCreated {
			t.Fatalf("installation %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	rec := post(pass.MaxInstallationsPerOrder, "fcm-token-one-too-many")
	var p httpapi.Problem
	if rec.Code != http.StatusConflict || rec.Header().Get("Content-Type") != httpapi.ContentTypeProblem ||
		json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != http.StatusConflict || !strings.Contains(p.Detail, "the most it may have") {
		t.Errorf("one installation too many: %d %s %s; want a 409 problem that says why", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if rec := post(pass.MaxInstallationsPerOrder+1, "fcm-token-00"); rec.Code != http.StatusOK {
		t.Errorf("an installation registered already, again: %d %s; want 200", rec.Code, rec.Body)
	}
	if ins, err := db.Installations(context.Background(), "demo", tk.OrderSecretToken); err != nil || len(ins) != pass.MaxInstallationsPerOrder {
		t.Errorf("%d installations stored (%v), want %d", len(ins), err, pass.MaxInstallationsPerOrder)
	}
}

// TestUpstreamWordsStayWithTheOrganiser: when SecuTix fails, an
// organiser's call (its API key) hears what SecuTix said; a buyer's app
// (an order's secret only) hears that a service is unavailable, nothing
// of SecuTix's words. When SecuTix refuses walletpass's credentials or
// its request (pass.Upstream), both hear a 502, not a 401 or 400 that
// would blame their own credentials or request.
func TestUpstreamWordsStayWithTheOrganiser(t *testing.T) {
	t.Parallel()
	const words = "statusMessage: backend db-7.internal timed out"
	for _, tc := range []struct {
		name   string
		err    error
		status int
	}{
		{"unavailable", pass.Errorf(pass.KindUnavailable, "secutix: getFileDetails: SecuTix answered HTTP 500 (%s)", words), http.StatusServiceUnavailable},
		{"credentials refused", pass.Upstream(pass.Errorf(pass.KindUnauthorized, "secutix: auth: SecuTix refused the credentials of operator %q (%s)", "op", words)),
			http.StatusBadGateway},
		{"request refused", pass.Upstream(pass.Errorf(pass.KindInvalid, "secutix: getFileDetails: SecuTix answered error (%s)", words)), http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := openStore(t)
			key, _ := auth.NewAPIKey()
			h := httpapi.New(httpapi.Deps{Passes: db,
				App:     httpapi.AppDeps{Installations: db, Notices: &pass.AppNoticeService{Store: db}},
				Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}},
				Tickets: httpapi.TicketsAPI{
					APIKey: func(_ context.Context, hash string) (httpapi.APIKeyInfo, error) {
						if hash != auth.HashAPIKey(key) {
							return httpapi.APIKeyInfo{}, pass.ErrNotFound
						}
						return httpapi.APIKeyInfo{Tenant: "demo"}, nil
					},
					Orders: syncerFunc(func() (pass.SyncResult, error) { return pass.SyncResult{}, tc.err }),
				}})
			serve := func(req *http.Request) *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			req := httptest.NewRequest(http.MethodPost, "/api/demo/customers/devices",
				strings.NewReader(`{"orderSecretToken":"aBuyersOrderToken","fcmToken":"fcm-1","platform":"ios","locale":"fr"}`))
			req.Header.Set("Content-Type", "application/json")
			if rec := serve(req); rec.Code != tc.status || strings.Contains(rec.Body.String(), "db-7") ||
				!strings.Contains(rec.Body.String(), "try again later") {
				t.Errorf("a buyer's app: %d %s; want %d without SecuTix's words", rec.Code, rec.Body, tc.status)
			}
			req = httptest.NewRequest(http.MethodGet, "/api/demo/external/secutix/orders/getTicketsUrl/4711", nil)
			req.Header.Set("X-API-Key", key)
			if rec := serve(req); rec.Code != tc.status || !strings.Contains(rec.Body.String(), words) {
				t.Errorf("the organiser: %d %s; want %d with SecuTix's words", rec.Code, rec.Body, tc.status)
			}
		})
	}
}

// openStore opens a SQLite store of the test's own, closed at its end.
func openStore(t *testing.T) *storage.DB {
	t.Helper()
	db, err := storage.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestInstallationBodyRefusals: the app's registration takes one JSON
// object and nothing after it, and no NUL character in its strings (a
// text column of PostgreSQL keeps none): each is a 400 problem saying
// which, and nothing is looked up.
func TestInstallationBodyRefusals(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	lookups := 0
	h := httpapi.New(httpapi.Deps{Passes: db,
		App:     httpapi.AppDeps{Installations: db, Notices: &pass.AppNoticeService{Store: db}},
		Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}},
		Tickets: httpapi.TicketsAPI{Orders: syncerFunc(func() (pass.SyncResult, error) {
			lookups++
			return pass.SyncResult{}, pass.Errorf(pass.KindNotFound, "no such order")
		})}})
	const ok = `{"orderSecretToken":"madeUpOrderTokenA","fcmToken":"fcm-1","platform":"ios","locale":"fr"}`
	for _, c := range []struct{ body, want string }{
		{ok + `{"x":1}`, `the body must be {`},
		{ok + `]`, `the body must be {`},
		{strings.Replace(ok, "fcm-1", `fcm\u0000`, 1), `NUL character`},
		{strings.Replace(ok, "fcm-1", `fcm\\u0000`, 1), `fcmToken is missing or malformed`}, // a backslash, then text
	} {
		req := httptest.NewRequest(http.MethodPost, "/api/demo/customers/devices", strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || rec.Header().Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s: %d %s %s, want a 400 problem saying %q", c.body, rec.Code, rec.Header().Get("Content-Type"), rec.Body, c.want)
		}
	}
	if lookups != 0 {
		t.Errorf("%d lookups for refused bodies", lookups)
	}
}
