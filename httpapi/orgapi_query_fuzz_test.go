package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/http/httpguts"

	"walletpass/auth"
	"walletpass/pass"
)

// The organiser fixture serves two tenants; a third is unknown. Every
// piece of a tenant's data carries orgMarker(tenant), so that an answer
// holding another tenant's data shows.
var (
	orgTenants = []string{"demo", "other"}
	orgUnknown = "nobody"
)

func orgMarker(tenant string) string { return tenant + "-data" }

// The tenant's one pass and one webhook subscription in the fixture.
func orgSerial(tenant string) string { return orgMarker(tenant) + "-serial" }
func orgSubID(tenant string) string  { return "wh_" + orgMarker(tenant) }

// orgAsked records, for every call of a fixture's fake, the tenant it was
// asked about.
type orgAsked struct {
	mu      sync.Mutex
	tenants []string
}

func (a *orgAsked) add(tenant string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tenants = append(a.tenants, tenant)
}

// take returns the tenants asked about since the last take.
func (a *orgAsked) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.tenants
	a.tenants = nil
	return out
}

// tenantCatalog answers the passes API with each tenant's one pass and a
// total of 1000, and keeps the list queries it was asked.
type tenantCatalog struct {
	asked   *orgAsked
	mu      sync.Mutex
	queries []pass.PassQuery
}

func catalogPass(tenant string) pass.Pass {
	return pass.Pass{Tenant: tenant, SerialNumber: orgSerial(tenant), PassTypeID: "pass.com.example", Template: orgMarker(tenant),
		Status: pass.StatusActive, Version: 1}
}

func (c *tenantCatalog) ListPasses(_ context.Context, q pass.PassQuery) ([]pass.PassListing, int, error) {
	c.asked.add(q.Tenant)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queries = append(c.queries, q)
	return []pass.PassListing{{Pass: catalogPass(q.Tenant)}}, 1000, nil
}

func (c *tenantCatalog) GetPass(_ context.Context, tenant, serial string) (*pass.Pass, error) {
	c.asked.add(tenant)
	if !slices.Contains(orgTenants, tenant) || serial != orgSerial(tenant) {
		return nil, pass.ErrNotFound
	}
	p := catalogPass(tenant)
	return &p, nil
}

func (c *tenantCatalog) ListVersions(ctx context.Context, tenant, serial string) ([]pass.Pass, error) {
	p, err := c.GetPass(ctx, tenant, serial)
	if err != nil {
		return nil, err
	}
	return []pass.Pass{*p}, nil
}

func (c *tenantCatalog) PassInstalls(_ context.Context, tenant, _ string) (pass.Installs, error) {
	c.asked.add(tenant)
	return pass.Installs{}, nil
}

// take returns the list queries asked since the last take.
func (c *tenantCatalog) take() []pass.PassQuery {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.queries
	c.queries = nil
	return out
}

// tenantSubscriptions keeps each tenant's subscriptions in a
// fakeSubscriptions of its own (the real store is per tenant; the fake
// alone answers any tenant).
type tenantSubscriptions struct {
	asked    *orgAsked
	byTenant map[string]*fakeSubscriptions
}

func (s *tenantSubscriptions) of(tenant string) *fakeSubscriptions {
	s.asked.add(tenant)
	if f, ok := s.byTenant[tenant]; ok {
		return f
	}
	return &fakeSubscriptions{subs: map[string]pass.Subscription{}}
}

func (s *tenantSubscriptions) Subscriptions(ctx context.Context, tenant string) ([]pass.Subscription, error) {
	return s.of(tenant).Subscriptions(ctx, tenant)
}

func (s *tenantSubscriptions) Subscription(ctx context.Context, tenant, id string) (*pass.Subscription, error) {
	return s.of(tenant).Subscription(ctx, tenant, id)
}

func (s *tenantSubscriptions) CreateSubscription(ctx context.Context, sub pass.Subscription) error {
	return s.of(sub.Tenant).CreateSubscription(ctx, sub)
}

func (s *tenantSubscriptions) UpdateSubscription(ctx context.Context, sub pass.Subscription) error {
	return s.of(sub.Tenant).UpdateSubscription(ctx, sub)
}

func (s *tenantSubscriptions) RotateSecret(ctx context.Context, tenant, id, secret string, until, at time.Time) (*pass.Subscription, error) {
	return s.of(tenant).RotateSecret(ctx, tenant, id, secret, until, at)
}

func (s *tenantSubscriptions) DeleteSubscription(ctx context.Context, tenant, id string) error {
	return s.of(tenant).DeleteSubscription(ctx, tenant, id)
}

// stored returns every tenant's subscriptions, for comparisons.
func (s *tenantSubscriptions) stored() map[string]map[string]pass.Subscription {
	out := map[string]map[string]pass.Subscription{}
	for tenant, f := range s.byTenant {
		f.mu.Lock()
		out[tenant] = map[string]pass.Subscription{}
		for id, sub := range f.subs {
			sub.Events = slices.Clone(sub.Events)
			out[tenant][id] = sub
		}
		f.mu.Unlock()
	}
	return out
}

// reset puts every tenant's one subscription back as the fixture made it.
func (s *tenantSubscriptions) reset(now time.Time) {
	for _, tenant := range orgTenants {
		f := s.byTenant[tenant]
		f.mu.Lock()
		f.subs = map[string]pass.Subscription{orgSubID(tenant): {Tenant: tenant, ID: orgSubID(tenant),
			Endpoint: "https://" + orgMarker(tenant) + ".example/hook", Events: []string{pass.EventPassCreated}, Enabled: true,
			Description: orgMarker(tenant), Secret: "whsec_" + orgMarker(tenant), CreatedAt: now, UpdatedAt: now}}
		f.mu.Unlock()
	}
}

// tenantOrders answers getTicketsUrl's sync with an order of the tenant
// (no tickets) and keeps the files it was asked for.
type tenantOrders struct {
	asked *orgAsked
	mu    sync.Mutex
	refs  []pass.OrderRef
}

func (o *tenantOrders) SyncOrder(_ context.Context, ref pass.OrderRef, _ string) (pass.SyncResult, error) {
	o.asked.add(ref.Tenant)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refs = append(o.refs, ref)
	return pass.SyncResult{Order: &pass.Order{Tenant: ref.Tenant, FileID: ref.FileID, SecretToken: orgMarker(ref.Tenant) + "-secret"}}, nil
}

// take returns the files asked for since the last take.
func (o *tenantOrders) take() []pass.OrderRef {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.refs
	o.refs = nil
	return out
}

// noPasses is a PassReader without passes (getTicketsUrl's order has no
// tickets).
type noPasses struct{ asked *orgAsked }

