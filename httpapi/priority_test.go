package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"walletpass/auth"
	"walletpass/httpapi"
	"walletpass/pass"
)

// priorityRecorder is a syncer that records the priority of each call.
type priorityRecorder struct{ got []pass.Priority }

func (r *priorityRecorder) SyncOrder(ctx context.Context, _ pass.OrderRef, _ string) (pass.SyncResult, error) {
	r.got = append(r.got, pass.PriorityOf(ctx))
	return pass.SyncResult{}, pass.Errorf(pass.KindNotFound, "no such file")
}

// TestGetTicketsURLSyncsAsBuyer: getTicketsUrl's inline sync runs with
// the buyer's priority, ahead of the task queue's SecuTix calls.
func TestGetTicketsURLSyncsAsBuyer(t *testing.T) {
	t.Parallel()
	key, _ := auth.NewAPIKey()
	rec := &priorityRecorder{}
	h := httpapi.New(httpapi.Deps{
		Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}},
		Tickets: httpapi.TicketsAPI{
			Scopes: map[string]string{"demo": "tickets:read"},
			APIKey: func(_ context.Context, hash string) (httpapi.APIKeyInfo, error) {
				if hash != auth.HashAPIKey(key) {
					return httpapi.APIKeyInfo{}, pass.ErrNotFound
				}
				return httpapi.APIKeyInfo{Tenant: "demo"}, nil
			},
			Orders: rec,
		},
	})
	req := httptest.NewRequest(http.MethodGet, "/api/demo/external/secutix/orders/getTicketsUrl/42", nil)
	req.Header.Set("X-API-Key", key)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusNotFound {
		t.Fatalf("got %d %s, want 404 (the syncer knows no file)", w.Code, w.Body)
	}
	if len(rec.got) != 1 || rec.got[0] != pass.PriorityBuyer {
		t.Errorf("got priorities %v, want [buyer]", rec.got)
	}
}
