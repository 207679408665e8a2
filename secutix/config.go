package secutix

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"walletpass/pass"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultRequestsPerMinute = 60
	DefaultInProgressRetries = 5
	DefaultInProgressDelay   = 10 * time.Second
	DefaultHTTPTimeout       = 15 * time.Second
	// CatalogHTTPTimeout bounds a getCatalogDetailed request: SecuTix
	// works on it up to 30 s before it answers "in_progress", and public
	// clients saw answers take about 20 s.
	CatalogHTTPTimeout = 60 * time.Second
	// CatalogMaxResponseBytes caps a getCatalogDetailed answer, which
	// holds every product and performance of the institution (of past
	// seasons too, in the extended scope), by default (Config.CatalogMaxBytes).
	CatalogMaxResponseBytes = 64 << 20
	DefaultMaxResponseBytes = 4 << 20
	DefaultRetryAfter       = 30 * time.Second
	// DefaultCatalogInterval is SecuTix's limit on getCatalogDetailed.
	DefaultCatalogInterval    = 10 * time.Minute
	DefaultSetupCheckInterval = time.Minute
	DefaultCatalogMaxAge      = time.Hour
	DefaultGranularity        = "TICKETS"
	DefaultCatalogScope       = "EXTENDED"
	// CatalogScopeNone as CatalogScope sends getCatalogDetailed no scope.
	CatalogScopeNone = "none"
	// JWTLifetime is exp - iat of a forged JWT: SecuTix accepts at most 30 s.
	JWTLifetime = 30 * time.Second
)

// The two ways to authenticate to SecuTix's REST API.
const (
	// AuthJWT forges an HS256 JWT for every request (the documented mode).
	AuthJWT = "jwt"
	// AuthToken exchanges the credentials at /v1/auth for a token, kept
	// until SecuTix answers 401.
	AuthToken = "token"
)

// InstitutionOf is the institution code an operator login names: the part
// before its first "_", upper-case ("CMOSA_WALLET" → "CMOSA"), or "".
func InstitutionOf(operator string) string {
	code, _, ok := strings.Cut(operator, "_")
	if !ok {
		return ""
	}
	return strings.ToUpper(strings.TrimSpace(code))
}

