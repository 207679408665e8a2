package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"walletpass/pass"
)

const (
	testIssuer   = "https://idp.example.com/"
	testAudience = "walletpass-api"
	testTenant   = "acme"
	rsaKid       = "rsa-1"
	ecKid        = "ec-1"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testKeys are the signing keys of the tests. The RSA key is made once per
// test binary: generating it is the slow part.
type testKeys struct {
	rsa   *rsa.PrivateKey
	ec    *ecdsa.PrivateKey // in the JWKS as ecKid
	ec2   *ecdsa.PrivateKey // the key a rotation brings
	other *ecdsa.PrivateKey // in no JWKS
}

var sharedKeys = sync.OnceValue(func() testKeys {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ec := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	}
	return testKeys{rsa: r, ec: ec(), ec2: ec(), other: ec()}
})

// clock is the verifier's injected time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// idp serves a JWKS and counts the fetches.
type idp struct {
	mu           sync.Mutex
	status       int
	body         []byte
	cacheControl string
	fetches      atomic.Int32
	srv          *httptest.Server
}

func newIDP(tb testing.TB, body []byte) *idp {
	p := &idp{status: http.StatusOK, body: body}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		status, body, cc := p.status, p.body, p.cacheControl
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	tb.Cleanup(p.srv.Close)
	return p
}

func (p *idp) set(status int, body []byte, cacheControl string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status, p.body, p.cacheControl = status, body, cacheControl
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, pub *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
}

func ecJWK(kid string, pub *ecdsa.PublicKey) map[string]any {
	point, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	return map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
		"x": b64(point[1:33]), "y": b64(point[33:])}
}

func jwksJSON(tb testing.TB, keys ...map[string]any) []byte {
	tb.Helper()
	return mustJSON(tb, map[string]any{"keys": keys})
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// bundle is what a verifier test needs.
type bundle struct {
	keys  testKeys
	idp   *idp
	clock *clock
	v     *Verifier
}

// setup returns a verifier of tenant testTenant whose JWKS holds the RSA key
// as rsaKid and the EC key as ecKid.
func setup(tb testing.TB) *bundle {
	tb.Helper()
	keys := sharedKeys()
	b := &bundle{keys: keys, clock: &clock{t: testNow}}
	b.idp = newIDP(tb, jwksJSON(tb, rsaJWK(rsaKid, &keys.rsa.PublicKey), ecJWK(ecKid, &keys.ec.PublicKey)))
	v, err := NewVerifier(VerifierConfig{
		Tenant:     testTenant,
		Issuer:     testIssuer,
		Audience:   testAudience,
		JWKSURL:    b.idp.srv.URL + "/jwks.json",
		HTTPClient: b.idp.srv.Client(),
		Clock:      b.clock.Now,
	})
	if err != nil {
		tb.Fatal(err)
	}
	b.v = v
	return b
}

// claims returns valid claims, changed by the edits.
func claims(edits ...func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss":    testIssuer,
		"aud":    testAudience,
		"sub":    "client-1",
		"tenant": testTenant,
		"scope":  "tickets:read",
		"iat":    testNow.Unix(),
		"nbf":    testNow.Unix(),
		"exp":    testNow.Add(5 * time.Minute).Unix(),
		"jti":    "id-1",
	}
	for _, e := range edits {
		e(c)
	}
	return c
}

func sign(tb testing.TB, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// raw returns a token made of the JSON of header and claims and of sig.
func raw(tb testing.TB, header, c any, sig []byte) string {
	tb.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := json.Marshal(c)
	if err != nil {
		tb.Fatal(err)
	}
	return b64(h) + "." + b64(p) + "." + b64(sig)
}

func publicPEM(tb testing.TB, pub any) ([]byte, []byte) {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), der
}

