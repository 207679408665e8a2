package console

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"walletpass/internal/httpx/httpxtest"
	"walletpass/pass"
)

func newTest(t testing.TB, base string) *Console {
	t.Helper()
	c, err := New(Config{BaseURL: base, OIDC: OIDC{Issuer: "https://idp.example", ClientID: "c"},
		SessionKey: []byte(strings.Repeat("k", 32)), Tenants: []Tenant{{ID: "demo", Name: "Demo"}, {ID: "other", Name: "Other"}},
		Clock: func() time.Time { return time.Unix(1_800_000_000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSessionCookie: the session is refused when tampered with, signed
// for another purpose, expired or without a CSRF token; cookies are
// Secure over https and on localhost only.
func TestSessionCookie(t *testing.T) {
	c := newTest(t, "https://wallet.example")
	now := c.cfg.Clock.Now()
	good := &session{Subject: "u1", Tenants: []string{"demo"}, CSRF: "tok", Expires: now.Add(time.Hour)}
	cookie := func(purpose string, s *session) *http.Request {
		v, err := c.seal(purpose, s)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, "/console/", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
		return r
	}
	if s := c.current(cookie("session", good)); s == nil || s.Subject != "u1" || !s.may("demo") || s.may("other") {
		t.Errorf("a good session: %+v", s)
	}
	if s := c.current(cookie("login", good)); s != nil {
		t.Error("a value sealed for the sign-in is taken as a session")
	}
	expired := *good
	expired.Expires = now
	if s := c.current(cookie("session", &expired)); s != nil {
		t.Error("an expired session is taken")
	}
	noCSRF := *good
	noCSRF.CSRF = ""
	if s := c.current(cookie("session", &noCSRF)); s != nil {
		t.Error("a session without a CSRF token is taken")
	}
	r := cookie("session", good)
	ck, _ := r.Cookie(sessionCookie)
	body, sig, _ := strings.Cut(ck.Value, ".")
	forged := &session{Subject: "u1", Admin: true, CSRF: "tok", Expires: now.Add(time.Hour)}
	fv, _ := c.seal("session", forged)
	fbody, _, _ := strings.Cut(fv, ".")
	for _, v := range []string{fbody + "." + sig, body + "." + sig[:len(sig)-2] + "AA", body, "", "x.y"} {
		r := httptest.NewRequest(http.MethodGet, "/console/", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
		if s := c.current(r); s != nil {
			t.Errorf("cookie %q taken as %+v", v, s)
		}
	}

	for base, secure := range map[string]bool{"https://wallet.example": true, "http://localhost:8080": true, "http://127.0.0.1:8080": false} {
		c := newTest(t, base)
		w := httptest.NewRecorder()
		c.setCookie(w, sessionCookie, "v", time.Hour)
		sc := w.Header().Get("Set-Cookie")
		if strings.Contains(sc, "; Secure") != secure || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") ||
			!strings.Contains(sc, "Path=/console/") {
			t.Errorf("%s: Set-Cookie %s (Secure %v)", base, sc, secure)
		}
	}
}

// TestRolesAndNext: roles from a string or a list, only served tenants;
// the return path stays in the console.
func TestRolesAndNext(t *testing.T) {
	c := newTest(t, "https://wallet.example")
	for _, tc := range []struct {
		name    string
		claim   any
		admin   bool
		tenants string
	}{
		{"list", []any{"operator:demo", "operator:nowhere", 7}, false, "demo"},
		{"string", "admin operator:other", true, "other"},
		{"commas", "operator:demo,operator:other,operator:demo", false, "demo other"},
		{"none", nil, false, ""},
		{"prefix only", "operators:demo administrator", false, ""},
	} {
		admin, tenants := c.rolesOf(tc.claim)
		if admin != tc.admin || strings.Join(tenants, " ") != tc.tenants {
			t.Errorf("%s: admin %v tenants %v, want %v %q", tc.name, admin, tenants, tc.admin, tc.tenants)
		}
	}
	for next, want := range map[string]string{"/console/queue?state=dead": "/console/queue?state=dead", "https://evil.example/": "/console/",
		"//evil.example/console/": "/console/", "/console/\\evil": "/console/", "": "/console/", "/api/demo/passes": "/console/"} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
	if _, err := New(Config{BaseURL: "https://x", OIDC: OIDC{Issuer: "https://i", ClientID: "c"}, SessionKey: []byte("short")}); err == nil {
		t.Error("a short session key is accepted")
	}
}

// TestLoginStartsOnTheBaseHost: a sign-in begun on another host name of
// the service (localhost for 127.0.0.1) moves to the base URL first, where
// the identity provider will send the browser back.
func TestLoginStartsOnTheBaseHost(t *testing.T) {
	c := newTest(t, "http://127.0.0.1:8080")
	r := httptest.NewRequest(http.MethodGet, "http://localhost:8080/console/login?next=%2Fconsole%2Fqueue", nil)
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "http://127.0.0.1:8080/console/login?next=%2Fconsole%2Fqueue" {
		t.Errorf("login on localhost: %d to %q", w.Code, w.Header().Get("Location"))
	}
	if strings.Contains(w.Header().Get("Set-Cookie"), loginCookie) {
		t.Error("a sign-in cookie was set on the wrong host")
	}
}

// TestSignInLimitPerClient: the sign-in limit counts each client behind
// the trusted load balancer on its own, and a client that reaches the
// console directly cannot pick its address with X-Forwarded-For.
func TestSignInLimitPerClient(t *testing.T) {
	c, err := New(Config{BaseURL: "http://127.0.0.1:8080", OIDC: OIDC{Issuer: "https://idp.example", ClientID: "c"},
		SessionKey: []byte(strings.Repeat("k", 32)), Clock: func() time.Time { return time.Unix(1_800_000_000, 0) },
		TrustedProxies: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	login := func(peer, client string) int {
		// On another host the sign-in only redirects to the base URL:
		// no identity provider is needed to spend an attempt.
		r := httptest.NewRequest(http.MethodGet, "http://localhost:8080/console/login", nil)
		r.RemoteAddr = peer + ":4000"
		if client == "" {
			n++
			client = fmt.Sprintf("198.51.100.%d", n)
		}
		r.Header.Set("X-Forwarded-For", client)
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		return w.Code
	}
	for i := range 15 {
		if code := login("10.0.0.1", ""); code != http.StatusSeeOther {
			t.Fatalf("client %d behind the balancer: %d, want each client its own limit", i, code)
		}
	}
	for i := range 10 {
		if code := login("10.0.0.1", "203.0.113.5"); code != http.StatusSeeOther {
			t.Fatalf("attempt %d of one client behind the balancer: %d", i, code)
		}
	}
	if code := login("10.0.0.1", "203.0.113.5"); code != http.StatusTooManyRequests {
		t.Errorf("the 11th attempt of one client: %d, want 429", code)
	}
	for range 10 {
		login("192.0.2.9", "")
	}
	if code := login("192.0.2.9", ""); code != http.StatusTooManyRequests {
		t.Errorf("a direct client with a new X-Forwarded-For each time: %d, want 429", code)
	}
	if _, err := New(Config{BaseURL: "http://127.0.0.1:8080", OIDC: OIDC{Issuer: "https://idp.example", ClientID: "c"},
		SessionKey: []byte(strings.Repeat("k", 32)), TrustedProxies: []string{"lb.internal"}}); err == nil {
		t.Error("a proxy given by name was accepted")
	}
}

// TestCallbackState: the identity provider's redirect back must carry the
// state its sign-in started with, byte for byte: any other is refused
// before the provider is asked anything; the right one goes on to the
// provider (here unreachable: 502).
func TestCallbackState(t *testing.T) {
	c, err := New(Config{BaseURL: "http://127.0.0.1:8080", OIDC: OIDC{Issuer: "https://idp.example", ClientID: "c"},
		SessionKey: []byte(strings.Repeat("k", 32)), Clock: func() time.Time { return time.Unix(1_800_000_000, 0) },
		HTTPClient: &http.Client{Transport: unreachable{}}})
	if err != nil {
		t.Fatal(err)
	}
	pl := pendingLogin{State: "state-0123456789abcdef", Nonce: "n", Verifier: "v", Expires: c.cfg.Clock.Now().Add(time.Minute)}
	sealed, err := c.seal("login", pl)
	if err != nil {
		t.Fatal(err)
	}
	callback := func(state string) int {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/console/callback?code=abc&state="+url.QueryEscape(state), nil)
		r.RemoteAddr = "192.0.2.1:4000"
		r.AddCookie(&http.Cookie{Name: loginCookie, Value: sealed})
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		return w.Code
	}
	for _, state := range []string{"", "forged", pl.State + "x", pl.State[:len(pl.State)-1], strings.ToUpper(pl.State)} {
		if code := callback(state); code != http.StatusBadRequest {
			t.Errorf("state %q: %d, want 400", state, code)
		}
	}
	if code := callback(pl.State); code != http.StatusBadGateway {
		t.Errorf("the sign-in's own state: %d, want 502 from the unreachable provider", code)
	}
}

// unreachable is a transport to an identity provider that cannot be
// reached.
type unreachable struct{}

func (unreachable) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("unreachable")
}

// TestDiffFields: changed, added and removed fields by key, in key order.
func TestDiffFields(t *testing.T) {
	before := []pass.Field{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}, {Key: "c", Value: "3"}}
	after := []pass.Field{{Key: "a", Value: "1"}, {Key: "b", Value: "20"}, {Key: "d", Value: "4"}}
	got := diffFields(before, after)
	want := []pass.FieldChange{{Key: "b", Before: "2", After: "20"}, {Key: "c", Before: "3", Removed: true}, {Key: "d", After: "4", Added: true}}
	if len(got) != len(want) {
		t.Fatalf("diff = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if d := diffFields(after, after); len(d) != 0 {
		t.Errorf("a version against itself: %+v", d)
	}
}

// TestUsageChart: one line per series ending at its running total, in the
// page's language; one day draws without dividing by zero; no day, no
// chart.
func TestUsageChart(t *testing.T) {
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	u := pass.PerformanceUsage{Days: []pass.UsagePoint{
		{Day: day, Issued: 10, AppleAdded: 4},
		{Day: day.AddDate(0, 0, 2), Issued: 5, AppleAdded: 3, AppleRemoved: 1, Scanned: 7},
	}}
	svg := string(usageChart(u, "fr"))
	if strings.Count(svg, "<polyline") != len(chartSeries) || !strings.Contains(svg, "Émis (15)") ||
		!strings.Contains(svg, "Dans Apple Wallet (6)") || !strings.Contains(svg, "Scannés (7)") || strings.Contains(svg, "NaN") {
		t.Errorf("chart:\n%s", svg)
	}
	one := string(usageChart(pass.PerformanceUsage{Days: u.Days[:1]}, "en"))
	if strings.Contains(one, "NaN") || strings.Contains(one, "Inf") || !strings.Contains(one, "Issued (10)") || !strings.Contains(one, "2026-11-30") {
		t.Errorf("a one-day chart:\n%s", one)
	}
	if usageChart(pass.PerformanceUsage{}, "en") != "" {
		t.Error("a chart without days")
	}
}

// TestStoreErrorLogNamesNoSecret: a store error on an order's page is
// logged with the route, not the path, which carries the order's secret.
func TestStoreErrorLogNamesNoSecret(t *testing.T) {
	c := newTest(t, "https://walletpass.example")
	var logs strings.Builder
	c.cfg.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	r := httptest.NewRequest(http.MethodGet, "/console/t/demo/orders/Secret0rderToken123", nil)
	r.Pattern = "GET /console/t/{tenant}/orders/{secret}"
	w := httptest.NewRecorder()
	c.failErr(w, r, &session{}, errors.New("database timeout"))
	if w.Code != http.StatusServiceUnavailable || strings.Contains(logs.String(), "Secret0rderToken123") ||
		!strings.Contains(logs.String(), "orders/{secret}") {
		t.Errorf("%d, log %s", w.Code, logs.String())
	}
}

// TestRolesFromClaimPaths: the roles claim is found as it is named, or as
// a path through nested claims, in the shapes providers send.
func TestRolesFromClaimPaths(t *testing.T) {
	c := newTest(t, "https://wallet.example")
	for _, tc := range []struct {
		name, claim string
		claims      map[string]any
		admin       bool
		tenants     []string
	}{
		{"flat list", "roles", map[string]any{"roles": []any{"admin"}}, true, nil},
		{"Keycloak realm roles", "realm_access.roles", map[string]any{"realm_access": map[string]any{"roles": []any{"operator:demo"}}}, false, []string{"demo"}},
		{"Keycloak client roles", "resource_access.walletpass.roles",
			map[string]any{"resource_access": map[string]any{"walletpass": map[string]any{"roles": []any{"operator:other", "offline_access"}}}}, false, []string{"other"}},
		{"Auth0 namespaced claim", "https://walletpass.example/roles", map[string]any{"https://walletpass.example/roles": []any{"operator:demo"}}, false, []string{"demo"}},
		{"absent", "realm_access.roles", map[string]any{"realm_access": "x"}, false, nil},
	} {
		admin, tenants := c.rolesOf(claimAt(tc.claims, tc.claim))
		if admin != tc.admin || !slices.Equal(tenants, tc.tenants) {
			t.Errorf("%s: admin %v tenants %v, want %v %v", tc.name, admin, tenants, tc.admin, tc.tenants)
		}
	}
}

// TestTokenEndpointAuthentication: the client authenticates at the token
// endpoint the one way it is set up for (client_secret_basic unless told
// client_secret_post), never left to detect by trying both.
func TestTokenEndpointAuthentication(t *testing.T) {
	for method, want := range map[string]oauth2.AuthStyle{"": oauth2.AuthStyleInHeader, "client_secret_basic": oauth2.AuthStyleInHeader,
		"client_secret_post": oauth2.AuthStyleInParams} {
		var issuer string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"jwks_uri":%q,"id_token_signing_alg_values_supported":["RS256"]}`,
				issuer, issuer+"/authorize", issuer+"/token", issuer+"/jwks")
		}))
		issuer = srv.URL
		c, err := New(Config{BaseURL: "https://wallet.example", OIDC: OIDC{Issuer: issuer, ClientID: "console", ClientSecret: "s", TokenAuthMethod: method},
			SessionKey: []byte(strings.Repeat("k", 32)), Tenants: []Tenant{{ID: "demo", Name: "Demo"}}, HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.provider(t.Context())
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := p.oauth.Endpoint.AuthStyle; got != want {
			t.Errorf("tokenAuthMethod %q: auth style %v, want %v", method, got, want)
		}
	}
}

// tenantsStore is a store double with what the tenants page reads: no
// tasks, the subscriptions given, no deliveries.
type tenantsStore struct {
	Store // nil: the page reads nothing else
	subs  []pass.Subscription
}

func (tenantsStore) QueueCounts(context.Context, string, time.Time) ([]pass.QueueCount, error) {
	return nil, nil
}

func (s tenantsStore) Subscriptions(_ context.Context, tenant string) ([]pass.Subscription, error) {
	var out []pass.Subscription
	for _, sub := range s.subs {
		if sub.Tenant == tenant {
			out = append(out, sub)
		}
	}
	return out, nil
}

func (tenantsStore) SubscriptionHealth(context.Context, string) ([]pass.SubscriptionHealth, error) {
	return nil, nil
}

// TestTenantsPageShowsEndpointHostOnly: a subscription's endpoint is
// shown by its scheme and host, never its path or query (where the
// receiver's own token may be), nor the subscription's secrets.
func TestTenantsPageShowsEndpointHostOnly(t *testing.T) {
	t.Parallel()
	c := newTest(t, "https://wallet.example")
	now := c.cfg.Clock.Now()
	c.cfg.Store = tenantsStore{subs: []pass.Subscription{
		{Tenant: "demo", ID: "wh_query", Endpoint: "https://h.example/in?token=S3CR3T", Events: []string{"*"}, Enabled: true,
			Secret: "whsec_current", PreviousSecret: "whsec_previous", PreviousUntil: now.Add(time.Hour)},
		{Tenant: "demo", ID: "wh_path", Endpoint: "https://hooks.example:8443/in/S3CR3T/", Events: []string{pass.EventPassVoided},
			Secret: "whsec_other"},
	}}
	r := httptest.NewRequest(http.MethodGet, "/console/tenants", nil)
	r.AddCookie(searchCookie(t, c, "demo"))
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	page := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("GET /console/tenants: %d %s", w.Code, page)
	}
	for _, want := range []string{"https://h.example/…", "wh_query", "https://hooks.example:8443/…", "wh_path"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
	for _, secret := range []string{"S3CR3T", "token=", "whsec_"} {
		if strings.Contains(page, secret) {
			t.Errorf("the page shows %q", secret)
		}
	}
}

// TestEndlessDiscovery: an identity provider whose discovery document
// never ends is read up to a bound (its answer fails), rather than fill
// the memory until the client's timeout.
func TestEndlessDiscovery(t *testing.T) {
	t.Parallel()
	endless := &httpxtest.Endless{Status: http.StatusOK, Prefix: `{"issuer":"`}
	srv := httptest.NewServer(endless)
	defer srv.Close()
	c, err := New(Config{BaseURL: "https://wallet.example", OIDC: OIDC{Issuer: srv.URL, ClientID: "c"},
		SessionKey: []byte(strings.Repeat("k", 32)), Tenants: []Tenant{{ID: "demo", Name: "Demo"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.provider(t.Context()); err == nil {
		t.Fatal("an endless discovery document was taken")
	}
	if n := endless.Written.Load(); n > 16<<20 {
		t.Errorf("the console read %d bytes of the discovery document, want at most about a megabyte", n)
	}
}

// TestCallbackLogsBoundedText: what reaches the log from the callback's
// error parameter (anyone with a sign-in cookie sets it) or from the
// identity provider's answers (discovery, token endpoint, key set) is a
// few hundred bytes of printable ASCII: no line break of the input, never
// the body of a refused exchange.
func TestCallbackLogsBoundedText(t *testing.T) {
	t.Parallel()
	long := "access_denied\nlevel=ERROR msg=forged\r\n" + strings.Repeat("x", 5000) + strings.Repeat("é", 100)
	refuse := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			fmt.Fprint(w, "BODY-"+long)
		}
	}
	for _, tc := range []struct {
		name, path string
		idp        map[string]http.HandlerFunc // the provider's paths besides discovery
		want       []string                    // in the log
		quotes     bool                        // the error quotes the start of a refused answer
	}{
		{name: "error parameter", path: "callback?error=" + url.QueryEscape(long), want: []string{`"error":"access_denied?level=ERROR`}},
		{name: "OAuth error", path: "callback?code=abc", idp: map[string]http.HandlerFunc{"/token": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"invalid_grant","error_description":%q,"trace":%q}`, long, "BODY-"+long)
		}}, want: []string{`"error":"invalid_grant"`, `"description":"access_denied?level`, `"status":400`}},
		{name: "plain body", path: "callback?code=abc", idp: map[string]http.HandlerFunc{"/token": refuse(http.StatusBadGateway)},
			want: []string{`"status":502`}},
		{name: "key set", path: "callback?code=abc", idp: map[string]http.HandlerFunc{"/token": func(w http.ResponseWriter, _ *http.Request) {
			b64 := base64.RawURLEncoding.EncodeToString
			idt := b64([]byte(`{"alg":"RS256"}`)) + "." + b64([]byte(`{"iss":"x"}`)) + ".c2ln"
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":"at","token_type":"Bearer","id_token":%q}`, idt)
		}, "/jwks": refuse(http.StatusInternalServerError)},
			want: []string{`"msg":"console sign-in: ID token refused"`}, quotes: true},
		{name: "discovery", path: "login?", idp: map[string]http.HandlerFunc{"/.well-known/openid-configuration": refuse(http.StatusInternalServerError)},
			want: []string{`"error":"console: identity provider`}, quotes: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var issuer string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if h, ok := tc.idp[r.URL.Path]; ok {
					h(w, r)
					return
				}
				if r.URL.Path != "/.well-known/openid-configuration" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"jwks_uri":%q,"id_token_signing_alg_values_supported":["RS256"]}`,
					issuer, issuer+"/authorize", issuer+"/token", issuer+"/jwks")
			}))
			defer srv.Close()
			issuer = srv.URL
			var logs strings.Builder
			c, err := New(Config{BaseURL: "https://wallet.example", OIDC: OIDC{Issuer: issuer, ClientID: "c"},
				SessionKey: []byte(strings.Repeat("k", 32)), Clock: func() time.Time { return time.Unix(1_800_000_000, 0) },
				HTTPClient: srv.Client(), Log: slog.New(slog.NewJSONHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			pl := pendingLogin{State: "state-0123456789abcdef", Nonce: "n", Verifier: "v", Next: "/console/", Expires: c.cfg.Clock.Now().Add(time.Minute)}
			sealed, err := c.seal("login", pl)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "https://wallet.example/console/"+tc.path+"&state="+pl.State, nil)
			r.AddCookie(&http.Cookie{Name: loginCookie, Value: sealed})
			w := httptest.NewRecorder()
			c.ServeHTTP(w, r)
			if w.Code/100 != 4 && w.Code/100 != 5 {
				t.Errorf("%s: %d, want a refusal", tc.path, w.Code)
			}
			got := logs.String()
			if n := strings.Count(got, "\n"); n != 1 || len(got) > 1000 || !tc.quotes && strings.Contains(got, "BODY-") || strings.Contains(got, `forged\r\n`) {
				t.Fatalf("%d lines, %d bytes: %.2000s", n, len(got), got)
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(got), &line); err != nil {
				t.Fatal(err)
			}
			for k, v := range line {
				if s, ok := v.(string); ok && strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r > '~' }) {
					t.Errorf("%s: %q, not printable ASCII", k, s)
				}
			}
			for _, want := range tc.want {
				if !strings.Contains(got, want) {
					t.Errorf("the log does not say %s: %s", want, got)
				}
			}
		})
	}
}

// auditStore is a store double for the search: it finds the order of file
// 4711 by its file id, nothing else, and keeps the audit entries.
type auditStore struct {
	Store   // nil: the search reads nothing else
	entries []pass.AuditEntry
	barcode string // the order's barcode, when it has one
}

var auditOrder = pass.Pass{Tenant: "demo", SerialNumber: "s1", SecretToken: "secret-of-4711", FileID: 4711, Status: pass.StatusActive}

func (*auditStore) HolderPasses(_ context.Context, _ string, file int64, _ ...string) ([]pass.Pass, error) {
	if file == auditOrder.FileID {
		return []pass.Pass{auditOrder}, nil
	}
	return nil, nil
}

func (*auditStore) PassesByOrder(_ context.Context, _ string, secret string) ([]pass.Pass, error) {
	if secret == auditOrder.SecretToken {
		return []pass.Pass{auditOrder}, nil
	}
	return nil, nil
}

func (s *auditStore) PassByBarcode(_ context.Context, _, code string) (*pass.Pass, error) {
	if s.barcode != "" && code == s.barcode {
		return &auditOrder, nil
	}
	return nil, pass.Errorf(pass.KindNotFound, "no pass")
}

func (s *auditStore) AddAudit(_ context.Context, e pass.AuditEntry) error {
	s.entries = append(s.entries, e)
	return nil
}

// TestSearchAuditHidesTheQuery: a search is on record by a keyed hash of
// its query, 16 hex digits: not the plain SHA-256 anyone with a list of
// customers' addresses recomputes, the same for the same query in any
// case, another on a console with another key; digits too (a barcode),
// unless they found an order by its file id. A tenant the console does
// not serve is refused before anything is on record.
func TestSearchAuditHidesTheQuery(t *testing.T) {
	t.Parallel()
	newConsole := func(key string) (*Console, *auditStore) {
		st := &auditStore{}
		c, err := New(Config{BaseURL: "https://wallet.example", OIDC: OIDC{Issuer: "https://idp.example", ClientID: "c"},
			SessionKey: []byte(key), Tenants: []Tenant{{ID: "demo", Name: "Demo"}}, Store: st,
			Clock: func() time.Time { return time.Unix(1_800_000_000, 0) }})
		if err != nil {
			t.Fatal(err)
		}
		return c, st
	}
	search := func(key, q string) pass.AuditEntry {
		t.Helper()
		c, st := newConsole(key)
		if code, page := searchFor(c, searchCookie(t, c, "demo"), q, ""); code != http.StatusOK || len(st.entries) != 1 {
			t.Fatalf("search %q: %d, audit %+v\n%s", q, code, st.entries, page)
		}
		return st.entries[0]
	}
	key, other := strings.Repeat("k", 32), strings.Repeat("j", 32)
	if e := search(key, "4711"); e.Target != "file 4711" {
		t.Errorf("a file id that found its order: %q, want file 4711", e.Target)
	}
	// Digits that are a file id and a barcode (of the same order, found
	// first by its file): the barcode is a secret, the query is hashed.
	c, st := newConsole(key)
	st.barcode = "4711"
	if code, _ := searchFor(c, searchCookie(t, c, "demo"), "4711", ""); code != http.StatusOK || len(st.entries) != 1 ||
		!strings.HasPrefix(st.entries[0].Target, "query ") {
		t.Errorf("digits that are a file id and a barcode: %d, audit %+v; want the query's hash", code, st.entries)
	}
	c, st = newConsole(key)
	if code, _ := searchFor(c, searchCookie(t, c), "x", strings.Repeat("t", 5000)); code != http.StatusForbidden || len(st.entries) != 0 {
		t.Errorf("an admin's search in a tenant not served: %d, %d audit entries; want 403 and nothing on record", code, len(st.entries))
	}
	for _, tc := range []struct{ q, action, prefix string }{
		{"Holder@Example.org", "search-holder", "e-mail "},
		{"Order-Secret-abc", "search", "query "},
		{"072212349924430836880155", "search", "query "}, // a barcode: digits that found no file
	} {
		e := search(key, tc.q)
		sum := sha256.Sum256([]byte(strings.ToLower(tc.q)))
		h, ok := strings.CutPrefix(e.Target, tc.prefix)
		if e.Action != tc.action || !ok || len(h) != 16 || strings.Trim(h, "0123456789abcdef") != "" {
			t.Errorf("%q: %s %q, want %s %s<16 hex digits>", tc.q, e.Action, e.Target, tc.action, tc.prefix)
		}
		if h == hex.EncodeToString(sum[:8]) {
			t.Errorf("%q: on record as its plain SHA-256, %s", tc.q, e.Target)
		}
		if again := search(key, strings.ToUpper(tc.q)); again.Target != e.Target {
			t.Errorf("%q: %s, then %s in capitals", tc.q, e.Target, again.Target)
		}
		if o := search(other, tc.q); o.Target == e.Target {
			t.Errorf("%q: %s under both keys", tc.q, e.Target)
		}
	}
}

// TestSubjectAndName: the console keeps an ID token's sub only when it is
// 1 to 255 printable ASCII characters, as OpenID Connect has it (else
// the sign-in is refused), and its name claim without control characters,
// at most maxName characters (accents kept).
func TestSubjectAndName(t *testing.T) {
	t.Parallel()
	for sub, ok := range map[string]bool{"auth0|5f7c8ec7c33c6c004bbafe82": true, strings.Repeat("s", 255): true,
		"": false, strings.Repeat("s", 256): false, "a\nb": false, "é": false} {
		if validSubject(sub) != ok {
			t.Errorf("validSubject(%.20q…) = %v, want %v", sub, !ok, ok)
		}
	}
	for name, want := range map[string]string{"José Núñez": "José Núñez", "Ada\nLovelace\x00": "AdaLovelace",
		strings.Repeat("é", 300): strings.Repeat("é", maxName)} {
		if got := displayName(name); got != want {
			t.Errorf("displayName(%.20q…) = %.20q…, want %.20q…", name, got, want)
		}
	}
}
