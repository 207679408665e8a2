package google

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// GrantTypeJWTBearer is the grant_type of a service-account token request.
const GrantTypeJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// assertionSkew is how far an assertion's iat may be ahead of the fake's
// clock, and its exp behind it.
const assertionSkew = 5 * time.Minute

// maxAssertionLifetime is the longest exp-iat Google accepts.
const maxAssertionLifetime = time.Hour

// oauthError is an OAuth 2.0 error answer of the token endpoint.
func oauthError(status int, code, desc string) reply {
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	return reply{status: status, body: b}
}

// token serves POST /token: the JWT-bearer grant of a service account.
func (s *Server) token(r *http.Request, body []byte, now time.Time) reply {
	if r.Method != http.MethodPost {
		return oauthError(http.StatusMethodNotAllowed, "invalid_request", "The token endpoint only accepts POST.")
	}
	if len(body) > MaxBodyBytes {
		return oauthError(http.StatusRequestEntityTooLarge, "invalid_request", "The request body is too large.")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return oauthError(http.StatusBadRequest, "invalid_request", "The request body is not a valid form.")
	}
	if gt := form.Get("grant_type"); gt != GrantTypeJWTBearer {
		return oauthError(http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("Invalid grant_type: %s", gt))
	}
	assertion := form.Get("assertion")
	if assertion == "" {
		return oauthError(http.StatusBadRequest, "invalid_request", "Missing required parameter: assertion")
	}
	if s.saKey == nil {
		return oauthError(http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature. (the fake has no ServiceAccountPublicKey)")
	}
	claims, desc := verifyRS256(assertion, s.saKey)
	if desc != "" {
		return oauthError(http.StatusBadRequest, "invalid_grant", desc)
	}
	if s.saEmail != "" && claims.Iss != s.saEmail {
		return oauthError(http.StatusBadRequest, "invalid_grant", "Invalid grant: account not found")
	}
	wantAud := requestScheme(r) + "://" + r.Host + r.URL.Path
	if !audienceOK(claims.Aud, r) {
		return oauthError(http.StatusBadRequest, "invalid_grant", "Invalid JWT: Failed audience check. The right audience is "+wantAud)
	}
	if claims.Iat == nil || claims.Exp == nil {
		return oauthError(http.StatusBadRequest, "invalid_grant", "Invalid JWT: iat and exp are required.")
	}
	iat, exp := time.Unix(*claims.Iat, 0), time.Unix(*claims.Exp, 0)
	if !exp.After(iat) || exp.Sub(iat) > maxAssertionLifetime ||
		iat.After(now.Add(assertionSkew)) || exp.Before(now.Add(-assertionSkew)) {
		return oauthError(http.StatusBadRequest, "invalid_grant",
			"Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	}
	if !strings.Contains(" "+claims.Scope+" ", " "+Scope+" ") {
		return oauthError(http.StatusBadRequest, "invalid_scope",
			"Invalid OAuth scope or ID token audience provided. (want "+Scope+")")
	}

	var raw [32]byte
	_, _ = rand.Read(raw[:])
	tok := "ya29.fake-" + base64.RawURLEncoding.EncodeToString(raw[:])
	s.mu.Lock()
	for t, expiry := range s.tokens { // keep the map small
		if !expiry.After(now) {
			delete(s.tokens, t)
		}
	}
	s.tokens[tok] = now.Add(TokenLifetime)
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(TokenLifetime / time.Second),
	})
	return reply{status: http.StatusOK, body: b}
}

func requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// audienceOK accepts an aud that is an http(s) URL of the host the
// request came to, whose path ends in /token (the fake may be mounted
// under a prefix).
func audienceOK(aud json.RawMessage, r *http.Request) bool {
	var auds []string
	var one string
	if json.Unmarshal(aud, &one) == nil {
		auds = []string{one}
	} else if json.Unmarshal(aud, &auds) != nil {
		return false
	}
	for _, a := range auds {
		u, err := url.Parse(a)
		if err == nil && (u.Scheme == "http" || u.Scheme == "https") &&
			strings.EqualFold(u.Host, r.Host) && strings.HasSuffix(u.Path, "/token") {
			return true
		}
	}
	return false
}

type assertionClaims struct {
	Iss   string          `json:"iss"`
	Scope string          `json:"scope"`
	Aud   json.RawMessage `json:"aud"`
	Iat   *int64          `json:"iat"`
	Exp   *int64          `json:"exp"`
}

// verifyRS256 checks the form, algorithm and signature of a JWT and
// returns its claims, or a description of what is wrong.
func verifyRS256(jwt string, key *rsa.PublicKey) (assertionClaims, string) {
	var c assertionClaims
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return c, "Invalid JWT: the assertion is not a compact JWS."
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return c, "Invalid JWT: the assertion is not base64url encoded."
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &h) != nil {
		return c, "Invalid JWT: the header is not a JSON object."
	}
	if h.Alg != "RS256" {
		return c, fmt.Sprintf("Invalid JWT: alg %q is not RS256.", h.Alg)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig) != nil {
		return c, "Invalid JWT Signature."
	}
	if json.Unmarshal(cb, &c) != nil {
		return c, "Invalid JWT: the claim set is not a JSON object with the expected types."
	}
	return c, ""
}

// validToken reports whether r carries "Authorization: Bearer <t>" with an
// access token the fake issued that has not expired at now.
func (s *Server) validToken(r *http.Request, now time.Time) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[strings.TrimSpace(tok)]
	return ok && exp.After(now)
}

// unauthenticated is the 401 for a request without a valid access token.
func (s *Server) unauthenticated(r *http.Request) reply {
	var e *apiError
	if r.Header.Get("Authorization") == "" {
		e = newError(http.StatusUnauthorized, "required",
			"Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
	} else {
		e = newError(http.StatusUnauthorized, "authError",
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
	}
	rep := errorReply(e)
	rep.header = http.Header{"Www-Authenticate": {`Bearer realm="https://accounts.google.com/"`}}
	return rep
}

// ServiceAccountKeyJSON returns a service-account key file (the JSON
// Google's console downloads) for key, with the given client_email and
// token_uri (e.g. Server.TokenURL()), for option.WithAuthCredentialsJSON.
func ServiceAccountKeyJSON(key *rsa.PrivateKey, email, tokenURI string) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("fake google: %w", err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	sum := sha256.Sum256(der)
	return json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  "googletest",
		"private_key_id":              fmt.Sprintf("%x", sum[:20]),
		"private_key":                 string(pemKey),
		"client_email":                email,
		"client_id":                   "100000000000000000000",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	}, "", "  ")
}
