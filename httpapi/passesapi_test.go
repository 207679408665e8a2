package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"walletpass/auth"
	"walletpass/pass"
)

// fakeCatalog answers the passes API with no passes and a total of 1000,
// and keeps the queries it was asked.
type fakeCatalog struct {
	mu      sync.Mutex
	queries []pass.PassQuery
}

func (f *fakeCatalog) ListPasses(_ context.Context, q pass.PassQuery) ([]pass.PassListing, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	return nil, 1000, nil
}

func (f *fakeCatalog) GetPass(context.Context, string, string) (*pass.Pass, error) {
	return nil, pass.ErrNotFound
}

func (f *fakeCatalog) ListVersions(context.Context, string, string) ([]pass.Pass, error) {
	return nil, pass.ErrNotFound
}

func (f *fakeCatalog) PassInstalls(context.Context, string, string) (pass.Installs, error) {
	return pass.Installs{}, nil
}

func (f *fakeCatalog) asked() []pass.PassQuery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pass.PassQuery(nil), f.queries...)
}

// TestListPassesRefusesFiltersThatSelectNothing: an id filter that is not
// a positive whole number (0 would have selected the whole tenant, with
// its total in x-pagination-total), and a filter given twice or empty,
// are refused with a problem naming the parameter, before the store is
// asked; a positive id reaches the store as the filter.
func TestListPassesRefusesFiltersThatSelectNothing(t *testing.T) {
	t.Parallel()
	key, hash := auth.NewAPIKey()
	catalog := &fakeCatalog{}
	h := New(Deps{
		Tenants: []TenantInfo{{ID: "demo", Name: "Demo"}},
		Tickets: TicketsAPI{Passes: catalog, APIKey: func(_ context.Context, h string) (APIKeyInfo, error) {
			if h != hash {
				return APIKeyInfo{}, pass.ErrNotFound
			}
			return APIKeyInfo{Tenant: "demo", Scopes: []string{ScopePasses}}, nil
		}},
	})
	get := func(query string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/api/demo/passes"+query, nil)
		req.Header.Set("X-API-Key", key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	for _, c := range []struct {
		name, query, param string
	}{
		{"file 0", "?fileId=0", "fileId"},
		{"order 0", "?orderId=0", "orderId"},
		{"performance 0", "?performanceId=0", "performanceId"},
		{"movement 0", "?movementId=0", "movementId"},
		{"ticket 0", "?ticketId=0", "ticketId"},
		{"file -0", "?fileId=-0", "fileId"},
		{"negative file", "?fileId=-7", "fileId"},
		{"file 0 with another filter", "?status=active&fileId=00", "fileId"},
		{"empty file", "?fileId=", "fileId"},
		{"empty status", "?status=", "status"},
		{"file twice", "?fileId=5&fileId=0", "fileId"},
		{"page size 0", "?pageSize=0", "pageSize"},
		{"identifier 0", "?filter[0].field=identifiers.secutix.fileId&filter[0].value=0", "filter[0].value (identifiers.secutix.fileId)"},
		{"a filter and its flat twin", "?filter[0].field=identifiers.secutix.fileId&filter[0].value=5&fileId=5", "filter[0] (identifiers.secutix.fileId)"},
		{"contains", "?filter[2].field=passType&filter[2].operator=contains&filter[2].value=v", "filter[2].operator"},
		{"metadata", "?filter[0].field=metadata.seat&filter[0].value=1", "filter[0].field"},
		{"a filter without value", "?filter[0].field=passType", "filter[0]"},
		{"sort by version", "?sortBy[0].field=version", "sortBy[0].field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := get(c.query)
			var p Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("%s: %d %s: %v", c.query, w.Code, w.Body, err)
			}
			if w.Code != http.StatusBadRequest || w.Header().Get("Content-Type") != ContentTypeProblem ||
				!strings.HasPrefix(p.Detail, c.param+" ") {
				t.Errorf("%s: %d %s %q, want 400 %s naming %s", c.query, w.Code, w.Header().Get("Content-Type"), p.Detail,
					ContentTypeProblem, c.param)
			}
			if total := w.Header().Get("x-pagination-total"); total != "" {
				t.Errorf("%s: x-pagination-total %s on a refusal", c.query, total)
			}
		})
	}
	if q := catalog.asked(); len(q) != 0 {
		t.Fatalf("the store was asked %+v for refused filters", q)
	}

	for _, c := range []struct {
		query string
		want  pass.PassQuery
	}{
		{"?fileId=1", pass.PassQuery{Tenant: "demo", FileID: 1, Limit: defaultPageSize}},
		{"?orderId=10075001001&pageIndex=0", pass.PassQuery{Tenant: "demo", OrderID: 10075001001, Limit: defaultPageSize}},
		{"?performanceId=9&movementId=8&ticketId=7&pageSize=5&pageIndex=2",
			pass.PassQuery{Tenant: "demo", PerformanceID: 9, MovementID: 8, TicketID: 7, Limit: 5, Offset: 10}},
		// The product we replace's form of the same filters, and its sort.
		{"?filter[0].field=identifiers.secutix.movementId&filter[0].operator=equals&filter[0].value=8&filter[1].field=passType&filter[1].value=vip",
			pass.PassQuery{Tenant: "demo", MovementID: 8, Template: "vip", Limit: defaultPageSize}},
		{"?filter[0].field=installationStatus&filter[0].operator=Equals&filter[0].value=installed&fileId=4",
			pass.PassQuery{Tenant: "demo", FileID: 4, Installed: "wallet", Limit: defaultPageSize}},
		{"?sortBy[1].field=creationDate&sortBy[0].field=lastUpdateDate&sortBy[0].direction=desc",
			pass.PassQuery{Tenant: "demo", Sort: []pass.PassSort{{By: pass.SortUpdated, Desc: true}, {By: pass.SortCreated}}, Limit: defaultPageSize}},
	} {
		before := len(catalog.asked())
		if w := get(c.query); w.Code != http.StatusOK || w.Header().Get("x-pagination-total") != "1000" {
			t.Errorf("%s: %d %s", c.query, w.Code, w.Body)
			continue
		}
		if q := catalog.asked(); len(q) != before+1 || !reflect.DeepEqual(q[before], c.want) {
			t.Errorf("%s: the store was asked %+v, want %+v", c.query, q[before:], c.want)
		}
	}
}

