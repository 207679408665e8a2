package oidc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.uber.org/goleak"
	"golang.org/x/oauth2"

	fakeoidc "walletpass/fake/oidc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	confidentialID = "console"
	publicID       = "spa"
	secret         = "s3cret+/=%" // characters that Basic must form-encode
	redirectURI    = "https://console.example/callback?tenant=demo"
)

func testUsers() []fakeoidc.User {
	return []fakeoidc.User{
		{Subject: "u-admin", Name: "Ada Admin", Email: "ada@example.test", Roles: []string{"admin"}},
		{Subject: "u-oper", Name: "Otto Operator", Email: "otto@example.test", Roles: []string{"operator:demo", "operator:acme"}},
	}
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a provider served under /dev/oidc, with an HTTP client that does
// not follow redirects and the relying party's view of it.
type env struct {
	issuer string
	clock  *clock
	hc     *http.Client
	ctx    context.Context // carries hc for go-oidc and oauth2
	op     *oidc.Provider
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String() + "/dev/oidc"
	clk := &clock{t: time.Now()}
	p, err := fakeoidc.New(fakeoidc.Options{
		Issuer: issuer,
		Clients: map[string]fakeoidc.Client{
			confidentialID: {Secret: secret, RedirectURIs: []string{redirectURI}, PostLogoutRedirectURIs: []string{signedOutURI}},
			publicID:       {RedirectURIs: []string{"http://127.0.0.1:9999/cb"}},
		},
		Users: testUsers(),
		Now:   clk.Now,
	})
	if err != nil {
		srv.Listener.Close()
		t.Fatalf("New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/dev/oidc/", p) // the provider sees the full path
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx := oidc.ClientContext(t.Context(), hc)
	op, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("oidc.NewProvider: %v", err)
	}
	return &env{issuer: issuer, clock: clk, hc: hc, ctx: ctx, op: op}
}

// config is the relying party's OAuth 2.0 configuration for a client.
func (e *env) config(clientID, clientSecret, redirect string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirect,
		Endpoint: e.op.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
	}
}

// do sends a request and returns the answer with its body read.
func (e *env) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the body: %v", req.Method, req.URL, err)
	}
	return resp, string(b)
}

func (e *env) get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, req)
}

func (e *env) postForm(t *testing.T, u string, form url.Values, user, pass string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return e.do(t, req)
}

var (
	formRE   = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// login plays the browser: it opens authURL, checks the login page and
// posts its form for the user at index user. It returns the redirect.
func (e *env) login(t *testing.T, authURL string, user int) *url.URL {
	t.Helper()
	resp, page := e.get(t, authURL)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET authorize: got status %d, want 200; body %q", resp.StatusCode, page)
	}
	for _, u := range testUsers() {
		for _, s := range append([]string{u.Name, u.Email}, u.Roles...) {
			if !strings.Contains(page, s) {
				t.Errorf("the login page does not show %q", s)
			}
		}
	}
	m := formRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no POST form on the login page:\n%s", page)
	}
	action := html.UnescapeString(m[1])
	if action != e.issuer+"/authorize" {
		t.Errorf("form action: got %q, want %q", action, e.issuer+"/authorize")
	}
	form := url.Values{}
	for _, h := range hiddenRE.FindAllStringSubmatch(page, -1) {
		form.Add(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	form.Set("user", strconv.Itoa(user))
	resp, body := e.postForm(t, action, form, "", "")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST authorize: got status %d, want 303; body %q", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("Location %q: %v", resp.Header.Get("Location"), err)
	}
	return loc
}

// code runs the authorization request of cfg with a fresh state and the
// verifier's challenge, logs in as the first user and returns the code.
func (e *env) code(t *testing.T, cfg *oauth2.Config, verifier string) string {
	t.Helper()
	loc := e.login(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), 0)
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in the redirect %s", loc)
	}
	return code
}

// wantRetrieveError checks that err is an OAuth error answer with code
// and status.
func wantRetrieveError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("got error %v, want a *oauth2.RetrieveError %s", err, code)
	}
	if re.ErrorCode != code || re.Response.StatusCode != status {
		t.Errorf("got %d %s (%s), want %d %s", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription, status, code)
	}
}

func TestFullFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config(confidentialID, secret, redirectURI)
	verifier := oauth2.GenerateVerifier()
	const state, nonce = "state-123", "nonce-456"

	resp, _ := e.get(t, cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
	for k, want := range map[string]string{
		"Cache-Control":   "no-store",
		"X-Frame-Options": "DENY",
		"Content-Type":    "text/html; charset=utf-8",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("login page %s: got %q, want %q", k, got, want)
		}
	}
	if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'none'") {
		t.Errorf("login page Content-Security-Policy: got %q, want frame-ancestors 'none'", got)
	}

	loc := e.login(t, cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), 1)
	if got, want := loc.Scheme+"://"+loc.Host+loc.Path, "https://console.example/callback"; got != want {
		t.Errorf("redirect: got %s, want %s", got, want)
	}
	q := loc.Query()
	if got := q.Get("state"); got != state {
		t.Errorf("state: got %q, want %q", got, state)
	}
	if got := q.Get("tenant"); got != "demo" {
		t.Errorf("the redirect URI's own query: got tenant=%q, want demo", got)
	}

	tok, err := cfg.Exchange(e.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if tok.AccessToken == "" || tok.TokenType != "Bearer" {
		t.Errorf("token: got access token %q type %q, want one of type Bearer", tok.AccessToken, tok.TokenType)
	}
	if got := tok.Extra("scope"); got != "openid profile email" {
		t.Errorf("scope: got %v, want openid profile email", got)
	}
	if d := time.Until(tok.Expiry); d < 4*time.Minute || d > 5*time.Minute {
		t.Errorf("token expires in %v, want about 5m", d)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		t.Fatalf("no id_token in the token answer")
	}
	idt, err := e.op.Verifier(&oidc.Config{ClientID: confidentialID}).Verify(e.ctx, raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if idt.Nonce != nonce || idt.Subject != "u-oper" || idt.Issuer != e.issuer {
		t.Errorf("ID token: got nonce %q sub %q iss %q, want %q u-oper %q", idt.Nonce, idt.Subject, idt.Issuer, nonce, e.issuer)
	}
	var claims struct {
		Name     string   `json:"name"`
		Email    string   `json:"email"`
		Roles    []string `json:"roles"`
		AuthTime int64    `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Name != "Otto Operator" || claims.Email != "otto@example.test" || claims.AuthTime == 0 ||
		!slices.Equal(claims.Roles, []string{"operator:demo", "operator:acme"}) {
		t.Errorf("claims: got %+v, want Otto Operator, otto@example.test, auth_time and roles operator:demo, operator:acme", claims)
	}
}

func TestPublicClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config(publicID, "", "http://127.0.0.1:9999/cb")
	cfg.Scopes = []string{oidc.ScopeOpenID}
	verifier := oauth2.GenerateVerifier()
	loc := e.login(t, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), 0)
	tok, err := cfg.Exchange(e.ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := e.op.Verifier(&oidc.Config{ClientID: publicID}).Verify(e.ctx, raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if idt.Subject != "u-admin" || idt.Nonce != "" {
		t.Errorf("ID token: got sub %q nonce %q, want u-admin and no nonce", idt.Subject, idt.Nonce)
	}
	if got := tok.Extra("scope"); got != "openid" {
		t.Errorf("scope: got %v, want openid", got)
	}
}

func TestTokenRefusals(t *testing.T) {
	t.Parallel()
	t.Run("code used twice", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		cfg := e.config(confidentialID, secret, redirectURI)
		v := oauth2.GenerateVerifier()
		code := e.code(t, cfg, v)
		if _, err := cfg.Exchange(e.ctx, code, oauth2.VerifierOption(v)); err != nil {
			t.Fatalf("first Exchange: %v", err)
		}
		_, err := cfg.Exchange(e.ctx, code, oauth2.VerifierOption(v))
		wantRetrieveError(t, err, "invalid_grant", http.StatusBadRequest)
	})
	t.Run("wrong verifier, then the right one", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		cfg := e.config(confidentialID, secret, redirectURI)
		v := oauth2.GenerateVerifier()
		code := e.code(t, cfg, v)
		_, err := cfg.Exchange(e.ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		wantRetrieveError(t, err, "invalid_grant", http.StatusBadRequest)
		_, err = cfg.Exchange(e.ctx, code, oauth2.VerifierOption(v))
		wantRetrieveError(t, err, "invalid_grant", http.StatusBadRequest) // the failed try spent it
	})
	t.Run("no verifier", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		cfg := e.config(confidentialID, secret, redirectURI)
		code := e.code(t, cfg, oauth2.GenerateVerifier())
		_, err := cfg.Exchange(e.ctx, code)
		wantRetrieveError(t, err, "invalid_grant", http.StatusBadRequest)
	})
	t.Run("wrong redirect_uri", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		cfg := e.config(confidentialID, secret, redirectURI)
		v := oauth2.GenerateVerifier()
		code := e.code(t, cfg, v)
		_, err := cfg.Exchange(e.ctx, code, oauth2.VerifierOption(v), oauth2.SetAuthURLParam("redirect_uri", "https://console.example/callback"))
		wantRetrieveError(t, err, "invalid_grant", http.StatusBadRequest)
	})
	t.Run("wrong secret keeps the code", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		cfg := e.config(confidentialID, secret, redirectURI)
		v := oauth2.GenerateVerifier()
		code := e.code(t, cfg, v)
		_, err := e.config(confidentialID, "wrong", redirectURI).Exchange(e.ctx, code, oauth2.VerifierOption(v))
		wantRetrieveError(t, err, "invalid_client", http.StatusUnauthorized)
		if _, err := cfg.Exchange(e.ctx, code, oauth2.VerifierOption(v)); err != nil {
			t.Errorf("Exchange after a failed client authentication: got %v, want success", err)
		}
	})
	t.Run("expired code", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		cfg := e.config(confidentialID, secret, redirectURI)
		v := oauth2.GenerateVerifier()
		code := e.code(t, cfg, v)
		e.clock.Advance(61 * time.Second)
		_, err := cfg.Exchange(e.ctx, code, oauth2.VerifierOption(v))
		wantRetrieveError(t, err, "invalid_grant", http.StatusBadRequest)
	})
	t.Run("raw requests", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		tokenURL := e.issuer + "/token"
		for _, tc := range []struct {
			name       string
			form       url.Values
			user, pass string
			status     int
			code       string
			basicChal  bool
		}{
			{"Basic wrong secret", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, confidentialID, "nope", 401, "invalid_client", true},
			{"post no secret", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {confidentialID}}, "", "", 401, "invalid_client", false},
			{"unknown client", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"who"}}, "", "", 401, "invalid_client", false},
			{"public client with a secret", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {publicID}, "client_secret": {"x"}}, "", "", 401, "invalid_client", false},
			{"grant type password", url.Values{"grant_type": {"password"}}, "", "", 400, "unsupported_grant_type", false},
			{"unknown code, Basic secret form-encoded", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, confidentialID, url.QueryEscape(secret), 400, "invalid_grant", false},
			{"unknown code, public client", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {publicID}}, "", "", 400, "invalid_grant", false},
		} {
			resp, body := e.postForm(t, tokenURL, tc.form, tc.user, tc.pass)
			var got struct{ Error string }
			_ = json.Unmarshal([]byte(body), &got)
			if resp.StatusCode != tc.status || got.Error != tc.code {
				t.Errorf("%s: got %d %q, want %d %s", tc.name, resp.StatusCode, body, tc.status, tc.code)
			}
			if ch := resp.Header.Get("WWW-Authenticate"); strings.HasPrefix(ch, "Basic ") != tc.basicChal {
				t.Errorf("%s: got WWW-Authenticate %q, want a Basic challenge: %v", tc.name, ch, tc.basicChal)
			}
		}
	})
}

func TestAuthorizeRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	valid := url.Values{
		"client_id": {confidentialID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"st-9"}, "nonce": {"n"},
		"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"},
	}
	with := func(k, v string) url.Values {
		q := maps.Clone(valid)
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	for _, tc := range []struct {
		name  string
		query url.Values
		error string // "" for a 400 page without redirect
	}{
		{"unknown client", with("client_id", "who"), ""},
		{"unregistered redirect_uri", with("redirect_uri", "https://evil.example/callback"), ""},
		{"redirect_uri not exact", with("redirect_uri", "https://console.example/callback"), ""},
		{"no code_challenge", with("code_challenge", ""), "invalid_request"},
		{"method plain", with("code_challenge_method", "plain"), "invalid_request"},
		{"no method", with("code_challenge_method", ""), "invalid_request"},
		{"short challenge", with("code_challenge", "abc"), "invalid_request"},
		{"scope without openid", with("scope", "profile email"), "invalid_scope"},
		{"response_type token", with("response_type", "token"), "unsupported_response_type"},
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			var resp *http.Response
			if method == http.MethodGet {
				resp, _ = e.get(t, e.issuer+"/authorize?"+tc.query.Encode())
			} else {
				q := maps.Clone(tc.query)
				q.Set("user", "0")
				resp, _ = e.postForm(t, e.issuer+"/authorize", q, "", "")
			}
			loc := resp.Header.Get("Location")
			if tc.error == "" {
				if resp.StatusCode != http.StatusBadRequest || loc != "" {
					t.Errorf("%s %s: got %d Location %q, want 400 and no Location", method, tc.name, resp.StatusCode, loc)
				}
				continue
			}
			u, err := url.Parse(loc)
			if err != nil || resp.StatusCode != http.StatusSeeOther {
				t.Errorf("%s %s: got %d Location %q (%v), want 303", method, tc.name, resp.StatusCode, loc, err)
				continue
			}
			if q := u.Query(); q.Get("error") != tc.error || q.Get("state") != "st-9" || q.Get("code") != "" || q.Get("tenant") != "demo" {
				t.Errorf("%s %s: got redirect %s, want error=%s, state=st-9, tenant=demo and no code", method, tc.name, loc, tc.error)
			}
		}
	}
	// A valid request with an unknown user gets a page, not a code.
	resp, _ := e.postForm(t, e.issuer+"/authorize", with("user", "7"), "", "")
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("unknown user: got %d Location %q, want 400 and no Location", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestDiscoveryJWKSAndRouting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp, body := e.get(t, e.issuer+"/.well-known/openid-configuration")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: got status %d, want 200", resp.StatusCode)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	for k, want := range map[string]any{
		"issuer":                                e.issuer,
		"authorization_endpoint":                e.issuer + "/authorize",
		"token_endpoint":                        e.issuer + "/token",
		"jwks_uri":                              e.issuer + "/jwks",
		"end_session_endpoint":                  e.issuer + "/logout",
		"response_types_supported":              []any{"code"},
		"subject_types_supported":               []any{"public"},
		"id_token_signing_alg_values_supported": []any{"ES256"},
		"scopes_supported":                      []any{"openid", "profile", "email"},
		"token_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post", "none"},
		"grant_types_supported":                 []any{"authorization_code"},
		"code_challenge_methods_supported":      []any{"S256"},
	} {
		if got, _ := json.Marshal(doc[k]); string(got) != mustJSON(t, want) {
			t.Errorf("discovery %s: got %s, want %s", k, got, mustJSON(t, want))
		}
	}
	if claims, _ := doc["claims_supported"].([]any); !slices.Contains(claims, any("roles")) {
		t.Errorf("discovery claims_supported: got %v, want it to contain roles", doc["claims_supported"])
	}

	resp, body = e.get(t, e.issuer+"/jwks")
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil || resp.StatusCode != http.StatusOK || len(set.Keys) != 1 {
		t.Fatalf("jwks: got %d %s (%v), want 200 and one key", resp.StatusCode, body, err)
	}
	k := set.Keys[0]
	if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["kid"] == "" || len(k) != 7 {
		t.Errorf("jwk: got %v, want kty EC, crv P-256, alg ES256, use sig, a kid, x and y", k)
	}
	x, errX := base64.RawURLEncoding.DecodeString(k["x"])
	y, errY := base64.RawURLEncoding.DecodeString(k["y"])
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		t.Fatalf("jwk x, y: got %q, %q, want 32 bytes each, base64url without padding", k["x"], k["y"])
	}
	if _, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...)); err != nil {
		t.Errorf("jwk: not a P-256 point: %v", err)
	}

	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/nope", http.StatusNotFound, ""},
		{http.MethodGet, "/authorize/x", http.StatusNotFound, ""},
		{http.MethodGet, "/token", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPost, "/jwks", http.StatusMethodNotAllowed, "GET"},
		{http.MethodDelete, "/authorize", http.StatusMethodNotAllowed, "GET, POST"},
	} {
		req, err := http.NewRequest(tc.method, e.issuer+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := e.do(t, req)
		if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: got %d Allow %q, want %d Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), tc.status, tc.allow)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	clients := map[string]fakeoidc.Client{"c": {RedirectURIs: []string{"http://127.0.0.1/cb"}}}
	users := testUsers()
	for _, tc := range []struct {
		name string
		opts fakeoidc.Options
	}{
		{"empty issuer", fakeoidc.Options{Clients: clients, Users: users}},
		{"trailing slash", fakeoidc.Options{Issuer: "http://127.0.0.1/dev/oidc/", Clients: clients, Users: users}},
		{"not http", fakeoidc.Options{Issuer: "ftp://127.0.0.1/dev/oidc", Clients: clients, Users: users}},
		{"no clients", fakeoidc.Options{Issuer: "http://127.0.0.1/dev/oidc", Users: users}},
		{"no redirect URIs", fakeoidc.Options{Issuer: "http://127.0.0.1/dev/oidc", Clients: map[string]fakeoidc.Client{"c": {}}, Users: users}},
		{"no users", fakeoidc.Options{Issuer: "http://127.0.0.1/dev/oidc", Clients: clients}},
		{"repeated subject", fakeoidc.Options{Issuer: "http://127.0.0.1/dev/oidc", Clients: clients, Users: append(users, users[0])}},
	} {
		if _, err := fakeoidc.New(tc.opts); err == nil {
			t.Errorf("%s: New succeeded, want an error", tc.name)
		}
	}
	if _, err := fakeoidc.New(fakeoidc.Options{Issuer: "http://127.0.0.1:8080", Clients: clients, Users: users}); err != nil {
		t.Errorf("issuer without a path: got %v, want success", err)
	}
}

// TestLoginHint: a login_hint that is a user's subject signs that user in
// without the page; an unknown hint gets the page.
func TestLoginHint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config(confidentialID, secret, redirectURI)
	verifier := oauth2.GenerateVerifier()
	resp, _ := e.get(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("login_hint", "u-oper")))
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st" {
		t.Fatalf("a known hint: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok, err := cfg.Exchange(e.ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := e.op.Verifier(&oidc.Config{ClientID: confidentialID}).Verify(e.ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Subject != "u-oper" {
		t.Errorf("the hinted user: %v, %v", idt, err)
	}
	resp, body := e.get(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("login_hint", "nobody")))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Development login") {
		t.Errorf("an unknown hint: %d", resp.StatusCode)
	}
}

// signedOutURI is where the confidential client asks to be sent back after
// signing out.
const signedOutURI = "http://127.0.0.1:8080/console/signedout"

// TestEndSession: the end-session endpoint sends the user back to a
// post-logout URI the client registered (with its state), refuses any
// other, and without one says the user is signed out.
func TestEndSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	logout := func(q url.Values) (*http.Response, string) { return e.get(t, e.issuer+"/logout?"+q.Encode()) }
	resp, _ := logout(url.Values{"client_id": {confidentialID}, "post_logout_redirect_uri": {signedOutURI}, "state": {"st1"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != signedOutURI+"?state=st1" {
		t.Errorf("a registered post-logout URI: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for name, q := range map[string]url.Values{
		"another URI":    {"client_id": {confidentialID}, "post_logout_redirect_uri": {"https://evil.example/"}},
		"another client": {"client_id": {publicID}, "post_logout_redirect_uri": {signedOutURI}},
		"no client":      {"post_logout_redirect_uri": {signedOutURI}},
	} {
		if resp, _ := logout(q); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, resp.StatusCode)
		}
	}
	if resp, body := logout(url.Values{}); resp.StatusCode != http.StatusOK || !strings.Contains(body, "signed out") {
		t.Errorf("without a URI: %d %q", resp.StatusCode, body)
	}
}
