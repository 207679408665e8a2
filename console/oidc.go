package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// oidcClient is the identity provider, discovered.
type oidcClient struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	// endSession is the provider's end-session endpoint (RP-Initiated
	// Logout), "" when it has none.
	endSession string
}

// provider discovers the identity provider on first use (it may be served
// by this very process, not listening yet when the console is built) and
// keeps it; a failed discovery is tried again at the next sign-in.
func (c *Console) provider(ctx context.Context) (*oidcClient, error) {
	c.oidcMu.Lock()
	defer c.oidcMu.Unlock()
	if c.oidc != nil {
		return c.oidc, nil
	}
	ctx = oidc.ClientContext(ctx, c.cfg.HTTPClient)
	p, err := oidc.NewProvider(ctx, c.cfg.OIDC.Issuer)
	if err != nil {
		return nil, fmt.Errorf("console: identity provider %s: %w", c.cfg.OIDC.Issuer, err)
	}
	// One way of authenticating, the one the provider is set up for: left
	// to detect, the client sends a refused code again the other way, and
	// the provider's answer to the first is lost.
	endpoint := p.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInHeader
	if c.cfg.OIDC.TokenAuthMethod == "client_secret_post" {
		endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&meta) // discovery decoded already: a field missing is none
	c.oidc = &oidcClient{endSession: meta.EndSession,
		oauth: oauth2.Config{ClientID: c.cfg.OIDC.ClientID, ClientSecret: c.cfg.OIDC.ClientSecret,
			RedirectURL: c.cfg.BaseURL + "/console/callback", Endpoint: endpoint,
			Scopes: []string{oidc.ScopeOpenID, "profile", "email"}},
		verifier: p.Verifier(&oidc.Config{ClientID: c.cfg.OIDC.ClientID, Now: c.cfg.Clock.Now}),
	}
	return c.oidc, nil
}

// pendingLogin is what the login cookie holds between the redirect to the
// identity provider and the way back.
type pendingLogin struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Next     string    `json:"next"`
	Expires  time.Time `json:"exp"`
}

// login sends the browser to the identity provider: authorization code
// flow, PKCE (S256), a fresh state and nonce.
// maxLoginHint bounds the login_hint passed on to the identity provider.
const maxLoginHint = 200

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !c.allowSignIn(r) {
		w.Header().Set("Retry-After", "5")
		c.fail(w, r, nil, http.StatusTooManyRequests, "slowDown")
		return
	}
	if base, err := url.Parse(c.cfg.BaseURL); err == nil && r.Host != "" && !strings.EqualFold(r.Host, base.Host) {
		// The identity provider sends the browser back to the base URL:
		// start there, so that the sign-in's cookie is found on return
		// (localhost and 127.0.0.1 keep separate cookies).
		http.Redirect(w, r, c.cfg.BaseURL+r.URL.RequestURI(), http.StatusSeeOther)
		return
	}
	p, err := c.provider(r.Context())
	if err != nil {
		// A refused discovery's error holds the provider's whole answer.
		c.cfg.Log.Error("console sign-in", slog.String("error", loggable(err.Error(), maxLoggedError)))
		c.fail(w, r, nil, http.StatusBadGateway, "idpDown")
		return
	}
	pl := pendingLogin{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Next: safeNext(r.URL.Query().Get("next")), Expires: c.cfg.Clock.Now().Add(loginTTL)}
	v, err := c.seal("login", pl)
	if err != nil {
		c.fail(w, r, nil, http.StatusInternalServerError, "internal")
		return
	}
	c.setCookie(w, loginCookie, v, loginTTL)
	opts := []oauth2.AuthCodeOption{oidc.Nonce(pl.Nonce), oauth2.S256ChallengeOption(pl.Verifier)}
	if hint := r.URL.Query().Get("login_hint"); hint != "" && len(hint) <= maxLoginHint {
		// Who is signing in, when the link says: the provider may fill it in.
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
	}
	http.Redirect(w, r, p.oauth.AuthCodeURL(pl.State, opts...), http.StatusSeeOther)
}