// Config configures a Client for one tenant's SecuTix institution.
type Config struct {
	// Tenant is our tenant id, copied into every pass.Ticket. Required.
	Tenant string
	// BaseURL is the institution's API root without a trailing slash, e.g.
	// https://mosa.ws.secutix.com, or http://host/sandbox/secutix for the
	// built-in sandbox. Required.
	BaseURL string
	// Auth is AuthJWT (the default) or AuthToken.
	Auth string
	// AuthPath is the token exchange's path (AuthToken), under BaseURL;
	// default DefaultAuthPath.
	AuthPath string
	// JWTMillis writes a forged JWT's iat and exp in milliseconds since
	// the epoch, as SecuTix's API document says, instead of RFC 7519's
	// seconds (the default), which the document's own example token and
	// the public clients use.
	JWTMillis bool
	// Institution is the institution code, the JWT's sub; "" means the
	// one the operator login names (InstitutionOf). Required in jwt mode.
	Institution string
	// Operator (the virtual operator's login), Partner and Secret (the
	// operator's secret) are the credentials: the JWT's aud, iss and
	// signing key, or the body of /v1/auth. Required.
	Operator, Partner, Secret string
	// HTTPClient sends the requests; nil means a client of its own. Each
	// request is bounded by DefaultHTTPTimeout (a catalogue request by
	// CatalogHTTPTimeout) besides any timeout of the client's.
	HTTPClient *http.Client
	// RequestsPerMinute is the limit of the default Quota per service
	// (SecuTix counts per institution and service: all the service's
	// methods together); 0 means 60. It is not used when Quota is set.
	RequestsPerMinute int
	// Quota says when each request may go out. nil means a LocalQuota of
	// this client alone: RequestsPerMinute calls per service in any
	// DefaultQuotaWindow (61 s). Clients of the same institution, in this
	// process or in other instances, must share one Quota to keep
	// SecuTix's quota together.
	Quota Quota
	// InProgressRetries is how often an "in_progress" answer is retried;
	// 0 means 5.
	InProgressRetries int
	// InProgressDelay is the wait between those retries; 0 means 10 s
	// (SecuTix's work behind "in_progress" takes more than 30 s).
	InProgressDelay time.Duration
	// DefaultEventKind is used when SecuTix does not say; "" means concert.
	DefaultEventKind pass.EventKind
	// Symbology is the barcode format of the tickets (SecuTix's orders do
	// not say which its gates read); "" means QR.
	Symbology pass.Symbology
	// Locale picks among localized names (then "en", then the first one)
	// and is the tickets' locale when SecuTix gives none; "" means "en".
	Locale string
	// MaxResponseBytes caps a response body; 0 means 4 MiB. A catalogue
	// has its own cap, CatalogMaxBytes.
	MaxResponseBytes int64
	// CatalogMaxBytes caps a getCatalogDetailed answer; 0 means
	// CatalogMaxResponseBytes (64 MiB).
	CatalogMaxBytes int64
	// Fields maps pass fields to paths in SecuTix's JSON over the defaults
	// (see Fields; "" removes a default).
	Fields map[string]string
	// SeasonTickets says which events a season ticket admits to: by the
	// ticket's product code, the product codes whose performances it
	// covers. SecuTix's orders do not say (a PASS product names no
	// performances), so the tenant configures it; each such ticket lists
	// the covered performances of the catalogue that have not ended
	// (pass.Ticket.Upcoming, at most pass.MaxUpcoming).
	SeasonTickets map[string][]string
	// Granularity is getOrderDetails' granularity; "" means TICKETS.
	Granularity string
	// CatalogScope is getCatalogDetailed's scope; "" means
	// DefaultCatalogScope, which includes products no longer on sale (so
	// that a refund of a past or cancelled performance still maps), and
	// CatalogScopeNone sends none (SecuTix then exports what is on sale).
	CatalogScope string
	// CatalogInterval is the least time between two getCatalogDetailed
	// calls; 0 means 10 minutes (SecuTix's limit); negative means no limit
	// (for sandboxes and tests).
	CatalogInterval time.Duration
	// SetupCheckInterval is how often getLastSetupUpdate is asked whether
	// the catalogue changed, when orders need it; 0 means a minute;
	// negative means at every order.
	SetupCheckInterval time.Duration
	// CatalogMaxAge is when the catalogue is fetched again whatever
	// getLastSetupUpdate says; 0 means an hour.
	CatalogMaxAge time.Duration
	// Observe, when set, hears of every request sent to SecuTix: its
	// service and method, the result (one of the Result constants) and
	// how long the exchange took.
	Observe func(service, method, result string, d time.Duration)
	// QuotaWait, when set, hears how long each request waited for its
	// service's quota, at which priority.
	QuotaWait func(service string, p pass.Priority, d time.Duration)
	// ContactLookup reads each order's contact (getContactData: one call
	// per order, on its own quota) so that fields may map to "contact.…"
	// paths, such as the holder's e-mail and language. Off by default.
	ContactLookup bool
	// ContactDetails, when set, is sent as getContactData's details.
	ContactDetails []string
	// TicketPageSize is how many tickets one listTicketsByCriteria call
	// asks for; 0 means 5,000.
	TicketPageSize int
	// Catalogs shares the catalogue between instances (nil: this process
	// only).
	Catalogs CatalogStore
	// Log gets the client's warnings; nil means none.
	Log *slog.Logger
	// Clock is the clock of tokens and of the catalogue's age.
	Clock pass.Clock

	fields fieldPaths
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
	switch c.Auth {
	case "":
		c.Auth = AuthJWT
	case AuthJWT, AuthToken:
	default:
		probs = append(probs, "Auth must be jwt or token")
	}
	if c.AuthPath == "" {
		c.AuthPath = DefaultAuthPath
	} else if !authPath.MatchString(c.AuthPath) {
		probs = append(probs, "AuthPath must be a path of plain segments, such as "+DefaultAuthPath)
	}
	if c.Institution == "" {
		c.Institution = InstitutionOf(c.Operator)
	}
	c.Institution = strings.ToUpper(strings.TrimSpace(c.Institution))
	if c.Auth == AuthJWT && c.Institution == "" && c.Operator != "" {
		probs = append(probs, "Institution is required in jwt mode (the operator login names none)")
	}
	if c.RequestsPerMinute < 0 {
		probs = append(probs, "RequestsPerMinute must not be negative")
	}
	if c.InProgressRetries < 0 {
		probs = append(probs, "InProgressRetries must not be negative")
	}
	if c.InProgressDelay < 0 {
		probs = append(probs, "InProgressDelay must not be negative")
	}
	if c.MaxResponseBytes < 0 || c.CatalogMaxBytes < 0 {
		probs = append(probs, "MaxResponseBytes and CatalogMaxBytes must not be negative")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"CatalogMaxAge", c.CatalogMaxAge}} {
		if d.v < 0 {
			probs = append(probs, d.name+" must not be negative")
		}
	}
	fields, err := compileFields(c.Fields)
	if err != nil {
		probs = append(probs, strings.TrimPrefix(pass.PublicMessage(err), "secutix: config: "))
	}
	c.fields = fields
	if c.Symbology != "" && !c.Symbology.Valid() {
		probs = append(probs, "Symbology "+string(c.Symbology)+" is unknown")
	}
	if c.DefaultEventKind != "" && !c.DefaultEventKind.Valid() {
		probs = append(probs, "DefaultEventKind "+string(c.DefaultEventKind)+" is unknown")
	}
	for code, covers := range c.SeasonTickets {
		if strings.TrimSpace(code) == "" || len(covers) == 0 || slices.Contains(covers, "") {
			probs = append(probs, fmt.Sprintf("SeasonTickets: %q needs a product code and the product codes it covers", code))
		}
	}
	if len(probs) > 0 {
		return c, pass.Errorf(pass.KindInvalid, "secutix: config: %s", strings.Join(probs, "; "))
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.RequestsPerMinute == 0 {
		c.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if c.Quota == nil {
		c.Quota = NewLocalQuota(c.RequestsPerMinute, DefaultQuotaWindow, nil)
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
	if c.Symbology == "" {
		c.Symbology = pass.SymbologyQR
	}
	if c.Locale == "" {
		c.Locale = "en"
	}
	if c.CatalogMaxBytes == 0 {
		c.CatalogMaxBytes = CatalogMaxResponseBytes
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.TicketPageSize <= 0 {
		c.TicketPageSize = DefaultTicketPageSize
	}
	if c.CatalogScope == "" {
		c.CatalogScope = DefaultCatalogScope
	}
	if c.Granularity == "" {
		c.Granularity = DefaultGranularity
	}
	if c.CatalogInterval == 0 {
		c.CatalogInterval = DefaultCatalogInterval
	}
	if c.SetupCheckInterval == 0 {
		c.SetupCheckInterval = DefaultSetupCheckInterval
	}
	if c.CatalogMaxAge == 0 {
		c.CatalogMaxAge = DefaultCatalogMaxAge
	}
	return c, nil
}
