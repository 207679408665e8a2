package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	fakesecutix "walletpass/fake/secutix"
	"walletpass/pass"
)

// TestSecuTixNativeWebhooks: SecuTix's own order webhooks drive the passes
// end to end. The sandbox sends V1 (a GET naming the order in its URL) or
// V2 (a POST of the order's details), once per order, as SecuTix does; the
// tenant talks to the sandbox in jwt mode. A new order of two tickets
// makes two passes; a refund of one voids its pass.
func TestSecuTixNativeWebhooks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format, path string
	}{
		{"v1", "/api/demo/webhooks/secutix/v1/orders/${orderId}"},
		{"v2", "/api/demo/webhooks/secutix/v2/orders"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			t.Parallel()
			sb, err := fakesecutix.New(fakesecutix.Config{Tenant: "demo", Institution: "demo", Operator: "DEMO_WALLET",
				Partner: "walletpass", Secret: "native-secret", QuotaPerMinute: 1000, WebhookFormat: tc.format,
				WebhookRetryDelay: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.Handle("/sandbox/", sb.Handler())
			srv := httptest.NewServer(mux)
			t.Cleanup(func() { srv.Close(); sb.Close() })
			s := startSystem(t, fmt.Sprintf(`server: {development: true}
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
    secutix: {baseURL: %q, auth: jwt, operator: DEMO_WALLET, partner: walletpass, secret: native-secret}
`, srv.URL+"/sandbox/secutix"))
			defer s.stop()
			sb.SetWebhookURL(s.base + tc.path)

			c, err := sb.CreateOrder(fakesecutix.OrderRequest{Count: 2})
			if err != nil {
				t.Fatal(err)
			}
			s.waitPasses(c.OrderSecretToken, "two passes", func(ps []pass.Pass) bool { return len(pass.ValidPerTicket(ps)) == 2 })
			if _, err := sb.Refund(c.FileID, c.Tickets[0].TicketID); err != nil {
				t.Fatal(err)
			}
			ps := s.waitPasses(c.OrderSecretToken, "one pass voided", func(ps []pass.Pass) bool { return len(pass.ValidPerTicket(ps)) == 1 })
			for _, p := range pass.LatestPerTicket(ps) {
				if want := p.MovementID == c.Tickets[0].MovementID; (p.Status == pass.StatusVoided) != want {
					t.Errorf("movement %d: status %s", p.MovementID, p.Status)
				}
			}
			// V2: one webhook per order change, not one per ticket (V2 names
			// the order's secret, so its events are on the order's timeline).
			if tc.format == "v2" {
				tl, err := s.db.Timeline(t.Context(), "demo", c.OrderSecretToken, 0)
				if err != nil {
					t.Fatal(err)
				}
				hooks := 0
				for _, e := range tl {
					if e.Kind == "webhook" {
						hooks++
					}
				}
				if hooks != 2 {
					t.Errorf("%d webhooks recorded, want 2 (the order, then the refund)", hooks)
				}
			}
			if n := sb.Calls("auth"); n != 0 {
				t.Errorf("%d /v1/auth calls in jwt mode", n)
			}
		})
	}
}
