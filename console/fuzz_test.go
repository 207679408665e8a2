package console

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	xhtml "golang.org/x/net/html"

	"walletpass/pass"
)

// The console is served on the public listener: its paths, query strings,
// cookies and form bodies are outside input. FuzzConsoleSignedOut drives
// its handler as anyone on the Internet, FuzzConsoleSignedIn as a signed-in
// operator of each role; TestConsoleSignedOutSeeds and
// TestConsoleSignedInSeeds run the same seeds as plain tests and check that
// each reaches the answer it is there for (a page, a sign-in, an action
// done, a refusal). Run one target with, for example:
//
//	go test ./console/ -run '^$' -fuzz '^FuzzConsoleSignedIn$' -fuzztime 30s
//
// The fixture is the searchConsole of the search tests on a small seeded
// SQLite store, wrapped in a spy (fuzzStore) that records every change
// asked of it (and does not make it, so that each input finds the same
// store) and every tenant whose data is read; the identity provider is in
// process (fuzzIdP).

const (
	fuzzIssuer   = "https://idp.example" // searchConsole's issuer
	fuzzClientID = "c"
	fuzzState    = "state-0123456789abcdef" // the state and nonce of fuzzLogin
	fuzzNonce    = "nonce-0123456789abcdef"
	fuzzNext     = "/console/queue" // where fuzzLogin returns
	fuzzCSRF     = "tok"            // searchCookie's CSRF token
	fuzzSubject  = "op-1"           // who fuzzIdP signs in
)

// fuzzCodes are the codes fuzzIdP's token endpoint takes, with the roles
// of the ID token it answers (any other code is refused).
var fuzzCodes = map[string][]any{
	"code-admin": {"admin"},
	"code-demo":  {"operator:demo", "operator:nowhere"},
	"code-none":  {"viewer"},
}

// fuzzRole is who a signed-in input is: the sessions searchCookie mints.
type fuzzRole struct {
	name    string
	admin   bool
	tenants []string
}

var fuzzRoles = []fuzzRole{
	{"admin", true, nil},
	{"demo", false, []string{"demo"}},
	{"other", false, []string{"other"}},
	{"both", false, []string{"demo", "other"}},
}

// fuzzRecord is what one request asked of the console's dependencies.
type fuzzRecord struct {
	who    fuzzRole // the zero role: nobody signed in
	writes []string // changes asked: "audit login", "enqueue sync-order demo", …
	denied []string // tenants read or changed that who may not see
	idp    []string // code exchanges: "refused", or the code a token was issued for
}

func (r *fuzzRecord) may(tenant string) bool {
	return r.who.admin || slices.Contains(r.who.tenants, tenant)
}

// read notes a read of a tenant's data ("" is every tenant's).
func (r *fuzzRecord) read(what, tenant string) {
	if !r.may(tenant) {
		r.denied = append(r.denied, what+" "+tenant)
	}
}

func (r *fuzzRecord) write(what, tenant string) {
	r.writes = append(r.writes, strings.TrimSpace(what+" "+tenant))
	r.read(what, tenant)
}

// fuzzFixture is a console on a seeded store, its identity provider, and
// the values the seeds name.
type fuzzFixture struct {
	c *Console

	mu  sync.Mutex  // one request at a time: rec is the current one's
	rec *fuzzRecord // set by do

	sessions  map[string]string // role name → sealed session
	login     string            // a sealed sign-in in progress (fuzzLogin)
	expired   string            // a sealed session that has expired
	vars      *strings.Replacer // the seeds' {placeholders}
	secrets   map[string][]string
	templates string // the pages' own markup
	peer      atomic.Uint32
}

