package secutix

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The checks of a self-signed JWT: SecuTix wants iat less than a second
// old when the call arrives; the sandbox allows jwtSkew either way for
// clocks and slow tests, and refuses a lifetime over jwtMaxLifetime.
const (
	jwtSkew        = 5 * time.Second
	jwtMaxLifetime = 30 * time.Second
)

// checkJWT verifies a bearer JWT the way SecuTix documents it: HS256
// signed with the operator's secret; sub the institution code in upper
// case (as SecuTix writes it), aud the operator login, iss the partner; iat fresh and exp at most
// 30 s after it, in seconds (values above 1e12 are taken as milliseconds).
// It returns why the token is refused, or "".
func (s *Sandbox) checkJWT(token string) string {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return []byte(s.cfg.Secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		return "the JWT does not verify with the operator's secret: " + err.Error()
	}
	str := func(k string) string { v, _ := claims[k].(string); return v }
	switch {
	case str("sub") != strings.ToUpper(s.cfg.Institution):
		return fmt.Sprintf("sub %q is not the institution %s (in upper case)", str("sub"), strings.ToUpper(s.cfg.Institution))
	case str("aud") != s.cfg.Operator:
		return fmt.Sprintf("aud %q is not the operator", str("aud"))
	case str("iss") != s.cfg.Partner:
		return fmt.Sprintf("iss %q is not the partner", str("iss"))
	}
	iat, ok1 := epoch(claims["iat"])
	exp, ok2 := epoch(claims["exp"])
	now := s.cfg.Now()
	switch {
	case !ok1 || !ok2:
		return "iat and exp are required numbers"
	case iat.After(now.Add(jwtSkew)) || iat.Before(now.Add(-jwtSkew)):
		return "iat is not now: forge a new JWT for every request"
	case exp.Sub(iat) > jwtMaxLifetime:
		return "exp is more than 30 s after iat"
	case !now.Before(exp):
		return "the JWT has expired"
	}
	return ""
}

// epoch reads a JWT time: seconds, or milliseconds above 1e12.
func epoch(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return time.Time{}, false
	}
	if f > 1e12 {
		return time.UnixMilli(int64(f)), true
	}
	return time.Unix(int64(f), 0), true
}
