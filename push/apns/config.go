package apns

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/token"

	"walletpass/internal/strs"
	"walletpass/pass"
)

// Defaults applied by New to zero Config fields, and the back-off Push
// suggests for a Retry outcome.
const (
	// DefaultHost is APNs production. Passes are always pushed there: the
	// sandbox answers 400 BadDeviceToken for Wallet's tokens.
	DefaultHost        = apns2.HostProduction
	DefaultConcurrency = 32
	DefaultTimeout     = 10 * time.Second

	// RetryAfterTooManyRequests is the back-off after a 429. APNs sends no
	// Retry-After header; a 429 means the token got too many pushes, so
	// wait long enough for the pass's pending changes to coalesce.
	RetryAfterTooManyRequests = time.Minute
	// RetryAfterUnavailable is the back-off after a 5xx or no answer.
	RetryAfterUnavailable = 10 * time.Second
)

// Transport settings: health-check an idle connection with a ping so a
// connection that a middlebox dropped is noticed before the next push.
const (
	sendPingTimeout = 15 * time.Second
	pingTimeout     = 15 * time.Second
	tcpKeepAlive    = 15 * time.Second
)

// Config is one APNs credential (one per tenant): either certificate auth
// with the Pass Type ID certificate (the documented way for passes) or
// token auth with a .p8 key, its key ID and the team ID. Set exactly one.
//
// Config's String, GoString and LogValue never show the key material.
type Config struct {
	// Certificate is the Pass Type ID certificate (leaf, and optionally
	// its chain) with its private key, for certificate auth; nil for
	// token auth.
	Certificate *tls.Certificate
	// TokenKeyPEM is the contents of the .p8 file (a PKCS#8 "PRIVATE KEY"
	// holding an ECDSA P-256 key) for token auth; KeyID is its 10-character
	// key ID and TeamID the Apple team that owns it and the pass type.
	TokenKeyPEM   []byte
	KeyID, TeamID string
	// Host is the APNs base URL; "" means DefaultHost. Tests point it at
	// a fake APNs (fake/apns). It must be https: APNs speaks HTTP/2 over TLS.
	Host string
	// RootCAs verifies the server; nil means the system roots.
	RootCAs *x509.CertPool
	// Concurrency is the maximum number of pushes in flight; 0 means
	// DefaultConcurrency.
	Concurrency int
	// Timeout bounds one push's HTTP exchange (not the wait for a free
	// slot, which only ctx bounds); 0 means DefaultTimeout.
	Timeout time.Duration
	// Logger receives one line per kind of ConfigError (status and
	// reason) for the life of the Client; nil means no logging. Give it the
	// tenant as an attribute.
	Logger *slog.Logger
}

// tokenAuth reports whether any token-auth field is set.
func (c Config) tokenAuth() bool {
	return len(c.TokenKeyPEM) > 0 || c.KeyID != "" || c.TeamID != ""
}

// authMode names the credential kind for String and logs.
func (c Config) authMode() string {
	switch {
	case c.Certificate != nil && c.tokenAuth():
		return "ambiguous"
	case c.Certificate != nil:
		return "certificate"
	case c.tokenAuth():
		return "token"
	default:
		return "none"
	}
}

// String describes c without its key material.
func (c Config) String() string {
	s := fmt.Sprintf("apns.Config{auth=%s host=%q", c.authMode(), c.Host)
	if c.Certificate != nil {
		if leaf := leafOf(c.Certificate); leaf != nil {
			s += fmt.Sprintf(" certificate=%q", leaf.Subject.CommonName)
		}
	}
	if c.tokenAuth() {
		s += fmt.Sprintf(" keyID=%q teamID=%q key=[redacted]", c.KeyID, c.TeamID)
	}
	return s + "}"
}

// GoString is String, so that %#v does not print the key either.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the key material.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// validated is a checked Config with defaults filled in and the parsed
// credential.
type validated struct {
	Config
	authKey *ecdsa.PrivateKey // token auth only
}

// validate checks c and returns it with defaults filled in. It returns an
// error of kind pass.KindInvalid that lists every problem; the error never
// contains key material.
func (c Config) validate() (validated, error) {
	var probs []string
	v := validated{Config: c}
	switch {
	case c.Certificate != nil && c.tokenAuth():
		probs = append(probs, "set either Certificate or TokenKeyPEM, KeyID and TeamID, not both")
	case c.Certificate != nil:
		probs = append(probs, certificateProblems(c.Certificate)...)
	case c.tokenAuth():
		key, tokenProbs := parseAuthKey(c.TokenKeyPEM)
		probs = append(probs, tokenProbs...)
		v.authKey = key
		if strings.TrimSpace(c.KeyID) == "" {
			probs = append(probs, "KeyID is required with TokenKeyPEM")
		} else if !strs.VisibleASCII(c.KeyID) {
			probs = append(probs, "KeyID must be printable ASCII")
		}
		if strings.TrimSpace(c.TeamID) == "" {
			probs = append(probs, "TeamID is required with TokenKeyPEM")
		} else if !strs.VisibleASCII(c.TeamID) {
			probs = append(probs, "TeamID must be printable ASCII")
		}
	default:
		probs = append(probs, "a credential is required: Certificate, or TokenKeyPEM with KeyID and TeamID")
	}

	v.Host = strings.TrimRight(strings.TrimSpace(c.Host), "/")
	if v.Host == "" {
		v.Host = DefaultHost
	} else if u, err := url.Parse(v.Host); err != nil || u.Scheme != "https" || u.Host == "" {
		probs = append(probs, "Host must be an absolute https URL")
	} else if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		probs = append(probs, "Host must not have user info, a query or a fragment")
	}
	if c.Concurrency < 0 {
		probs = append(probs, "Concurrency must not be negative")
	}
	if c.Timeout < 0 {
		probs = append(probs, "Timeout must not be negative")
	}
	if len(probs) > 0 {
		return validated{}, pass.Errorf(pass.KindInvalid, "apns: config: %s", strings.Join(probs, "; "))
	}
	if v.Concurrency == 0 {
		v.Concurrency = DefaultConcurrency
	}
	if v.Timeout == 0 {
		v.Timeout = DefaultTimeout
	}
	return v, nil
}

// certificateProblems checks a certificate-auth credential.
func certificateProblems(cert *tls.Certificate) []string {
	var probs []string
	if len(cert.Certificate) == 0 {
		probs = append(probs, "Certificate has no certificate")
	} else if leafOf(cert) == nil {
		probs = append(probs, "Certificate's leaf is not a valid X.509 certificate")
	}
	if cert.PrivateKey == nil {
		probs = append(probs, "Certificate has no private key")
	}
	return probs
}

// leafOf returns cert's parsed leaf, or nil.
func leafOf(cert *tls.Certificate) *x509.Certificate {
	if cert.Leaf != nil {
		return cert.Leaf
	}
	if len(cert.Certificate) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

// parseAuthKey reads a .p8 key. Its problems never quote the key or the
// parser's error, which could.
func parseAuthKey(pemBytes []byte) (*ecdsa.PrivateKey, []string) {
	if len(pemBytes) == 0 {
		return nil, []string{"TokenKeyPEM is required with KeyID and TeamID"}
	}
	key, err := token.AuthKeyFromBytes(pemBytes)
	if err != nil {
		return nil, []string{"TokenKeyPEM must be a .p8 file: a PEM PKCS#8 ECDSA private key"}
	}
	if key.Curve != elliptic.P256() {
		return nil, []string{"TokenKeyPEM must hold a P-256 key (ES256)"}
	}
	return key, nil
}
