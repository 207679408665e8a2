package auth

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"walletpass/pass"
)

// DefaultScope is the scope a Verifier requires when its configuration
// names none.
const DefaultScope = "tickets:read"

const (
	defaultTenantClaim = "tenant"
	defaultLeeway      = 30 * time.Second
	defaultHTTPTimeout = 10 * time.Second

	// maxTokenLen bounds the work spent on a presented token; real access
	// tokens are a few kilobytes at most.
	maxTokenLen = 16 << 10

	// minRefetchInterval is the least time between two JWKS fetches caused
	// by unknown kids, and between a failed fetch and the next attempt.
	minRefetchInterval = 10 * time.Second
)

// The accepted signature algorithms.
const (
	algRS256 = "RS256"
	algES256 = "ES256"
)

// The public reasons of a refusal. None contains anything from the token.
const (
	msgNoToken     = "the request carries no token"
	msgMalformed   = "the token is malformed"
	msgAlgorithm   = "the token's algorithm is not accepted"
	msgSignature   = "the token's signature does not verify"
	msgExpired     = "the token has expired"
	msgNoExpiry    = "the token has no expiry time"
	msgNotYetValid = "the token is not yet valid"
	msgIssuer      = "the token's issuer is not accepted"
	msgAudience    = "the token's audience is not accepted"
	msgTenant      = "the token is for another tenant"
	msgUnavailable = "the identity provider's keys cannot be fetched"
)

// ErrNoToken is the error of kind KindUnauthorized that Verify returns for
// an empty token. A handler may return it, too, when a request has no
// Authorization header; Challenge answers it with a bare challenge.
var ErrNoToken = &pass.Error{Kind: pass.KindUnauthorized, Message: msgNoToken}

// errNoKey is the logged cause when no key of the JWKS matches a token.
var errNoKey = errors.New("auth: no key in the JWKS matches the token's alg and kid")

// VerifierConfig configures a Verifier for one tenant.
type VerifierConfig struct {
	// Tenant is our tenant id. Required.
	Tenant string
	// Issuer is the required value of the token's iss claim. Required.
	Issuer string
	// Audience must be one of the token's aud claim. Required.
	Audience string
	// JWKSURL is where the issuer publishes its public keys: an https URL,
	// or an http URL whose host is a loopback address (tests, development).
	// Required.
	JWKSURL string
	// Scope is the scope a token must carry; DefaultScope when empty.
	Scope string
	// TenantClaim names the claim that says which tenant a token is for;
	// "tenant" when empty. A token without the claim is accepted unless
	// RequireTenantClaim.
	TenantClaim string
	// RequireTenantClaim refuses a token that does not name its tenant:
	// it must be set when another tenant trusts the same issuer and
	// audience, or one token would open both.
	RequireTenantClaim bool
	// OtherAudiences are the audiences other tenants trust at the same
	// issuer: a token for one of them as well (an "aud" that lists
	// several) must name its tenant, or it would open both.
	OtherAudiences []string
	// HTTPClient fetches the JWKS; by default a client with a 10 s timeout
	// that refuses redirects from https to http.
	HTTPClient *http.Client
	// Clock is the verifier's clock; the system's when nil. It must be
	// safe for concurrent use.
	Clock pass.Clock
	// Leeway is the clock skew allowed on exp, nbf and iat; 30 s when zero.
	Leeway time.Duration
}

// Claims is what a verified token says.
type Claims struct {
	// Subject is the token's sub claim (often the client id), possibly empty.
	Subject string
	// Scopes are the scopes of the scope and scp claims, without duplicates.
	Scopes []string
	// Tenant is the tenant the token was accepted for: the verifier's.
	Tenant string
	// ExpiresAt is the token's exp claim.
	ExpiresAt time.Time
	// ID is the token's jti claim, possibly empty.
	ID string
}

