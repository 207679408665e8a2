package fcm

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"time"
)

// jwtBearerGrant is the OAuth 2 grant a service account uses (RFC 7523).
const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// accessTokenLifetime is the expires_in of the tokens the fake issues.
const accessTokenLifetime = time.Hour

// assertionSkew is how far in the future an assertion's iat may be.
const assertionSkew = 5 * time.Minute

// serveToken is the OAuth 2 token endpoint of a service account
// (POST /token, the token_uri of ServiceAccountJSON): it exchanges a signed
// JWT assertion for an access token that RequireAuth accepts. When
// Options.TokenKey is set, the assertion must be signed with its private
// key; it must always be an RS256 JWT with iss, scope and an unexpired exp.
func (h *Handler) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBody)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the body must be a form")
		return
	}
	if r.PostForm.Get("grant_type") != jwtBearerGrant {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be "+jwtBearerGrant)
		return
	}
	if reason := h.checkAssertion(r.PostForm.Get("assertion"), time.Now()); reason != "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", reason)
		return
	}
	tok := "fcmtest-" + randomHex(16)
	h.mu.Lock()
	h.issued[tok] = true
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(accessTokenLifetime / time.Second),
	})
}

// checkAssertion returns "" for an acceptable JWT assertion, or why not.
func (h *Handler) checkAssertion(jwt string, now time.Time) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "the assertion is not a JWT"
	}
	var header struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
		Iat   int64  `json:"iat"`
		Exp   int64  `json:"exp"`
	}
	if decodeSegment(parts[0], &header) != nil || decodeSegment(parts[1], &claims) != nil {
		return "the assertion is not a JWT"
	}
	switch {
	case header.Alg != "RS256":
		return "the assertion must be signed with RS256"
	case claims.Iss == "" || claims.Scope == "":
		return "the assertion needs iss and scope"
	case time.Unix(claims.Exp, 0).Before(now):
		return "the assertion has expired"
	case time.Unix(claims.Iat, 0).After(now.Add(assertionSkew)):
		return "the assertion was issued in the future"
	}
	if h.opts.TokenKey != nil {
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err != nil || rsa.VerifyPKCS1v15(h.opts.TokenKey, crypto.SHA256, digest[:], sig) != nil {
			return "invalid JWT signature"
		}
	}
	return ""
}

// decodeSegment decodes one base64url JSON segment of a JWT.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// writeOAuthError writes an OAuth 2 error answer (RFC 6749 §5.2).
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// ServiceAccountJSON returns a service-account key file for projectID
// whose token_uri is tokenURL (a Server's TokenURL, or the token endpoint
// of a mounted Handler) and whose private key is key: with it as
// fcm.Config.CredentialsJSON, the real Google auth library gets its access
// tokens from the fake. It returns an error only if key cannot be encoded.
func ServiceAccountJSON(projectID, tokenURL string, key *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(map[string]string{
		"type":            "service_account",
		"project_id":      projectID,
		"private_key_id":  randomHex(20),
		"private_key":     string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":    "fcmtest@" + projectID + ".iam.gserviceaccount.com",
		"client_id":       "100000000000000000001",
		"token_uri":       tokenURL,
		"universe_domain": "googleapis.com",
	}, "", "  ")
}
