package oidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// codeLifetime is how long an authorization code may be exchanged.
	codeLifetime = 60 * time.Second
	// tokenLifetime is the lifetime of ID and access tokens.
	tokenLifetime = 5 * time.Minute
	// maxCodes bounds the outstanding authorization codes.
	maxCodes = 10_000
	// maxBody is the largest form body the provider reads.
	maxBody = 64 << 10
)

// User is an identity the login page offers.
type User struct {
	Subject string   // the "sub" claim; not empty, unique among the users
	Name    string   // the "name" claim
	Email   string   // the "email" claim
	Roles   []string // the "roles" claim, e.g. "admin", "operator:demo"
}

// Client is a registered OAuth 2.0 client (a relying party).
type Client struct {
	// Secret authenticates the client at the token endpoint. "" makes it a
	// public client: it authenticates with nothing, PKCE alone binds its
	// code to it.
	Secret string
	// RedirectURIs are the absolute URIs (without fragment) the client may
	// ask to be sent back to; a request must name one of them exactly.
	RedirectURIs []string
	// PostLogoutRedirectURIs are where the end-session endpoint may send
	// a signed-out user back to (OpenID Connect RP-Initiated Logout); a
	// request must name one of them exactly.
	PostLogoutRedirectURIs []string
}

// Options configure a Provider.
type Options struct {
	// Issuer is the full issuer URL, e.g. "http://127.0.0.1:8080/dev/oidc",
	// without a trailing slash; every endpoint is under it.
	Issuer string
	// Clients are the registered clients, by client_id.
	Clients map[string]Client
	// Users are offered on the login page, in this order.
	Users []User
	// Now is the provider's clock, for code expiry and token times. Nil
	// means time.Now.
	Now func() time.Time
}

// Provider is a development OpenID Connect provider. It is an
// http.Handler that routes on the full request path (mount it without
// stripping the issuer's path) and is safe for concurrent use.
type Provider struct {
	issuer  string
	path    string // the issuer URL's path, e.g. "/dev/oidc" or ""
	clients map[string]Client
	users   []User
	now     func() time.Time
	key     *ecdsa.PrivateKey
	jwk     jwk
	login   *template.Template

	mu    sync.Mutex
	codes map[string]grant // outstanding authorization codes
}