func (n noPasses) GetPassMeta(_ context.Context, tenant, _ string) (*pass.Pass, error) {
	n.asked.add(tenant)
	return nil, pass.ErrNotFound
}

func (n noPasses) PassesByOrder(_ context.Context, tenant, _ string) ([]pass.Pass, error) {
	n.asked.add(tenant)
	return nil, nil
}

// orgCred is a credential the fixture made, as the documentation says it
// must be treated.
type orgCred struct {
	value  string
	tenant string
	scopes []string // what it may do
	key    bool     // an API key; else an access token (JWT)
	valid  bool     // neither revoked nor expired
}

// orgFixture serves the organisers' API of the two tenants with real
// access tokens (a development issuer, its JWKS served on loopback, one
// verifier per tenant that requires the tenant claim, as when tenants
// share an issuer) and API keys.
type orgFixture struct {
	url     string
	now     time.Time
	asked   *orgAsked
	catalog *tenantCatalog
	orders  *tenantOrders
	subs    *tenantSubscriptions
	// creds are the credentials by placeholder (see expand); byValue, by
	// their value.
	creds   map[string]orgCred
	byValue map[string]orgCred
	mu      sync.Mutex
	secrets []string // the secrets NewSecret handed out
	clients atomic.Uint32
}

// The placeholders of orgFixture.expand, each a credential.
var orgPlaceholders = []string{"@DK", "@OK", "@RK", "@TK", "@DJ", "@OJ", "@XJ", "@TJ"}

