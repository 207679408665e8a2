package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"walletpass/auth"
	"walletpass/pass"
)

// disabledMeanwhile is a subscription store on which a delivery's 410 Gone
// disables the subscription between a PATCH's read and its write; its
// updates apply only to the subscription as it was read, as the real
// store's do.
type disabledMeanwhile struct {
	*fakeSubscriptions
	raced bool
}

func (d *disabledMeanwhile) UpdateSubscription(ctx context.Context, s pass.Subscription) error {
	d.mu.Lock()
	cur := d.subs[s.ID]
	if !d.raced {
		d.raced = true
		cur.Enabled, cur.UpdatedAt = false, cur.UpdatedAt.Add(time.Second)
		d.subs[s.ID] = cur
	}
	d.mu.Unlock()
	if !s.WasUpdatedAt.IsZero() && !s.WasUpdatedAt.Equal(cur.UpdatedAt) {
		return pass.Errorf(pass.KindConflict, "changed meanwhile")
	}
	return d.fakeSubscriptions.UpdateSubscription(ctx, s)
}

// TestPatchKeepsAConcurrentDisable: a PATCH of a subscription's
// description while a 410 Gone disables it leaves it disabled, with the
// new description: a field the body does not name is not written back.
func TestPatchKeepsAConcurrentDisable(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	store := &disabledMeanwhile{fakeSubscriptions: &fakeSubscriptions{subs: map[string]pass.Subscription{
		"wh_1": {Tenant: "demo", ID: "wh_1", Endpoint: "https://crm.example.com/h", Events: []string{"*"}, Enabled: true,
			Secret: "whsec_x", CreatedAt: at, UpdatedAt: at},
	}}}
	key, _ := auth.NewAPIKey()
	srv := httptest.NewServer(New(Deps{
		Tenants: []TenantInfo{{ID: "demo", Name: "Demo"}},
		Tickets: TicketsAPI{APIKey: func(context.Context, string) (APIKeyInfo, error) {
			return APIKeyInfo{Tenant: "demo", Scopes: []string{ScopeWebhooksWrite}}, nil
		}},
		Subscriptions: SubscriptionDeps{Store: store, NewSecret: func() string { return "whsec_y" },
			CheckEndpoint: func(string) error { return nil }},
	}))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/api/demo/webhooks/wh_1", strings.NewReader(`{"description":"CRM (prod)"}`))
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH: %d", resp.StatusCode)
	}
	got := store.subs["wh_1"]
	if got.Enabled || got.Description != "CRM (prod)" {
		t.Errorf("after the PATCH: enabled %v, description %q; want disabled (the 410) with the new description", got.Enabled, got.Description)
	}
}
