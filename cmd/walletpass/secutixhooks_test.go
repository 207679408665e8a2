package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
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
			sb, srv := startSandbox(t, fakesecutix.Config{Secret: "native-secret", QuotaPerMinute: 1000, WebhookFormat: tc.format,
				WebhookRetryDelay: 20 * time.Millisecond})
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
			fetches := func() int {
				return sb.Calls("getOrderDetails") + sb.Calls("getFileDetails") + sb.Calls("getFileDetailsFromOrderSecretId")
			}
			// V1 names the order: getOrderDetails, one call. V2 carries the
			// sale order: no call at all.
			if got, want := fetches(), map[string]int{"v1": 1, "v2": 0}[tc.format]; got != want {
				t.Errorf("%d calls to fetch the new order, want %d", got, want)
			}
			before, _ := sb.Order(c.FileID) // the sale as its first webhook showed it
			if _, err := sb.Refund(c.FileID, c.Tickets[0].TicketID); err != nil {
				t.Fatal(err)
			}
			ps := s.waitPasses(c.OrderSecretToken, "one pass voided", func(ps []pass.Pass) bool { return len(pass.ValidPerTicket(ps)) == 1 })
			for _, p := range pass.LatestPerTicket(ps) {
				if want := p.MovementID == c.Tickets[0].MovementID; (p.Status == pass.StatusVoided) != want {
					t.Errorf("movement %d: status %s", p.MovementID, p.Status)
				}
			}
			// V2: one webhook per order change, not one per ticket, on the
			// timeline of the order it carries: the sale's (mapped from the
			// body, no call), then the refund's (a refund order is read with
			// its file: one call).
			if tc.format == "v2" {
				f, _ := sb.Order(c.FileID)
				count := func(secret string) map[string]int {
					tl, err := s.db.Timeline(t.Context(), "demo", secret, 0)
					if err != nil {
						t.Fatal(err)
					}
					n := map[string]int{}
					for _, e := range tl {
						n[e.Kind]++
						for _, from := range []string{"from the order webhook", "from SecuTix"} {
							if e.Kind == "sync-started" && strings.Contains(e.Detail, from) {
								n[from]++
							}
						}
					}
					return n
				}
				// The syncs are on the file's timeline (the sale's secret); a
				// sync writes its timeline after its passes.
				n := count(c.OrderSecretToken)
				for deadline := time.Now().Add(10 * time.Second); n["from SecuTix"] == 0 && time.Now().Before(deadline); n = count(c.OrderSecretToken) {
					time.Sleep(20 * time.Millisecond)
				}
				if n["webhook"] != 1 || n["from the order webhook"] != 1 || n["from SecuTix"] != 1 {
					t.Errorf("the sale's timeline: %v; want 1 webhook, 1 sync from the order webhook, 1 from SecuTix", n)
				}
				if n := count(f.OrderDetailsDatas[1].OrderSecretID); n["webhook"] != 1 {
					t.Errorf("the refund's timeline: %v; want its webhook", n)
				}
				if got := fetches(); got != 1 {
					t.Errorf("%d fetches in all, want 1 (the refund's file)", got)
				}
				// The sale's webhook again, late (a retry after the refund):
				// its body shows the refunded ticket valid, so the order is
				// read from SecuTix, and the pass stays voided.
				body, _ := json.Marshal(map[string]any{"orderDetailsData": before.OrderDetailsDatas[0]})
				resp, err := http.Post(s.base+tc.path, "application/json", bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				for deadline := time.Now().Add(10 * time.Second); fetches() < 2 && time.Now().Before(deadline); {
					time.Sleep(20 * time.Millisecond)
				}
				s.idle()
				if p := byMovement(s.passes(c.OrderSecretToken), c.Tickets[0].MovementID, 0); resp.StatusCode != 200 || fetches() != 2 || p.Status != pass.StatusVoided {
					t.Errorf("the sale's webhook after the refund: %d, %d fetches (want 2), the refunded pass %s", resp.StatusCode, fetches(), p.Status)
				}
			}
			if n := sb.Calls("auth"); n != 0 {
				t.Errorf("%d /v1/auth calls in jwt mode", n)
			}
		})
	}
}