func newOrgFixture(tb testing.TB) *orgFixture {
	tb.Helper()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	asked := &orgAsked{}
	fx := &orgFixture{now: now, asked: asked, catalog: &tenantCatalog{asked: asked}, orders: &tenantOrders{asked: asked},
		subs:  &tenantSubscriptions{asked: asked, byTenant: map[string]*fakeSubscriptions{}},
		creds: map[string]orgCred{}, byValue: map[string]orgCred{}}
	for _, t := range orgTenants {
		fx.subs.byTenant[t] = &fakeSubscriptions{}
	}
	fx.subs.reset(now)

	const issuerURL, audience = "https://id.example.com", "walletpass"
	issuer, err := auth.LoadOrCreateDevIssuer(filepath.Join(tb.TempDir(), "issuer.pem"), issuerURL)
	if err != nil {
		tb.Fatal(err)
	}
	jwks := httptest.NewServer(issuer.Handler())
	tb.Cleanup(jwks.Close)
	verifiers := map[string]TokenVerifier{}
	for _, t := range orgTenants {
		v, err := auth.NewVerifier(auth.VerifierConfig{Tenant: t, Issuer: issuerURL, Audience: audience, JWKSURL: jwks.URL,
			RequireTenantClaim: true, Clock: clock})
		if err != nil {
			tb.Fatal(err)
		}
		verifiers[t] = v
	}

	all := []string{ScopeTickets, ScopePasses, ScopeWebhooksRead, ScopeWebhooksWrite}
	add := func(name string, c orgCred) {
		fx.creds[name], fx.byValue[c.value] = c, c
	}
	keys := map[string]APIKeyInfo{} // by hash
	addKey := func(name, tenant string, scopes []string, revoked bool) {
		k, hash := auth.NewAPIKey()
		keys[hash] = APIKeyInfo{Tenant: tenant, Scopes: scopes, Revoked: revoked}
		may := scopes
		if len(may) == 0 {
			may = []string{ScopeTickets} // a key without scopes reads tickets (README)
		}
		add(name, orgCred{value: k, tenant: tenant, scopes: may, key: true, valid: !revoked})
	}
	addJWT := func(name, tenant string, scopes []string, issued time.Time) {
		tok, err := issuer.Token(tenant, audience, scopes, time.Hour, issued)
		if err != nil {
			tb.Fatal(err)
		}
		add(name, orgCred{value: tok, tenant: tenant, scopes: scopes, valid: issued.Add(time.Hour).After(now)})
	}
	addKey("@DK", "demo", all, false)
	addKey("@OK", "other", all, false)
	addKey("@RK", "demo", all, true)
	addKey("@TK", "demo", nil, false)
	addJWT("@DJ", "demo", all, now)
	addJWT("@OJ", "other", all, now)
	addJWT("@XJ", "demo", all, now.Add(-2*time.Hour))
	addJWT("@TJ", "demo", []string{ScopeTickets}, now)

	var tenants []TenantInfo
	for _, t := range orgTenants {
		tenants = append(tenants, TenantInfo{ID: t, Name: t, PublicBaseURL: "https://" + orgMarker(t) + ".example"})
	}
	h := New(Deps{
		Tenants: tenants,
		Clock:   clock,
		// Each request comes from a client of its own (send): the wrong
		// credentials of one do not throttle the next (the clock stands).
		TrustedProxies: []string{"127.0.0.1/32", "::1/128"},
		Passes:         noPasses{asked: asked},
		Links:          LinkDeps{Signer: LinkSigner{Key: []byte("0123456789abcdef0123456789abcdef")}},
		Tickets: TicketsAPI{Verifiers: verifiers, Scopes: map[string]string{"demo": ScopeTickets, "other": ScopeTickets},
			APIKey: func(_ context.Context, hash string) (APIKeyInfo, error) {
				k, ok := keys[hash]
				if !ok {
					return APIKeyInfo{}, fmt.Errorf("api key: %w", pass.ErrNotFound)
				}
				return k, nil
			},
			Orders: fx.orders, Passes: fx.catalog},
		Subscriptions: SubscriptionDeps{Store: fx.subs,
			NewSecret: func() string {
				fx.mu.Lock()
				defer fx.mu.Unlock()
				s := "whsec_" + strconv.Itoa(len(fx.secrets)+1)
				fx.secrets = append(fx.secrets, s)
				return s
			},
			CheckEndpoint: func(u string) error {
				if !strings.HasPrefix(u, "https://") {
					return pass.Errorf(pass.KindInvalid, "https only")
				}
				return nil
			}},
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the server's warnings of queries with ';'
	srv.Start()
	tb.Cleanup(srv.Close)
	fx.url = srv.URL
	return fx
}

// forget clears what the fakes recorded, before a request.
func (fx *orgFixture) forget() {
	fx.asked.take()
	fx.catalog.take()
	fx.orders.take()
}

// expand replaces the placeholders in s by the credentials they stand for.
func (fx *orgFixture) expand(s string) string {
	for _, p := range orgPlaceholders {
		s = strings.ReplaceAll(s, p, fx.creds[p].value)
	}
	return s
}

// lastSecret is the secret NewSecret handed out last.
func (fx *orgFixture) lastSecret() string {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	if len(fx.secrets) == 0 {
		return ""
	}
	return fx.secrets[len(fx.secrets)-1]
}

// orgAnswer is an answer of the fixture's server.
type orgAnswer struct {
	status int
	header http.Header
	body   []byte
}

// send sends one request; ok is false when net/http will not send it (a
// malformed URL or header: not the server's business).
func (fx *orgFixture) send(tb testing.TB, method, path, body string, hdr map[string]string) (a orgAnswer, ok bool) {
	tb.Helper()
	req, err := http.NewRequest(method, fx.url+path, strings.NewReader(body))
	if err != nil {
		return a, false
	}
	for k, v := range hdr {
		if v == "" {
			continue
		}
		if !httpguts.ValidHeaderFieldValue(v) {
			return a, false
		}
		req.Header.Set(k, v)
	}
	n := fx.clients.Add(1)
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	return orgAnswer{status: resp.StatusCode, header: resp.Header, body: data}, true
}

// checkProblem fails unless a is a problem+json of its status.
func checkProblem(tb testing.TB, what string, a orgAnswer) {
	tb.Helper()
	var p Problem
	if ct := a.header.Get("Content-Type"); ct != ContentTypeProblem || json.Unmarshal(a.body, &p) != nil || p.Status != a.status {
		tb.Fatalf("%s: %d %q %s, want a problem+json of the status", what, a.status, ct, a.body)
	}
}

// checkOwnData fails unless a successful answer about tenant holds the
// tenant's data and no other tenant's.
func checkOwnData(tb testing.TB, what, tenant string, a orgAnswer) {
	tb.Helper()
	if !bytes.Contains(a.body, []byte(orgMarker(tenant))) {
		tb.Fatalf("%s: %d %s, without %s's data", what, a.status, a.body, tenant)
	}
	for _, o := range orgTenants {
		if o != tenant && bytes.Contains(a.body, []byte(orgMarker(o))) {
			tb.Fatalf("%s: %d %s holds %s's data", what, a.status, a.body, o)
		}
	}
}

// orgRoute is a route of the organisers' API with a request it takes.
type orgRoute struct {
	name, method, path, body string // path: {t} the tenant, {serial} its pass, {id} its subscription
	scope                    string // what a credential must carry
}

var orgRoutes = []orgRoute{
	{"getTicketsUrl", http.MethodGet, "/api/{t}/external/secutix/orders/getTicketsUrl/7", "", ScopeTickets},
	{"list passes", http.MethodGet, "/api/{t}/passes?pageSize=5&status=active", "", ScopePasses},
	{"get pass", http.MethodGet, "/api/{t}/passes/{serial}", "", ScopePasses},
	{"list subscriptions", http.MethodGet, "/api/{t}/webhooks", "", ScopeWebhooksRead},
	{"get subscription", http.MethodGet, "/api/{t}/webhooks/{id}", "", ScopeWebhooksRead},
	{"patch subscription", http.MethodPatch, "/api/{t}/webhooks/{id}", `{"enabled":true}`, ScopeWebhooksWrite},
	{"rotate secret", http.MethodPost, "/api/{t}/webhooks/{id}/secret", "", ScopeWebhooksWrite},
}

func (r orgRoute) pathFor(tenant string) string {
	return strings.NewReplacer("{t}", tenant, "{serial}", orgSerial(tenant), "{id}", orgSubID(tenant)).Replace(r.path)
}

// bearerRE is a credential in an Authorization header as the API's
// documentation reads it: the scheme Bearer in any case, one space or
// more, a b64token (RFC 6750: letters, digits, -._~+/ and then = signs).
var bearerRE = regexp.MustCompile(`^[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9._~+/-]+=*) *$`)

// presented returns the credential a request with these headers presents:
// the Authorization header's Bearer credential, else X-API-Key's (where
// only API keys go). HTTP drops the white space around a header's value.
func presented(authorization, apiKey string) (cred string, keyHeader bool) {
	if m := bearerRE.FindStringSubmatch(strings.Trim(authorization, " \t")); m != nil {
		return m[1], false
	}
	apiKey = strings.Trim(apiKey, " \t")
	return apiKey, apiKey != ""
}

// expectAccess is the status the documentation gives a request of route
// about tenant presenting cred: 404 for an unknown tenant; 401 without a
// credential, or with one that is not valid (unknown, revoked, expired, a
// token in X-API-Key); 403 for another tenant's credential or one without
// the route's scope; else 200.
func (fx *orgFixture) expectAccess(r orgRoute, tenant, cred string, keyHeader bool) int {
	c, known := fx.byValue[cred]
	switch {
	case !slices.Contains(orgTenants, tenant):
		return http.StatusNotFound
	case !known || !c.valid || (keyHeader && !c.key):
		return http.StatusUnauthorized
	case c.tenant != tenant || !slices.Contains(c.scopes, r.scope):
		return http.StatusForbidden
	}
	return http.StatusOK
}

// FuzzOrganiserCredentials sends arbitrary Authorization and X-API-Key
// headers to every route of the organisers' API (getTicketsUrl, the
// passes API, the webhook subscriptions API) of two tenants and an unknown
// one. The placeholders @DK, @OK, @RK, @TK (API keys: demo's, other's,
// demo's revoked one, demo's without scopes) and @DJ, @OJ, @XJ, @TJ
// (access tokens: demo's, other's, demo's expired one, demo's with
// tickets:read only) in either header stand for those credentials, so
// that the fuzzer works around real ones. Every answer is the status the
// documentation gives (see expectAccess), so: never a 5xx; no 2xx without
// a valid credential of the tenant carrying the route's scope (another
// tenant's gets 403); a 2xx holds the tenant's data and no other's; a
// 401 carries a Bearer challenge and a 403 an insufficient_scope one,
// each a problem+json; and no store is asked anything for a request that
// is refused, nor ever about another tenant than the path's.
func FuzzOrganiserCredentials(f *testing.F) {
	fx := newOrgFixture(f)
	// try sends the headers to every route of every tenant and returns
	// the statuses by route and tenant.
	try := func(t testing.TB, authorization, apiKey string) map[string]int {
		t.Helper()
		defer fx.subs.reset(fx.now)
		authorization, apiKey = fx.expand(authorization), fx.expand(apiKey)
		cred, keyHeader := presented(authorization, apiKey)
		out := map[string]int{}
		for _, tenant := range append(slices.Clone(orgTenants), orgUnknown) {
			for _, r := range orgRoutes {
				path := r.pathFor(tenant)
				fx.forget()
				before := fx.subs.stored()
				a, ok := fx.send(t, r.method, path, r.body, map[string]string{"Authorization": authorization, "X-API-Key": apiKey})
				if !ok {
					return nil
				}
				what := fmt.Sprintf("%s %s with Authorization %q, X-API-Key %q", r.method, path, authorization, apiKey)
				want := fx.expectAccess(r, tenant, cred, keyHeader)
				c := fx.byValue[cred]
				switch {
				case a.status >= 500:
					t.Fatalf("%s: %d %s", what, a.status, a.body)
				case a.status < 300 && want != http.StatusOK:
					t.Fatalf("%s: %d %s, but the credential presented (known %v, of tenant %q, valid %v) may not", what, a.status, a.body,
						c.value != "", c.tenant, c.valid)
				case a.status != want:
					t.Fatalf("%s: %d %s, want %d", what, a.status, a.body, want)
				}
				for _, at := range fx.asked.take() {
					if at != tenant || a.status != http.StatusOK {
						t.Fatalf("%s: %d, and a store was asked about %s", what, a.status, at)
					}
				}
				switch a.status {
				case http.StatusOK:
					checkOwnData(t, what, tenant, a)
					if r.name == "list passes" && a.header.Get("x-pagination-total") == "" {
						t.Fatalf("%s: 200 without x-pagination-total", what)
					}
				case http.StatusUnauthorized:
					checkProblem(t, what, a)
					if ch := a.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Bearer realm="walletpass"`) {
						t.Fatalf("%s: 401 with WWW-Authenticate %q", what, ch)
					}
				case http.StatusForbidden:
					checkProblem(t, what, a)
					if ch := a.header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="insufficient_scope"`) {
						t.Fatalf("%s: 403 with WWW-Authenticate %q", what, ch)
					}
				default:
					checkProblem(t, what, a)
				}
				after := fx.subs.stored()
				for _, o := range orgTenants {
					if changed := !cmp.Equal(before[o], after[o]); changed && (o != tenant || a.status != http.StatusOK || r.method == http.MethodGet) {
						t.Fatalf("%s: %d, and %s's subscriptions changed: %s", what, a.status, o, cmp.Diff(before[o], after[o]))
					}
				}
				out[r.name+" "+tenant] = a.status
			}
		}
		return out
	}
	seeds := []struct {
		authorization, apiKey string
		want                  map[string]int // statuses of some routes and tenants
	}{
		{"Bearer @DK", "", map[string]int{"getTicketsUrl demo": 200, "list passes demo": 200, "get pass demo": 200, "list subscriptions demo": 200,
			"get subscription demo": 200, "patch subscription demo": 200, "rotate secret demo": 200, "get pass other": 403, "get pass nobody": 404}},
		{"", "@OK", map[string]int{"getTicketsUrl other": 200, "list passes other": 200, "get pass other": 200, "list subscriptions other": 200,
			"get subscription other": 200, "patch subscription other": 200, "rotate secret other": 200, "list passes demo": 403}},
		{"bearer   @DJ", "", map[string]int{"getTicketsUrl demo": 200, "rotate secret demo": 200, "list passes other": 403}},
		{"BEARER @OJ ", "@DK", map[string]int{"list passes other": 200, "list passes demo": 403}},
		{"Bearer @TJ", "", map[string]int{"getTicketsUrl demo": 200, "list passes demo": 403}},
		{"", "@TK", map[string]int{"getTicketsUrl demo": 200, "list subscriptions demo": 403}},
		{"Bearer @RK", "", map[string]int{"getTicketsUrl demo": 401}},
		{"Bearer @XJ", "", map[string]int{"list passes demo": 401}},
		{"", "@DJ", map[string]int{"list passes demo": 401}},
		{"Basic @DK", "", map[string]int{"list passes demo": 401}},
		{"Bearer\t@DK", "", map[string]int{"list passes demo": 401}},
		{"Bearer @DK=", "", map[string]int{"list passes demo": 401}},
		{"Bearer @DK x", "@DK", map[string]int{"list passes demo": 200}},
		{"Bearer wpk_short", "", map[string]int{"list passes demo": 401}},
		{"Bearer a.b.c", "", map[string]int{"list passes demo": 401}},
		{"@DK", "", map[string]int{"list passes demo": 401}},
		{"Bearer @DJ@DJ", "", map[string]int{"list passes demo": 401}},
		{"", "", map[string]int{"list passes demo": 401, "list passes nobody": 404}},
	}
	// The seeds get the statuses they should (so every route answers 200
	// to a credential that may, and the checks above are not vacuous).
	for _, sd := range seeds {
		f.Add(sd.authorization, sd.apiKey)
		got := try(f, sd.authorization, sd.apiKey)
		for k, want := range sd.want {
			if got[k] != want {
				f.Fatalf("Authorization %q, X-API-Key %q: %s answered %d, want %d", sd.authorization, sd.apiKey, k, got[k], want)
			}
		}
	}
	f.Fuzz(func(t *testing.T, authorization, apiKey string) {
		try(t, authorization, apiKey)
	})
}

// pathSegment returns the path segment seg (as it travels, escaped) reads
// as, and whether it can be sent at all (net/http sends no '?', '#',
// space or control character in a path, nor a malformed escape).
func pathSegment(seg string) (string, bool) {
	if strings.ContainsFunc(seg, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '?' || r == '#' }) {
		return "", false
	}
	d, err := url.PathUnescape(seg)
	return d, err == nil
}