// newFuzzFixture seeds 3 orders of tenant demo and 2 of tenant other (see
// fixtureOrder), one dead task and two audit entries of each.
func newFuzzFixture(tb testing.TB) *fuzzFixture {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "console.db")
	db, _ := searchStore{name: "sqlite", seedDSN: file, dsn: file}.seed(tb, 3, 2)
	c := searchConsole(tb, db)
	ctx, now := context.Background(), c.cfg.Clock.Now()

	demo, other := fixtureOrder("demo", 0, 0), fixtureOrder("other", otherBase, 0)
	for _, so := range []searchOrder{demo, other} {
		ref := pass.OrderRef{Tenant: so.Tenant, SecretToken: so.Secret, FileID: so.FileID}
		if _, err := db.Enqueue(ctx, pass.TaskOf(ref, "fuzz"), now); err != nil {
			tb.Fatal(err)
		}
	}
	tasks, err := db.Claim(ctx, now, time.Minute, 10)
	if err != nil || len(tasks) != 2 {
		tb.Fatalf("claim: %d tasks, %v", len(tasks), err)
	}
	taskOf := map[string]string{}
	for _, t := range tasks {
		if err := db.Fail(ctx, t, `SecuTix answered <b>503</b> "busy"`, now, true, now); err != nil {
			tb.Fatal(err)
		}
		taskOf[t.Tenant] = t.ID
	}
	for _, e := range []pass.AuditEntry{
		{At: now, Actor: "ops <b>1</b>", Tenant: "demo", Action: "void", Target: fmt.Sprintf("file %d", demo.FileID),
			Detail: "<script>alert(1)</script> audit-demo-5e1b"},
		{At: now, Actor: "ops", Tenant: "other", Action: "resync", Target: fmt.Sprintf("file %d", other.FileID), Detail: "audit-other-7f3a"},
	} {
		if err := db.AddAudit(ctx, e); err != nil {
			tb.Fatal(err)
		}
	}

	f := &fuzzFixture{c: c, sessions: map[string]string{}, secrets: map[string][]string{}}
	// What only the operators of each tenant may see.
	for _, t := range []struct {
		tenant string
		base   int64
		n      int
	}{{"demo", 0, 3}, {"other", otherBase, 2}} {
		for o := range t.n {
			so := fixtureOrder(t.tenant, t.base, o)
			f.secrets[t.tenant] = append(f.secrets[t.tenant], so.Secret, so.Email, fmt.Sprint(so.FileID))
			f.secrets[t.tenant] = append(f.secrets[t.tenant], so.Serials...)
			f.secrets[t.tenant] = append(f.secrets[t.tenant], so.Barcodes...)
		}
		f.secrets[t.tenant] = append(f.secrets[t.tenant], taskOf[t.tenant], "audit-"+t.tenant)
	}
	f.vars = strings.NewReplacer(
		"{demo.secret}", demo.Secret, "{other.secret}", other.Secret,
		"{demo.serial}", demo.Serials[0], "{other.serial}", other.Serials[0],
		"{demo.task}", taskOf["demo"], "{other.task}", taskOf["other"],
		"{demo.file}", fmt.Sprint(demo.FileID), "{other.file}", fmt.Sprint(other.FileID),
		"{demo.email}", demo.Email, "{other.email}", other.Email)
	for _, r := range fuzzRoles {
		f.sessions[r.name] = searchCookie(tb, c, r.tenants...).Value
	}
	if f.login, err = c.seal("login", pendingLogin{State: fuzzState, Nonce: fuzzNonce, Verifier: "verifier", Next: fuzzNext,
		Expires: now.Add(5 * time.Minute)}); err != nil {
		tb.Fatal(err)
	}
	if f.expired, err = c.seal("session", &session{Subject: "u1", Admin: true, CSRF: fuzzCSRF, Expires: now}); err != nil {
		tb.Fatal(err)
	}
	pages, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range pages {
		b, err := templateFS.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		f.templates += string(b)
	}

	c.cfg.Store = &fuzzStore{Store: db, f: f}
	c.cfg.HTTPClient = &http.Client{Transport: &fuzzIdP{f: f, key: fuzzKey(tb), now: c.cfg.Clock}}
	c.cfg.Voids = fuzzVoider{f}
	c.cfg.Versions = fuzzVersions{f}
	c.cfg.Links = func(tenant, secret string, _ []string, _ time.Time) []Link {
		f.rec.write("links", tenant)
		return []Link{{Label: "Order", URL: "https://wallet.example/orders/" + secret}}
	}
	return f
}

var fuzzKeyOnce = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// fuzzKey is the identity provider's signing key (one per process: making
// one takes a while).
func fuzzKey(tb testing.TB) *rsa.PrivateKey {
	k, err := fuzzKeyOnce()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// fuzzExchange is one request to the console and its answer.
type fuzzExchange struct {
	req    *http.Request
	code   int
	header http.Header
	body   string
	rec    *fuzzRecord
}

func (x *fuzzExchange) cookie(name string) (string, bool) {
	for _, ck := range (&http.Response{Header: x.header}).Cookies() {
		if ck.Name == name {
			return ck.Value, true
		}
	}
	return "", false
}

// do sends a request, as its bytes would reach the server (a request a
// server refuses before the console, as a malformed request line or header,
// is not sent: ok is false), from a client address of its own (the
// sign-in limit counts per client).
func (f *fuzzFixture) do(who fuzzRole, method, target, host, cookie, site, body string) (x *fuzzExchange, ok bool) {
	for _, v := range []string{target, host} {
		if strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, false
		}
	}
	for _, v := range []string{cookie, site} {
		if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			return nil, false
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host)
	if cookie != "" {
		b.WriteString("Cookie: " + cookie + "\r\n")
	}
	if site != "" {
		b.WriteString("Sec-Fetch-Site: " + site + "\r\n")
	}
	if method == http.MethodPost {
		fmt.Fprintf(&b, "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n" + body)
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		return nil, false
	}
	n := f.peer.Add(1)
	r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:4000", n>>16&255, n>>8&255, n&255)

	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec = &fuzzRecord{who: who}
	w := httptest.NewRecorder()
	f.c.ServeHTTP(w, r)
	return &fuzzExchange{req: r, code: w.Code, header: w.Header(), body: w.Body.String(), rec: f.rec}, true
}

// The signed-out target.

// Modes of a signed-out input: where its cookie value goes, the method,
// the host.
const (
	modeSession       = 0 // the value is the session cookie's
	modeLogin         = 1 // the value is the sign-in cookie's
	modeBoth          = 2 // the value is both cookies'
	modeSessionSealed = 3 // the value is the session cookie's, the sign-in cookie is fuzzLogin
	modePost          = 4 // POST the query as a form, not GET
	modeOtherHost     = 8 // on another host name of the service
)