// Verifier verifies the JWT access tokens of one tenant. It is safe for
// concurrent use; concurrent verifications share the JWKS cache and any
// JWKS fetch in flight.
type Verifier struct {
	tenant      string
	issuer      string
	audience    string
	jwksURL     string
	scope       string
	tenantClaim string
	needTenant  bool
	others      []string // OtherAudiences
	client      *http.Client
	now         func() time.Time
	leeway      time.Duration
	parser      *jwt.Parser

	mu          sync.Mutex
	keys        []publicKey
	haveKeys    bool       // keys holds a successfully fetched JWKS
	lastErr     error      // the error of the last failed fetch
	nextRefresh time.Time  // when the cache is stale (or a failed fetch may be retried)
	lastForced  time.Time  // when the last fetch for an unknown kid started
	inflight    *fetchCall // the fetch in flight, nil when none
}

// fetchCall is a JWKS fetch in flight that other verifications wait for.
type fetchCall struct {
	done    chan struct{}
	err     error
	aborted bool // the fetching caller's context ended; waiters try again
}

// NewVerifier returns a Verifier for cfg. It does not fetch the JWKS: the
// first Verify does.
//
// It returns an error of kind KindInvalid, listing every problem, when
// Tenant, Issuer, Audience or JWKSURL is missing, when JWKSURL is neither
// https nor http to a loopback host, when Scope contains white space or
// when Leeway is negative.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	var problems []string
	if cfg.Tenant == "" {
		problems = append(problems, "tenant is empty")
	}
	if cfg.Issuer == "" {
		problems = append(problems, "issuer is empty")
	}
	if cfg.Audience == "" {
		problems = append(problems, "audience is empty")
	}
	if err := checkJWKSURL(cfg.JWKSURL); err != nil {
		problems = append(problems, err.Error())
	}
	if cfg.Scope == "" {
		cfg.Scope = DefaultScope
	}
	if strings.ContainsFunc(cfg.Scope, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		problems = append(problems, "scope contains white space or control characters")
	}
	if cfg.TenantClaim == "" {
		cfg.TenantClaim = defaultTenantClaim
	}
	if cfg.Leeway < 0 {
		problems = append(problems, "leeway is negative")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = defaultLeeway
	}
	if len(problems) > 0 {
		return nil, pass.Errorf(pass.KindInvalid, "auth: invalid verifier configuration: %s", strings.Join(problems, "; "))
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: defaultHTTPTimeout, CheckRedirect: checkRedirect}
	}
	return &Verifier{
		tenant:      cfg.Tenant,
		issuer:      cfg.Issuer,
		audience:    cfg.Audience,
		jwksURL:     cfg.JWKSURL,
		scope:       cfg.Scope,
		tenantClaim: cfg.TenantClaim,
		needTenant:  cfg.RequireTenantClaim,
		others:      slices.Clone(cfg.OtherAudiences),
		client:      cfg.HTTPClient,
		now:         cfg.Clock.Now,
		leeway:      cfg.Leeway,
		// Claims are checked by checkClaims, which tells which claim failed;
		// the parser checks the syntax, the algorithm and the signature.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{algRS256, algES256}),
			jwt.WithStrictDecoding(),
			jwt.WithoutClaimsValidation(),
		),
	}, nil
}

// checkJWKSURL accepts an https URL, or an http URL to a loopback host.
func checkJWKSURL(raw string) error {
	if raw == "" {
		return errors.New("JWKS URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("JWKS URL is not an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("JWKS URL must be https (http only to a loopback host)")
	default:
		return errors.New("JWKS URL must be https")
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkRedirect is the default client's redirect policy: at most five
// redirects and never from https to http.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("auth: too many redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return errors.New("auth: redirect from https to http refused")
	}
	return nil
}

// Verify checks token and returns its claims.
//
// It returns ErrNoToken when token is empty; an error of kind
// KindUnauthorized when the token is malformed, uses an algorithm other than
// RS256 and ES256, has a signature that no key of the JWKS verifies, has
// expired or is not yet valid, or has another issuer or audience; an error
// of kind KindForbidden when the token lacks the required scope or names
// another tenant; an error of kind KindUnavailable when the JWKS cannot be
// fetched and none is cached. The public message of the error is a short
// reason that never contains the token.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	return v.VerifyScope(ctx, token, v.scope)
}