// fileIDRE is getTicketsUrl's fileId, as its API document gives it: a
// positive 64-bit integer, digits only.
var fileIDRE = regexp.MustCompile(`^[1-9][0-9]{0,18}$`)

// FuzzOrganiserPaths sends arbitrary path segments, with each tenant's
// own valid API key, as getTicketsUrl's fileId, the serial of GET
// /api/{tenant}/passes/{serial} and the id of GET
// /api/{tenant}/webhooks/{id}: never a 5xx; getTicketsUrl answers 200
// (its file, asked of SecuTix for the tenant) exactly for a fileId of the
// documented form, else 400 problem+json; a pass and a subscription are
// answered (200, the tenant's own) exactly for the tenant's own serial
// and id, else 404 problem+json (another tenant's serial and id too).
func FuzzOrganiserPaths(f *testing.F) {
	fx := newOrgFixture(f)
	ownKey := map[string]string{"demo": fx.creds["@DK"].value, "other": fx.creds["@OK"].value}
	try := func(t testing.TB, route uint8, seg string) int {
		t.Helper()
		d, ok := pathSegment(seg)
		if !ok {
			return 0
		}
		last := 0
		for _, tenant := range orgTenants {
			var path string
			switch route % 3 {
			case 0:
				path = "/api/" + tenant + "/external/secutix/orders/getTicketsUrl/" + seg
			case 1:
				path = "/api/" + tenant + "/passes/" + seg
			case 2:
				path = "/api/" + tenant + "/webhooks/" + seg
			}
			fx.forget()
			a, ok := fx.send(t, http.MethodGet, path, "", map[string]string{"X-API-Key": ownKey[tenant]})
			if !ok {
				return 0
			}
			what := fmt.Sprintf("GET %s", path)
			if a.status >= 500 {
				t.Fatalf("%s: %d %s", what, a.status, a.body)
			}
			for _, at := range fx.asked.take() {
				if at != tenant {
					t.Fatalf("%s: a store was asked about %s", what, at)
				}
			}
			// A segment that reads as several (an escaped '/') or as none
			// names another route, or none: never this one's answer.
			if d == "" || strings.Contains(d, "/") {
				if a.status < 300 {
					t.Fatalf("%s: %d %s for a path of another shape", what, a.status, a.body)
				}
				last = a.status
				continue
			}
			switch route % 3 {
			case 0:
				fileID, err := strconv.ParseInt(d, 10, 64)
				valid := fileIDRE.MatchString(d) && err == nil
				refs := fx.orders.take()
				switch {
				case valid && a.status != http.StatusOK, !valid && a.status != http.StatusBadRequest:
					t.Fatalf("%s: %d %s; the fileId %q is valid: %v", what, a.status, a.body, d, valid)
				case valid:
					var res TicketsResponse
					if err := json.Unmarshal(a.body, &res); err != nil || res.FileID != fileID || len(refs) != 1 ||
						!cmp.Equal(refs[0], pass.OrderRef{Tenant: tenant, FileID: fileID}) {
						t.Fatalf("%s: %s (%v), SecuTix asked %+v; want file %d of %s", what, a.body, err, refs, fileID, tenant)
					}
					checkOwnData(t, what, tenant, a)
				default:
					checkProblem(t, what, a)
					if len(refs) != 0 {
						t.Fatalf("%s: %d, but SecuTix was asked", what, a.status)
					}
				}
			case 1:
				switch {
				case strings.HasSuffix(d, ".pkpass"):
					// A signed download (no signature here): never the passes API.
					if a.status < 300 {
						t.Fatalf("%s: %d %s for an unsigned download", what, a.status, a.body)
					}
				case d == orgSerial(tenant):
					var v PassView
					if err := json.Unmarshal(a.body, &v); a.status != http.StatusOK || err != nil || v.SerialNumber != d || len(v.Versions) != 1 {
						t.Fatalf("%s: %d %s, want the pass", what, a.status, a.body)
					}
					checkOwnData(t, what, tenant, a)
				default:
					if a.status != http.StatusNotFound {
						t.Fatalf("%s: %d %s, want 404", what, a.status, a.body)
					}
					checkProblem(t, what, a)
				}
			case 2:
				if d == orgSubID(tenant) {
					var v SubscriptionView
					if err := json.Unmarshal(a.body, &v); a.status != http.StatusOK || err != nil || v.ID != d || v.Secret != "" {
						t.Fatalf("%s: %d %s, want the subscription without its secret", what, a.status, a.body)
					}
					checkOwnData(t, what, tenant, a)
				} else {
					if a.status != http.StatusNotFound {
						t.Fatalf("%s: %d %s, want 404", what, a.status, a.body)
					}
					checkProblem(t, what, a)
				}
			}
			last = a.status
		}
		return last
	}
	seeds := []struct {
		route  uint8
		seg    string
		status int // of the last tenant's answer (other's)
	}{
		{0, "7", 200}, {0, "9223372036854775807", 200}, {0, "%31%32", 200}, {0, "9223372036854775808", 400}, {0, "07", 400},
		{0, "-7", 400}, {0, "+7", 400}, {0, "1e3", 400}, {0, "%00", 400}, {0, "7%2F8", 404},
		{1, orgSerial("other"), 200}, {1, orgSerial("demo"), 404}, {1, "..", 404}, {1, "a%20b", 404}, {1, orgSerial("other") + ".pkpass", 401},
		{1, "é", 404},
		{2, orgSubID("other"), 200}, {2, orgSubID("demo"), 404}, {2, "wh_x%2Fsecret", 405}, {2, strings.Repeat("a", 65), 404},
	}
	for _, sd := range seeds {
		f.Add(sd.route, sd.seg)
		if got := try(f, sd.route, sd.seg); got != sd.status {
			f.Fatalf("route %d, segment %q: %d, want %d", sd.route, sd.seg, got, sd.status)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, seg string) {
		try(t, route, seg)
	})
}

