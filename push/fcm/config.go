package fcm

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"walletpass/pass"
)

// DefaultTimeout bounds one Send, including the Firebase client's own
// retries, when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// messagingScope is the OAuth 2 scope for sending FCM messages.
const messagingScope = "https://www.googleapis.com/auth/firebase.messaging"

// Config is how to reach FCM for one Firebase project: in production a
// service-account key; in tests and development an Endpoint (an
// fake in fake/fcm), with or without a key.
//
// Config's String, GoString and LogValue never show the key.
type Config struct {
	// ProjectID is the Firebase project that owns the app; "" means the
	// project_id of CredentialsJSON.
	ProjectID string
	// CredentialsJSON is a service-account key file (type
	// "service_account"); the client exchanges it for OAuth 2 access
	// tokens at its token_uri. Required unless Endpoint is set; with
	// Endpoint and no key the client sends no Authorization header.
	CredentialsJSON []byte
	// Endpoint overrides https://fcm.googleapis.com/v1. It must be an
	// absolute http(s) URL ending in "/v1" (the client appends
	// /projects/<id>/messages:send); with CredentialsJSON it must be https
	// or a loopback host, so that the token never travels in clear.
	Endpoint string
	// HTTPClient carries the requests to FCM; nil means a client of the
	// package's own, closed by Client.Close. Its Transport is the base of
	// the authenticated transport. (The Google auth library fetches access
	// tokens with its own client.)
	HTTPClient *http.Client
	// Timeout bounds one Send (every attempt and back-off of the Firebase
	// client); 0 means DefaultTimeout.
	Timeout time.Duration
}

// serviceAccount is what New reads from CredentialsJSON.
type serviceAccount struct {
	Type        string `json:"type"`
	ProjectID   string `json:"project_id"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
	TokenURI    string `json:"token_uri"`
}

// String describes c without its key.
func (c Config) String() string {
	s := fmt.Sprintf("fcm.Config{project=%q", c.ProjectID)
	if c.Endpoint != "" {
		s += fmt.Sprintf(" endpoint=%q", c.Endpoint)
	}
	if len(c.CredentialsJSON) > 0 {
		var sa serviceAccount
		if json.Unmarshal(c.CredentialsJSON, &sa) == nil && sa.ClientEmail != "" {
			s += fmt.Sprintf(" account=%q", sa.ClientEmail)
		}
		s += " key=[redacted]"
	}
	return s + "}"
}

// GoString is String, so that %#v does not print the key either.
func (c Config) GoString() string { return c.String() }

// validated is a checked Config with defaults filled in.
type validated struct {
	Config
	account string // client_email, "" without credentials
}

// validate checks c and fills in the defaults. It returns an error of kind
// pass.KindInvalid listing every problem; the error never contains the key.
func (c Config) validate() (validated, error) {
	var probs []string
	v := validated{Config: c}
	if len(c.CredentialsJSON) > 0 {
		sa, saProbs := parseServiceAccount(c.CredentialsJSON)
		probs = append(probs, saProbs...)
		v.account = sa.ClientEmail
		if v.ProjectID == "" {
			v.ProjectID = sa.ProjectID
		}
	} else if c.Endpoint == "" {
		probs = append(probs, "CredentialsJSON (a service-account key) is required unless Endpoint is set")
	}

	v.ProjectID = strings.TrimSpace(v.ProjectID)
	switch {
	case v.ProjectID == "":
		probs = append(probs, "ProjectID is required (or a project_id in CredentialsJSON)")
	case !validProjectID(v.ProjectID):
		probs = append(probs, "ProjectID must be letters, digits, '-', '.', '_' or ':'")
	}

	v.Endpoint = strings.TrimRight(strings.TrimSpace(c.Endpoint), "/")
	if v.Endpoint != "" {
		u, err := url.Parse(v.Endpoint)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			probs = append(probs, "Endpoint must be an absolute http or https URL")
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			probs = append(probs, "Endpoint must not have user info, a query or a fragment")
		case !strings.HasSuffix(u.Path, "/v1"):
			probs = append(probs, `Endpoint must end in "/v1" (like https://fcm.googleapis.com/v1)`)
		case len(c.CredentialsJSON) > 0 && u.Scheme == "http" && !loopback(u.Hostname()):
			probs = append(probs, "Endpoint must be https (or a loopback host) when CredentialsJSON is set")
		}
	}
	if c.Timeout < 0 {
		probs = append(probs, "Timeout must not be negative")
	}
	if len(probs) > 0 {
		return validated{}, pass.Errorf(pass.KindInvalid, "fcm: config: %s", strings.Join(probs, "; "))
	}
	if v.Timeout == 0 {
		v.Timeout = DefaultTimeout
	}
	return v, nil
}

// parseServiceAccount checks a service-account key file. Its problems
// never quote the key or a parser's error, which could.
func parseServiceAccount(b []byte) (serviceAccount, []string) {
	var sa serviceAccount
	if err := json.Unmarshal(b, &sa); err != nil {
		return sa, []string{"CredentialsJSON must be a service-account key file (JSON)"}
	}
	var probs []string
	if sa.Type != "service_account" {
		probs = append(probs, `CredentialsJSON must have "type": "service_account"`)
	}
	if sa.ClientEmail == "" {
		probs = append(probs, "CredentialsJSON has no client_email")
	}
	if sa.TokenURI != "" {
		if u, err := url.Parse(sa.TokenURI); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname()))) {
			probs = append(probs, "CredentialsJSON's token_uri must be https (or a loopback host)")
		}
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	switch {
	case sa.PrivateKey == "":
		probs = append(probs, "CredentialsJSON has no private_key")
	case block == nil:
		probs = append(probs, "CredentialsJSON's private_key must be a PEM private key")
	default:
		if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
			if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
				probs = append(probs, "CredentialsJSON's private_key must be a PKCS#8 or PKCS#1 RSA key")
			}
		}
	}
	return sa, probs
}

// validProjectID reports whether s can go into the request path as is.
func validProjectID(s string) bool {
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9',
			ch == '-', ch == '.', ch == '_', ch == ':':
		default:
			return false
		}
	}
	return s != ""
}

// loopback reports whether host is localhost or a loopback address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
