package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"walletpass/pass"
)

// DevSubject is the sub claim of the tokens a DevIssuer mints.
const DevSubject = "walletpass-dev"

// DevIssuer is a development identity provider: it mints ES256 access
// tokens and serves the JWKS that verifies them. It is safe for concurrent
// use. It is not meant for production.
type DevIssuer struct {
	issuer string
	key    *ecdsa.PrivateKey
	kid    string
	jwks   []byte
}

// LoadOrCreateDevIssuer returns the DevIssuer whose tokens name issuerURL as
// their issuer and whose P-256 key is the PEM file at path. When the file
// does not exist it creates it (mode 0600, parent directories 0700) with a
// new key. The key id is derived from the public key, so it is the same each
// time the file is loaded.
//
// It returns an error of kind KindInvalid when issuerURL is empty or the file
// does not hold a P-256 private key (PKCS #8 or SEC 1 PEM), and an error
// when the file cannot be read or created.
func LoadOrCreateDevIssuer(path, issuerURL string) (*DevIssuer, error) {
	if issuerURL == "" {
		return nil, pass.Errorf(pass.KindInvalid, "auth: the development issuer URL is empty")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = createDevKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: development issuer key: %w", err)
	}
	key, err := parseDevKey(data)
	if err != nil {
		return nil, pass.Wrap(pass.KindInvalid, err, "auth: the development issuer key file "+path+" does not hold a P-256 private key")
	}
	return newDevIssuer(key, issuerURL)
}

// createDevKey writes a new P-256 key to path and returns its PEM. When
// another process created the file meanwhile, it returns that file's content.
func createDevKey(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	return data, nil
}

func parseDevKey(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key *ecdsa.PrivateKey
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("a %T, not an ECDSA key", k)
		}
		key = ec
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		key = k
	default:
		return nil, fmt.Errorf("a PEM block of type %q", block.Type)
	}
	if key.Curve != elliptic.P256() {
		return nil, errors.New("not a P-256 key")
	}
	return key, nil
}

func newDevIssuer(key *ecdsa.PrivateKey, issuerURL string) (*DevIssuer, error) {
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("auth: development issuer key: %w", err)
	}
	sum := sha256.Sum256(spki)
	kid := base64.RawURLEncoding.EncodeToString(sum[:8])

	point, err := key.PublicKey.Bytes() // 0x04 || x || y
	if err != nil {
		return nil, fmt.Errorf("auth: development issuer key: %w", err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC",
		"crv": "P-256",
		"x":   b64(point[1:33]),
		"y":   b64(point[33:65]),
		"kid": kid,
		"use": "sig",
		"alg": algES256,
	}}})
	if err != nil {
		return nil, fmt.Errorf("auth: development issuer JWKS: %w", err)
	}
	return &DevIssuer{issuer: issuerURL, key: key, kid: kid, jwks: jwks}, nil
}

// KeyID returns the kid of the issuer's key.
func (d *DevIssuer) KeyID() string { return d.kid }

// Token returns an ES256 access token for tenant and audience with scopes,
// issued at now and valid for ttl: iss is the issuer URL, sub DevSubject,
// scope the scopes separated by spaces, jti random.
//
// It returns an error of kind KindInvalid when tenant or audience is empty,
// when a scope is empty or contains white space, or when ttl is not
// positive.
func (d *DevIssuer) Token(tenant, audience string, scopes []string, ttl time.Duration, now time.Time) (string, error) {
	var problems []string
	if tenant == "" {
		problems = append(problems, "tenant is empty")
	}
	if audience == "" {
		problems = append(problems, "audience is empty")
	}
	for _, s := range scopes {
		if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			problems = append(problems, "a scope is empty or contains white space")
			break
		}
	}
	if ttl <= 0 {
		problems = append(problems, "ttl is not positive")
	}
	if len(problems) > 0 {
		return "", pass.Errorf(pass.KindInvalid, "auth: development token: %s", strings.Join(problems, "; "))
	}
	claims := jwt.MapClaims{
		"iss":    d.issuer,
		"sub":    DevSubject,
		"aud":    audience,
		"tenant": tenant,
		"iat":    now.Unix(),
		"nbf":    now.Unix(),
		"exp":    now.Add(ttl).Unix(),
		"jti":    rand.Text(),
	}
	if len(scopes) > 0 {
		claims["scope"] = strings.Join(scopes, " ")
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["kid"] = d.kid
	t.Header["typ"] = "at+jwt" // RFC 9068
	s, err := t.SignedString(d.key)
	if err != nil {
		return "", fmt.Errorf("auth: development token: %w", err)
	}
	return s, nil
}

// JWKS returns the JSON Web Key Set of the issuer's public key.
func (d *DevIssuer) JWKS() []byte { return bytes.Clone(d.jwks) }

// Handler returns a handler that serves the JWKS, at any path, to GET and
// HEAD requests, with Cache-Control: max-age=300.
func (d *DevIssuer) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		_, _ = w.Write(d.jwks)
	})
}
