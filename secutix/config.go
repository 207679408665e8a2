package secutix

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"walletpass/pass"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultRequestsPerMinute = 60
	DefaultBurst             = 5
	DefaultInProgressRetries = 5
	DefaultInProgressDelay   = 2 * time.Second
	DefaultHTTPTimeout       = 15 * time.Second
	DefaultMaxResponseBytes  = 4 << 20
	DefaultTokenLifetime     = 10 * time.Minute
	DefaultRetryAfter        = 30 * time.Second
)

// tokenRenewEarly is how long before its expiry a cached token is renewed.
const tokenRenewEarly = 30 * time.Second

// Config configures a Client for one tenant's SecuTix institution.
type Config struct {
	// Tenant is our tenant id, copied into every pass.Ticket. Required.
	Tenant string
	// BaseURL is the institution's API root without a trailing slash, e.g.
	// https://mosa.ws.secutix.com, or http://host/sandbox/secutix for the
	// built-in sandbox. Required.
	BaseURL string
	// Operator, Partner and Secret are the credentials sent to /v1/auth.
	// Required.
	Operator, Partner, Secret string
	// HTTPClient sends the requests; nil means a client with a 15 s timeout.
	HTTPClient *http.Client
	// RequestsPerMinute is the client-side limit per endpoint (SecuTix
	// counts per endpoint too); 0 means 60.
	RequestsPerMinute int
	// Burst is how many requests per endpoint may go out at once before the
	// limiter spaces them; 0 means min(5, RequestsPerMinute).
	Burst int
	// InProgressRetries is how often an "in_progress" answer is retried;
	// 0 means 5.
	InProgressRetries int
	// InProgressDelay is the wait between those retries; 0 means 2 s.
	InProgressDelay time.Duration
	// DefaultEventKind is used when SecuTix does not say; "" means concert.
	DefaultEventKind pass.EventKind
	// Locale picks among localized names (then "en", then the first one)
	// and is the tickets' locale when SecuTix gives none; "" means "en".
	Locale string
	// MaxResponseBytes caps a response body; 0 means 4 MiB.
	MaxResponseBytes int64
	// Clock is the clock of token expiry.
	Clock pass.Clock
}

// withDefaults validates c and returns it with defaults filled in. It
// returns an error of kind KindInvalid listing every problem.
func (c Config) withDefaults() (Config, error) {
	var probs []string
	if strings.TrimSpace(c.Tenant) == "" {
		probs = append(probs, "Tenant is required")
	}
	c.BaseURL = strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	if c.BaseURL == "" {
		probs = append(probs, "BaseURL is required")
	} else if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		probs = append(probs, "BaseURL must be an absolute http(s) URL")
	} else if u.RawQuery != "" || u.Fragment != "" {
		probs = append(probs, "BaseURL must not have a query or a fragment")
	}
	if c.Operator == "" {
		probs = append(probs, "Operator is required")
	}
	if c.Partner == "" {
		probs = append(probs, "Partner is required")
	}
	if c.Secret == "" {
		probs = append(probs, "Secret is required")
	}
	if c.RequestsPerMinute < 0 {
		probs = append(probs, "RequestsPerMinute must not be negative")
	}
	if c.Burst < 0 {
		probs = append(probs, "Burst must not be negative")
	}
	if c.InProgressRetries < 0 {
		probs = append(probs, "InProgressRetries must not be negative")
	}
	if c.InProgressDelay < 0 {
		probs = append(probs, "InProgressDelay must not be negative")
	}
	if c.MaxResponseBytes < 0 {
		probs = append(probs, "MaxResponseBytes must not be negative")
	}
	if c.DefaultEventKind != "" && !c.DefaultEventKind.Valid() {
		probs = append(probs, "DefaultEventKind "+string(c.DefaultEventKind)+" is unknown")
	}
	if len(probs) > 0 {
		return c, pass.Errorf(pass.KindInvalid, "secutix: config: %s", strings.Join(probs, "; "))
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if c.RequestsPerMinute == 0 {
		c.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if c.Burst == 0 {
		c.Burst = min(DefaultBurst, c.RequestsPerMinute)
	}
	if c.InProgressRetries == 0 {
		c.InProgressRetries = DefaultInProgressRetries
	}
	if c.InProgressDelay == 0 {
		c.InProgressDelay = DefaultInProgressDelay
	}
	if c.DefaultEventKind == "" {
		c.DefaultEventKind = pass.EventConcert
	}
	if c.Locale == "" {
		c.Locale = "en"
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return c, nil
}