// signedOut sends a request without a valid session (the fuzzer cannot
// sign a cookie) and checks what anyone on the Internet gets: never a 5xx
// (but for a code the identity provider refused), no page that needs a
// session, redirects inside the service or to the identity provider's
// sign-in, a session only from the identity provider's token, no data of
// any tenant, no cookie value echoed, no markup of the input.
func (f *fuzzFixture) signedOut(t *testing.T, path, query, cookie string, mode uint8) *fuzzExchange {
	t.Helper()
	target := "/console/" + path
	if query != "" {
		target += "?" + query
	}
	method, body := http.MethodGet, ""
	if mode&modePost != 0 {
		method, body = http.MethodPost, query
	}
	host := "wallet.example"
	if mode&modeOtherHost != 0 {
		host = "localhost:8080"
	}
	cookies := func(v string) string {
		var cs []string
		if v != "" {
			switch mode & 3 {
			case modeSession, modeSessionSealed:
				cs = append(cs, sessionCookie+"="+v)
			case modeLogin:
				cs = append(cs, loginCookie+"="+v)
			case modeBoth:
				cs = append(cs, sessionCookie+"="+v, loginCookie+"="+v)
			}
		}
		if mode&3 == modeSessionSealed {
			cs = append(cs, loginCookie+"="+f.login)
		}
		return strings.Join(cs, "; ")
	}
	x, ok := f.do(fuzzRole{}, method, target, host, cookies(cookie), "", body)
	if !ok {
		return nil
	}
	r := x.req
	refused := slices.Contains(x.rec.idp, "refused")
	if x.code >= 500 && !(x.code == http.StatusBadGateway && refused) {
		t.Errorf("%s %s: %d", method, r.RequestURI, x.code)
	}
	if x.code/100 == 2 && !(r.Method == http.MethodGet && (r.URL.Path == "/console/signedout" || r.URL.Path == "/console/style.css")) {
		t.Errorf("%s %s without a session: %d, a page that needs one", method, r.RequestURI, x.code)
	}
	if strings.Contains(x.body, `action="/console/logout"`) {
		t.Errorf("%s %s without a session: a signed-in page", method, r.RequestURI)
	}
	if loc := x.header.Get("Location"); x.code/100 == 3 || loc != "" {
		if !f.sameOrigin(loc) && !f.authorizeURL(t, x, loc) {
			t.Errorf("%s %s: %d to %q, neither the service nor the identity provider's sign-in", method, r.RequestURI, x.code, loc)
		}
	}

	// A session comes only from a token of the identity provider, for the
	// sign-in of the login cookie, with the provider's roles.
	issued := ""
	for _, e := range x.rec.idp {
		if _, ok := fuzzCodes[e]; ok {
			issued = e
		}
	}
	if (mode&3 == modeLogin || mode&3 == modeBoth) && len(x.rec.idp) > 0 {
		t.Errorf("%s %s: a forged sign-in cookie got to the code exchange", method, r.RequestURI)
	}
	sv, set := x.cookie(sessionCookie)
	switch {
	case set && sv != "":
		var s session
		if err := f.c.open("session", sv, &s); err != nil {
			t.Fatalf("%s %s: a session cookie that does not open: %v", method, r.RequestURI, err)
		}
		wantTenants := map[string][]string{"code-demo": {"demo"}}[issued]
		if issued == "" || s.Admin != (issued == "code-admin") || !slices.Equal(s.Tenants, wantTenants) || s.Subject != fuzzSubject {
			t.Errorf("%s %s: session %+v after the exchange %v", method, r.RequestURI, s, x.rec.idp)
		}
		if loc := x.header.Get("Location"); x.code != http.StatusSeeOther || loc != fuzzNext {
			t.Errorf("%s %s: signed in, then %d to %q, want 303 to %s", method, r.RequestURI, x.code, loc, fuzzNext)
		}
	case issued == "code-none":
		if x.code != http.StatusForbidden {
			t.Errorf("%s %s: an operator without a console role gets %d, want 403", method, r.RequestURI, x.code)
		}
	case issued != "":
		t.Errorf("%s %s: the identity provider issued a token for %s, yet no session (%d)", method, r.RequestURI, issued, x.code)
	}
	if len(x.rec.denied) > 0 {
		t.Errorf("%s %s without a session read %v", method, r.RequestURI, x.rec.denied)
	}
	for _, w := range x.rec.writes {
		if issued == "" || (w != "audit login" && w != "audit login-refused") {
			t.Errorf("%s %s without a session changed %q", method, r.RequestURI, w)
		}
	}

	// The cookie's value is never shown: when the page holds it, the page
	// without the cookie holds it as well (it came from the path or the
	// query).
	if len(cookie) >= 8 {
		var base *fuzzExchange
		for _, form := range []string{cookie, template.HTMLEscapeString(cookie), url.QueryEscape(cookie)} {
			if !strings.Contains(x.body, form) {
				continue
			}
			if base == nil {
				if base, ok = f.do(fuzzRole{}, method, target, host, cookies(""), "", body); !ok {
					t.Fatalf("%s %s: the request without its cookie was not sent", method, r.RequestURI)
				}
			}
			if !strings.Contains(base.body, form) {
				t.Errorf("%s %s: the cookie value is on the page as %q", method, r.RequestURI, form)
			}
		}
	}
	f.checkHTML(t, x, append(fuzzValues(r, body), cookie))
	return x
}

// sameOrigin reports whether a redirect stays in the service: a path of
// its own (not "//host" or "/\host", which browsers read as another host),
// or an absolute URL of its base URL.
func (f *fuzzFixture) sameOrigin(loc string) bool {
	if strings.ContainsFunc(loc, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return false
	}
	if rest, ok := strings.CutPrefix(loc, f.c.cfg.BaseURL); ok {
		loc = rest
	}
	p, _, _ := strings.Cut(loc, "?")
	return strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.ContainsRune(p, '\\')
}

// authorizeURL reports whether a redirect is the sign-in at the identity
// provider, for this client, with a challenge, coming back to the
// callback; the sign-in cookie it sets must return inside the console.
func (f *fuzzFixture) authorizeURL(t *testing.T, x *fuzzExchange, loc string) bool {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil || u.Scheme+"://"+u.Host+u.Path != fuzzIssuer+"/authorize" {
		return false
	}
	q := u.Query()
	if q.Get("client_id") != fuzzClientID || q.Get("redirect_uri") != f.c.cfg.BaseURL+"/console/callback" ||
		q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Errorf("the sign-in at the identity provider: %s", loc)
	}
	v, _ := x.cookie(loginCookie)
	var pl pendingLogin
	if err := f.c.open("login", v, &pl); err != nil {
		t.Errorf("a sign-in without its cookie (%v)", err)
	} else if pl.State != q.Get("state") || !strings.HasPrefix(pl.Next, "/console/") || !f.sameOrigin(pl.Next) {
		t.Errorf("the sign-in cookie: state %q (sent %q), returns to %q", pl.State, q.Get("state"), pl.Next)
	}
	return true
}