// VerifyScope is Verify with another required scope than the configured
// one: the organisers' API asks tickets:read (or the tenant's scope) for
// getTicketsUrl, passes:read for the passes API, scans:write for scans.
// An empty scope refuses every token (an error of kind KindForbidden): it
// never means that any scope will do.
func (v *Verifier) VerifyScope(ctx context.Context, token, scope string) (*Claims, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	alg, kid, err := inspectHeader(token)
	if err != nil {
		return nil, err
	}
	mc := jwt.MapClaims{}
	_, err = v.parser.ParseWithClaims(token, mc, func(t *jwt.Token) (any, error) {
		if t.Method == nil || t.Method.Alg() != alg {
			return nil, pass.Errorf(pass.KindUnauthorized, msgAlgorithm)
		}
		return v.key(ctx, alg, kid)
	})
	if err != nil {
		return nil, parseError(err)
	}
	return v.checkClaims(mc, scope)
}

// inspectHeader checks the token's syntax and its header, and returns the
// header's alg and kid. It refuses, before any key lookup, every algorithm
// but RS256 and ES256 (none, HS256, PS256, …) and the crit header, whose
// extensions we do not understand (RFC 7515, section 4.1.11).
func inspectHeader(token string) (alg, kid string, err error) {
	if len(token) > maxTokenLen {
		return "", "", pass.Errorf(pass.KindUnauthorized, msgMalformed)
	}
	dots := 0
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			dots++
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			// Among others this refuses CR and LF, which the base64 decoder
			// would skip, making a token malleable.
			return "", "", pass.Errorf(pass.KindUnauthorized, msgMalformed)
		}
	}
	if dots != 2 {
		return "", "", pass.Errorf(pass.KindUnauthorized, msgMalformed)
	}
	seg, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return "", "", pass.Wrap(pass.KindUnauthorized, fmt.Errorf("auth: decode header: %w", err), msgMalformed)
	}
	var header map[string]any
	if err := json.Unmarshal(raw, &header); err != nil {
		return "", "", pass.Wrap(pass.KindUnauthorized, fmt.Errorf("auth: decode header: %w", err), msgMalformed)
	}
	if _, ok := header["crit"]; ok {
		return "", "", pass.Wrap(pass.KindUnauthorized, errors.New("auth: crit header"), msgMalformed)
	}
	alg, _ = header["alg"].(string)
	if alg != algRS256 && alg != algES256 {
		return "", "", pass.Errorf(pass.KindUnauthorized, msgAlgorithm)
	}
	if k, ok := header["kid"]; ok {
		if kid, ok = k.(string); !ok {
			return "", "", pass.Wrap(pass.KindUnauthorized, errors.New("auth: kid is not a string"), msgMalformed)
		}
	}
	return alg, kid, nil
}

// parseError maps an error of the JWT parser to a *pass.Error.
func parseError(err error) error {
	var pe *pass.Error
	switch {
	case errors.As(err, &pe):
		return pe // from the key function
	case errors.Is(err, jwt.ErrTokenMalformed):
		return pass.Wrap(pass.KindUnauthorized, err, msgMalformed)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return pass.Wrap(pass.KindUnauthorized, err, msgSignature)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return pass.Wrap(pass.KindUnauthorized, err, msgAlgorithm)
	default:
		return pass.Wrap(pass.KindUnauthorized, err, msgMalformed)
	}
}

// The first second of the year 1 and the last of the year 9999: the times
// a token's exp, nbf or iat may name.
const (
	minNumericDate = -62135596800
	maxNumericDate = 253402300799
)

// inTimeRange checks that the NumericDate claim name, when present and a
// number, is from minNumericDate to maxNumericDate (the JWT library reads
// its type).
func inTimeRange(mc jwt.MapClaims, name string) error {
	var v float64
	switch n := mc[name].(type) {
	case float64:
		v = n
	case json.Number:
		f, err := n.Float64()
		if err != nil {
			return nil // the library names the malformed number
		}
		v = f
	default:
		return nil
	}
	if v < minNumericDate || v > maxNumericDate || math.IsNaN(v) {
		return fmt.Errorf("auth: %s is outside the years 1 to 9999", name)
	}
	return nil
}

