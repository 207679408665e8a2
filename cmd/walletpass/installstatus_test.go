package main

import (
	"testing"
	"time"

	"walletpass/pass"
)

// TestInstallStatusToSecuTix: a tenant with secutix.installStatusKey gets
// where its orders' passes are installed written to each order in
// SecuTix (updateExternalReferences): APPLE once a phone adds the pass,
// NONE once it removes it.
func TestInstallStatusToSecuTix(t *testing.T) {
	t.Parallel()
	s := startSystem(t, `server: {development: true}
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
    secutix: {installStatusKey: WALLET}
`)
	defer s.stop()
	o := s.createOrder(map[string]any{"count": 1})
	ps := s.waitPasses(o.Secret, "1 pass", func(ps []pass.Pass) bool { return len(ps) == 1 })
	ph := s.phoneFor(t, ps[0], "a9")
	registration := ph.registration()
	waitRef := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for s.app.Sandbox.ExternalReferences(o.OrderID)["WALLET"] != want {
			if time.Now().After(deadline) {
				t.Fatalf("the order's WALLET reference is %q, want %q", s.app.Sandbox.ExternalReferences(o.OrderID)["WALLET"], want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ph.register()
	waitRef("APPLE")
	if resp, body := ph.req("DELETE", registration, "", ph.auth()); resp.StatusCode != 200 {
		t.Fatalf("unregister: %d %s", resp.StatusCode, body)
	}
	waitRef("NONE")
}