// checkRefusal fails the test unless err is of kind want with message msg
// and says nothing of token.
func checkRefusal(t *testing.T, err error, token string, want pass.Kind, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Verify: got no error, want %v %q", want, msg)
	}
	if got := pass.KindOf(err); got != want {
		t.Errorf("kind: got %v, want %v (%v)", got, want, err)
	}
	if got := pass.PublicMessage(err); got != msg {
		t.Errorf("public message: got %q, want %q", got, msg)
	}
	if token != "" && strings.Contains(err.Error(), token) {
		t.Errorf("error %q contains the token", err)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		token      func(t *testing.T, k testKeys) string
		wantKind   pass.Kind // when wantMsg is set
		wantMsg    string    // empty: the token verifies
		wantScopes []string
		wantExp    time.Time // when the token verifies; zero: that of claims()
	}{
		{
			name: "RS256",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodRS256, k.rsa, rsaKid, claims())
			},
			wantScopes: []string{"tickets:read"},
		},
		{
			name: "ES256",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims())
			},
			wantScopes: []string{"tickets:read"},
		},
		{
			name: "no kid, the only RSA key",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodRS256, k.rsa, "", claims())
			},
			wantScopes: []string{"tickets:read"},
		},
		{
			name: "audience in an array",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) {
					c["aud"] = []string{"other", testAudience}
				}))
			},
			wantScopes: []string{"tickets:read"},
		},
		{
			name: "scp array",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) {
					delete(c, "scope")
					c["scp"] = []string{"orders:write", "tickets:read"}
				}))
			},
			wantScopes: []string{"orders:write", "tickets:read"},
		},
		{
			name: "scp string and scope together",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) {
					c["scope"] = "openid tickets:read"
					c["scp"] = "tickets:read profile"
				}))
			},
			wantScopes: []string{"openid", "tickets:read", "profile"},
		},
		{
			name: "no tenant claim",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) { delete(c, "tenant") }))
			},
			wantScopes: []string{"tickets:read"},
		},
		{
			name: "expired within the leeway",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) {
					c["exp"] = testNow.Add(-20 * time.Second).Unix()
				}))
			},
			wantScopes: []string{"tickets:read"},
			wantExp:    testNow.Add(-20 * time.Second),
		},
		{
			name: "nbf and iat ahead within the leeway",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) {
					c["nbf"] = testNow.Add(20 * time.Second).Unix()
					c["iat"] = testNow.Add(20 * time.Second).Unix()
				}))
			},
			wantScopes: []string{"tickets:read"},
		},
		{
			name:     "no token",
			token:    func(*testing.T, testKeys) string { return "" },
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgNoToken,
		},
		{
			name: "expired",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodRS256, k.rsa, rsaKid, claims(func(c jwt.MapClaims) {
					c["exp"] = testNow.Add(-time.Minute).Unix()
				}))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  "the token has expired",
		},
		{
			name: "no exp",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) { delete(c, "exp") }))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgNoExpiry,
		},
		{
			name: "not yet valid (nbf)",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) {
					c["nbf"] = testNow.Add(5 * time.Minute).Unix()
					c["exp"] = testNow.Add(10 * time.Minute).Unix()
				}))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgNotYetValid,
		},
		{
			name: "issued in the future (iat)",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) {
					c["iat"] = testNow.Add(time.Minute).Unix()
				}))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgNotYetValid,
		},
		{
			name: "wrong audience",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) {
					c["aud"] = []string{"other-api", "walletpass"}
				}))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  "the token's audience is not accepted",
		},
		{
			name: "no audience",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) { delete(c, "aud") }))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgAudience,
		},
		{
			name: "wrong issuer",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodRS256, k.rsa, rsaKid, claims(func(c jwt.MapClaims) {
					c["iss"] = "https://evil.example.com/"
				}))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  "the token's issuer is not accepted",
		},
		{
			name: "issuer not exactly equal",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) {
					c["iss"] = strings.TrimSuffix(testIssuer, "/")
				}))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgIssuer,
		},
		{
			name: "bad signature: another key with the same kid",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.other, ecKid, claims())
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  "the token's signature does not verify",
		},
		{
			name: "bad signature: payload changed",
			token: func(t *testing.T, k testKeys) string {
				parts := strings.Split(sign(t, jwt.SigningMethodRS256, k.rsa, rsaKid, claims()), ".")
				p, _ := json.Marshal(claims(func(c jwt.MapClaims) { c["sub"] = "admin" }))
				return parts[0] + "." + b64(p) + "." + parts[2]
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgSignature,
		},
		{
			name: "bad signature: ES256 with an ASN.1 signature",
			token: func(t *testing.T, k testKeys) string {
				tok := sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims())
				input := tok[:strings.LastIndex(tok, ".")]
				h := sha256.Sum256([]byte(input))
				sig, err := ecdsa.SignASN1(rand.Reader, k.ec, h[:])
				if err != nil {
					t.Fatal(err)
				}
				return input + "." + b64(sig)
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgSignature,
		},
		{
			name: "bad signature: ES256 naming the RSA key's kid",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, rsaKid, claims())
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgSignature,
		},
		{
			name: "unknown kid",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.other, "nobody", claims())
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgSignature,
		},
		{
			name: "alg none",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, ecKid, claims())
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  "the token's algorithm is not accepted",
		},
		{
			name: "alg None with an RS256 signature",
			token: func(t *testing.T, k testKeys) string {
				tok := sign(t, jwt.SigningMethodRS256, k.rsa, rsaKid, claims())
				parts := strings.Split(tok, ".")
				h, _ := json.Marshal(map[string]string{"alg": "None", "kid": rsaKid})
				return b64(h) + "." + parts[1] + "." + parts[2]
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgAlgorithm,
		},
		{
			name: "HS256 keyed with the RSA public key's PEM",
			token: func(t *testing.T, k testKeys) string {
				p, _ := publicPEM(t, &k.rsa.PublicKey)
				return sign(t, jwt.SigningMethodHS256, p, rsaKid, claims())
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgAlgorithm,
		},
		{
			name: "HS256 keyed with the RSA public key's DER, no kid",
			token: func(t *testing.T, k testKeys) string {
				_, der := publicPEM(t, &k.rsa.PublicKey)
				return sign(t, jwt.SigningMethodHS256, der, "", claims())
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgAlgorithm,
		},
		{
			name: "PS256",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodPS256, k.rsa, rsaKid, claims())
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgAlgorithm,
		},
		{
			name: "RS512",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodRS512, k.rsa, rsaKid, claims())
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgAlgorithm,
		},
		{
			name: "no alg",
			token: func(t *testing.T, k testKeys) string {
				return raw(t, map[string]string{"kid": rsaKid}, claims(), []byte("sig"))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgAlgorithm,
		},
		{
			name: "missing scope",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) {
					c["scope"] = "tickets:write tickets:readall"
				}))
			},
			wantKind: pass.KindForbidden,
			wantMsg:  "the token lacks the scope tickets:read",
		},
		{
			name: "another tenant",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodRS256, k.rsa, rsaKid, claims(func(c jwt.MapClaims) { c["tenant"] = "globex" }))
			},
			wantKind: pass.KindForbidden,
			wantMsg:  "the token is for another tenant",
		},
		{
			name:     "malformed: two parts",
			token:    func(*testing.T, testKeys) string { return "eyJhbGciOiJSUzI1NiJ9.e30" },
			wantKind: pass.KindUnauthorized,
			wantMsg:  "the token is malformed",
		},
		{
			name: "malformed: four parts",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims()) + ".e30"
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgMalformed,
		},
		{
			name:     "malformed: bad base64",
			token:    func(*testing.T, testKeys) string { return "!!!.???.***" },
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgMalformed,
		},
		{
			name:     "malformed: padded base64",
			token:    func(*testing.T, testKeys) string { return "eyJhbGciOiJFUzI1NiJ9.e30=.AAAA" },
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgMalformed,
		},
		{
			name: "malformed: a line feed inside",
			token: func(t *testing.T, k testKeys) string {
				tok := sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims())
				return tok[:10] + "\n" + tok[10:]
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgMalformed,
		},
		{
			name: "malformed: header not JSON",
			token: func(*testing.T, testKeys) string {
				return b64([]byte("not json")) + "." + b64([]byte("{}")) + ".AAAA"
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgMalformed,
		},
		{
			name: "malformed: claims not JSON",
			token: func(*testing.T, testKeys) string {
				return b64([]byte(`{"alg":"ES256","kid":"ec-1"}`)) + "." + b64([]byte("not json")) + ".AAAA"
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgMalformed,
		},
		{
			name: "malformed: signature not base64url",
			token: func(t *testing.T, k testKeys) string {
				tok := sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims())
				return tok[:strings.LastIndex(tok, ".")+1] + "a"
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgMalformed,
		},
		{
			name: "malformed: kid not a string",
			token: func(t *testing.T, k testKeys) string {
				return raw(t, map[string]any{"alg": "ES256", "kid": 7}, claims(), []byte("sig"))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgMalformed,
		},
		{
			name: "malformed: crit header",
			token: func(t *testing.T, k testKeys) string {
				tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims())
				tok.Header["kid"] = ecKid
				tok.Header["crit"] = []string{"exp"}
				s, err := tok.SignedString(k.ec)
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgMalformed,
		},
		{
			name: "malformed: exp a string",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgMalformed,
		},
		{
			name: "malformed: scope a number",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) { c["scope"] = 1 }))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgMalformed,
		},
		{
			name: "malformed: scp holds a number",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) { c["scp"] = []any{"tickets:read", 2} }))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgMalformed,
		},
		{
			name: "malformed: tenant not a string",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) { c["tenant"] = []string{testTenant} }))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgMalformed,
		},
		{
			name: "malformed: too long",
			token: func(t *testing.T, k testKeys) string {
				return sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims(func(c jwt.MapClaims) {
					c["padding"] = strings.Repeat("x", maxTokenLen)
				}))
			},
			wantKind: pass.KindUnauthorized,
			wantMsg:  msgMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			token := tt.token(t, b.keys)
			got, err := b.v.Verify(context.Background(), token)
			if tt.wantMsg != "" {
				checkRefusal(t, err, token, tt.wantKind, tt.wantMsg)
				if got != nil {
					t.Errorf("claims: got %+v, want nil", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: got %v, want no error", err)
			}
			want := &Claims{
				Subject:   "client-1",
				Scopes:    tt.wantScopes,
				Tenant:    testTenant,
				ExpiresAt: time.Unix(claims()["exp"].(int64), 0),
				ID:        "id-1",
			}
			if !tt.wantExp.IsZero() {
				want.ExpiresAt = tt.wantExp
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("claims (-got +want):\n%s", diff)
			}
		})
	}
}

