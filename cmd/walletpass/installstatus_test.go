package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/pass/apple/appletest"
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
	data, err := os.ReadFile(filepath.Join(s.dataDir, "blobs", filepath.FromSlash(ps[0].BlobKey)))
	if err != nil {
		t.Fatal(err)
	}
	pj := appletest.Verify(t, data, filepath.Join(s.dataDir, "pki", "wwdr.pem"))
	ph := &phone{t: t, ws: s.base + "/api/demo/apple", token: pj["authenticationToken"].(string), device: "a9c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6",
		push: strings.Repeat("34", 32), typ: pj["passTypeIdentifier"].(string), serial: ps[0].SerialNumber}
	registration := "/devices/" + ph.device + "/registrations/" + ph.typ + "/" + ph.serial
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
	if resp, body := ph.req("POST", registration, `{"pushToken":"`+ph.push+`"}`, ph.auth()); resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	waitRef("APPLE")
	if resp, body := ph.req("DELETE", registration, "", ph.auth()); resp.StatusCode != 200 {
		t.Fatalf("unregister: %d %s", resp.StatusCode, body)
	}
	waitRef("NONE")
}