// The documented bounds of the passes API's numeric parameters.
var passesIntParams = map[string][2]*big.Int{
	"pageIndex":     {big.NewInt(0), big.NewInt(1_000_000)},
	"pageSize":      {big.NewInt(1), big.NewInt(500)},
	"fileId":        {big.NewInt(1), big.NewInt(1 << 62)},
	"orderId":       {big.NewInt(1), big.NewInt(1 << 62)},
	"performanceId": {big.NewInt(1), big.NewInt(1 << 62)},
	"movementId":    {big.NewInt(1), big.NewInt(1 << 62)},
	"ticketId":      {big.NewInt(1), big.NewInt(1 << 62)},
}

var wholeNumberRE = regexp.MustCompile(`^-?[0-9]+$`)

// passesQueryOracle reads the raw query of GET /api/{tenant}/passes by
// the documented rules (README, the API document): pageIndex (0 to
// 1000000, default 0), pageSize (1 to 500, default 20), the id filters
// fileId, orderId, performanceId, movementId and ticketId (whole numbers,
// 1 to 2^62), status (active, used or voided), installed (apple, google,
// wallet or none, or installed and notInstalled, in any case) and
// template (1 to 128 bytes of UTF-8 without control characters, bidi
// controls among them); the
// same filters as the product we replace's filter[i].field (i from 0 to
// 99: identifiers.secutix.<id>, passType, installationStatus, or this
// API's own names), .operator (equals, any case, or none) and .value;
// its sortBy[i].field (creationDate, lastUpdateDate) and .direction (asc
// or desc, any case), in the order of i;
// any other parameter, part, field or operator, a parameter (or a part)
// given twice or empty, a filter given twice in either form, a sort key
// twice, is refused. A pair that cannot be read (a malformed escape, a
// ';') is refused too: read as absent, it would be ignored, which the
// rules forbid. It returns the query the store is to be asked and
// whether the request is valid.
func passesQueryOracle(tenant, raw string) (q pass.PassQuery, valid bool) {
	q = pass.PassQuery{Tenant: tenant, Limit: 20}
	seen := map[string]bool{}
	vals := map[string]string{}
	type part struct{ kind, part string }
	twc := map[int]map[part]string{} // by index: filter and sortBy parts
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil || strings.Contains(pair, ";") || seen[k] || v == "" {
			return q, false
		}
		seen[k] = true
		if slices.Contains([]string{"pageIndex", "pageSize", "fileId", "orderId", "performanceId", "movementId", "ticketId", "status",
			"installed", "template"}, k) {
			vals[k] = v
			continue
		}
		kind, rest, ok := strings.Cut(k, "[")
		idx, name, ok2 := strings.Cut(rest, "].")
		n, err := strconv.Atoi(idx)
		if !ok || !ok2 || err != nil || len(idx) > 2 || strings.Trim(idx, "0123456789") != "" {
			return q, false
		}
		parts := map[string][]string{"filter": {"field", "operator", "value"}, "sortBy": {"field", "direction"}}[kind]
		if !slices.Contains(parts, name) {
			return q, false
		}
		if twc[n] == nil {
			twc[n] = map[part]string{}
		}
		if _, again := twc[n][part{kind, name}]; again {
			return q, false // filter[1] and filter[01]
		}
		twc[n][part{kind, name}] = v
	}
	fields := map[string]string{"identifiers.secutix.movementId": "movementId", "identifiers.secutix.fileId": "fileId",
		"identifiers.secutix.orderId": "orderId", "identifiers.secutix.ticketId": "ticketId",
		"identifiers.secutix.performanceId": "performanceId", "passType": "template", "installationStatus": "installed"}
	for _, own := range []string{"fileId", "orderId", "performanceId", "movementId", "ticketId", "status", "installed", "template"} {
		fields[own] = own
	}
	sorts := map[string]string{"creationDate": pass.SortCreated, "lastUpdateDate": pass.SortUpdated}
	for _, n := range slices.Sorted(maps.Keys(twc)) {
		ps := twc[n]
		if f, ok := ps[part{"filter", "field"}]; ok || ps[part{"filter", "operator"}] != "" || ps[part{"filter", "value"}] != "" {
			name, known := fields[f]
			v := ps[part{"filter", "value"}]
			op, hasOp := ps[part{"filter", "operator"}]
			if !known || v == "" || (hasOp && !strings.EqualFold(op, "equals")) || vals[name] != "" {
				return q, false
			}
			vals[name] = v
		}
	}
	for _, n := range slices.Sorted(maps.Keys(twc)) {
		ps := twc[n]
		f, ok := ps[part{"sortBy", "field"}]
		d, hasDir := ps[part{"sortBy", "direction"}]
		if !ok && !hasDir {
			continue
		}
		by, known := sorts[f]
		if !known || (hasDir && !strings.EqualFold(d, "asc") && !strings.EqualFold(d, "desc")) ||
			slices.ContainsFunc(q.Sort, func(k pass.PassSort) bool { return k.By == by }) {
			return q, false
		}
		q.Sort = append(q.Sort, pass.PassSort{By: by, Desc: strings.EqualFold(d, "desc")})
	}
	var pageIndex int64
	for k, v := range vals {
		if bounds, ok := passesIntParams[k]; ok {
			n, ok := new(big.Int).SetString(v, 10)
			if !wholeNumberRE.MatchString(v) || !ok || n.Cmp(bounds[0]) < 0 || n.Cmp(bounds[1]) > 0 {
				return q, false
			}
			switch i := n.Int64(); k {
			case "pageIndex":
				pageIndex = i
			case "pageSize":
				q.Limit = int(i)
			case "fileId":
				q.FileID = i
			case "orderId":
				q.OrderID = i
			case "performanceId":
				q.PerformanceID = i
			case "movementId":
				q.MovementID = i
			case "ticketId":
				q.TicketID = i
			}
			continue
		}
		switch {
		case k == "status" && slices.Contains([]string{"active", "used", "voided"}, v):
			q.Status = pass.Status(v)
		case k == "installed" && slices.Contains([]string{"apple", "google", "wallet", "none", "installed", "notinstalled"}, strings.ToLower(v)):
			q.Installed = map[string]string{"installed": "wallet", "notinstalled": "none"}[strings.ToLower(v)]
			if q.Installed == "" {
				q.Installed = strings.ToLower(v)
			}
		case k == "template" && len(v) <= 128 && utf8.ValidString(v) &&
			!strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }):
			q.Template = v
		default:
			return q, false
		}
	}
	q.Offset = int(pageIndex) * q.Limit
	return q, true
}

