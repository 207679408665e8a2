package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// maxJWKSSize bounds the JWKS document we read.
	maxJWKSSize = 1 << 20

	defaultMaxAge = 10 * time.Minute
	minMaxAge     = time.Minute
	maxMaxAge     = 24 * time.Hour

	// RFC 7518, section 3.3: RSA keys of 2048 bits or more. The upper bound
	// keeps a verification cheap.
	minRSABits = 2048
	maxRSABits = 8192
)

// publicKey is a usable signing key of a JWKS.
type publicKey struct {
	kid string
	alg string // algRS256 or algES256, from the key's type
	key crypto.PublicKey
}

// findKey returns the key for a token with alg and kid: the key of that alg
// and kid, or, when kid is empty, the only key of that alg. It returns nil
// when there is none.
func findKey(keys []publicKey, alg, kid string) crypto.PublicKey {
	var found crypto.PublicKey
	n := 0
	for _, k := range keys {
		if k.alg != alg {
			continue
		}
		if kid != "" && k.kid == kid {
			return k.key
		}
		found = k.key
		n++
	}
	if kid == "" && n == 1 {
		return found
	}
	return nil
}

// fetchJWKS gets and parses the JWKS at url and returns its usable keys and
// how long they may be cached.
func fetchJWKS(ctx context.Context, client *http.Client, url string) ([]publicKey, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultHTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("auth: fetch JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("auth: fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("auth: fetch JWKS: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("auth: fetch JWKS: %w", err)
	}
	if len(body) > maxJWKSSize {
		return nil, 0, fmt.Errorf("auth: fetch JWKS: larger than %d bytes", maxJWKSSize)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, 0, fmt.Errorf("auth: fetch JWKS: %w", err)
	}
	return keys, parseMaxAge(strings.Join(resp.Header.Values("Cache-Control"), ",")), nil
}

// jwk is a JSON Web Key (RFC 7517) as far as we read it.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	Kid    string   `json:"kid"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
}

// parseJWKS returns the usable signing keys of a JWKS document: RSA keys and
// P-256 EC keys whose use, if set, is "sig" and whose alg, if set, is RS256
// or ES256 as befits their type. Other keys are skipped. It returns an error
// when the document is not a JWKS or holds no usable key.
func parseJWKS(data []byte) ([]publicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("decode JWKS: %w", err)
	}
	var keys []publicKey
	for _, raw := range set.Keys {
		var k jwk
		if json.Unmarshal(raw, &k) != nil || caseVariant(raw) {
			continue
		}
		if pk, ok := k.publicKey(); ok {
			keys = append(keys, pk)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("the JWKS holds no usable signing key")
	}
	return keys, nil
}

// jwkNames are the member names of a JWK that jwk reads.
var jwkNames = []string{"kty", "use", "key_ops", "alg", "kid", "n", "e", "crv", "x", "y"}

// caseVariant reports whether the JWK raw spells one of jwkNames in
// another case ("USE"): member names are case-sensitive (RFC 7517), and
// encoding/json would read it as the member, which the key does not have.
// Such a key is left out rather than guessed at.
func caseVariant(raw json.RawMessage) bool {
	var members map[string]json.RawMessage
	if json.Unmarshal(raw, &members) != nil {
		return true
	}
	for name := range members {
		for _, m := range jwkNames {
			if name != m && strings.EqualFold(name, m) {
				return true
			}
		}
	}
	return false
}

// publicKey returns the key k describes, and false when k is not a usable
// RS256 or ES256 signature key.
func (k *jwk) publicKey() (publicKey, bool) {
	if k.Use != "" && k.Use != "sig" {
		return publicKey{}, false
	}
	if len(k.KeyOps) > 0 && !slices.Contains(k.KeyOps, "verify") {
		return publicKey{}, false
	}
	switch k.Kty {
	case "RSA":
		if k.Alg != "" && k.Alg != algRS256 {
			return publicKey{}, false
		}
		key, ok := rsaKey(k.N, k.E)
		return publicKey{kid: k.Kid, alg: algRS256, key: key}, ok
	case "EC":
		if k.Crv != "P-256" || (k.Alg != "" && k.Alg != algES256) {
			return publicKey{}, false
		}
		key, ok := p256Key(k.X, k.Y)
		return publicKey{kid: k.Kid, alg: algES256, key: key}, ok
	default:
		return publicKey{}, false
	}
}

func rsaKey(n64, e64 string) (*rsa.PublicKey, bool) {
	nb, err1 := decodeB64(n64)
	eb, err2 := decodeB64(e64)
	if err1 != nil || err2 != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, false
	}
	n := new(big.Int).SetBytes(nb)
	if n.BitLen() < minRSABits || n.BitLen() > maxRSABits || n.Bit(0) == 0 {
		return nil, false
	}
	var e int64
	for _, b := range eb {
		e = e<<8 | int64(b)
	}
	if e < 3 || e > 1<<31-1 || e%2 == 0 {
		return nil, false
	}
	return &rsa.PublicKey{N: n, E: int(e)}, true
}

func p256Key(x64, y64 string) (*ecdsa.PublicKey, bool) {
	x, err1 := decodeB64(x64)
	y, err2 := decodeB64(y64)
	if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
		return nil, false
	}
	point := make([]byte, 0, 65)
	point = append(point, 4)
	point = append(point, x...)
	point = append(point, y...)
	// This refuses points that are not on the curve.
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, false
	}
	return key, true
}

// decodeB64 decodes base64url, with or without padding (RFC 7518 says
// without; some providers pad).
func decodeB64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// parseMaxAge returns how long a JWKS served with the Cache-Control value cc
// may be cached: its max-age clamped to [1 min, 24 h], the minimum when it
// says no-cache or no-store, 10 min when it says nothing usable.
func parseMaxAge(cc string) time.Duration {
	age, found, noCache := defaultMaxAge, false, false
	for _, d := range strings.Split(cc, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "no-cache", "no-store":
			noCache = true
		case "max-age":
			if found {
				continue // the first one counts
			}
			found = true
			secs, err := strconv.ParseUint(strings.Trim(strings.TrimSpace(value), `"`), 10, 64)
			switch {
			case errors.Is(err, strconv.ErrRange) || err == nil && secs >= uint64(maxMaxAge/time.Second):
				age = maxMaxAge
			case err == nil:
				age = max(time.Duration(secs)*time.Second, minMaxAge)
			}
		}
	}
	if noCache {
		return minMaxAge
	}
	return age
}