func TestVerifierScopeAndTenantClaim(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v, err := NewVerifier(VerifierConfig{
		Tenant:      testTenant,
		Issuer:      testIssuer,
		Audience:    testAudience,
		JWKSURL:     b.idp.srv.URL,
		HTTPClient:  b.idp.srv.Client(),
		Clock:       b.clock.Now,
		Scope:       "orders:read",
		TenantClaim: "https://walletpass.example/tenant",
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		claims  jwt.MapClaims
		wantMsg string
	}{
		{
			name:   "custom scope and tenant claim",
			claims: claims(func(c jwt.MapClaims) { c["scope"] = "orders:read"; c["https://walletpass.example/tenant"] = testTenant }),
		},
		{
			name: "the default tenant claim is not read",
			claims: claims(func(c jwt.MapClaims) {
				c["scope"] = "orders:read"
				c["tenant"] = "globex"
			}),
		},
		{
			name:    "another tenant in the custom claim",
			claims:  claims(func(c jwt.MapClaims) { c["scope"] = "orders:read"; c["https://walletpass.example/tenant"] = "globex" }),
			wantMsg: msgTenant,
		},
		{
			name:    "the default scope is not enough",
			claims:  claims(),
			wantMsg: "the token lacks the scope orders:read",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, tt.claims)
			_, err := v.Verify(context.Background(), token)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Verify: got %v, want no error", err)
				}
				return
			}
			checkRefusal(t, err, token, pass.KindForbidden, tt.wantMsg)
		})
	}
}

// TestScopeAliases: a token carrying the product we replace's name of a
// scope is accepted for that scope, and for no other.
func TestScopeAliases(t *testing.T) {
	t.Parallel()
	b := setup(t)
	token := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, claims(func(c jwt.MapClaims) { c["scope"] = "Pass.Read Webhook.Write" }))
	for scope, ok := range map[string]bool{"passes:read": true, "webhooks:write": true, "webhooks:read": false, "passes:write": false, "tickets:read": false} {
		_, err := b.v.VerifyScope(context.Background(), token, scope)
		if ok != (err == nil) {
			t.Errorf("%s: %v", scope, err)
		}
		if !ok {
			checkRefusal(t, err, token, pass.KindForbidden, "the token lacks the scope "+scope)
		}
	}
}

// TestVerifyScopeEmptyFailsClosed: with an empty required scope, no
// token passes, whatever scopes it carries (ScopeAliases has "" for every
// scope that is not an alias, so an unguarded check accepted them all).
func TestVerifyScopeEmptyFailsClosed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, c := range []struct {
		name string
		edit func(jwt.MapClaims)
	}{
		{"the default scope", func(jwt.MapClaims) {}},
		{"several scopes", func(c jwt.MapClaims) { c["scope"] = "tickets:read passes:read scans:write" }},
		{"an unknown scope", func(c jwt.MapClaims) { c["scope"] = "anything" }},
		{"an alias", func(c jwt.MapClaims) { c["scope"] = "Pass.Read" }},
		{"scp as an array", func(c jwt.MapClaims) { delete(c, "scope"); c["scp"] = []any{"tickets:read", "x"} }},
		{"no scope at all", func(c jwt.MapClaims) { delete(c, "scope") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			token := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, claims(c.edit))
			_, err := b.v.VerifyScope(context.Background(), token, "")
			checkRefusal(t, err, token, pass.KindForbidden, "no scope is configured for this endpoint: every token is refused")
		})
	}
	// The same tokens still pass where a scope is named.
	token := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, claims())
	if _, err := b.v.VerifyScope(context.Background(), token, "tickets:read"); err != nil {
		t.Errorf("VerifyScope tickets:read: %v", err)
	}
}

func TestVerifierKeyRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	old := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, claims())
	if _, err := b.v.Verify(ctx, old); err != nil {
		t.Fatalf("Verify with the old key: got %v, want no error", err)
	}

	// The provider rotates: the old key goes, a new one with a new kid comes.
	b.idp.set(http.StatusOK, jwksJSON(t, ecJWK("ec-2", &b.keys.ec2.PublicKey)), "max-age=3600")
	b.clock.Add(time.Second) // well within the cache's max age
	rotated := sign(t, jwt.SigningMethodES256, b.keys.ec2, "ec-2", claims())
	if _, err := b.v.Verify(ctx, rotated); err != nil {
		t.Fatalf("Verify with the new key: got %v, want no error", err)
	}
	if got, want := b.idp.fetches.Load(), int32(2); got != want {
		t.Errorf("fetches: got %d, want %d", got, want)
	}
	_, err := b.v.Verify(ctx, old)
	checkRefusal(t, err, old, pass.KindUnauthorized, msgSignature)
}

func TestVerifierRefetchRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if _, err := b.v.Verify(ctx, sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, claims())); err != nil {
		t.Fatal(err)
	}
	garbage := func() string {
		return sign(t, jwt.SigningMethodES256, b.keys.other, rand.Text(), claims())
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := b.v.Verify(ctx, garbage())
			if pass.PublicMessage(err) != msgSignature {
				t.Errorf("Verify with an unknown kid: got %v, want %q", err, msgSignature)
			}
		})
	}
	wg.Wait()
	if got, want := b.idp.fetches.Load(), int32(2); got != want {
		t.Errorf("fetches after 50 unknown kids: got %d, want %d (the first and one refetch)", got, want)
	}

	b.clock.Add(9 * time.Second)
	_, _ = b.v.Verify(ctx, garbage())
	if got, want := b.idp.fetches.Load(), int32(2); got != want {
		t.Errorf("fetches 9 s later: got %d, want %d", got, want)
	}
	b.clock.Add(time.Second)
	for range 5 {
		_, _ = b.v.Verify(ctx, garbage())
	}
	if got, want := b.idp.fetches.Load(), int32(3); got != want {
		t.Errorf("fetches 10 s later: got %d, want %d", got, want)
	}
}

func TestVerifierFirstFetchShared(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			tok := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, claims())
			if i%2 == 0 {
				tok = sign(t, jwt.SigningMethodRS256, b.keys.rsa, rsaKid, claims())
			}
			if _, err := b.v.Verify(context.Background(), tok); err != nil {
				t.Errorf("Verify: got %v, want no error", err)
			}
		})
	}
	wg.Wait()
	if got, want := b.idp.fetches.Load(), int32(1); got != want {
		t.Errorf("fetches: got %d, want %d", got, want)
	}
}

