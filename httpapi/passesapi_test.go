package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

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
	} {
		before := len(catalog.asked())
		if w := get(c.query); w.Code != http.StatusOK || w.Header().Get("x-pagination-total") != "1000" {
			t.Errorf("%s: %d %s", c.query, w.Code, w.Body)
			continue
		}
		if q := catalog.asked(); len(q) != before+1 || q[before] != c.want {
			t.Errorf("%s: the store was asked %+v, want %+v", c.query, q[before:], c.want)
		}
	}
}