// fuzzValues is what a request carries that a page might show: its path's
// segments, its query's and form's values, decoded.
func fuzzValues(r *http.Request, body string) []string {
	var out []string
	for seg := range strings.SplitSeq(r.URL.Path, "/") {
		out = append(out, seg)
	}
	for _, raw := range []string{r.URL.RawQuery, body} {
		vs, _ := url.ParseQuery(raw) // what parses, as the console would read it
		for k, v := range vs {
			out = append(out, k)
			out = append(out, v...)
		}
	}
	return out
}

// htmlTags are the elements the console's pages are made of (templates,
// the usage chart, the redirect's note, fuzzVersions' preview).
var htmlTags = strings.Fields(`a article body br button caption circle code dd details div dl dt figcaption figure form
	h1 h2 h3 h4 head header html iframe input label li line link main meta nav option p polyline pre rect section select
	small span strong summary svg table tbody td text th thead title tr ul`)

// checkHTML checks an HTML answer: only the elements the pages are made
// of, no event handler attribute, no script URL, and none of the input's
// values with markup in it as it was sent.
func (f *fuzzFixture) checkHTML(t *testing.T, x *fuzzExchange, values []string) {
	t.Helper()
	if !strings.HasPrefix(x.header.Get("Content-Type"), "text/html") {
		return
	}
	z := xhtml.NewTokenizer(strings.NewReader(x.body))
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			break
		}
		if tt != xhtml.StartTagToken && tt != xhtml.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		if !slices.Contains(htmlTags, tok.Data) {
			t.Errorf("%s %s: element <%s> on the page", x.req.Method, x.req.RequestURI, tok.Data)
		}
		for _, a := range tok.Attr {
			v := strings.ToLower(strings.TrimSpace(a.Val))
			if strings.HasPrefix(a.Key, "on") || ((a.Key == "href" || a.Key == "src" || a.Key == "action") &&
				(strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "vbscript:") || strings.HasPrefix(v, "data:"))) {
				t.Errorf("%s %s: attribute %s=%q on <%s>", x.req.Method, x.req.RequestURI, a.Key, a.Val, tok.Data)
			}
		}
	}
	for _, v := range values {
		if len(v) >= 6 && strings.ContainsAny(v, `<>"'`) && strings.Contains(x.body, v) && !strings.Contains(f.templates, v) {
			t.Errorf("%s %s: %q is on the page unescaped", x.req.Method, x.req.RequestURI, v)
		}
	}
}

// fuzzSignedOutSeeds reach each answer of the signed-out console: the
// sign-in (and its refusals), the redirect to it, the public pages.
var fuzzSignedOutSeeds = []struct {
	name, path, query, cookie string
	mode                      uint8
	code                      int
	location                  string // its prefix
}{
	{"sign-in", "login", "next=%2Fconsole%2Fqueue%3Fstate%3Ddead", "", modeSession, 303, fuzzIssuer + "/authorize?"},
	{"sign-in to elsewhere", "login", "next=%2F%2Fevil.example%2F&login_hint=ops%40example.org", "", modeSession, 303, fuzzIssuer + "/authorize?"},
	{"sign-in to a backslash", "login", `next=/console/\evil&login_hint=<script>alert(1)</script>`, "", modeSession, 303, fuzzIssuer + "/authorize?"},
	{"sign-in on another host", "login", "next=%2Fconsole%2F", "", modeOtherHost, 303, "https://wallet.example/console/login?next="},
	{"search", "", "q={demo.secret}", "", modeSession, 303, "/console/login?next=%2Fconsole%2F%3Fq%3D"},
	{"queue with a forged session", "queue", "state=dead", "eyJzdWIiOiJ1MSIsImFkbWluIjp0cnVlfQ.c2ln", modeSession, 303, "/console/login?next="},
	{"order with a session of no value", "t/demo/orders/{demo.secret}", "", "{expired}", modeSession, 303, "/console/login?next="},
	{"a sign-in as a session", "audit", "", "{login}", modeSession, 303, "/console/login?next="},
	{"action", "t/demo/orders/{demo.secret}/resync", "csrf=tok", "", modePost, 401, ""},
	{"logout", "logout", "csrf=tok", "x.y", modePost | modeBoth, 401, ""},
	{"callback as admin", "callback", "state=" + fuzzState + "&code=code-admin", "", modeSessionSealed, 303, fuzzNext},
	{"callback as demo's operator", "callback", "code=code-demo&state=" + fuzzState, "", modeSessionSealed, 303, fuzzNext},
	{"callback without a role", "callback", "state=" + fuzzState + "&code=code-none", "", modeSessionSealed, 403, ""},
	{"callback with a bad code", "callback", "state=" + fuzzState + "&code=bogus", "", modeSessionSealed, 502, ""},
	{"callback with another state", "callback", "state=forged&code=code-admin", "", modeSessionSealed, 400, ""},
	{"callback refused", "callback", "error=access_denied&error_description=<b>no</b>&state=" + fuzzState, "", modeSessionSealed, 403, ""},
	{"callback with a forged sign-in", "callback", "state=" + fuzzState + "&code=code-admin", "{login}x", modeLogin, 400, ""},
	{"signed out", "signedout", "lang=fr", "<script>alert(1)</script>", modeSession, 200, ""},
	{"style", "style.css", "", "", modeSession, 200, ""},
	{"nowhere", "nowhere/<script>", "q=<script>alert(1)</script>", "", modeSession, 404, ""},
	{"unclean path", "../console//login", "next=%2Fconsole%2F", "", modeSession, 307, "/console/login?next="},
}

// expand replaces a seed's {placeholders} with the fixture's values.
func (f *fuzzFixture) expand(s string) string {
	return strings.NewReplacer("{login}", f.login, "{expired}", f.expired).Replace(f.vars.Replace(s))
}