// TestAPIAuthFailuresThrottled: a client that presents wrong credentials
// (unknown keys, no credentials) hears 401 APIAuthFailureBurst times,
// then 429 with Retry-After, without a check, until its bucket refills:
// a right credential too, unless it passed lately (the gates behind one
// address as a scanner with a revoked key); another client, and the same
// client at another tenant, are not held back, and a right key lacking
// the scope (403) spends nothing.
func TestAPIAuthFailuresThrottled(t *testing.T) {
	t.Parallel()
	key, hash := auth.NewAPIKey()
	good, goodHash := auth.NewAPIKey()
	wrong, _ := auth.NewAPIKey()
	now := time.Date(2027, 1, 5, 20, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	lookups, revoked := 0, false
	h := New(Deps{
		Clock:   func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Tenants: []TenantInfo{{ID: "demo", Name: "Demo"}, {ID: "other", Name: "Other"}},
		Tickets: TicketsAPI{Passes: &fakeCatalog{}, APIKey: func(_ context.Context, h string) (APIKeyInfo, error) {
			mu.Lock()
			lookups++
			mu.Unlock()
			switch h {
			case hash:
				return APIKeyInfo{Tenant: "demo", Scopes: []string{ScopeTickets}}, nil
			case goodHash:
				return APIKeyInfo{Tenant: "demo", Scopes: []string{ScopePasses}, Revoked: revoked}, nil
			}
			return APIKeyInfo{}, pass.ErrNotFound
		}},
	})
	get := func(tenant, client, key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/api/"+tenant+"/passes", nil)
		req.RemoteAddr = client + ":40000"
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := get("demo", "198.51.100.7", good); w.Code != http.StatusOK {
		t.Fatalf("a right key: %d %s", w.Code, w.Body)
	}
	for i := range APIAuthFailureBurst {
		k := wrong
		if i%2 == 1 {
			k = "" // no credentials count too
		}
		if w := get("demo", "198.51.100.7", k); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong credentials %d: %d %s, want 401", i+1, w.Code, w.Body)
		}
	}
	mu.Lock()
	before := lookups
	mu.Unlock()
	for _, k := range []string{wrong, key, ""} {
		w := get("demo", "198.51.100.7", k)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || w.Header().Get("Content-Type") != ContentTypeProblem {
			t.Errorf("past the burst: %d %q %s; want a 429 problem with Retry-After", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
	}
	mu.Lock()
	if lookups != before {
		t.Errorf("%d key lookups past the burst, want none", lookups-before)
	}
	mu.Unlock()
	if w := get("demo", "198.51.100.7", good); w.Code != http.StatusOK {
		t.Errorf("a key that passed lately, past the burst: %d %s, want 200", w.Code, w.Body)
	}
	// The right key lacks passes:read here: a 403, from other clients.
	for range APIAuthFailureBurst + 1 {
		if w := get("demo", "198.51.100.9", key); w.Code != http.StatusForbidden {
			t.Fatalf("a key lacking the scope, again: %d %s, want 403 (no throttle: the credentials are right)", w.Code, w.Body)
		}
	}
	if w := get("other", "198.51.100.7", wrong); w.Code != http.StatusUnauthorized {
		t.Errorf("the same client at another tenant: %d, want 401", w.Code)
	}
	mu.Lock()
	now = now.Add(APIAuthFailureEvery)
	mu.Unlock()
	if w := get("demo", "198.51.100.7", key); w.Code != http.StatusForbidden {
		t.Errorf("once a guess came back: %d %s, want the key's own answer (403)", w.Code, w.Body)
	}
	// A key revoked since it passed is refused, and forgotten: it is
	// throttled as any wrong credential.
	mu.Lock()
	revoked = true
	mu.Unlock()
	for i := range APIAuthFailureBurst {
		if w := get("demo", "198.51.100.11", good); w.Code != http.StatusUnauthorized {
			t.Fatalf("a revoked key, %d: %d %s, want 401", i+1, w.Code, w.Body)
		}
	}
	if w := get("demo", "198.51.100.11", good); w.Code != http.StatusTooManyRequests {
		t.Errorf("a revoked key past the burst: %d %s, want 429 (it passed before its revocation, and is forgotten)", w.Code, w.Body)
	}
}
