package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"walletpass/auth"
	"walletpass/httpapi"
	"walletpass/pass"
	"walletpass/pass/apple/appletest"
)

// TestTicketsAPIAuthorization drives getTicketsUrl like an organiser's
// system: every way a credential can be wrong, then the success case,
// whose links work.
func TestTicketsAPIAuthorization(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	o := s.createOrder(map[string]any{"count": 2})
	s.waitPasses(o.Secret, "2 passes", func(ps []pass.Pass) bool { return len(ps) == 2 })
	url := s.base + "/api/demo/external/secutix/orders/getTicketsUrl/" + strconv.FormatInt(o.FileID, 10)
	env := testEnv(s.dataDir, map[string]string{"WALLETPASS_PUBLIC_BASE_URL": s.base})
	cli := func(args ...string) string {
		var out, errOut syncBuffer
		if err := Run(context.Background(), args, &out, &errOut, env); err != nil {
			t.Fatalf("%v: %v %s", args, err, errOut.String())
		}
		return strings.TrimSpace(out.String())
	}
	issuer := s.base + "/dev/oauth"
	dev, err := auth.LoadOrCreateDevIssuer(filepath.Join(s.dataDir, "pki", "oauth-dev.pem"), issuer)
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.LoadOrCreateDevIssuer(filepath.Join(t.TempDir(), "other.pem"), issuer)
	if err != nil {
		t.Fatal(err)
	}
	evil, err := auth.LoadOrCreateDevIssuer(filepath.Join(s.dataDir, "pki", "oauth-dev.pem"), "https://evil.example")
	if err != nil {
		t.Fatal(err)
	}
	mint := func(d *auth.DevIssuer, tenant, aud string, scopes []string, ttl time.Duration, at time.Time) string {
		tok, err := d.Token(tenant, aud, scopes, ttl, at)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	good := cli("token", "-scope", "tickets:read")
	parts := strings.Split(good, ".")
	var claims map[string]any
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(cb, &claims)
	claims["tenant"] = "other"
	forged, _ := json.Marshal(claims)
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	key := cli("apikey", "create", "-name", "shop")
	revoked := cli("apikey", "create", "-name", "old")
	var keyID string
	for _, line := range strings.Split(cli("apikey", "list"), "\n") {
		if strings.Contains(line, " old ") {
			keyID = strings.Fields(line)[0]
		}
	}
	cli("apikey", "revoke", keyID)

	tests := []struct {
		name   string
		hdr    map[string]string
		status int
		detail string
	}{
		{"no token", nil, 401, "no token"},
		{"expired", bearer(mint(dev, "demo", "walletpass", []string{"tickets:read"}, time.Minute, now.Add(-time.Hour))), 401, "expired"},
		{"wrong audience", bearer(mint(dev, "demo", "someone-else", []string{"tickets:read"}, time.Hour, now)), 401, "audience"},
		{"wrong issuer", bearer(mint(evil, "demo", "walletpass", []string{"tickets:read"}, time.Hour, now)), 401, "issuer"},
		{"signed by another key", bearer(mint(other, "demo", "walletpass", []string{"tickets:read"}, time.Hour, now)), 401, "signature"},
		{"claims changed after signing", bearer(parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]), 401, "signature"},
		{"alg none", bearer(none), 401, "algorithm"},
		{"missing scope", bearer(mint(dev, "demo", "walletpass", []string{"orders:write"}, time.Hour, now)), 403, "scope"},
		{"another tenant's token", bearer(mint(dev, "other", "walletpass", []string{"tickets:read"}, time.Hour, now)), 403, "another tenant"},
		{"unknown API key", map[string]string{"X-API-Key": "wpk_" + strings.Repeat("A", 43)}, 401, "API key"},
		{"revoked API key", map[string]string{"X-API-Key": revoked}, 401, "revoked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := fetch(t, url, tc.hdr)
			var p httpapi.Problem
			_ = json.Unmarshal(body, &p)
			if resp.StatusCode != tc.status || !strings.Contains(strings.ToLower(p.Detail), strings.ToLower(tc.detail)) {
				t.Errorf("status %d %s; want %d mentioning %q", resp.StatusCode, body, tc.status, tc.detail)
			}
			if ch := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Bearer realm="walletpass"`) ||
				(tc.status == 403 && !strings.Contains(ch, `error="insufficient_scope"`)) {
				t.Errorf("WWW-Authenticate = %q", ch)
			}
		})
	}

	// Success, with a token and with an API key; the links work.
	for name, hdr := range map[string]map[string]string{"token": bearer(good), "API key": {"Authorization": "Bearer " + key}} {
		resp, body := fetch(t, url, hdr)
		var tr httpapi.TicketsResponse
		if err := json.Unmarshal(body, &tr); err != nil || resp.StatusCode != 200 || len(tr.Tickets) != 2 || tr.FileID != o.FileID {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, body)
		}
		tk := tr.Tickets[0]
		if tk.State != "VALID" || tk.Event.Name == "" || tk.ApplePassURL == "" || tk.GoogleSaveURL == "" ||
			tr.OrderPageURL != s.base+"/demo/orders/"+o.Secret || tr.AppleBundle == "" || tr.GoogleSaveURL == "" {
			t.Errorf("%s: %+v", name, tr)
		}
		resp, data := fetch(t, tk.ApplePassURL, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("pass link: %d", resp.StatusCode)
		}
		appletest.Verify(t, data, filepath.Join(s.dataDir, "pki", "wwdr.pem"))
		if resp, _ := fetch(t, tk.GoogleSaveURL, nil); resp.StatusCode != http.StatusFound {
			t.Errorf("per-ticket Google link: %d", resp.StatusCode)
		}
	}

	// Malformed and unknown files; SecuTix down.
	for _, tc := range []struct {
		path   string
		status int
	}{{"abc", 400}, {"-4", 400}, {"99999999999", 404}} {
		u := s.base + "/api/demo/external/secutix/orders/getTicketsUrl/" + tc.path
		if resp, body := fetch(t, u, bearer(good)); resp.StatusCode != tc.status {
			t.Errorf("file %s: %d %s", tc.path, resp.StatusCode, body)
		}
	}
	s.post("/sandbox/faults", map[string]any{"status": 503, "count": 50})
	defer s.post("/sandbox/faults", map[string]any{"reset": true})
	resp, body := fetch(t, url, bearer(good))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("SecuTix down: %d %v %s", resp.StatusCode, resp.Header, body)
	}
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// TestNFCTenant: a tenant configured for NFC gets NFC tickets (the
// terminal's key and the barcode as message, with authentication and no
// sharing) in the poster layout, with its configured event guide; a key
// that is not a P-256 key, or a guide link that is not https, stops the
// start with a reason.
func TestNFCTenant(t *testing.T) {
	t.Parallel()
	const key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE0FQ/nJf6ccwA9xpj0BO1o2pl6VbP3JEVNv/0dDRUj0P9EdMhDBkrZ9WQGuZqnWFyKW2h7Y/O6xEHme0sd5eaDA=="
	s := startSystem(t, `server: {development: true}
tenants:
  - id: demo
    name: Demo Concerts
    apple:
      teamId: DEMOTEAM01
      passTypeId: pass.dev.walletpass.demo
      nfc: {encryptionPublicKey: "`+key+`", requiresAuthentication: true}
      eventGuide:
        - links: {directionsInformationURL: "https://example.com/directions", bagPolicyURL: "https://example.com/bags"}
        - venue: No Such Venue
          links: {orderFoodURL: "https://example.com/food"}
    secutix: {eventKind: conference} # a conference needs no performer names for the poster
`)
	defer s.stop()
	o := s.createOrder(map[string]any{"count": 1})
	ps := s.waitPasses(o.Secret, "the pass", func(ps []pass.Pass) bool { return len(ps) == 1 })
	pj := s.verify(ps[0])
	nfc, _ := pj["nfc"].(map[string]any)
	if nfc["message"] != o.Tickets[0].Barcode || nfc["encryptionPublicKey"] != key || nfc["requiresAuthentication"] != true ||
		pj["sharingProhibited"] != true {
		t.Errorf("nfc %v, sharingProhibited %v", pj["nfc"], pj["sharingProhibited"])
	}
	if pj["preferredStyleSchemes"] == nil || pj["directionsInformationURL"] != "https://example.com/directions" ||
		pj["bagPolicyURL"] != "https://example.com/bags" || pj["orderFoodURL"] != nil {
		t.Errorf("poster %v, guide: directions %v, bags %v, food %v (another venue's)", pj["preferredStyleSchemes"],
			pj["directionsInformationURL"], pj["bagPolicyURL"], pj["orderFoodURL"])
	}

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "walletpass.yaml")
	rsaKey := "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDB0mBZCpWw4DkQMCxKHol/r+8p1+IlA6BSLF3pY4oQdeeo0oNgC/qGoFW2f8+qxFU/gU7iAF4WcnYMBz8YFKjlVganF5wUzPtlWohlVIdR6PpFmH2Lzf0RMatW9MdYtBOoEC3yJjrDrzr3/n7Uk6lVUc2RADmdg2kLrXz3NPWJpwIDAQAB"
	if err := os.WriteFile(cfgPath, []byte(`server: {development: true}
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo, nfc: {encryptionPublicKey: "`+rsaKey+`"}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(cfgPath, testEnv(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	if app, err := NewApp(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
		app.Close()
		t.Error("an RSA key was accepted for NFC")
	} else if !strings.Contains(err.Error(), "nfc.encryptionPublicKey must be a P-256 key") {
		t.Errorf("the start failed without naming the key: %v", err)
	}
	if err := os.WriteFile(cfgPath, []byte(`server: {development: true}
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo, eventGuide: [{links: {bagPolicyURL: "http://example.com/bags"}}]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err = loadConfig(cfgPath, testEnv(dir, nil)); err != nil {
		t.Fatal(err)
	}
	if app, err := NewApp(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
		app.Close()
		t.Error("an http event guide link was accepted")
	} else if !strings.Contains(err.Error(), `eventGuide[0]: links: bagPolicyURL: "http://example.com/bags" is not an https URL`) {
		t.Errorf("the start failed without naming the link: %v", err)
	}
}