func FuzzConsoleSignedOut(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, s := range fuzzSignedOutSeeds {
		f.Add(s.path, s.query, fx.expand(s.cookie), s.mode)
	}
	f.Fuzz(func(t *testing.T, path, query, cookie string, mode uint8) {
		fx.signedOut(t, fx.vars.Replace(path), fx.vars.Replace(query), cookie, mode)
	})
}

// TestConsoleSignedOutSeeds: each seed of FuzzConsoleSignedOut gets the
// answer it is there for.
func TestConsoleSignedOutSeeds(t *testing.T) {
	fx := newFuzzFixture(t)
	for _, s := range fuzzSignedOutSeeds {
		t.Run(s.name, func(t *testing.T) {
			x := fx.signedOut(t, fx.expand(s.path), fx.expand(s.query), fx.expand(s.cookie), s.mode)
			if x == nil {
				t.Fatal("the request was not sent")
			}
			if loc := x.header.Get("Location"); x.code != s.code || !strings.HasPrefix(loc, s.location) {
				t.Errorf("%d to %q, want %d to %s…", x.code, loc, s.code, s.location)
			}
			if _, ok := x.cookie(sessionCookie); ok != (s.code == 303 && s.location == fuzzNext) {
				t.Errorf("session cookie set: %v", ok)
			}
		})
	}
}

// The signed-in target.

var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut}

// signedIn sends a request as a signed-in operator of the role (a session
// as searchCookie mints it, CSRF token "tok") and checks: never a 5xx; a
// GET changes nothing; a POST without the session's CSRF token from the
// console's own pages is refused and changes nothing; nothing of a tenant
// the role does not see is read, changed or shown; redirects stay in the
// service (or go to the identity provider's sign-out); the session is
// never widened; no markup of the input on the page.
func (f *fuzzFixture) signedIn(t *testing.T, role, method uint8, path, query, body, site string) *fuzzExchange {
	t.Helper()
	who := fuzzRoles[int(role)%len(fuzzRoles)]
	m := fuzzMethods[int(method)%len(fuzzMethods)]
	target := "/console/" + path
	if query != "" {
		target += "?" + query
	}
	if m != http.MethodPost {
		body = ""
	}
	x, ok := f.do(who, m, target, "wallet.example", sessionCookie+"="+f.sessions[who.name], site, body)
	if !ok {
		return nil
	}
	r, as := x.req, who.name
	if x.code >= 500 {
		t.Errorf("%s %s as %s: %d", m, r.RequestURI, as, x.code)
	}
	if len(x.rec.denied) > 0 {
		t.Errorf("%s %s as %s: read or changed %v", m, r.RequestURI, as, x.rec.denied)
	}
	if m != http.MethodPost {
		for _, w := range x.rec.writes {
			if !strings.HasPrefix(w, "audit ") {
				t.Errorf("%s %s as %s: changed %q", m, r.RequestURI, as, w)
			}
		}
	} else {
		// What the console's forms send: the session's token in the body,
		// a well-formed form and query, from the console's own pages.
		form, ferr := url.ParseQuery(body)
		_, qerr := url.ParseQuery(r.URL.RawQuery)
		s := r.Header.Get("Sec-Fetch-Site")
		sent := ferr == nil && qerr == nil && len(body) <= maxForm && form.Get("csrf") == fuzzCSRF && (s == "" || s == "same-origin" || s == "none")
		// Refused: a 4xx, or the router's redirect of an unclean path
		// (to be posted again there).
		refused := x.code/100 == 4 || (x.code == http.StatusTemporaryRedirect || x.code == http.StatusMovedPermanently) && unclean(r.URL.Path)
		if !sent && (!refused || len(x.rec.writes) > 0) {
			t.Errorf("%s %s as %s, site %q, body %q: %d, changed %v; want refused, nothing changed", m, r.RequestURI, as, s, body, x.code, x.rec.writes)
		}
	}
	if loc := x.header.Get("Location"); x.code/100 == 3 || loc != "" {
		if !f.sameOrigin(loc) && !strings.HasPrefix(loc, fuzzIssuer+"/logout?") {
			t.Errorf("%s %s as %s: %d to %q", m, r.RequestURI, as, x.code, loc)
		}
	}
	if v, ok := x.cookie(sessionCookie); ok && v != "" {
		var s session
		if err := f.c.open("session", v, &s); err != nil || s.Admin != who.admin || !slices.Equal(s.Tenants, who.tenants) {
			t.Errorf("%s %s as %s: the session became %+v (%v)", m, r.RequestURI, as, s, err)
		}
	}

	// Nothing of a tenant the role does not see, unless the request itself
	// carries it.
	sent := []string{r.RequestURI, body}
	for _, v := range []string{r.RequestURI, body} {
		if u, err := url.QueryUnescape(v); err == nil {
			sent = append(sent, u)
		}
	}
	sent = append(sent, r.URL.Path)
	for tenant, secrets := range f.secrets {
		if who.admin || slices.Contains(who.tenants, tenant) {
			continue
		}
		for _, secret := range secrets {
			if slices.ContainsFunc(sent, func(v string) bool { return strings.Contains(v, secret) }) {
				continue
			}
			if strings.Contains(x.body, secret) || strings.Contains(x.header.Get("Location"), secret) {
				t.Errorf("%s %s as %s: %s's %q is on the page", m, r.RequestURI, as, tenant, secret)
			}
		}
	}
	f.checkHTML(t, x, append(fuzzValues(r, body), site))
	return x
}

// unclean reports whether the router redirects a path to its clean form
// ("/console/." to "/console/").
func unclean(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c != p
}