func TestVerifierCacheMaxAge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.idp.set(http.StatusOK, b.idp.body, "public, max-age=120")
	ctx := context.Background()
	tok := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, claims(func(c jwt.MapClaims) {
		c["exp"] = testNow.Add(time.Hour).Unix()
	}))
	steps := []struct {
		name        string
		advance     time.Duration
		wantFetches int32
	}{
		{name: "first", advance: 0, wantFetches: 1},
		{name: "cached", advance: 119 * time.Second, wantFetches: 1},
		{name: "stale", advance: time.Second, wantFetches: 2},
		{name: "cached again", advance: 100 * time.Second, wantFetches: 2},
	}
	for _, s := range steps {
		b.clock.Add(s.advance)
		if _, err := b.v.Verify(ctx, tok); err != nil {
			t.Fatalf("%s: Verify: got %v, want no error", s.name, err)
		}
		if got := b.idp.fetches.Load(); got != s.wantFetches {
			t.Errorf("%s: fetches: got %d, want %d", s.name, got, s.wantFetches)
		}
	}
}

func TestVerifierJWKSOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	longClaims := claims(func(c jwt.MapClaims) { c["exp"] = testNow.Add(24 * time.Hour).Unix() })

	t.Run("without cache", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		good := b.idp.body
		b.idp.set(http.StatusInternalServerError, []byte("down"), "")
		tok := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, longClaims)
		_, err := b.v.Verify(ctx, tok)
		checkRefusal(t, err, tok, pass.KindUnavailable, "the identity provider's keys cannot be fetched")

		// Within 10 s of the failure the provider is left alone.
		b.idp.set(http.StatusOK, good, "")
		b.clock.Add(5 * time.Second)
		_, err = b.v.Verify(ctx, tok)
		checkRefusal(t, err, tok, pass.KindUnavailable, msgUnavailable)
		if got, want := b.idp.fetches.Load(), int32(1); got != want {
			t.Errorf("fetches during the back-off: got %d, want %d", got, want)
		}

		b.clock.Add(5 * time.Second)
		if _, err := b.v.Verify(ctx, tok); err != nil {
			t.Errorf("Verify after recovery: got %v, want no error", err)
		}
	})

	t.Run("with cache", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tok := sign(t, jwt.SigningMethodRS256, b.keys.rsa, rsaKid, longClaims)
		if _, err := b.v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		b.idp.set(http.StatusBadGateway, nil, "")
		b.clock.Add(11 * time.Minute) // the cache is stale
		if _, err := b.v.Verify(ctx, tok); err != nil {
			t.Errorf("Verify with a stale cache during the outage: got %v, want no error", err)
		}
		if got, want := b.idp.fetches.Load(), int32(2); got != want {
			t.Errorf("fetches: got %d, want %d", got, want)
		}
		b.clock.Add(time.Second)
		if _, err := b.v.Verify(ctx, tok); err != nil {
			t.Errorf("Verify again: got %v, want no error", err)
		}
		if got, want := b.idp.fetches.Load(), int32(2); got != want {
			t.Errorf("fetches within the back-off: got %d, want %d", got, want)
		}
	})

	t.Run("server gone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.idp.srv.Close()
		tok := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, longClaims)
		_, err := b.v.Verify(ctx, tok)
		checkRefusal(t, err, tok, pass.KindUnavailable, msgUnavailable)
	})

	t.Run("oversized JWKS", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		big := append(bytes.Repeat([]byte(" "), maxJWKSSize), b.idp.body...)
		b.idp.set(http.StatusOK, big, "")
		tok := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, longClaims)
		_, err := b.v.Verify(ctx, tok)
		checkRefusal(t, err, tok, pass.KindUnavailable, msgUnavailable)
	})

	t.Run("JWKS at the size limit", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		body := append(bytes.Repeat([]byte(" "), maxJWKSSize-len(b.idp.body)), b.idp.body...)
		b.idp.set(http.StatusOK, body, "")
		tok := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, longClaims)
		if _, err := b.v.Verify(ctx, tok); err != nil {
			t.Errorf("Verify: got %v, want no error", err)
		}
	})

	t.Run("JWKS without usable keys", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.idp.set(http.StatusOK, []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`), "")
		tok := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, longClaims)
		_, err := b.v.Verify(ctx, tok)
		checkRefusal(t, err, tok, pass.KindUnavailable, msgUnavailable)
	})
}

func TestVerifierCanceledContext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, claims())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.v.Verify(ctx, tok)
	checkRefusal(t, err, tok, pass.KindUnavailable, msgUnavailable)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error: got %v, want it to wrap context.Canceled", err)
	}
	// A caller giving up is not the provider's failure: no back-off.
	if _, err := b.v.Verify(context.Background(), tok); err != nil {
		t.Errorf("Verify with a live context: got %v, want no error", err)
	}
}

func TestParseMaxAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cc   string
		want time.Duration
	}{
		{name: "absent", cc: "", want: 10 * time.Minute},
		{name: "max-age", cc: "max-age=300", want: 5 * time.Minute},
		{name: "among others", cc: "public, max-age=3600, must-revalidate", want: time.Hour},
		{name: "case and spaces", cc: " Public ,  MAX-AGE=600 ", want: 10 * time.Minute},
		{name: "quoted", cc: `max-age="900"`, want: 15 * time.Minute},
		{name: "first wins", cc: "max-age=120, max-age=7200", want: 2 * time.Minute},
		{name: "below the minimum", cc: "max-age=5", want: time.Minute},
		{name: "zero", cc: "max-age=0", want: time.Minute},
		{name: "above the maximum", cc: "max-age=31536000", want: 24 * time.Hour},
		{name: "overflow", cc: "max-age=99999999999999999999999", want: 24 * time.Hour},
		{name: "negative", cc: "max-age=-1", want: 10 * time.Minute},
		{name: "not a number", cc: "max-age=soon", want: 10 * time.Minute},
		{name: "empty value", cc: "max-age=", want: 10 * time.Minute},
		{name: "no-store", cc: "no-store", want: time.Minute},
		{name: "no-cache beats max-age", cc: "max-age=3600, no-cache", want: time.Minute},
		{name: "s-maxage ignored", cc: "s-maxage=3600", want: 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := parseMaxAge(tt.cc); got != tt.want {
				t.Errorf("parseMaxAge(%q): got %v, want %v", tt.cc, got, tt.want)
			}
		})
	}
}

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	keys := sharedKeys()
	goodRSA := rsaJWK("r", &keys.rsa.PublicKey)
	goodEC := ecJWK("e", &keys.ec.PublicKey)
	with := func(k map[string]any, edits map[string]any) map[string]any {
		c := make(map[string]any, len(k))
		for n, v := range k {
			c[n] = v
		}
		for n, v := range edits {
			if v == nil {
				delete(c, n)
			} else {
				c[n] = v
			}
		}
		return c
	}
	weakN := new(big.Int).Lsh(big.NewInt(1), 1023)
	weakN.SetBit(weakN, 0, 1)
	one := make([]byte, 32)
	one[31] = 1

	tests := []struct {
		name     string
		jwks     []byte
		wantKids []string
		wantErr  bool
	}{
		{name: "RSA and EC", jwks: jwksJSON(t, goodRSA, goodEC), wantKids: []string{"r", "e"}},
		{name: "no use, no alg, no kid", jwks: jwksJSON(t, with(goodRSA, map[string]any{"use": nil, "alg": nil, "kid": nil})), wantKids: []string{""}},
		{name: "padded base64", jwks: jwksJSON(t, with(goodEC, map[string]any{"x": b64(one) + "="}), goodRSA), wantKids: []string{"r"}},
		{name: "use enc skipped", jwks: jwksJSON(t, with(goodRSA, map[string]any{"use": "enc"}), goodEC), wantKids: []string{"e"}},
		{name: "key_ops without verify skipped", jwks: jwksJSON(t, with(goodRSA, map[string]any{"key_ops": []string{"encrypt"}}), with(goodEC, map[string]any{"key_ops": []string{"verify"}})), wantKids: []string{"e"}},
		{name: "alg RS512 skipped", jwks: jwksJSON(t, with(goodRSA, map[string]any{"alg": "RS512"}), goodEC), wantKids: []string{"e"}},
		{name: "alg RS256 on an EC key skipped", jwks: jwksJSON(t, with(goodEC, map[string]any{"alg": "RS256"}), goodRSA), wantKids: []string{"r"}},
		{name: "kty oct skipped", jwks: jwksJSON(t, map[string]any{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}, goodEC), wantKids: []string{"e"}},
		{name: "kty OKP skipped", jwks: jwksJSON(t, map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(one), "kid": "o"}, goodEC), wantKids: []string{"e"}},
		{name: "crv P-384 skipped", jwks: jwksJSON(t, with(goodEC, map[string]any{"crv": "P-384"}), goodRSA), wantKids: []string{"r"}},
		{name: "point off the curve skipped", jwks: jwksJSON(t, with(goodEC, map[string]any{"x": b64(one), "y": b64(one)}), goodRSA), wantKids: []string{"r"}},
		{name: "short coordinate skipped", jwks: jwksJSON(t, with(goodEC, map[string]any{"x": b64(one[1:])}), goodRSA), wantKids: []string{"r"}},
		{name: "1024-bit RSA skipped", jwks: jwksJSON(t, with(goodRSA, map[string]any{"n": b64(weakN.Bytes())}), goodEC), wantKids: []string{"e"}},
		{name: "even exponent skipped", jwks: jwksJSON(t, with(goodRSA, map[string]any{"e": b64([]byte{1, 0, 0})}), goodEC), wantKids: []string{"e"}},
		{name: "bad base64 skipped", jwks: jwksJSON(t, with(goodRSA, map[string]any{"n": "!!"}), goodEC), wantKids: []string{"e"}},
		{name: "member of the wrong type skipped", jwks: jwksJSON(t, with(goodRSA, map[string]any{"kid": 5}), goodEC), wantKids: []string{"e"}},
		{name: "not a key object skipped", jwks: mustJSON(t, map[string]any{"keys": []any{7, "x", goodEC}}), wantKids: []string{"e"}},
		{name: "no usable key", jwks: jwksJSON(t, with(goodRSA, map[string]any{"use": "enc"})), wantErr: true},
		{name: "empty", jwks: []byte(`{"keys":[]}`), wantErr: true},
		{name: "no keys member", jwks: []byte(`{}`), wantErr: true},
		{name: "not JSON", jwks: []byte(`<html>`), wantErr: true},
		{name: "keys not an array", jwks: []byte(`{"keys":{}}`), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseJWKS(tt.jwks)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseJWKS: got %d keys, want an error", len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("parseJWKS: got %v, want no error", err)
			}
			var kids []string
			for _, k := range got {
				kids = append(kids, k.kid)
			}
			if diff := cmp.Diff(kids, tt.wantKids); diff != "" {
				t.Errorf("kids (-got +want):\n%s", diff)
			}
		})
	}
}

func TestFindKey(t *testing.T) {
	t.Parallel()
	keys := sharedKeys()
	r, e, e2 := &keys.rsa.PublicKey, &keys.ec.PublicKey, &keys.ec2.PublicKey
	set := []publicKey{{kid: "r", alg: algRS256, key: r}, {kid: "e", alg: algES256, key: e}, {kid: "e2", alg: algES256, key: e2}}
	tests := []struct {
		name string
		alg  string
		kid  string
		want any
	}{
		{name: "by kid", alg: algES256, kid: "e2", want: e2},
		{name: "kid of another type", alg: algES256, kid: "r", want: nil},
		{name: "no kid, one key of the type", alg: algRS256, want: r},
		{name: "no kid, two keys of the type", alg: algES256, want: nil},
		{name: "unknown kid", alg: algRS256, kid: "x", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := findKey(set, tt.alg, tt.kid); got != tt.want {
				t.Errorf("findKey(%s, %q): got %v, want %v", tt.alg, tt.kid, got, tt.want)
			}
		})
	}
}

func TestNewVerifier(t *testing.T) {
	t.Parallel()
	valid := VerifierConfig{Tenant: "t", Issuer: "https://idp", Audience: "a", JWKSURL: "https://idp/jwks"}
	tests := []struct {
		name     string
		edit     func(*VerifierConfig)
		wantErrs []string // parts of the message; none: valid
	}{
		{name: "valid", edit: func(*VerifierConfig) {}},
		{name: "http to localhost", edit: func(c *VerifierConfig) { c.JWKSURL = "http://localhost:8080/jwks" }},
		{name: "http to 127.0.0.1", edit: func(c *VerifierConfig) { c.JWKSURL = "http://127.0.0.1:8080/jwks" }},
		{name: "http to ::1", edit: func(c *VerifierConfig) { c.JWKSURL = "http://[::1]:8080/jwks" }},
		{
			name:     "all missing",
			edit:     func(c *VerifierConfig) { *c = VerifierConfig{} },
			wantErrs: []string{"tenant is empty", "issuer is empty", "audience is empty", "JWKS URL is empty"},
		},
		{name: "http elsewhere", edit: func(c *VerifierConfig) { c.JWKSURL = "http://idp.example.com/jwks" }, wantErrs: []string{"JWKS URL must be https"}},
		{name: "ftp", edit: func(c *VerifierConfig) { c.JWKSURL = "ftp://idp.example.com/jwks" }, wantErrs: []string{"JWKS URL must be https"}},
		{name: "relative", edit: func(c *VerifierConfig) { c.JWKSURL = "/jwks" }, wantErrs: []string{"not an absolute URL"}},
		{name: "scope with a space", edit: func(c *VerifierConfig) { c.Scope = "a b" }, wantErrs: []string{"scope contains white space"}},
		{name: "negative leeway", edit: func(c *VerifierConfig) { c.Leeway = -time.Second }, wantErrs: []string{"leeway is negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tt.edit(&cfg)
			v, err := NewVerifier(cfg)
			if len(tt.wantErrs) == 0 {
				if err != nil {
					t.Fatalf("NewVerifier: got %v, want no error", err)
				}
				if v.scope != DefaultScope || v.tenantClaim != "tenant" || v.leeway != 30*time.Second || v.client.Timeout != 10*time.Second {
					t.Errorf("defaults: got scope %q, tenant claim %q, leeway %v, timeout %v", v.scope, v.tenantClaim, v.leeway, v.client.Timeout)
				}
				return
			}
			if got := pass.KindOf(err); got != pass.KindInvalid {
				t.Fatalf("kind: got %v (%v), want %v", got, err, pass.KindInvalid)
			}
			for _, w := range tt.wantErrs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error: got %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestDevIssuer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "dev", "keys", "issuer.pem")
	const issuer = "http://localhost:8080/dev/idp"
	d, err := LoadOrCreateDevIssuer(path, issuer)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("key file mode: got %v, want 0600", got)
		}
		di, err := os.Stat(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if got := di.Mode().Perm(); got != 0o700 {
			t.Errorf("key directory mode: got %v, want 0700", got)
		}
	}

	again, err := LoadOrCreateDevIssuer(path, issuer)
	if err != nil {
		t.Fatal(err)
	}
	if again.KeyID() != d.KeyID() || !bytes.Equal(again.JWKS(), d.JWKS()) {
		t.Errorf("reloaded kid: got %q, want %q", again.KeyID(), d.KeyID())
	}
	if len(d.KeyID()) != 11 {
		t.Errorf("kid: got %q, want 11 base64url characters", d.KeyID())
	}

	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(d.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS keys: got %d, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	wantKey := map[string]string{"kty": "EC", "crv": "P-256", "kid": d.KeyID(), "use": "sig", "alg": "ES256", "x": k["x"], "y": k["y"]}
	if diff := cmp.Diff(k, wantKey); diff != "" {
		t.Errorf("JWKS key (-got +want):\n%s", diff)
	}

	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + "/any/path")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.Header.Get("Content-Type"), "application/json"; got != want {
		t.Errorf("Content-Type: got %q, want %q", got, want)
	}
	if got, want := resp.Header.Get("Cache-Control"), "max-age=300"; got != want {
		t.Errorf("Cache-Control: got %q, want %q", got, want)
	}
	resp, err = srv.Client().Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusMethodNotAllowed; got != want {
		t.Errorf("POST status: got %d, want %d", got, want)
	}

	v, err := NewVerifier(VerifierConfig{
		Tenant:     testTenant,
		Issuer:     issuer,
		Audience:   testAudience,
		JWKSURL:    srv.URL + "/.well-known/jwks.json",
		HTTPClient: srv.Client(),
		Clock:      func() time.Time { return testNow.Add(time.Minute) },
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := again.Token(testTenant, testAudience, []string{"tickets:read", "openid"}, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: got %v, want no error", err)
	}
	if got.Subject != DevSubject || got.Tenant != testTenant || !got.ExpiresAt.Equal(testNow.Add(time.Hour)) || got.ID == "" {
		t.Errorf("claims: got %+v", got)
	}
	if diff := cmp.Diff(got.Scopes, []string{"tickets:read", "openid"}); diff != "" {
		t.Errorf("scopes (-got +want):\n%s", diff)
	}
	other, err := d.Token(testTenant, testAudience, []string{"tickets:read"}, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.Verify(context.Background(), other); err != nil || c.ID == got.ID {
		t.Errorf("second token: got %+v, %v; want another jti and no error", c, err)
	}

	foreign, err := d.Token("globex", testAudience, []string{"tickets:read"}, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), foreign)
	checkRefusal(t, err, foreign, pass.KindForbidden, msgTenant)
}

func TestDevIssuerToken(t *testing.T) {
	t.Parallel()
	d, err := LoadOrCreateDevIssuer(filepath.Join(t.TempDir(), "k.pem"), "http://localhost/idp")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		tenant  string
		aud     string
		scopes  []string
		ttl     time.Duration
		wantErr string
	}{
		{name: "valid", tenant: "t", aud: "a", scopes: []string{"tickets:read"}, ttl: time.Minute},
		{name: "no scopes", tenant: "t", aud: "a", ttl: time.Minute},
		{name: "no tenant", aud: "a", ttl: time.Minute, wantErr: "tenant is empty"},
		{name: "no audience", tenant: "t", ttl: time.Minute, wantErr: "audience is empty"},
		{name: "scope with a space", tenant: "t", aud: "a", scopes: []string{"a b"}, ttl: time.Minute, wantErr: "white space"},
		{name: "zero ttl", tenant: "t", aud: "a", wantErr: "ttl is not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok, err := d.Token(tt.tenant, tt.aud, tt.scopes, tt.ttl, testNow)
			if tt.wantErr == "" {
				if err != nil || strings.Count(tok, ".") != 2 {
					t.Errorf("Token: got %q, %v; want a JWT", tok, err)
				}
				return
			}
			if pass.KindOf(err) != pass.KindInvalid || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Token: got %v, want %v containing %q", err, pass.KindInvalid, tt.wantErr)
			}
		})
	}
}

func TestLoadOrCreateDevIssuerErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rsaDER, err := x509.MarshalPKCS8PrivateKey(sharedKeys().rsa)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, err := x509.MarshalECPrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(sharedKeys().ec)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		issuer   string
		wantKind pass.Kind
		wantErr  bool
	}{
		{name: "SEC 1 key accepted", path: write("sec1.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})), issuer: "x"},
		{name: "no issuer", path: filepath.Join(dir, "none.pem"), wantErr: true, wantKind: pass.KindInvalid},
		{name: "not PEM", path: write("garbage.pem", []byte("garbage")), issuer: "x", wantErr: true, wantKind: pass.KindInvalid},
		{name: "RSA key", path: write("rsa.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})), issuer: "x", wantErr: true, wantKind: pass.KindInvalid},
		{name: "P-384 key", path: write("p384.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: p384DER})), issuer: "x", wantErr: true, wantKind: pass.KindInvalid},
		{name: "certificate", path: write("cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})), issuer: "x", wantErr: true, wantKind: pass.KindInvalid},
		{name: "a directory", path: dir, issuer: "x", wantErr: true, wantKind: pass.KindInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadOrCreateDevIssuer(tt.path, tt.issuer)
			if !tt.wantErr {
				if err != nil {
					t.Errorf("LoadOrCreateDevIssuer: got %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatal("LoadOrCreateDevIssuer: got no error, want one")
			}
			if got := pass.KindOf(err); got != tt.wantKind {
				t.Errorf("kind: got %v (%v), want %v", got, err, tt.wantKind)
			}
		})
	}
}

func TestNewAPIKey(t *testing.T) {
	t.Parallel()
	key, hash := NewAPIKey()
	if !strings.HasPrefix(key, "wpk_") || len(key) != 47 {
		t.Errorf("key: got %q, want wpk_ and 43 characters", key)
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(key[4:]); err != nil || len(b) != 32 {
		t.Errorf("key body: got %d bytes, %v; want 32 bytes", len(b), err)
	}
	if !LooksLikeAPIKey(key) {
		t.Errorf("LooksLikeAPIKey(%q): got false, want true", key)
	}
	if got := HashAPIKey(key); got != hash {
		t.Errorf("HashAPIKey: got %q, want %q", got, hash)
	}
	sum := sha256.Sum256([]byte(key))
	if want := hex.EncodeToString(sum[:]); hash != want {
		t.Errorf("hash: got %q, want %q", hash, want)
	}
	if key2, hash2 := NewAPIKey(); key2 == key || hash2 == hash {
		t.Errorf("two keys: got %q twice", key)
	}
}

func TestHashAPIKey(t *testing.T) {
	t.Parallel()
	// sha256("abc"), FIPS 180-2 appendix B.1.
	if got, want := HashAPIKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("HashAPIKey(abc): got %q, want %q", got, want)
	}
}

func TestEqualHash(t *testing.T) {
	t.Parallel()
	h := HashAPIKey("wpk_x")
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{name: "equal", a: h, b: HashAPIKey("wpk_x"), want: true},
		{name: "different", a: h, b: HashAPIKey("wpk_y"), want: false},
		{name: "prefix", a: h, b: h[:10], want: false},
		{name: "longer", a: h, b: h + "0", want: false},
		{name: "upper case", a: h, b: strings.ToUpper(h), want: false},
		{name: "both empty", a: "", b: "", want: false},
		{name: "one empty", a: h, b: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := EqualHash(tt.a, tt.b); got != tt.want {
				t.Errorf("EqualHash(%q, %q): got %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestLooksLikeAPIKey(t *testing.T) {
	t.Parallel()
	key, _ := NewAPIKey()
	body := key[4:]
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{name: "a new key", s: key, want: true},
		{name: "all A", s: "wpk_" + strings.Repeat("A", 43), want: true},
		{name: "a JWT", s: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl", want: false},
		{name: "empty", s: "", want: false},
		{name: "other prefix", s: "wpx_" + body, want: false},
		{name: "upper-case prefix", s: "WPK_" + body, want: false},
		{name: "too short", s: key[:46], want: false},
		{name: "too long", s: key + "A", want: false},
		{name: "padded", s: key[:46] + "=", want: false},
		{name: "standard base64 characters", s: "wpk_" + strings.Repeat("+", 43), want: false},
		{name: "a dot", s: "wpk_" + strings.Repeat("A", 42) + ".", want: false},
		{name: "a line feed", s: "wpk_" + strings.Repeat("A", 42) + "\n", want: false},
		{name: "non-zero trailing bits", s: "wpk_" + strings.Repeat("A", 42) + "B", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := LooksLikeAPIKey(tt.s); got != tt.want {
				t.Errorf("LooksLikeAPIKey(%q): got %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	const jwtLike = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"
	tests := []struct {
		name   string
		header string
		want   string
	}{
		{name: "bearer", header: "Bearer " + jwtLike, want: jwtLike},
		{name: "lower case", header: "bearer " + jwtLike, want: jwtLike},
		{name: "mixed case", header: "BeArEr " + jwtLike, want: jwtLike},
		{name: "spaces", header: "Bearer    " + jwtLike + "  ", want: jwtLike},
		{name: "api key", header: "Bearer wpk_" + strings.Repeat("A", 43), want: "wpk_" + strings.Repeat("A", 43)},
		{name: "b64token characters", header: "Bearer a-._~+/b==", want: "a-._~+/b=="},
		{name: "empty", header: "", want: ""},
		{name: "scheme only", header: "Bearer", want: ""},
		{name: "scheme and spaces", header: "Bearer   ", want: ""},
		{name: "basic", header: "Basic dXNlcjpwYXNz", want: ""},
		{name: "no space", header: "Bearer" + jwtLike, want: ""},
		{name: "tab", header: "Bearer\t" + jwtLike, want: ""},
		{name: "two credentials", header: "Bearer a b", want: ""},
		{name: "only padding", header: "Bearer ==", want: ""},
		{name: "padding inside", header: "Bearer a=b", want: ""},
		{name: "quote", header: `Bearer "abc"`, want: ""},
		{name: "leading space", header: " Bearer abc", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := BearerToken(tt.header); got != tt.want {
				t.Errorf("BearerToken(%q): got %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestChallenge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		err   error
		scope string
		want  string
	}{
		{name: "no error", err: nil, want: `Bearer realm="walletpass"`},
		{name: "no token", err: ErrNoToken, want: `Bearer realm="walletpass"`},
		{
			name: "invalid token",
			err:  pass.Errorf(pass.KindUnauthorized, msgExpired),
			want: `Bearer realm="walletpass", error="invalid_token", error_description="the token has expired"`,
		},
		{
			name: "wrapped",
			err:  errors.Join(errors.New("context"), pass.Wrap(pass.KindUnauthorized, errors.New("cause"), msgSignature)),
			want: `Bearer realm="walletpass", error="invalid_token", error_description="the token's signature does not verify"`,
		},
		{
			name:  "insufficient scope",
			err:   pass.Errorf(pass.KindForbidden, "the token lacks the scope tickets:read"),
			scope: "tickets:read",
			want:  `Bearer realm="walletpass", error="insufficient_scope", error_description="the token lacks the scope tickets:read", scope="tickets:read"`,
		},
		{
			name: "another tenant, no scope",
			err:  pass.Errorf(pass.KindForbidden, msgTenant),
			want: `Bearer realm="walletpass", error="insufficient_scope", error_description="the token is for another tenant"`,
		},
		{
			name: "quotes escaped",
			err:  pass.Errorf(pass.KindUnauthorized, `a "quoted" \ word`),
			want: `Bearer realm="walletpass", error="invalid_token", error_description="a \"quoted\" \\ word"`,
		},
		{
			name: "control and non-ASCII characters replaced",
			err:  pass.Errorf(pass.KindUnauthorized, "line\r\nbreak é"),
			want: `Bearer realm="walletpass", error="invalid_token", error_description="line??break ?"`,
		},
		{
			name: "no public message",
			err:  pass.Wrap(pass.KindUnauthorized, errors.New("secret detail"), ""),
			want: `Bearer realm="walletpass", error="invalid_token"`,
		},
		{name: "unavailable", err: pass.Errorf(pass.KindUnavailable, msgUnavailable), want: `Bearer realm="walletpass"`},
		{name: "internal", err: errors.New("boom"), want: `Bearer realm="walletpass"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Challenge(tt.err, tt.scope); got != tt.want {
				t.Errorf("Challenge:\ngot  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func ExampleVerifier() {
	dir, err := os.MkdirTemp("", "walletpass-auth")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// A development identity provider and its JWKS endpoint.
	idp, err := LoadOrCreateDevIssuer(filepath.Join(dir, "dev-issuer.pem"), "http://localhost:8080/dev/idp")
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(idp.Handler())
	defer srv.Close()

	v, err := NewVerifier(VerifierConfig{
		Tenant:   "acme",
		Issuer:   "http://localhost:8080/dev/idp",
		Audience: "walletpass-api",
		JWKSURL:  srv.URL + "/jwks.json",
	})
	if err != nil {
		panic(err)
	}
	token, err := idp.Token("acme", "walletpass-api", []string{DefaultScope}, time.Hour, time.Now())
	if err != nil {
		panic(err)
	}

	// What a handler does with "Authorization: Bearer <token>".
	header := "Bearer " + token
	claims, err := v.Verify(context.Background(), BearerToken(header))
	if err != nil {
		fmt.Println(Challenge(err, DefaultScope))
		return
	}
	fmt.Println(claims.Subject, claims.Tenant, claims.Scopes)

	_, err = v.Verify(context.Background(), BearerToken("Bearer not.a.token"))
	fmt.Println(Challenge(err, DefaultScope))
	// Output:
	// walletpass-dev acme [tickets:read]
	// Bearer realm="walletpass", error="invalid_token", error_description="the token is malformed"
}

// FuzzVerify checks that Verify never panics and accepts no token but the
// valid seeds.
func FuzzVerify(f *testing.F) {
	b := setup(f)
	valid := map[string]bool{
		sign(f, jwt.SigningMethodES256, b.keys.ec, ecKid, claims()):   true,
		sign(f, jwt.SigningMethodRS256, b.keys.rsa, rsaKid, claims()): true,
	}
	for tok := range valid {
		// Else the check below that only these pass would hold vacuously.
		if c, err := b.v.Verify(context.Background(), tok); err != nil || c == nil {
			f.Fatalf("Verify of a valid seed: %+v, %v; want claims", c, err)
		}
		f.Add(tok)
		f.Add(tok[:len(tok)-1])
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + ".." + parts[2])
	}
	for _, s := range []string{
		"", ".", "..", "a.b.c", "e30.e30.", "e30.e30.e30",
		sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims()),
		sign(f, jwt.SigningMethodHS256, []byte("secret"), rsaKid, claims()),
		sign(f, jwt.SigningMethodES256, b.keys.other, "unknown", claims()),
		b64([]byte(`{"alg":"ES256","kid":"ec-1"}`)) + "." + b64([]byte(`{"exp":1e400}`)) + ".AAAA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := b.v.Verify(context.Background(), token)
		if err == nil {
			if !valid[token] {
				t.Fatalf("Verify(%q): got %+v, want an error", token, c)
			}
			return
		}
		if c != nil {
			t.Errorf("Verify(%q): got claims %+v with error %v", token, c, err)
		}
		if k := pass.KindOf(err); k != pass.KindUnauthorized && k != pass.KindForbidden {
			t.Errorf("Verify(%q): got kind %v (%v), want unauthorized or forbidden", token, k, err)
		}
		if len(token) >= 16 && strings.Contains(err.Error(), token) {
			t.Errorf("Verify: error %q contains the token", err)
		}
	})
}

