package auth

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"walletpass/pass"
)

// claimsSigner is one way of signing a token that the fixture's JWKS
// verifies: an algorithm, its key and the kid of the header ("" for none;
// the JWKS holds one key of each type).
type claimsSigner struct {
	method jwt.SigningMethod
	key    any
	kid    string
}

// claimsVerifier is a verifier of the target and what the oracle must know
// of its configuration.
type claimsVerifier struct {
	v           *Verifier
	tenantClaim string
	needTenant  bool
	leeway      time.Duration
}

// requiredScopes are the scopes the target asks for; "" must refuse every
// token.
var requiredScopes = []string{"tickets:read", "passes:read", "scans:write", ""}

// aliasOf are the scope names of the product we replace, written out
// here rather than read from ScopeAliases.
var aliasOf = map[string]string{
	"Pass.Read": "passes:read", "Pass.Write": "passes:write",
	"Webhook.Read": "webhooks:read", "Webhook.Write": "webhooks:write",
}

// refusal is a rule the oracle finds broken: the kind Verify must return
// and the public messages that may name it.
type refusal struct {
	kind pass.Kind
	msgs []string
}

// expectation is the oracle's reading of a claims set: the rules it
// breaks, and otherwise the claims Verify must return.
type expectation struct {
	refusals []refusal
	claims   Claims
}

// expectClaims reads the claims set data as the doc comments of Verifier,
// VerifyScope, VerifierConfig, Claims and scopesOf describe it, with now
// the verifier's time and scope the required scope:
//
//   - iss must be the issuer; a present non-string is malformed.
//   - aud (a string or an array of strings) must hold the audience; an
//     array holding anything but strings is malformed.
//   - exp is required and, read to the second, must not be more than the
//     leeway past; nbf and iat, when present, must not be more than the
//     leeway ahead; a present non-number, or a time before the year 1 or
//     after the year 9999, is malformed.
//   - sub, jti and scope, when present, are strings; scp is a string or
//     an array of strings (null is no scp); else malformed.
//   - the tenant claim, when present, is a string naming our tenant
//     (another is forbidden); when required it must be present.
//   - the scopes of scope and scp (white-space separated) must hold the
//     required scope or an alias of it; an empty required scope refuses
//     everything (forbidden).
//
// A refusal for a malformed claim, the issuer, the audience or the times is
// of kind unauthorized, and comes before any of kind forbidden.
func expectClaims(data []byte, cv claimsVerifier, now time.Time, scope string) expectation {
	var e expectation
	unauthorized := func(msgs ...string) { e.refusals = append(e.refusals, refusal{pass.KindUnauthorized, msgs}) }
	forbidden := func(msgs ...string) { e.refusals = append(e.refusals, refusal{pass.KindForbidden, msgs}) }

	var m map[string]any // null decodes to no claims at all
	if err := json.Unmarshal(data, &m); err != nil {
		unauthorized(msgMalformed)
		return e
	}
	str := func(name string) (string, bool) {
		v, present := m[name]
		if !present {
			return "", true
		}
		s, ok := v.(string)
		if !ok {
			unauthorized(msgMalformed)
		}
		return s, ok
	}

	if iss, ok := str("iss"); ok && iss != testIssuer {
		unauthorized(msgIssuer)
	}
	switch aud := m["aud"].(type) {
	case string:
		if aud != testAudience {
			unauthorized(msgAudience)
		}
	case []any:
		found := false
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				unauthorized(msgMalformed, msgAudience)
			}
			found = found || s == testAudience
		}
		if !found {
			unauthorized(msgAudience)
		}
	default:
		unauthorized(msgAudience)
	}

	leeway := cv.leeway.Seconds()
	nowSecs := float64(now.Unix())
	date := func(name string) (float64, bool) {
		v, present := m[name]
		if !present {
			return 0, false
		}
		f, ok := v.(float64)
		if !ok || f < -62135596800 || f > 253402300799 {
			unauthorized(msgMalformed)
			return 0, false
		}
		return math.Floor(f), true
	}
	if exp, ok := date("exp"); ok {
		if nowSecs >= exp+leeway {
			// 0 is 1970 to us and no expiry to the JWT library: both refuse.
			unauthorized(msgExpired, msgNoExpiry)
		}
		e.claims.ExpiresAt = time.Unix(int64(exp), 0)
	} else if _, present := m["exp"]; !present {
		unauthorized(msgNoExpiry)
	}
	for _, name := range []string{"nbf", "iat"} {
		if at, ok := date(name); ok && nowSecs < at-leeway {
			unauthorized(msgNotYetValid)
		}
	}

	e.claims.Subject, _ = str("sub")
	e.claims.ID, _ = str("jti")
	var scopes []string
	add := func(s string) {
		for _, f := range strings.FieldsFunc(s, unicode.IsSpace) {
			if !slices.Contains(scopes, f) {
				scopes = append(scopes, f)
			}
		}
	}
	if s, ok := str("scope"); ok {
		add(s)
	}
	switch scp := m["scp"].(type) {
	case nil:
	case string:
		add(scp)
	case []any:
		for _, a := range scp {
			s, ok := a.(string)
			if !ok {
				unauthorized(msgMalformed)
				break
			}
			add(s)
		}
	default:
		unauthorized(msgMalformed)
	}
	e.claims.Scopes = scopes

	e.claims.Tenant = testTenant
	if _, present := m[cv.tenantClaim]; present {
		if tenant, ok := str(cv.tenantClaim); ok && tenant != testTenant {
			forbidden(msgTenant)
		}
	} else if cv.needTenant {
		forbidden("the token does not name its tenant (claim " + cv.tenantClaim + ")")
	}
	switch {
	case scope == "":
		forbidden("no scope is configured for this endpoint: every token is refused")
	case !slices.ContainsFunc(scopes, func(s string) bool { return s == scope || aliasOf[s] == scope }):
		forbidden("the token lacks the scope " + scope)
	}
	return e
}