// fuzzSignedInSeeds reach each page and action of the console, and their
// refusals.
var fuzzSignedInSeeds = []struct {
	name          string
	role, method  uint8 // indexes of fuzzRoles, fuzzMethods
	path, query   string
	body, site    string
	code          int
	location      string // its prefix
	writes, shows string // a change asked (its prefix), a text on the page
}{
	{"search page", 0, 0, "", "", "", "", 200, "", "", `name="q"`},
	{"search a secret", 1, 0, "", "q={demo.secret}", "", "", 200, "", "audit search", "{demo.file}"},
	{"search an e-mail", 3, 0, "", "q={demo.email}&tenant=demo", "", "", 200, "", "audit search-holder", "{demo.secret}"},
	{"search another's order", 1, 0, "", "q={other.serial}", "", "", 200, "", "audit search", "Nothing matches."},
	{"search a script", 1, 0, "", "q=<script>alert(1)</script>&lang=de", "", "", 200, "", "audit search", "&lt;script&gt;"},
	{"search in another tenant", 1, 0, "", "q={other.file}&tenant=other", "", "", 403, "", "", ""},
	{"search too long", 0, 0, "", "q=" + strings.Repeat("9", 201), "", "", 400, "", "", ""},
	{"order", 1, 0, "t/demo/orders/{demo.secret}", "queued=resync", "", "", 200, "", "audit view-order", "{demo.serial}"},
	{"another's order", 1, 0, "t/other/orders/{other.secret}", "", "", "", 404, "", "", ""},
	{"another's order as admin", 0, 0, "t/other/orders/{other.secret}", "", "", "", 200, "", "audit view-order", "{other.serial}"},
	{"order under another tenant", 2, 0, "t/other/orders/{demo.secret}", "", "", "", 404, "", "", ""},
	{"queue", 1, 0, "queue", "", "", "", 200, "", "", "{demo.task}"},
	{"queue filtered", 0, 0, "queue", "state=dead&kind=<img%20src=x%20onerror=alert(1)>&done=<b>2</b>", "", "", 200, "", "", "Queue"},
	{"another's queue", 1, 0, "queue", "tenant=other", "", "", 403, "", "", ""},
	{"queue of two tenants", 3, 0, "queue", "", "", "", 403, "", "", ""},
	{"retry", 1, 1, "queue/retry", "", "csrf=tok&tenant=demo&state=dead&id={demo.task}", "", 303, "/console/queue?state=dead&done=1&tenant=demo", "retry-task demo", ""},
	{"discard", 0, 1, "queue/discard", "", "csrf=tok&state=dead&id={other.task}&id=gone", "same-origin", 303, "/console/queue?state=dead&done=1", "discard-task other", ""},
	{"retry without a token", 1, 1, "queue/retry", "", "tenant=demo&id={demo.task}", "", 403, "", "", ""},
	{"retry with the token in the query", 1, 1, "queue/retry", "csrf=tok", "tenant=demo&id={demo.task}", "", 403, "", "", ""},
	{"retry from another site", 1, 1, "queue/retry", "", "csrf=tok&tenant=demo&id={demo.task}", "cross-site", 403, "", "", ""},
	{"retry with a bad form", 1, 1, "queue/retry", "", "csrf=tok&id={demo.task}&%zz", "", 400, "", "", ""},
	{"discard another's task", 1, 1, "queue/discard", "", "csrf=tok&id={other.task}", "", 404, "", "", ""},
	{"discard in another tenant", 1, 1, "queue/discard", "", "csrf=tok&tenant=other&id={demo.task}", "", 403, "", "", ""},
	{"resync", 1, 1, "t/demo/orders/{demo.secret}/resync", "", "csrf=tok", "", 303, "/console/t/demo/orders/{demo.secret}?queued=resync", "enqueue sync-order demo", ""},
	{"repush another's order", 1, 1, "t/other/orders/{other.secret}/repush", "", "csrf=tok", "", 404, "", "", ""},
	{"repush without a token", 0, 1, "t/demo/orders/{demo.secret}/repush", "", "csrf=to", "", 403, "", "", ""},
	{"void", 1, 1, "t/demo/orders/{demo.secret}/void", "", "csrf=tok&serial={demo.serial}&confirm=yes&reason=<script>alert(1)</script>", "", 303,
		"/console/t/demo/orders/{demo.secret}?queued=void", "void demo", ""},
	{"void another order's pass", 1, 1, "t/demo/orders/{demo.secret}/void", "", "csrf=tok&serial={other.serial}&confirm=yes", "", 404, "", "", ""},
	{"links", 1, 1, "t/demo/orders/{demo.secret}/links", "", "csrf=tok", "", 200, "", "links demo", "https://wallet.example/orders/{demo.secret}"},
	{"preview", 1, 0, "t/demo/passes/{demo.serial}/versions/1/preview", "lang=fr", "", "", 200, "", "", "front"},
	{"another's preview", 1, 0, "t/other/passes/{other.serial}/versions/1/preview", "", "", "", 404, "", "", ""},
	{"usage", 1, 0, "t/demo/usage", "", "", "", 200, "", "", "<h1"},
	{"performance", 1, 0, "t/demo/usage/466000000", "", "", "", 200, "", "", "<h1"},
	{"performance CSV", 1, 0, "t/demo/usage/466000000", "format=csv", "", "", 200, "", "", "day,issued"},
	{"another's usage", 1, 0, "t/other/usage/466000000", "format=csv", "", "", 404, "", "", ""},
	{"tenants", 2, 0, "tenants", "", "", "", 200, "", "", "Other"},
	{"audit", 1, 0, "audit", "", "", "", 200, "", "", "audit-demo-5e1b"},
	{"audit as admin", 0, 0, "audit", "lang=fr", "", "", 200, "", "", "audit-other-7f3a"},
	{"logout", 0, 1, "logout", "", "csrf=tok", "", 303, fuzzIssuer + "/logout?", "audit logout", ""},
	{"logout without a token", 0, 1, "logout", "", "", "", 403, "", "", ""},
	{"unclean path", 1, 1, "t/demo/orders/{demo.secret}/./resync", "", "csrf=tok", "", 307, "/console/t/demo/orders/{demo.secret}/resync", "", ""},
	{"put", 0, 2, "queue/retry", "", "csrf=tok&id={demo.task}", "", 404, "", "", ""},
	{"nowhere", 3, 0, "nowhere/<b>", "x=<b>\"'</b>", "", "", 404, "", "", ""},
}