// jwk is the public signing key as a JSON Web Key (RFC 7517, 7518 §6.2).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// New returns a provider with a fresh ECDSA P-256 signing key. It returns
// an error for an issuer that is empty or not an http(s) URL without
// query, fragment and trailing slash, for no clients or a client without
// redirect URIs, and for no users or a user without (or with a repeated)
// subject.
func New(opts Options) (*Provider, error) {
	if opts.Issuer == "" {
		return nil, errors.New("fake oidc: the issuer is empty")
	}
	iss, err := url.Parse(opts.Issuer)
	if err != nil {
		return nil, fmt.Errorf("fake oidc: issuer: %w", err)
	}
	if (iss.Scheme != "http" && iss.Scheme != "https") || iss.Host == "" || iss.User != nil ||
		iss.RawQuery != "" || iss.ForceQuery || iss.Fragment != "" || strings.HasSuffix(iss.Path, "/") {
		return nil, fmt.Errorf("fake oidc: issuer %q is not an http(s) URL without query, fragment and trailing slash", opts.Issuer)
	}
	if len(opts.Clients) == 0 {
		return nil, errors.New("fake oidc: no clients")
	}
	clients := make(map[string]Client, len(opts.Clients))
	for id, c := range opts.Clients {
		if id == "" || len(c.RedirectURIs) == 0 {
			return nil, fmt.Errorf("fake oidc: client %q needs a client_id and redirect URIs", id)
		}
		for _, ru := range c.RedirectURIs {
			if u, err := url.Parse(ru); err != nil || !u.IsAbs() || u.Fragment != "" {
				return nil, fmt.Errorf("fake oidc: client %q: redirect URI %q is not an absolute URI without fragment", id, ru)
			}
		}
		clients[id] = Client{Secret: c.Secret, RedirectURIs: slices.Clone(c.RedirectURIs), PostLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs)}
	}
	if len(opts.Users) == 0 {
		return nil, errors.New("fake oidc: no users")
	}
	users := make([]User, len(opts.Users))
	for i, u := range opts.Users {
		if u.Subject == "" || slices.ContainsFunc(users[:i], func(o User) bool { return o.Subject == u.Subject }) {
			return nil, fmt.Errorf("fake oidc: user %d: the subject %q is empty or repeated", i, u.Subject)
		}
		u.Roles = append([]string{}, u.Roles...) // never null in the ID token
		users[i] = u
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fake oidc: generate the signing key: %w", err)
	}
	pub, err := key.PublicKey.Bytes() // 0x04 || X || Y, 32 bytes each
	if err != nil {
		return nil, fmt.Errorf("fake oidc: encode the signing key: %w", err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	k := jwk{Kty: "EC", Crv: "P-256", X: b64(pub[1:33]), Y: b64(pub[33:]), Alg: "ES256", Use: "sig"}
	// The key ID is the key's thumbprint (RFC 7638).
	thumb := sha256.Sum256(fmt.Appendf(nil, `{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, k.X, k.Y))
	k.Kid = b64(thumb[:])
	login, err := template.New("login").Funcs(template.FuncMap{"join": strings.Join}).Parse(loginPage)
	if err != nil {
		return nil, fmt.Errorf("fake oidc: parse the login page: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Provider{
		issuer: opts.Issuer, path: iss.Path, clients: clients, users: users, now: now,
		key: key, jwk: k, login: login, codes: make(map[string]grant),
	}, nil
}

// ServeHTTP serves the provider's endpoints (see the package
// documentation) under the issuer URL's path.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel, ok := strings.CutPrefix(r.URL.Path, p.path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch rel {
	case "/.well-known/openid-configuration":
		if allow(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, p.discovery())
		}
	case "/jwks":
		if allow(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, map[string][]jwk{"keys": {p.jwk}})
		}
	case "/authorize":
		if allow(w, r, http.MethodGet, http.MethodPost) {
			p.serveAuthorize(w, r)
		}
	case "/token":
		if allow(w, r, http.MethodPost) {
			p.serveToken(w, r)
		}
	case "/logout":
		if allow(w, r, http.MethodGet, http.MethodPost) {
			p.serveLogout(w, r)
		}
	default:
		http.NotFound(w, r)
	}
}

// discovery is the OpenID Provider metadata (OpenID Connect Discovery
// 1.0 §3, RFC 8414).
func (p *Provider) discovery() map[string]any {
	return map[string]any{
		"issuer":                                p.issuer,
		"authorization_endpoint":                p.issuer + "/authorize",
		"token_endpoint":                        p.issuer + "/token",
		"jwks_uri":                              p.issuer + "/jwks",
		"end_session_endpoint":                  p.issuer + "/logout",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"scopes_supported":                      []string{"openid", "profile", "email"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"grant_types_supported":                 []string{"authorization_code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"claims_supported": []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce",
			"name", "email", "roles"},
	}
}

// serveLogout is the end-session endpoint (OpenID Connect RP-Initiated
// Logout 1.0): it ends the user's session here (the fake keeps none) and
// sends them back to the client's post_logout_redirect_uri, which must be
// one the client_id registered, with state when one was given.
func (p *Provider) serveLogout(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Development logout: the request is malformed.", http.StatusBadRequest)
		return
	}
	back := r.Form.Get("post_logout_redirect_uri")
	if back == "" {
		_, _ = io.WriteString(w, "You are signed out of the development provider.\n")
		return
	}
	cl, ok := p.clients[r.Form.Get("client_id")]
	if !ok || !slices.Contains(cl.PostLogoutRedirectURIs, back) {
		http.Error(w, "Development logout: post_logout_redirect_uri is not one the client registered.", http.StatusBadRequest)
		return
	}
	if st := r.Form.Get("state"); st != "" {
		u, _ := url.Parse(back)
		q := u.Query()
		q.Set("state", st)
		u.RawQuery = q.Encode()
		back = u.String()
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// allow reports whether r's method is one of methods; if not, it answers
// 405 with an Allow header.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// randomToken returns 32 random bytes, base64url without padding.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