// callback is the identity provider's redirect back: the state must be
// the login cookie's, the code is exchanged with the PKCE verifier, the ID
// token verified (issuer, audience, expiry, signature) and its nonce
// checked; the roles claim decides what the session sees.
func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	if !c.allowSignIn(r) {
		w.Header().Set("Retry-After", "5")
		c.fail(w, r, nil, http.StatusTooManyRequests, "slowDown")
		return
	}
	var pl pendingLogin
	ck, err := r.Cookie(loginCookie)
	if err != nil || c.open("login", ck.Value, &pl) != nil || !c.cfg.Clock.Now().Before(pl.Expires) {
		c.fail(w, r, nil, http.StatusBadRequest, "loginExpired")
		return
	}
	c.setCookie(w, loginCookie, "", 0) // one use
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		c.cfg.Log.Warn("console sign-in refused", slog.String("error", loggable(e, maxLoggedParam)))
		c.fail(w, r, nil, http.StatusForbidden, "idpRefused")
		return
	}
	if !sameSecret(q.Get("state"), pl.State) || q.Get("code") == "" {
		c.fail(w, r, nil, http.StatusBadRequest, "loginExpired")
		return
	}
	p, err := c.provider(r.Context())
	if err != nil {
		c.fail(w, r, nil, http.StatusBadGateway, "idpDown")
		return
	}
	ctx := oidc.ClientContext(r.Context(), c.cfg.HTTPClient)
	tok, err := p.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pl.Verifier))
	if err != nil {
		c.cfg.Log.Warn("console sign-in: code exchange", exchangeError(err)...)
		c.fail(w, r, nil, http.StatusBadGateway, "idpRefused")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil || !sameSecret(idt.Nonce, pl.Nonce) {
		// The verifier's error may quote the provider's answer (a
		// refused key set's body) or the token's claims.
		why := "another nonce"
		if err != nil {
			why = loggable(err.Error(), maxLoggedError)
		}
		c.cfg.Log.Warn("console sign-in: ID token refused", slog.String("error", why))
		c.fail(w, r, nil, http.StatusForbidden, "idpRefused")
		return
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		c.fail(w, r, nil, http.StatusForbidden, "idpRefused")
		return
	}
	claim := claimAt(claims, c.cfg.OIDC.RoleClaim)
	admin, tenants := c.rolesOf(claim)
	name, _ := claims["name"].(string)
	if !validSubject(idt.Subject) {
		// OpenID Connect's sub is at most 255 ASCII characters: it is
		// logged, audited and revoked by (console signout).
		c.cfg.Log.Warn("console sign-in: ID token refused", slog.String("error", "its sub is not 1 to 255 printable ASCII characters"))
		c.fail(w, r, nil, http.StatusForbidden, "idpRefused")
		return
	}
	name = displayName(name)
	now := c.cfg.Clock.Now()
	s := &session{ID: randomToken(), Issued: now, Subject: idt.Subject, Name: name, Admin: admin, Tenants: tenants, CSRF: randomToken(),
		Expires: now.Add(c.cfg.SessionTTL), Lang: pageLanguage(r)}
	if !admin && len(tenants) == 0 {
		why := "no console role"
		if claim == nil {
			why += " (the ID token has no claim " + c.cfg.OIDC.RoleClaim + ")"
		}
		c.record(r.Context(), s, "", "login-refused", "", why)
		c.fail(w, r, nil, http.StatusForbidden, "noRole")
		return
	}
	v, err := c.seal("session", s)
	if err != nil {
		c.fail(w, r, nil, http.StatusInternalServerError, "internal")
		return
	}
	c.setCookie(w, sessionCookie, v, c.cfg.SessionTTL)
	c.record(r.Context(), s, "", "login", "", "")
	http.Redirect(w, r, pl.Next, http.StatusSeeOther)
}

// What the log keeps of text from outside: the callback's error parameter
// (anyone holding a sign-in cookie sets it) and the identity provider's
// answers (a refused exchange's body may be a megabyte of anything).
const (
	maxLoggedParam = 64
	maxLoggedError = 200
)

// loggable returns s as a log line may hold text from outside: printable
// ASCII (any other character is '?'), at most n characters and "..." when
// cut, so that it can neither start a line of its own nor fill the log.
func loggable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			b.WriteString("...")
			break
		}
		if r < ' ' || r > '~' {
			r = '?'
		}
		b.WriteByte(byte(r))
	}
	return b.String()
}

// validSubject reports whether sub is an OpenID Connect subject as the
// console keeps it: 1 to 255 printable ASCII characters.
func validSubject(sub string) bool {
	return sub != "" && len(sub) <= 255 && !strings.ContainsFunc(sub, func(r rune) bool { return r < ' ' || r > '~' })
}

// maxName bounds the display name the console keeps of an operator (the
// ID token's name claim, which users often set themselves).
const maxName = 100

// displayName is name without control characters, at most maxName
// characters.
func displayName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	if rs := []rune(name); len(rs) > maxName {
		name = string(rs[:maxName])
	}
	return name
}

// exchangeError is what the log says of a failed code exchange: the
// provider's OAuth error and description and the HTTP status, bounded.
// Never the body of its answer, which oauth2's error text holds whole
// when the answer has no error code.
func exchangeError(err error) []any {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return []any{slog.String("error", loggable(err.Error(), maxLoggedError))}
	}
	var attrs []any
	if re.ErrorCode != "" {
		attrs = append(attrs, slog.String("error", loggable(re.ErrorCode, maxLoggedParam)))
	}
	if re.ErrorDescription != "" {
		attrs = append(attrs, slog.String("description", loggable(re.ErrorDescription, maxLoggedError)))
	}
	if re.Response != nil {
		attrs = append(attrs, slog.Int("status", re.Response.StatusCode))
	}
	return attrs
}

// logout ends the session, and then the identity provider's when it has
// an end-session endpoint: otherwise "Sign in" on a shared desk would
// sign the same operator in again without a word. The provider sends the
// browser back to /console/signedout.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	if c.cfg.Revocations != nil && s.ID != "" {
		// The cookie may have been copied: the session itself ends.
		if err := c.cfg.Revocations.RevokeConsoleSession(r.Context(), s.ID, s.Expires, c.cfg.Clock.Now()); err != nil {
			c.failErr(w, r, s, err)
			return
		}
	}
	c.setCookie(w, sessionCookie, "", 0)
	c.record(r.Context(), s, "", "logout", "", "")
	if p, err := c.provider(r.Context()); err == nil && p.endSession != "" {
		if u, err := url.Parse(p.endSession); err == nil {
			q := u.Query()
			q.Set("client_id", c.cfg.OIDC.ClientID)
			q.Set("post_logout_redirect_uri", c.cfg.BaseURL+"/console/signedout")
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
	}
	c.signedOut(w, r)
}

// signedOut says the operator is signed out (where the identity provider
// sends them back after its own sign-out).
func (c *Console) signedOut(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, nil, http.StatusOK, "signedout", nil)
}
