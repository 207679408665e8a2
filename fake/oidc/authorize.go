package oidc

import (
	"bytes"
	"encoding/base64"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// authRequest is a checked authorization request.
type authRequest struct {
	clientID, redirectURI, state, nonce, scope, challenge string
}

// grant is an outstanding authorization code.
type grant struct {
	authRequest
	user     User
	authTime time.Time
	expires  time.Time
}

// authError is a refused authorization request. With redirect it goes
// back to the client as error=code (RFC 6749 §4.1.2.1); without, the
// client or its redirect URI cannot be trusted and the browser gets a 400
// page.
type authError struct {
	code, desc string
	redirect   bool
}

// serveAuthorize serves GET /authorize (the login page) and POST
// /authorize (the chosen user).
func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			refusePage(w, "the form could not be read: "+err.Error())
			return
		}
		q = r.PostForm
	}
	req, aerr := p.checkAuthorize(q)
	if aerr != nil {
		if !aerr.redirect {
			refusePage(w, aerr.desc)
			return
		}
		redirect(w, r, req.redirectURI, url.Values{"error": {aerr.code}, "error_description": {aerr.desc}, "state": {req.state}})
		return
	}
	user := -1
	if r.Method == http.MethodGet {
		// A login_hint naming a user's subject signs that user in at
		// once, as a provider does for a browser already signed in there.
		if hint := q.Get("login_hint"); hint != "" {
			user = slices.IndexFunc(p.users, func(u User) bool { return u.Subject == hint })
		}
		if user < 0 {
			p.servePage(w, req, q)
			return
		}
	} else {
		i, err := strconv.Atoi(q.Get("user"))
		if err != nil || i < 0 || i >= len(p.users) {
			refusePage(w, "choose one of the users the login page offers")
			return
		}
		user = i
	}
	code, ok := p.issueCode(req, p.users[user])
	if !ok {
		redirect(w, r, req.redirectURI, url.Values{"error": {"temporarily_unavailable"},
			"error_description": {"too many outstanding authorization codes"}, "state": {req.state}})
		return
	}
	redirect(w, r, req.redirectURI, url.Values{"code": {code}, "state": {req.state}})
}

// checkAuthorize checks the parameters of an authorization request. The
// returned request holds the redirect URI and state when the error may be
// redirected.
func (p *Provider) checkAuthorize(q url.Values) (authRequest, *authError) {
	c, ok := p.clients[q.Get("client_id")]
	switch {
	case len(q["client_id"]) != 1 || len(q["redirect_uri"]) != 1:
		return authRequest{}, &authError{desc: "client_id and redirect_uri must each be given once"}
	case !ok:
		return authRequest{}, &authError{desc: "unknown client_id " + strconv.Quote(q.Get("client_id"))}
	case !slices.Contains(c.RedirectURIs, q.Get("redirect_uri")):
		return authRequest{}, &authError{desc: "redirect_uri " + strconv.Quote(q.Get("redirect_uri")) + " is not registered for this client"}
	}
	req := authRequest{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"), state: q.Get("state"),
		nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
	refuse := func(code, desc string) (authRequest, *authError) {
		return req, &authError{code: code, desc: desc, redirect: true}
	}
	for _, k := range []string{"response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method"} {
		if len(q[k]) > 1 {
			return refuse("invalid_request", k+" is repeated")
		}
	}
	scopes := strings.Fields(q.Get("scope"))
	switch {
	case q.Get("response_type") != "code":
		return refuse("unsupported_response_type", `response_type must be "code"`)
	case !slices.Contains(scopes, "openid"):
		return refuse("invalid_scope", `scope must contain "openid"`)
	case q.Get("code_challenge_method") != "S256":
		return refuse("invalid_request", "PKCE is required: code_challenge_method must be S256")
	case !isChallenge(req.challenge):
		return refuse("invalid_request", "code_challenge must be 43 base64url characters")
	}
	var granted []string
	for _, s := range scopes {
		if (s == "openid" || s == "profile" || s == "email") && !slices.Contains(granted, s) {
			granted = append(granted, s)
		}
	}
	req.scope = strings.Join(granted, " ")
	return req, nil
}

// isChallenge reports whether s looks like an S256 code challenge: the
// base64url encoding of 32 bytes, without padding.
func isChallenge(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return len(s) == 43 && err == nil && len(b) == 32
}

// issueCode stores a new authorization code for req and u, after
// forgetting the expired ones. It reports false when too many are
// outstanding.
func (p *Provider) issueCode(req authRequest, u User) (string, bool) {
	code := randomToken()
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	maps.DeleteFunc(p.codes, func(_ string, g grant) bool { return !now.Before(g.expires) })
	if len(p.codes) >= maxCodes {
		return "", false
	}
	p.codes[code] = grant{authRequest: req, user: u, authTime: now, expires: now.Add(codeLifetime)}
	return code, true
}

// redirect answers 303 to the redirect URI with params added to its own
// query; empty params are left out.
func redirect(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values) {
	u, _ := url.Parse(redirectURI) // checked by New
	q := u.Query()
	for k, v := range params {
		if v[0] != "" {
			q.Set(k, v[0])
		}
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// refusePage answers 400 with a text page saying why.
func refusePage(w http.ResponseWriter, why string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "Development login: the authorization request is refused: "+why+".", http.StatusBadRequest)
}

// servePage answers the login page, whose form posts q back with the
// chosen user.
func (p *Provider) servePage(w http.ResponseWriter, req authRequest, q url.Values) {
	type param struct{ Name, Value string }
	data := struct {
		Action   string
		ClientID string
		Params   []param
		Users    []User
	}{Action: p.issuer + "/authorize", ClientID: req.clientID, Users: p.users}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		for _, v := range q[k] {
			if k != "user" {
				data.Params = append(data.Params, param{k, v})
			}
		}
	}
	var buf bytes.Buffer
	if err := p.login.Execute(&buf, data); err != nil {
		http.Error(w, "render the login page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
	_, _ = buf.WriteTo(w)
}

// loginPage is the template of the login page.
const loginPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Development login</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.4}
fieldset{border:0;padding:0;margin:0}legend{font-weight:bold;margin-bottom:.5rem}
button{display:block;width:100%;text-align:left;margin:.5rem 0;padding:.75rem 1rem;font:inherit;color:#111;background:#f4f4f4;border:1px solid #666;border-radius:.5rem;cursor:pointer}
button:hover{background:#e6e6e6}button:focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}
.detail{display:block;font-size:.9em;color:#333}</style></head>
<body><main>
<h1>Development login</h1>
<p>This is the development identity provider of walletpass. It asks for no password: choose the user you want to be, and the client <strong>{{.ClientID}}</strong> receives that identity.</p>
<form method="post" action="{{.Action}}">
{{range .Params}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<fieldset><legend>Sign in as</legend>
{{range $i, $u := .Users}}<button type="submit" name="user" value="{{$i}}"><strong>{{or $u.Name $u.Subject}}</strong>
<span class="detail">{{if $u.Email}}{{$u.Email}}{{else}}no e-mail{{end}}</span>
<span class="detail">Roles: {{if $u.Roles}}{{join $u.Roles ", "}}{{else}}none{{end}}</span></button>
{{end}}</fieldset></form>
</main></body></html>
`