// checkClaims checks the claims of a token whose signature verifies.
func (v *Verifier) checkClaims(mc jwt.MapClaims, scope string) (*Claims, error) {
	unauthorized := func(msg string) (*Claims, error) {
		return nil, pass.Errorf(pass.KindUnauthorized, "%s", msg)
	}
	malformed := func(err error) (*Claims, error) {
		return nil, pass.Wrap(pass.KindUnauthorized, err, msgMalformed)
	}
	now := v.now()

	iss, err := mc.GetIssuer()
	if err != nil {
		return malformed(err)
	}
	if iss != v.issuer {
		return unauthorized(msgIssuer)
	}
	aud, err := mc.GetAudience()
	if err != nil {
		return malformed(err)
	}
	if !slices.Contains(aud, v.audience) {
		return unauthorized(msgAudience)
	}

	// A time beyond the year 9999 is no time: the JWT library would
	// overflow it, and a not-before of 1e19 would read as long past.
	for _, name := range []string{"exp", "nbf", "iat"} {
		if err := inTimeRange(mc, name); err != nil {
			return malformed(err)
		}
	}
	exp, err := mc.GetExpirationTime()
	if err != nil {
		return malformed(err)
	}
	if exp == nil {
		return unauthorized(msgNoExpiry)
	}
	if !now.Before(exp.Add(v.leeway)) {
		return unauthorized(msgExpired)
	}
	nbf, err := mc.GetNotBefore()
	if err != nil {
		return malformed(err)
	}
	if nbf != nil && now.Before(nbf.Add(-v.leeway)) {
		return unauthorized(msgNotYetValid)
	}
	iat, err := mc.GetIssuedAt()
	if err != nil {
		return malformed(err)
	}
	if iat != nil && now.Before(iat.Add(-v.leeway)) {
		return unauthorized(msgNotYetValid)
	}

	sub, err := mc.GetSubject()
	if err != nil {
		return malformed(err)
	}
	var jti string
	if raw, ok := mc["jti"]; ok {
		if jti, ok = raw.(string); !ok {
			return malformed(errors.New("auth: jti is not a string"))
		}
	}
	scopes, err := scopesOf(mc)
	if err != nil {
		return malformed(err)
	}

	if raw, ok := mc[v.tenantClaim]; ok {
		tenant, ok := raw.(string)
		if !ok {
			return malformed(fmt.Errorf("auth: claim %q is not a string", v.tenantClaim))
		}
		if tenant != v.tenant {
			return nil, pass.Errorf(pass.KindForbidden, msgTenant)
		}
	} else if v.needTenant || slices.ContainsFunc(aud, func(a string) bool { return a != v.audience && slices.Contains(v.others, a) }) {
		// Another tenant trusts the same issuer and audience, or the
		// token is for another tenant's audience as well: a token that
		// names no tenant would open both.
		return nil, pass.Errorf(pass.KindForbidden, "the token does not name its tenant (claim %s)", v.tenantClaim)
	}
	if scope == "" {
		// No scope to look for: fail closed. ScopeAliases[s] is "" for
		// every scope that is not an alias, so any token would pass.
		return nil, pass.Errorf(pass.KindForbidden, "no scope is configured for this endpoint: every token is refused")
	}
	if !slices.ContainsFunc(scopes, func(s string) bool { return s == scope || ScopeAliases[s] == scope }) {
		return nil, pass.Errorf(pass.KindForbidden, "the token lacks the scope %s", scope)
	}
	return &Claims{Subject: sub, Scopes: scopes, Tenant: v.tenant, ExpiresAt: exp.Time, ID: jti}, nil
}

// ScopeAliases are the names the product we replace gives the scopes of
// the same endpoints, each with the scope it stands for: a token an
// organiser's identity provider issues for that product is accepted
// without a change to the provider.
var ScopeAliases = map[string]string{
	"Pass.Read":     "passes:read",
	"Pass.Write":    "passes:write",
	"Webhook.Read":  "webhooks:read",
	"Webhook.Write": "webhooks:write",
}

