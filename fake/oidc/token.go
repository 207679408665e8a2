package oidc

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// serveToken serves POST /token: the authorization_code grant with PKCE.
func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the body must be a form of at most 64 KiB")
		return
	}
	f := r.PostForm
	switch f.Get("grant_type") {
	case "authorization_code":
	case "":
		tokenError(w, http.StatusBadRequest, "invalid_request", "grant_type is missing")
		return
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code")
		return
	}
	clientID, ok := p.authenticate(w, r)
	if !ok {
		return
	}
	// The code is spent now, whatever comes next.
	code := f.Get("code")
	p.mu.Lock()
	g, found := p.codes[code]
	delete(p.codes, code)
	p.mu.Unlock()
	now := p.now()
	verifier := f.Get("code_verifier")
	why := ""
	switch {
	case !found:
		why = "the code is unknown or was already used"
	case !now.Before(g.expires):
		why = "the code has expired"
	case g.clientID != clientID:
		why = "the code was issued to another client"
	case f.Get("redirect_uri") != g.redirectURI:
		why = "redirect_uri is not the one of the authorization request"
	case verifier == "":
		why = "code_verifier is missing"
	case !isVerifier(verifier):
		why = "code_verifier must be 43 to 128 unreserved characters"
	case !matchesChallenge(verifier, g.challenge):
		why = "code_verifier does not match the code_challenge"
	}
	if why != "" {
		tokenError(w, http.StatusBadRequest, "invalid_grant", why)
		return
	}
	idToken, err := p.idToken(g, now)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": randomToken(),
		"token_type":   "Bearer",
		"expires_in":   int(tokenLifetime / time.Second),
		"id_token":     idToken,
		"scope":        g.scope,
	})
}

// authenticate authenticates the client of a token request (RFC 6749
// §2.3.1) and returns its client_id; on failure it has answered.
func (p *Provider) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	f := r.PostForm
	id, secret, basic := r.BasicAuth()
	if basic {
		// Both halves are form-encoded before Basic encoding.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			id, secret = "", ""
		}
		if f.Has("client_secret") || (f.Has("client_id") && f.Get("client_id") != id) {
			tokenError(w, http.StatusBadRequest, "invalid_request", "use one client authentication method: Basic, or client_id and client_secret in the form")
			return "", false
		}
	} else {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	c, known := p.clients[id]
	why := ""
	switch {
	case !known:
		why = "unknown client"
	case c.Secret == "" && secret != "":
		why = "the client is public and has no secret"
	case c.Secret != "" && !sameSecret(secret, c.Secret):
		why = "wrong or missing client secret"
	}
	if why == "" {
		return id, true
	}
	if basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+p.issuer+`"`)
	}
	tokenError(w, http.StatusUnauthorized, "invalid_client", why)
	return "", false
}

// sameSecret compares two secrets in constant time (of their hashes, so
// that not even the length leaks).
func sameSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// isVerifier reports whether v is a well-formed PKCE code verifier (RFC
// 7636 §4.1).
func isVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	return strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") == ""
}

// matchesChallenge reports, in constant time, whether
// BASE64URL(SHA256(verifier)) is challenge (RFC 7636 §4.6).
func matchesChallenge(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// idToken signs the ID token of g (OpenID Connect Core §2) with ES256.
func (p *Provider) idToken(g grant, now time.Time) (string, error) {
	claims := jwt.MapClaims{
		"iss":       p.issuer,
		"sub":       g.user.Subject,
		"aud":       g.clientID,
		"exp":       now.Add(tokenLifetime).Unix(),
		"iat":       now.Unix(),
		"auth_time": g.authTime.Unix(),
		"name":      g.user.Name,
		"email":     g.user.Email,
		"roles":     g.user.Roles,
	}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["kid"] = p.jwk.Kid
	s, err := t.SignedString(p.key)
	if err != nil {
		return "", fmt.Errorf("sign the ID token: %w", err)
	}
	return s, nil
}

// tokenError answers an OAuth 2.0 error (RFC 6749 §5.2).
func tokenError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}