// want returns the kind of error the refusals call for and the messages
// that may come with it; KindInternal and nil when there is none.
func (e expectation) want() (pass.Kind, []string) {
	for _, k := range []pass.Kind{pass.KindUnauthorized, pass.KindForbidden} {
		var msgs []string
		for _, r := range e.refusals {
			if r.kind == k {
				msgs = append(msgs, r.msgs...)
			}
		}
		if msgs != nil {
			return k, msgs
		}
	}
	return pass.KindInternal, nil
}

// FuzzVerifyClaims signs fuzzed claims with the fixture's keys, so that the
// signature holds, and checks what VerifyScope makes of them against
// expectClaims: a token verifies exactly when its claims keep every rule,
// and then with the subject, id, expiry, tenant and scopes of the claims;
// a refusal is a *pass.Error of the kind and with a message of a rule the
// claims break, and never quotes the token.
func FuzzVerifyClaims(f *testing.F) {
	b := setup(f)
	strict, err := NewVerifier(VerifierConfig{
		Tenant: testTenant, Issuer: testIssuer, Audience: testAudience,
		JWKSURL: b.idp.srv.URL + "/jwks.json", HTTPClient: b.idp.srv.Client(), Clock: b.clock.Now,
		TenantClaim: "org", RequireTenantClaim: true, Leeway: 2 * time.Minute,
	})
	if err != nil {
		f.Fatal(err)
	}
	verifiers := []claimsVerifier{
		{v: b.v, tenantClaim: "tenant", leeway: defaultLeeway},
		{v: strict, tenantClaim: "org", needTenant: true, leeway: 2 * time.Minute},
	}
	// RS256 signing is the slow part of an execution: one signer in four
	// uses it.
	signers := []claimsSigner{
		{jwt.SigningMethodES256, b.keys.ec, ecKid},
		{jwt.SigningMethodRS256, b.keys.rsa, rsaKid},
		{jwt.SigningMethodES256, b.keys.ec, ""},
		{jwt.SigningMethodRS256, b.keys.rsa, ""},
		{jwt.SigningMethodES256, b.keys.ec, ecKid},
		{jwt.SigningMethodES256, b.keys.ec, ""},
		{jwt.SigningMethodES256, b.keys.ec, ecKid},
		{jwt.SigningMethodES256, b.keys.ec, ""},
	}
	signed := func(tb testing.TB, s claimsSigner, data []byte) string {
		header := map[string]any{"alg": s.method.Alg(), "typ": "JWT"}
		if s.kid != "" {
			header["kid"] = s.kid
		}
		unsigned := b64(mustJSON(tb, header)) + "." + b64(data)
		sig, err := s.method.Sign(unsigned, s.key)
		if err != nil {
			tb.Fatal(err)
		}
		return unsigned + "." + b64(sig)
	}
	now := testNow.Unix()

	type seed struct {
		claims             any // marshalled, unless []byte
		signer, cfg, scope uint8
	}
	valid := []seed{
		{claims(), 0, 0, 0},
		{claims(), 1, 0, 0},
		{claims(), 2, 0, 0},
		{claims(), 3, 0, 0},
		{claims(func(c jwt.MapClaims) {
			delete(c, "scope")
			c["scp"] = []string{"Pass.Read", "orders:write", "Pass.Read"}
			c["aud"] = []string{"other", testAudience}
		}), 0, 0, 1},
		{claims(func(c jwt.MapClaims) {
			delete(c, "tenant")
			c["org"] = testTenant
			c["scope"] = "scans:write\tpasses:read"
			c["scp"] = "scans:write tickets:read"
			c["iat"] = now + 100 // within the strict verifier's leeway
		}), 0, 1, 2},
		{claims(func(c jwt.MapClaims) { c["exp"] = float64(now) - 29 }), 0, 0, 0},
		{[]byte(`{"iss":"` + testIssuer + `","aud":"` + testAudience + `","scope":"tickets:read","exp":4.1024448e9,"nbf":-6.2e10,"iat":1.7e9}`), 0, 0, 0},
		{claims(func(c jwt.MapClaims) {
			delete(c, "tenant")
			delete(c, "nbf")
			delete(c, "iat")
			delete(c, "sub")
			delete(c, "jti")
		}), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["scp"] = nil; c["nbf"] = now + 30 }), 0, 0, 0},
		{[]byte(`{"iss":"x","iss":"` + testIssuer + `","aud":"` + testAudience + `","exp":` + strconv.FormatInt(now+300, 10) + `.9,"scope":"tickets:read"}`), 0, 0, 0},
	}
	refused := []seed{
		{claims(), 0, 0, 3},
		{claims(), 0, 1, 0},
		{claims(), 0, 0, 1},
		{claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com/" }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["iss"] = 7 }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["aud"] = []any{"other", 5} }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["aud"] = 5 }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["exp"] = float64(now) - 30 }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["exp"] = float64(now) - 29.5 }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["exp"] = 0 }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { delete(c, "exp") }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["nbf"] = now + 31 }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["iat"] = now + 3600 }), 0, 1, 0},
		{claims(func(c jwt.MapClaims) { c["nbf"] = nil }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["sub"] = []string{"a"} }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["jti"] = 1 }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["scope"] = []string{"tickets:read"} }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["scp"] = []any{"tickets:read", 1} }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["scp"] = map[string]any{} }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["tenant"] = "globex" }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["tenant"] = 42 }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["org"] = "globex" }), 0, 1, 0},
		{claims(func(c jwt.MapClaims) { c["scope"] = "tickets:readx Tickets:read" }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["iss"] = 7; c["tenant"] = "globex" }), 0, 0, 0},
		{[]byte(`null`), 0, 0, 0},
		{[]byte(`[]`), 0, 0, 0},
		{[]byte(`{}`), 0, 0, 0},
		{[]byte(`{"exp":1e400}`), 0, 0, 0},
		// Times beyond the year 9999: the JWT library would overflow them.
		{claims(func(c jwt.MapClaims) { c["nbf"] = 1e19 }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["iat"] = 1e300 }), 0, 0, 0},
		{claims(func(c jwt.MapClaims) { c["exp"] = 1e19 }), 0, 0, 0},
		{[]byte(`{"iss":"` + testIssuer + `"} trailing`), 0, 0, 0},
	}
	add := func(s seed, wantOK bool) {
		data, ok := s.claims.([]byte)
		if !ok {
			data = mustJSON(f, s.claims)
		}
		// Else the target's check of a success would hold vacuously, or a
		// seed would not say what its list says.
		cv := verifiers[s.cfg]
		_, err := cv.v.VerifyScope(context.Background(), signed(f, signers[s.signer], data), requiredScopes[s.scope])
		if (err == nil) != wantOK {
			f.Fatalf("seed %s (signer %d, verifier %d, scope %q): got %v, want success %v", data, s.signer, s.cfg, requiredScopes[s.scope], err, wantOK)
		}
		f.Add(data, s.signer, s.cfg, s.scope)
	}
	for _, s := range valid {
		add(s, true)
	}
	for _, s := range refused {
		add(s, false)
	}

	f.Fuzz(func(t *testing.T, data []byte, signer, cfg, scope uint8) {
		if len(data) > 8<<10 {
			return // beyond the verifier's bound on a token's size
		}
		s := signers[int(signer)%len(signers)]
		cv := verifiers[int(cfg)%len(verifiers)]
		required := requiredScopes[int(scope)%len(requiredScopes)]
		token := signed(t, s, data)

		got, err := cv.v.VerifyScope(context.Background(), token, required)
		e := expectClaims(data, cv, testNow, required)
		wantKind, wantMsgs := e.want()
		if err == nil {
			if got == nil {
				t.Fatalf("claims %s: got no claims and no error", data)
			}
			if wantMsgs != nil {
				t.Fatalf("claims %s, scope %q: verified (%+v), want %v %q", data, required, got, wantKind, wantMsgs)
			}
			want := e.claims
			if diff := cmp.Diff(got, &want); diff != "" {
				t.Fatalf("claims %s (-got +want):\n%s", data, diff)
			}
			return
		}
		if got != nil {
			t.Errorf("claims %s: got claims %+v with the error %v", data, got, err)
		}
		if pe := (*pass.Error)(nil); !errors.As(err, &pe) {
			t.Fatalf("claims %s: the error %v (%T) is not a *pass.Error", data, err, err)
		}
		if wantMsgs == nil {
			t.Fatalf("claims %s, scope %q: got %v, want claims %+v", data, required, err, e.claims)
		}
		if k := pass.KindOf(err); k != wantKind {
			t.Fatalf("claims %s, scope %q: got kind %v (%v), want %v %q", data, required, k, err, wantKind, wantMsgs)
		}
		if msg := pass.PublicMessage(err); !slices.Contains(wantMsgs, msg) {
			t.Fatalf("claims %s, scope %q: got the message %q, want one of %q", data, required, msg, wantMsgs)
		}
		_, payload, _ := strings.Cut(token, ".")
		if strings.Contains(err.Error(), token) || len(payload) >= 16 && strings.Contains(err.Error(), payload) {
			t.Fatalf("claims %s: the error %q quotes the token", data, err)
		}
	})
}