// scopesOf returns the scopes of the scope claim (a space-separated string,
// RFC 8693 and 9068) and of the scp claim (an array of strings or a
// space-separated string), without duplicates, in order.
func scopesOf(mc jwt.MapClaims) ([]string, error) {
	var scopes []string
	add := func(s string) {
		for _, f := range strings.Fields(s) {
			if !slices.Contains(scopes, f) {
				scopes = append(scopes, f)
			}
		}
	}
	if raw, ok := mc["scope"]; ok {
		s, ok := raw.(string)
		if !ok {
			return nil, errors.New("auth: scope is not a string")
		}
		add(s)
	}
	switch scp := mc["scp"].(type) {
	case nil:
	case string:
		add(scp)
	case []any:
		for _, e := range scp {
			s, ok := e.(string)
			if !ok {
				return nil, errors.New("auth: scp holds a non-string")
			}
			add(s)
		}
	default:
		return nil, errors.New("auth: scp is neither a string nor an array")
	}
	return scopes, nil
}

// key returns the key that verifies a token with alg and kid. It fetches the
// JWKS when the cache is empty or stale, and once more when no cached key
// matches, unless a fetch for an unknown kid started less than
// minRefetchInterval ago.
func (v *Verifier) key(ctx context.Context, alg, kid string) (crypto.PublicKey, error) {
	fetched, err := v.fetchIf(ctx, v.stale)
	v.mu.Lock()
	keys, haveKeys, lastErr := v.keys, v.haveKeys, v.lastErr
	v.mu.Unlock()
	if !haveKeys {
		if err == nil {
			err = lastErr
		}
		return nil, pass.Wrap(pass.KindUnavailable, err, msgUnavailable)
	}
	if k := findKey(keys, alg, kid); k != nil {
		return k, nil
	}
	if !fetched {
		if fetched, _ = v.fetchIf(ctx, v.mayForce); fetched {
			v.mu.Lock()
			keys = v.keys
			v.mu.Unlock()
			if k := findKey(keys, alg, kid); k != nil {
				return k, nil
			}
		}
	}
	return nil, pass.Wrap(pass.KindUnauthorized, errNoKey, msgSignature)
}

// stale reports whether the cache should be refreshed. v.mu is held.
func (v *Verifier) stale(now time.Time) bool {
	return !now.Before(v.nextRefresh)
}

// mayForce reports whether a fetch for an unknown kid may start, and if so
// records it. v.mu is held.
func (v *Verifier) mayForce(now time.Time) bool {
	if !v.lastForced.IsZero() && now.Sub(v.lastForced) < minRefetchInterval {
		return false
	}
	v.lastForced = now
	return true
}

// fetchIf waits for the JWKS fetch in flight, if any; otherwise, when
// need(now) is true (called with v.mu held), it fetches the JWKS itself while
// other callers wait. It reports whether a fetch was waited for or made, and
// that fetch's error.
func (v *Verifier) fetchIf(ctx context.Context, need func(now time.Time) bool) (bool, error) {
	for {
		v.mu.Lock()
		if c := v.inflight; c != nil {
			v.mu.Unlock()
			select {
			case <-c.done:
			case <-ctx.Done():
				return true, ctx.Err()
			}
			if c.aborted {
				continue // the fetching caller gave up; decide again
			}
			return true, c.err
		}
		if !need(v.now()) {
			v.mu.Unlock()
			return false, nil
		}
		c := &fetchCall{done: make(chan struct{})}
		v.inflight = c
		v.mu.Unlock()
		return true, v.lead(ctx, c)
	}
}

// lead makes the fetch c and stores its result.
func (v *Verifier) lead(ctx context.Context, c *fetchCall) (err error) {
	var keys []publicKey
	var maxAge time.Duration
	err = errors.New("auth: JWKS fetch did not finish") // kept if fetchJWKS panics
	defer func() {
		v.mu.Lock()
		now := v.now()
		switch {
		case err == nil:
			v.keys, v.haveKeys, v.lastErr = keys, true, nil
			v.nextRefresh = now.Add(maxAge)
		case ctx.Err() != nil:
			c.aborted = true // our caller gave up; not the provider's fault
		default:
			v.lastErr = err
			v.nextRefresh = now.Add(minRefetchInterval)
		}
		c.err = err
		v.inflight = nil
		v.mu.Unlock()
		close(c.done)
	}()
	keys, maxAge, err = fetchJWKS(ctx, v.client, v.jwksURL)
	return err
}