func FuzzConsoleSignedIn(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, s := range fuzzSignedInSeeds {
		f.Add(s.role, s.method, s.path, s.query, s.body, s.site)
	}
	f.Fuzz(func(t *testing.T, role, method uint8, path, query, body, site string) {
		fx.signedIn(t, role, method, fx.vars.Replace(path), fx.vars.Replace(query), fx.vars.Replace(body), site)
	})
}

// TestConsoleSignedInSeeds: each seed of FuzzConsoleSignedIn gets the
// answer it is there for.
func TestConsoleSignedInSeeds(t *testing.T) {
	fx := newFuzzFixture(t)
	for _, s := range fuzzSignedInSeeds {
		t.Run(s.name, func(t *testing.T) {
			x := fx.signedIn(t, s.role, s.method, fx.expand(s.path), fx.expand(s.query), fx.expand(s.body), s.site)
			if x == nil {
				t.Fatal("the request was not sent")
			}
			if loc := x.header.Get("Location"); x.code != s.code || !strings.HasPrefix(loc, fx.expand(s.location)) {
				t.Errorf("%d to %q, want %d to %s…", x.code, loc, s.code, fx.expand(s.location))
			}
			if s.writes != "" && !slices.ContainsFunc(x.rec.writes, func(w string) bool { return strings.HasPrefix(w, s.writes) }) {
				t.Errorf("changes %v, want %s", x.rec.writes, s.writes)
			}
			if s.writes == "" && len(x.rec.writes) > 0 {
				t.Errorf("changes %v, want none", x.rec.writes)
			}
			if s.shows != "" && !strings.Contains(x.body, fx.expand(s.shows)) {
				t.Errorf("the page does not show %q:\n%s", fx.expand(s.shows), x.body)
			}
		})
	}
}

// The console's dependencies, as the fixture serves them.

// fuzzStore is the seeded store, recording the tenants each request reads
// and the changes it asks; the changes are recorded, not made, so that
// every input finds the same store.
type fuzzStore struct {
	Store
	f *fuzzFixture
}

func (s *fuzzStore) read(what, tenant string) { s.f.rec.read(what, tenant) }

func (s *fuzzStore) GetPass(ctx context.Context, tenant, serial string) (*pass.Pass, error) {
	s.read("GetPass", tenant)
	return s.Store.GetPass(ctx, tenant, serial)
}

func (s *fuzzStore) PassByBarcode(ctx context.Context, tenant, barcode string) (*pass.Pass, error) {
	s.read("PassByBarcode", tenant)
	return s.Store.PassByBarcode(ctx, tenant, barcode)
}

func (s *fuzzStore) PassesByOrder(ctx context.Context, tenant, secretToken string) ([]pass.Pass, error) {
	s.read("PassesByOrder", tenant)
	return s.Store.PassesByOrder(ctx, tenant, secretToken)
}

func (s *fuzzStore) HolderPasses(ctx context.Context, tenant string, fileID int64, keys ...string) ([]pass.Pass, error) {
	s.read("HolderPasses", tenant)
	return s.Store.HolderPasses(ctx, tenant, fileID, keys...)
}

func (s *fuzzStore) Timeline(ctx context.Context, tenant, secretToken string, fileID int64) ([]pass.TimelineEntry, error) {
	s.read("Timeline", tenant)
	return s.Store.Timeline(ctx, tenant, secretToken, fileID)
}

func (s *fuzzStore) ListVersions(ctx context.Context, tenant, serial string) ([]pass.Pass, error) {
	s.read("ListVersions", tenant)
	return s.Store.ListVersions(ctx, tenant, serial)
}

func (s *fuzzStore) DevicesForPass(ctx context.Context, tenant, passTypeID, serial string) ([]pass.Device, error) {
	s.read("DevicesForPass", tenant)
	return s.Store.DevicesForPass(ctx, tenant, passTypeID, serial)
}

func (s *fuzzStore) PassInstalls(ctx context.Context, tenant, serial string) (pass.Installs, error) {
	s.read("PassInstalls", tenant)
	return s.Store.PassInstalls(ctx, tenant, serial)
}

func (s *fuzzStore) QueueCounts(ctx context.Context, tenant string, now time.Time) ([]pass.QueueCount, error) {
	s.read("QueueCounts", tenant)
	return s.Store.QueueCounts(ctx, tenant, now)
}

func (s *fuzzStore) TenantTasks(ctx context.Context, tenant string, state pass.TaskState, kind string, limit int) ([]pass.Task, error) {
	s.read("TenantTasks", tenant)
	return s.Store.TenantTasks(ctx, tenant, state, kind, limit)
}

func (s *fuzzStore) AuditLog(ctx context.Context, tenants []string, limit int) ([]pass.AuditEntry, error) {
	if tenants == nil {
		s.read("AuditLog", "") // every tenant's
	}
	for _, t := range tenants {
		s.read("AuditLog", t)
	}
	return s.Store.AuditLog(ctx, tenants, limit)
}

func (s *fuzzStore) PushLog(ctx context.Context, tenant, serial string, limit int) ([]pass.PushRecord, error) {
	s.read("PushLog", tenant)
	return s.Store.PushLog(ctx, tenant, serial, limit)
}

func (s *fuzzStore) WalletHistory(ctx context.Context, tenant, serial string, limit int) ([]pass.WalletEvent, error) {
	s.read("WalletHistory", tenant)
	return s.Store.WalletHistory(ctx, tenant, serial, limit)
}

func (s *fuzzStore) StreamMessages(ctx context.Context, tenant, stream string, limit int) ([]pass.OutboundMessage, error) {
	s.read("StreamMessages", tenant)
	return s.Store.StreamMessages(ctx, tenant, stream, limit)
}

