package main

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"walletpass/pass"
)

// startTwoTenants starts the service in development with two tenants on
// the same pass type: demo on the built-in sandbox, other on a sandbox of
// its own (whose secret is secret).
func startTwoTenants(t *testing.T, secret string) *system {
	t.Helper()
	sb := sandboxServer(t, secret, 1000)
	return startSystem(t, fmt.Sprintf(`server: {development: true}
tenants:
  - id: demo
    name: Demo
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
  - id: other
    name: Other
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
    secutix: {baseURL: %q, operator: DEMO_WALLET, partner: walletpass, secret: %s}
`, sb.URL+"/sandbox/secutix", secret))
}

// TestSharedIssuerNeedsTheTenantClaim: two tenants trusting one identity
// provider (the development one, same audience): a token signed by it
// that names no tenant is refused by both; a token naming "demo" opens
// demo only.
func TestSharedIssuerNeedsTheTenantClaim(t *testing.T) {
	t.Parallel()
	s := startTwoTenants(t, "claim-secret")
	o := s.createOrder(map[string]any{"count": 1})
	s.waitPasses(o.Secret, "a pass", func(ps []pass.Pass) bool { return len(ps) == 1 })

	// Sign with the development provider's own key, as it would.
	pemBytes, err := os.ReadFile(filepath.Join(s.dataDir, "pki", "oauth-dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	var key *ecdsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		key, _ = k.(*ecdsa.PrivateKey)
	} else if key, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.base + "/dev/oauth/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct{ Keys []struct{ Kid string } }
	json.NewDecoder(resp.Body).Decode(&jwks)
	resp.Body.Close()
	if len(jwks.Keys) == 0 || key == nil {
		t.Fatal("no development key")
	}
	token := func(tenant string) string {
		now := time.Now()
		c := jwt.MapClaims{"iss": s.base + "/dev/oauth", "sub": "shop", "aud": "walletpass", "scope": "tickets:read",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if tenant != "" {
			c["tenant"] = tenant
		}
		tk := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tk.Header["kid"] = jwks.Keys[0].Kid
		signed, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}
	get := func(tenant, tok string) int {
		req, _ := http.NewRequest(http.MethodGet, s.base+"/api/"+tenant+"/external/secutix/orders/getTicketsUrl/"+strconv.FormatInt(o.FileID, 10), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		tenant, claim string
		want          int
	}{
		{"demo", "", http.StatusForbidden}, {"other", "", http.StatusForbidden},
		{"demo", "demo", http.StatusOK}, {"other", "demo", http.StatusForbidden},
	} {
		if got := get(tc.tenant, token(tc.claim)); got != tc.want {
			t.Errorf("tenant %s, token naming %q: HTTP %d, want %d", tc.tenant, tc.claim, got, tc.want)
		}
	}
}