// TestVerifierRequiresTheTenantClaim: two tenants trusting one issuer and
// audience each require the tenant claim: a token naming no tenant opens
// neither; a token naming one opens that one only.
func TestVerifierRequiresTheTenantClaim(t *testing.T) {
	t.Parallel()
	b := setup(t)
	verifier := func(tenant string) *Verifier {
		v, err := NewVerifier(VerifierConfig{Tenant: tenant, Issuer: testIssuer, Audience: testAudience, JWKSURL: b.idp.srv.URL,
			HTTPClient: b.idp.srv.Client(), Clock: b.clock.Now, RequireTenantClaim: true})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	acme, globex := verifier(testTenant), verifier("globex")
	none := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, claims(func(c jwt.MapClaims) { delete(c, "tenant") }))
	for _, v := range []*Verifier{acme, globex} {
		_, err := v.Verify(context.Background(), none)
		checkRefusal(t, err, none, pass.KindForbidden, "the token does not name its tenant (claim tenant)")
	}
	mine := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, claims())
	if _, err := acme.Verify(context.Background(), mine); err != nil {
		t.Errorf("its own tenant: %v", err)
	}
	_, err := globex.Verify(context.Background(), mine)
	checkRefusal(t, err, mine, pass.KindForbidden, msgTenant)
}