// FuzzPassesQuery sends arbitrary queries to GET /api/demo/passes with a
// valid API key: never a 5xx; a 200, with x-pagination-total and a JSON
// list of the tenant's passes, exactly when passesQueryOracle finds the
// query valid, and then the store is asked exactly the query it reads;
// otherwise a 400 problem+json without x-pagination-total, and the store
// is not asked. A pair that cannot be read (?fileId=12%zz) is refused:
// dropped, the query would list every pass of the tenant.
func FuzzPassesQuery(f *testing.F) {
	fx := newOrgFixture(f)
	key := fx.creds["@DK"].value
	try := func(t testing.TB, raw string) int {
		t.Helper()
		// What net/http sends as it is (else the server reads another query).
		if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '#' }) {
			return 0
		}
		fx.forget()
		a, ok := fx.send(t, http.MethodGet, "/api/demo/passes?"+raw, "", map[string]string{"X-API-Key": key})
		if !ok {
			return 0
		}
		what := fmt.Sprintf("GET /api/demo/passes?%s", raw)
		if a.status >= 500 {
			t.Fatalf("%s: %d %s", what, a.status, a.body)
		}
		want, valid := passesQueryOracle("demo", raw)
		asked := fx.catalog.take()
		if !valid {
			if a.status != http.StatusBadRequest || len(asked) != 0 || a.header.Get("x-pagination-total") != "" {
				t.Fatalf("%s: %d %s, x-pagination-total %q, the store asked %+v; want 400", what, a.status, a.body,
					a.header.Get("x-pagination-total"), asked)
			}
			checkProblem(t, what, a)
			return a.status
		}
		var list []PassView
		if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") ||
			json.Unmarshal(a.body, &list) != nil || len(list) != 1 || a.header.Get("x-pagination-total") != "1000" {
			t.Fatalf("%s: %d %s %v; want 200, a list and x-pagination-total 1000", what, a.status, a.body, a.header)
		}
		checkOwnData(t, what, "demo", a)
		if len(asked) != 1 || !reflect.DeepEqual(asked[0], want) {
			t.Fatalf("%s: the store was asked %+v, want %+v", what, asked, want)
		}
		return a.status
	}
	seeds := []struct {
		raw    string
		status int
	}{
		{"", 200}, {"pageIndex=0&pageSize=500", 200}, {"pageIndex=1000000&pageSize=1", 200}, {"fileId=4611686018427387904", 200},
		{"orderId=10075001001&performanceId=9&movementId=8&ticketId=7&status=voided&installed=wallet", 200},
		{"status=used&&installed=none", 200}, {"file%49d=007", 200}, {"pageIndex=-0", 200},
		{"pageIndex=1000001", 400}, {"pageSize=501", 400}, {"pageSize=0", 400}, {"fileId=0", 400}, {"fileId=4611686018427387905", 400},
		{"fileId=-7", 400}, {"fileId=+7", 400}, {"fileId=1e3", 400}, {"fileId=99999999999999999999", 400}, {"fileId=", 400}, {"fileId", 400},
		{"fileId=5&fileId=5", 400}, {"status=Active", 400}, {"installed=both", 400}, {"filter%5B0%5D.field=fileId", 400}, {"=5", 400},
		{"filter%5B0%5D.field=identifiers.secutix.movementId&filter%5B0%5D.operator=equals&filter%5B0%5D.value=77", 200},
		{"filter[1].field=passType&filter[1].value=vip&filter[0].field=installationStatus&filter[0].value=notInstalled&sortBy[0].field=lastUpdateDate&sortBy[0].direction=DESC&sortBy[3].field=creationDate", 200},
		{"template=vip&filter[0].field=passType&filter[0].value=vip", 400}, {"filter[0].field=metadata.seat&filter[0].value=1", 400},
		{"filter[0].field=passType&filter[0].operator=contains&filter[0].value=v", 400}, {"filter[0].field=fileId", 400},
		{"filter[1].field=fileId&filter[01].field=orderId&filter[1].value=5", 400}, {"sortBy[0].field=version", 400},
		{"sortBy[0].field=creationDate&sortBy[1].field=createdAt", 400}, {"sortBy[0].value=x", 400}, {"filter[0].direction=asc", 400},
		{"filter[100].field=fileId&filter[100].value=5", 400}, {"template=Saison%202026", 200}, {"template=a%0Ab", 400}, {"template=a%E2%80%AEb", 400}, {"template=Saison%C2%A02026", 200},
		{"installed=NotInstalled", 200}, {"sortBy[0].field=createdAt", 400}, {"filter[0].field=installed&filter[0].value=Apple", 200},
		{"fileId=12%zz", 400}, {"fileId=5;status=used", 400}, {"fileId=5&orderId=%", 400},
	}
	for _, sd := range seeds {
		f.Add(sd.raw)
		if got := try(f, sd.raw); got != sd.status {
			f.Fatalf("?%s: %d, want %d", sd.raw, got, sd.status)
		}
	}
	f.Fuzz(func(t *testing.T, raw string) {
		try(t, raw)
	})
}

