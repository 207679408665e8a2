package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The cookies: the session, and the sign-in in progress (state, nonce and
// PKCE verifier between the redirect to the identity provider and back).
const (
	sessionCookie = "walletpass_console"
	loginCookie   = "walletpass_console_login"
	loginTTL      = 10 * time.Minute
)

// session is who is signed in, what they may see, and the CSRF token of
// their forms.
type session struct {
	// ID names the session for its revocation (signing out); Issued is
	// when it began (an operator's sessions before a moment are revoked
	// together).
	ID      string    `json:"id,omitempty"`
	Issued  time.Time `json:"iat,omitzero"`
	Subject string    `json:"sub"`
	Name    string    `json:"name,omitempty"`
	Admin   bool      `json:"admin,omitempty"`
	Tenants []string  `json:"tenants,omitempty"`
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"exp"`
	Lang    string    `json:"lang,omitempty"`
}

// actor names the operator in the audit log.
func (s *session) actor() string {
	if s.Name != "" {
		return s.Name + " (" + s.Subject + ")"
	}
	return s.Subject
}

// may reports whether the session may see and act on the tenant's data.
func (s *session) may(tenant string) bool {
	return s.Admin || slices.Contains(s.Tenants, tenant)
}

// visible is the tenants the session sees, of those served, in order.
func (c *Console) visible(s *session) []Tenant {
	var out []Tenant
	for _, t := range c.cfg.Tenants {
		if s.may(t.ID) {
			out = append(out, t)
		}
	}
	return out
}

// claimAt is the claim name names: a top-level claim of that name (Auth0's
// URLs have dots), else the claim its dot-separated parts lead to through
// nested objects (Keycloak's "realm_access.roles",
// "resource_access.<client>.roles"); nil when there is none.
func claimAt(claims map[string]any, name string) any {
	if v, ok := claims[name]; ok {
		return v
	}
	var v any = claims
	for _, part := range strings.Split(name, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// rolesOf reads the roles claim: a string (space- or comma-separated) or
// a list of strings. It returns whether "admin" is among them and the
// tenants of the "operator:<tenant>" roles that name a served tenant,
// each once, in the order the claim names them.
func (c *Console) rolesOf(claim any) (admin bool, tenants []string) {
	var roles []string
	switch v := claim.(type) {
	case string:
		roles = strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })
	case []any:
		for _, r := range v {
			if s, ok := r.(string); ok {
				roles = append(roles, s)
			}
		}
	}
	for _, r := range roles {
		if r == "admin" {
			admin = true
		} else if t, ok := strings.CutPrefix(r, "operator:"); ok {
			if _, served := c.tenants[t]; served && !slices.Contains(tenants, t) {
				tenants = append(tenants, t)
			}
		}
	}
	return admin, tenants
}

// seal signs v as base64url(JSON).base64url(HMAC-SHA256), under a purpose
// so that one cookie's value cannot stand for another's.
func (c *Console) seal(purpose string, v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	body := base64.RawURLEncoding.EncodeToString(raw)
	return body + "." + base64.RawURLEncoding.EncodeToString(c.mac(purpose, body)), nil
}

// open checks a sealed value and decodes it into v.
func (c *Console) open(purpose, sealed string, v any) error {
	body, sig, ok := strings.Cut(sealed, ".")
	if !ok || len(sealed) > 3500 {
		return errors.New("malformed")
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, c.mac(purpose, body)) {
		return errors.New("bad signature")
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

func (c *Console) mac(purpose, body string) []byte {
	m := hmac.New(sha256.New, c.cfg.SessionKey)
	m.Write([]byte("walletpass console " + purpose + "\x00" + body))
	return m.Sum(nil)
}

// setCookie writes a console cookie: HttpOnly, SameSite=Lax (the identity
// provider's redirect back is a top-level GET from another site), Secure
// where browsers keep it, limited to /console/.
func (c *Console) setCookie(w http.ResponseWriter, name, value string, ttl time.Duration) {
	ck := &http.Cookie{Name: name, Value: value, Path: "/console/", HttpOnly: true, Secure: c.secure,
		SameSite: http.SameSiteLaxMode}
	if ttl > 0 {
		ck.MaxAge = int(ttl / time.Second)
	} else {
		ck.MaxAge = -1
	}
	http.SetCookie(w, ck)
}

// current returns the request's valid session, or nil.
func (c *Console) current(r *http.Request) *session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	var s session
	if c.open("session", ck.Value, &s) != nil || !c.cfg.Clock.Now().Before(s.Expires) || s.Subject == "" || s.CSRF == "" {
		return nil
	}
	if c.cfg.Revocations != nil {
		// A session signed out, or of an operator whose sessions were
		// revoked since it began, is over; so is the session when the
		// store cannot say (it fails closed).
		if revoked, err := c.cfg.Revocations.ConsoleSessionRevoked(r.Context(), s.ID, s.Subject, s.Issued); err != nil || revoked {
			return nil
		}
	}
	return &s
}

// authed runs h with the request's session. Without one, a page request
// goes to sign-in (and comes back after); a form post is refused. A form
// post must carry the session's CSRF token and must not come from
// another site.
func (c *Console) authed(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.current(r)
		if s == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, nil, http.StatusUnauthorized, "signInFirst")
			return
		}
		if l := r.URL.Query().Get("lang"); l != "" && r.Method == http.MethodGet && slices.Contains(languages, l) && l != s.Lang {
			s.Lang = l
			if v, err := c.seal("session", s); err == nil {
				c.setCookie(w, sessionCookie, v, time.Until(s.Expires))
			}
		}
		if r.Method == http.MethodPost {
			if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
				c.fail(w, r, s, http.StatusForbidden, "crossSite")
				return
			}
			if err := r.ParseForm(); err != nil {
				c.fail(w, r, s, http.StatusBadRequest, "badForm")
				return
			}
			if !sameSecret(r.PostForm.Get("csrf"), s.CSRF) {
				c.fail(w, r, s, http.StatusForbidden, "badCSRF")
				return
			}
		}
		h(w, r, s)
	}
}

// randomToken returns 32 random bytes, base64url.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// safeNext keeps a return path inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/"
	}
	return next
}

// sameSecret compares a secret (a CSRF token, the sign-in's state and
// nonce, an order's secret token) with what was given, in constant time.
func sameSecret(given, want string) bool {
	return subtle.ConstantTimeCompare([]byte(given), []byte(want)) == 1
}