// TestVerifierOtherAudiences: tenants trusting one issuer with their own
// audiences need no tenant claim for a token of their audience alone; a
// token whose audience lists another tenant's as well must name its
// tenant, and then opens that one only.
func TestVerifierOtherAudiences(t *testing.T) {
	t.Parallel()
	b := setup(t)
	verifier := func(tenant, audience, other string) *Verifier {
		v, err := NewVerifier(VerifierConfig{Tenant: tenant, Issuer: testIssuer, Audience: audience, JWKSURL: b.idp.srv.URL,
			HTTPClient: b.idp.srv.Client(), Clock: b.clock.Now, OtherAudiences: []string{other}})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	acme, globex := verifier(testTenant, testAudience, "globex-api"), verifier("globex", "globex-api", testAudience)
	token := func(aud any, tenant string) string {
		return sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, claims(func(c jwt.MapClaims) {
			c["aud"] = aud
			if tenant == "" {
				delete(c, "tenant")
			} else {
				c["tenant"] = tenant
			}
		}))
	}
	if _, err := acme.Verify(context.Background(), token(testAudience, "")); err != nil {
		t.Errorf("a token of its audience alone, without the claim: %v", err)
	}
	both := token([]string{testAudience, "globex-api"}, "")
	for _, v := range []*Verifier{acme, globex} {
		_, err := v.Verify(context.Background(), both)
		checkRefusal(t, err, both, pass.KindForbidden, "the token does not name its tenant (claim tenant)")
	}
	named := token([]string{testAudience, "globex-api"}, "globex")
	if _, err := globex.Verify(context.Background(), named); err != nil {
		t.Errorf("a token of both audiences naming its tenant: %v", err)
	}
	_, err := acme.Verify(context.Background(), named)
	checkRefusal(t, err, named, pass.KindForbidden, msgTenant)
}

// TestVerifyScope: a route asks its own scope; the configured one
// (getTicketsUrl's) is neither needed nor enough for it.
func TestVerifyScope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v, err := NewVerifier(VerifierConfig{Tenant: testTenant, Issuer: testIssuer, Audience: testAudience, JWKSURL: b.idp.srv.URL,
		HTTPClient: b.idp.srv.Client(), Clock: b.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	gate := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, claims(func(c jwt.MapClaims) { c["scope"] = "scans:write passes:read" }))
	if _, err := v.VerifyScope(context.Background(), gate, "scans:write"); err != nil {
		t.Errorf("scans:write: %v", err)
	}
	_, err = v.Verify(context.Background(), gate)
	checkRefusal(t, err, gate, pass.KindForbidden, "the token lacks the scope tickets:read")
	shop := sign(t, jwt.SigningMethodES256, b.keys.ec, ecKid, claims())
	_, err = v.VerifyScope(context.Background(), shop, "passes:read")
	checkRefusal(t, err, shop, pass.KindForbidden, "the token lacks the scope passes:read")
}