// blankBody reports whether body is white space only (read as no body).
func blankBody(body string) bool { return strings.TrimSpace(body) == "" }

// The events a subscription may name (README and the API document).
var documentedEvents = []string{"pass.created", "pass.updated", "pass.voided", "ticket.scanned", "pass.installed", "pass.uninstalled",
	"pass.*", "ticket.*", "*"}

// documentedEvent reads an event name by the README's rules: one of
// documentedEvents, or one of them as the replaced product writes it (a
// colon for the dot, in any ASCII case). It returns the name as stored.
func documentedEvent(name string) (string, bool) {
	for _, r := range name {
		if r > unicode.MaxASCII {
			return "", false
		}
	}
	n := strings.ToLower(strings.Replace(name, ":", ".", 1))
	if name == "*" || n != "*" && slices.Contains(documentedEvents, n) {
		return n, true
	}
	return "", false
}

// patchOracle applies a PATCH body to sub by the documented rules: one
// JSON value, an object of endpoint (https, by the fixture's check),
// events (1 to 20 names documentedEvent reads, stored as it returns
// them), enabled and description (at most
// 500 characters), each optional (null is absent). It returns the
// subscription as it must be stored, and whether the body is valid.
func patchOracle(sub pass.Subscription, body string) (pass.Subscription, bool) {
	if !json.Valid([]byte(body)) {
		return sub, false
	}
	var b struct {
		Endpoint    *string   `json:"endpoint"`
		Events      *[]string `json:"events"`
		Enabled     *bool     `json:"enabled"`
		Description *string   `json:"description"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if dec.Decode(&b) != nil {
		return sub, false
	}
	if b.Endpoint != nil {
		if !strings.HasPrefix(*b.Endpoint, "https://") {
			return sub, false
		}
		sub.Endpoint = *b.Endpoint
	}
	if b.Events != nil {
		if len(*b.Events) < 1 || len(*b.Events) > 20 {
			return sub, false
		}
		sub.Events = nil
		for _, e := range *b.Events {
			n, ok := documentedEvent(e)
			if !ok {
				return sub, false
			}
			sub.Events = append(sub.Events, n)
		}
	}
	if b.Enabled != nil {
		sub.Enabled = *b.Enabled
	}
	if b.Description != nil {
		if utf8.RuneCountInString(*b.Description) > 500 {
			return sub, false
		}
		sub.Description = *b.Description
	}
	return sub, true
}

var jsonIntegerRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// rotateOracle reads a rotate-secret body by the documented rules: empty
// (white space only), or one JSON value, an object with at most
// previousSecretValidFor, a whole number of seconds from 0 to 604800
// (null is absent). It returns how long the previous secret signs on
// (86400 seconds by default) and whether the body is valid.
func rotateOracle(body string) (time.Duration, bool) {
	if blankBody(body) {
		return 24 * time.Hour, true
	}
	if !json.Valid([]byte(body)) {
		return 0, false
	}
	var b struct {
		For json.RawMessage `json:"previousSecretValidFor"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if dec.Decode(&b) != nil {
		return 0, false
	}
	if b.For == nil || string(b.For) == "null" {
		return 24 * time.Hour, true
	}
	n, ok := new(big.Int).SetString(string(b.For), 10)
	if !jsonIntegerRE.Match(b.For) || !ok || n.Sign() < 0 || n.Cmp(big.NewInt(604800)) > 0 {
		return 0, false
	}
	return time.Duration(n.Int64()) * time.Second, true
}

// FuzzSubscriptionChanges sends arbitrary bodies, with a valid API key,
// as a PATCH of a webhook subscription and as the body of its secret's
// rotation: never a 5xx; a PATCH answers 200 exactly when patchOracle
// finds the body valid, and then the subscription is stored (and
// answered, without its secret) as the oracle says; a rotation answers
// 200 exactly when rotateOracle finds the body valid, and then the
// subscription has a new secret, answered once, and the previous one
// signs beside it for the oracle's time (previousSecretUntil shown when
// it is not 0); otherwise a 400 (413 beyond MaxSubscriptionBody)
// problem+json, and nothing is stored. A JSON value followed by a stray
// ']' or '}' is refused like any trailing data, and the description's
// limit counts characters, not bytes.
func FuzzSubscriptionChanges(f *testing.F) {
	fx := newOrgFixture(f)
	key := fx.creds["@DK"].value
	id := orgSubID("demo")
	try := func(t testing.TB, body string) (patch, rotate int) {
		t.Helper()
		defer fx.subs.reset(fx.now)
		hdr := map[string]string{"X-API-Key": key, "Content-Type": "application/json"}
		tooLarge := len(body) > MaxSubscriptionBody

		// PATCH.
		old := fx.subs.stored()["demo"][id]
		a, _ := fx.send(t, http.MethodPatch, "/api/demo/webhooks/"+id, body, hdr)
		what := fmt.Sprintf("PATCH with %q", body)
		got := fx.subs.stored()["demo"][id]
		if a.status >= 500 {
			t.Fatalf("%s: %d %s", what, a.status, a.body)
		}
		want, valid := patchOracle(old, body)
		switch {
		case tooLarge:
			if a.status != http.StatusRequestEntityTooLarge || !cmp.Equal(got, old) {
				t.Fatalf("%s: %d %s, want 413", what, a.status, a.body)
			}
			checkProblem(t, what, a)
		case !valid:
			if a.status != http.StatusBadRequest || !cmp.Equal(got, old) {
				t.Fatalf("%s: %d %s, stored %+v; want 400 and nothing stored", what, a.status, a.body, got)
			}
			checkProblem(t, what, a)
		default:
			var v SubscriptionView
			sameEvents := func(x, y []string) bool {
				return cmp.Equal(slices.Compact(slices.Sorted(slices.Values(x))), slices.Compact(slices.Sorted(slices.Values(y))))
			}
			if a.status != http.StatusOK || json.Unmarshal(a.body, &v) != nil {
				t.Fatalf("%s: %d %s, want 200", what, a.status, a.body)
			}
			if got.Endpoint != want.Endpoint || !sameEvents(got.Events, want.Events) || got.Enabled != want.Enabled ||
				got.Description != want.Description || got.Secret != old.Secret || got.ID != old.ID || got.Tenant != "demo" {
				t.Fatalf("%s: stored %+v, want %+v", what, got, want)
			}
			if v.ID != id || v.Endpoint != want.Endpoint || !sameEvents(v.Events, want.Events) || v.Enabled != want.Enabled ||
				v.Description != want.Description || v.Secret != "" {
				t.Fatalf("%s: answered %s, want %+v without the secret", what, a.body, want)
			}
		}
		patch = a.status
		fx.subs.reset(fx.now)

		// Rotation.
		old = fx.subs.stored()["demo"][id]
		a, _ = fx.send(t, http.MethodPost, "/api/demo/webhooks/"+id+"/secret", body, hdr)
		what = fmt.Sprintf("rotate with %q", body)
		got = fx.subs.stored()["demo"][id]
		if a.status >= 500 {
			t.Fatalf("%s: %d %s", what, a.status, a.body)
		}
		overlap, valid := rotateOracle(body)
		switch {
		case tooLarge:
			if a.status != http.StatusRequestEntityTooLarge || !cmp.Equal(got, old) {
				t.Fatalf("%s: %d %s, want 413", what, a.status, a.body)
			}
			checkProblem(t, what, a)
		case !valid:
			if a.status != http.StatusBadRequest || !cmp.Equal(got, old) {
				t.Fatalf("%s: %d %s, stored %+v; want 400 and nothing stored", what, a.status, a.body, got)
			}
			checkProblem(t, what, a)
		default:
			var v SubscriptionView
			secret := fx.lastSecret()
			if a.status != http.StatusOK || json.Unmarshal(a.body, &v) != nil {
				t.Fatalf("%s: %d %s, want 200", what, a.status, a.body)
			}
			until := fx.now.Add(overlap)
			if got.Secret != secret || secret == old.Secret || got.PreviousSecret != old.Secret || !got.PreviousUntil.Equal(until) {
				t.Fatalf("%s: stored %+v, want the secret %s, the previous one until %v", what, got, secret, until)
			}
			if v.Secret != secret || (overlap > 0) != (v.PreviousSecretUntil != nil) || (v.PreviousSecretUntil != nil && !v.PreviousSecretUntil.Equal(until)) {
				t.Fatalf("%s: answered %s, want the secret %s and the previous one's end %v when after now", what, a.body, secret, until)
			}
		}
		return patch, a.status
	}
	seeds := []struct {
		body          string
		patch, rotate int
	}{
		{``, 400, 200}, {"  \n", 400, 200}, {`{}`, 200, 200}, {`null`, 200, 200},
		{`{"previousSecretValidFor":0}`, 400, 200}, {`{"previousSecretValidFor":604800}`, 400, 200}, {`{"previousSecretValidFor":null}`, 400, 200},
		{`{"previousSecretValidFor":604801}`, 400, 400}, {`{"previousSecretValidFor":-1}`, 400, 400}, {`{"previousSecretValidFor":1.5}`, 400, 400},
		{`{"previousSecretValidFor":"60"}`, 400, 400}, {`{"previousSecretValidFor":60,"x":1}`, 400, 400},
		{`{"endpoint":"https://crm.example.com/h","events":["pass.voided","*","*"],"enabled":false,"description":"CRM"}`, 200, 400},
		{`{"endpoint":"http://crm.example.com/h"}`, 400, 400}, {`{"events":[]}`, 400, 400}, {`{"events":["pass.deleted"]}`, 400, 400},
		{`{"events":null,"enabled":null}`, 200, 400}, {`{"events":["Pass:Created","pass:UPDATED","Pass:*","TICKET.*"]}`, 200, 400},
		{`{"events":["Customer:*"]}`, 400, 400}, {`{"events":["pass.created.x"]}`, 400, 400}, {`{"events":["TIC\u212aET.SCANNED"]}`, 400, 400}, {`{"enabled":"yes"}`, 400, 400}, {`{"secret":"whsec_mine"}`, 400, 400},
		{`{"description":"` + strings.Repeat("a", 500) + `"}`, 200, 400}, {`{"description":"` + strings.Repeat("a", 501) + `"}`, 400, 400},
		{`{"enabled":true} {"enabled":false}`, 400, 400}, {`[]`, 400, 400}, {"\x00", 400, 400},
		{`{"enabled":false}}`, 400, 400}, {`{"previousSecretValidFor":0}]x`, 400, 400}, {`null}`, 400, 400},
		{`{"description":"` + strings.Repeat("é", 500) + `"}`, 200, 400},
		{strings.Repeat(" ", MaxSubscriptionBody+1), 413, 413},
	}
	for _, sd := range seeds {
		f.Add(sd.body)
		if patch, rotate := try(f, sd.body); patch != sd.patch || rotate != sd.rotate {
			f.Fatalf("%q: PATCH %d, rotation %d; want %d, %d", sd.body, patch, rotate, sd.patch, sd.rotate)
		}
	}
	f.Fuzz(func(t *testing.T, body string) {
		try(t, body)
	})
}
