package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
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
