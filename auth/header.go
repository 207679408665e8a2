package auth

import (
	"errors"
	"strings"

	"walletpass/pass"
)

// realm is the realm of our challenges.
const realm = "walletpass"

// BearerToken returns the credential of an Authorization header value
// "Bearer <credential>" (the scheme in any case, followed by one space or
// more). It returns an empty string when header is empty, names another
// scheme, or the credential is not of the b64token syntax of RFC 6750
// (letters, digits and -._~+/ followed by optional = signs).
func BearerToken(header string) string {
	scheme, rest, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	token := strings.TrimRight(strings.TrimLeft(rest, " "), " ")
	if !isB64Token(token) {
		return ""
	}
	return token
}

// isB64Token reports whether s is a b64token: 1*( ALPHA / DIGIT / "-" / "."
// / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !isBase64URL(c) && c != '.' && c != '~' && c != '+' && c != '/' {
			return false
		}
	}
	return true
}

// Challenge returns the WWW-Authenticate value that goes with err in a 401
// or 403 answer (RFC 6750, section 3):
//
//   - for a nil error or ErrNoToken, `Bearer realm="walletpass"`;
//   - for an error of kind KindUnauthorized, error="invalid_token" and its
//     public message as error_description;
//   - for an error of kind KindForbidden, error="insufficient_scope", its
//     public message as error_description and, when scope is not empty, the
//     scope the request needs.
//
// Other kinds (KindUnavailable, internal errors) get the bare challenge; they
// are not answered with 401 or 403. Quotes and backslashes are escaped;
// characters outside printable ASCII are replaced by '?'.
func Challenge(err error, scope string) string {
	c := `Bearer realm="` + realm + `"`
	if err == nil || errors.Is(err, ErrNoToken) {
		return c
	}
	var kind string
	switch pass.KindOf(err) {
	case pass.KindUnauthorized:
		kind = "invalid_token"
	case pass.KindForbidden:
		kind = "insufficient_scope"
	default:
		return c
	}
	c += `, error="` + kind + `"`
	if msg := pass.PublicMessage(err); msg != "" {
		c += `, error_description=` + quote(msg)
	}
	if kind == "insufficient_scope" && scope != "" {
		c += `, scope=` + quote(scope)
	}
	return c
}

// quote returns s as an HTTP quoted-string of printable ASCII.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < ' ' || r > '~':
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