func (s *fuzzStore) AppNoticesSent(ctx context.Context, tenant, secretToken string) ([]pass.AppNoticeSent, error) {
	s.read("AppNoticesSent", tenant)
	return s.Store.AppNoticesSent(ctx, tenant, secretToken)
}

func (s *fuzzStore) UsagePerformances(ctx context.Context, tenant string, limit int) ([]pass.PerformanceUsage, error) {
	s.read("UsagePerformances", tenant)
	return s.Store.UsagePerformances(ctx, tenant, limit)
}

func (s *fuzzStore) PerformanceUsage(ctx context.Context, tenant string, performanceID int64) (pass.PerformanceUsage, error) {
	s.read("PerformanceUsage", tenant)
	return s.Store.PerformanceUsage(ctx, tenant, performanceID)
}

func (s *fuzzStore) Subscriptions(ctx context.Context, tenant string) ([]pass.Subscription, error) {
	s.read("Subscriptions", tenant)
	return s.Store.Subscriptions(ctx, tenant)
}

func (s *fuzzStore) SubscriptionHealth(ctx context.Context, tenant string) ([]pass.SubscriptionHealth, error) {
	s.read("SubscriptionHealth", tenant)
	return s.Store.SubscriptionHealth(ctx, tenant)
}

func (s *fuzzStore) Enqueue(_ context.Context, t pass.NewTask, _ time.Time) (pass.Enqueued, error) {
	s.f.rec.write("enqueue "+t.Kind, t.Tenant)
	return pass.Enqueued{TaskID: "fuzz", How: "created"}, nil
}

// taskWrite records a change of a task, under its tenant.
func (s *fuzzStore) taskWrite(ctx context.Context, what, id string) error {
	t, err := s.Store.GetTask(ctx, id)
	if err != nil {
		return err
	}
	s.f.rec.write(what, t.Tenant)
	return nil
}

func (s *fuzzStore) RetryTask(ctx context.Context, id string, _ time.Time) error {
	return s.taskWrite(ctx, "retry-task", id)
}

func (s *fuzzStore) DiscardTask(ctx context.Context, id string) error {
	return s.taskWrite(ctx, "discard-task", id)
}

func (s *fuzzStore) AddAudit(_ context.Context, e pass.AuditEntry) error {
	s.f.rec.writes = append(s.f.rec.writes, "audit "+e.Action)
	if e.Tenant != "" { // "": an action on no single tenant
		s.read("AddAudit", e.Tenant)
	}
	return nil
}

// fuzzVoider records the voids asked.
type fuzzVoider struct{ f *fuzzFixture }

func (v fuzzVoider) VoidTicket(_ context.Context, tenant, _ string, _ int64, _ string) (pass.Enqueued, error) {
	v.f.rec.write("void", tenant)
	return pass.Enqueued{TaskID: "fuzz", How: "created"}, nil
}

// fuzzVersions has one field per version and a fixed preview.
type fuzzVersions struct{ f *fuzzFixture }

func (v fuzzVersions) VersionFields(_ context.Context, tenant, _ string, version int) ([]pass.Field, error) {
	v.f.rec.read("VersionFields", tenant)
	return []pass.Field{{Key: "version", Value: fmt.Sprint(version)}}, nil
}

func (v fuzzVersions) VersionPreview(_ context.Context, tenant, _ string, _ int, _ string) ([]byte, error) {
	v.f.rec.read("VersionPreview", tenant)
	return []byte(`<!doctype html><html><body><p>front</p><p>back</p></body></html>`), nil
}

// fuzzIdP is the identity provider, in process: discovery, its key, a
// token endpoint that takes fuzzCodes (whatever the verifier: the PKCE
// check is the provider's, not the console's) and signs an ID token for
// fuzzLogin's nonce, and an end-session endpoint.
type fuzzIdP struct {
	f   *fuzzFixture
	key *rsa.PrivateKey
	now pass.Clock
}

func (p *fuzzIdP) RoundTrip(r *http.Request) (*http.Response, error) {
	var form url.Values
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		form, _ = url.ParseQuery(string(b))
	}
	status, answer := http.StatusOK, any(nil)
	switch r.URL.Scheme + "://" + r.URL.Host + r.URL.Path {
	case fuzzIssuer + "/.well-known/openid-configuration":
		answer = map[string]any{"issuer": fuzzIssuer, "authorization_endpoint": fuzzIssuer + "/authorize",
			"token_endpoint": fuzzIssuer + "/token", "jwks_uri": fuzzIssuer + "/jwks", "end_session_endpoint": fuzzIssuer + "/logout",
			"id_token_signing_alg_values_supported": []string{"RS256"}}
	case fuzzIssuer + "/jwks":
		b64 := base64.RawURLEncoding.EncodeToString
		answer = map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": b64(p.key.N.Bytes()), "e": b64(big.NewInt(int64(p.key.E)).Bytes())}}}
	case fuzzIssuer + "/token":
		code := form.Get("code")
		roles, ok := fuzzCodes[code]
		if !ok {
			p.f.rec.idp = append(p.f.rec.idp, "refused")
			status, answer = http.StatusBadRequest, map[string]any{"error": "invalid_grant"}
			break
		}
		p.f.rec.idp = append(p.f.rec.idp, code)
		now := p.now()
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": fuzzIssuer, "aud": fuzzClientID, "sub": fuzzSubject,
			"name": "Fuzz <Op>", "nonce": fuzzNonce, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "roles": roles})
		tok.Header["kid"] = "k1"
		idt, err := tok.SignedString(p.key)
		if err != nil {
			return nil, err
		}
		answer = map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": idt}
	default:
		status, answer = http.StatusNotFound, map[string]any{"error": "not_found"}
	}
	b, err := json.Marshal(answer)
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(b)),
		ContentLength: int64(len(b)), Request: r}, nil
}
