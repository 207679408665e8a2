package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"walletpass/internal/httpx"
	"walletpass/pass"
)

// Store is what the console reads and changes.
type Store interface {
	GetPass(ctx context.Context, tenant, serial string) (*pass.Pass, error)
	PassByBarcode(ctx context.Context, tenant, barcode string) (*pass.Pass, error)
	PassesByOrder(ctx context.Context, tenant, secretToken string) ([]pass.Pass, error)
	HolderPasses(ctx context.Context, tenant string, fileID int64, keys ...string) ([]pass.Pass, error)
	Timeline(ctx context.Context, tenant, secretToken string, fileID int64) ([]pass.TimelineEntry, error)
	ListVersions(ctx context.Context, tenant, serial string) ([]pass.Pass, error)
	DevicesForPass(ctx context.Context, tenant, passTypeID, serial string) ([]pass.Device, error)
	PassInstalls(ctx context.Context, tenant, serial string) (pass.Installs, error)
	Enqueue(ctx context.Context, t pass.NewTask, now time.Time) (pass.Enqueued, error)
	QueueCounts(ctx context.Context, tenant string, now time.Time) ([]pass.QueueCount, error)
	TenantTasks(ctx context.Context, tenant string, state pass.TaskState, kind string, limit int) ([]pass.Task, error)
	GetTask(ctx context.Context, id string) (*pass.Task, error)
	RetryTask(ctx context.Context, id string, now time.Time) error
	DiscardTask(ctx context.Context, id string) error
	AddAudit(ctx context.Context, e pass.AuditEntry) error
	AuditLog(ctx context.Context, tenants []string, limit int) ([]pass.AuditEntry, error)
	PushLog(ctx context.Context, tenant, serial string, limit int) ([]pass.PushRecord, error)
	WalletHistory(ctx context.Context, tenant, serial string, limit int) ([]pass.WalletEvent, error)
	StreamMessages(ctx context.Context, tenant, stream string, limit int) ([]pass.OutboundMessage, error)
	AppNoticesSent(ctx context.Context, tenant, secretToken string) ([]pass.AppNoticeSent, error)
	UsagePerformances(ctx context.Context, tenant string, limit int) ([]pass.PerformanceUsage, error)
	PerformanceUsage(ctx context.Context, tenant string, performanceID int64) (pass.PerformanceUsage, error)
	Subscriptions(ctx context.Context, tenant string) ([]pass.Subscription, error)
	SubscriptionHealth(ctx context.Context, tenant string) ([]pass.SubscriptionHealth, error)
}

// Revocations keeps the console sessions revoked before their time.
type Revocations interface {
	RevokeConsoleSession(ctx context.Context, id string, until, now time.Time) error
	ConsoleSessionRevoked(ctx context.Context, id, subject string, issued time.Time) (bool, error)
}

// Versions shows stored pass versions: what each shows (to compare two)
// and a rendered preview of its front and back.
type Versions interface {
	VersionFields(ctx context.Context, tenant, serial string, version int) ([]pass.Field, error)
	VersionPreview(ctx context.Context, tenant, serial string, version int, lang string) ([]byte, error)
}

// Voider voids a ticket on an operator's word (pass.Inbox).
type Voider interface {
	VoidTicket(ctx context.Context, tenant, secretToken string, ticketID int64, correlationID string) (pass.Enqueued, error)
}

// Link is a signed link a buyer may be sent again.
type Link struct{ Label, URL string }

// Links makes fresh signed links to an order's page and passes, valid
// until exp.
type Links func(tenant, secretToken string, serials []string, exp time.Time) []Link

// OIDC is the identity provider operators sign in at.
type OIDC struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// RoleClaim names the ID token's claim that holds the roles (a string
	// or a list of strings): "admin", or "operator:<tenant>". A name not
	// found as it is is read as a path through nested claims, its parts
	// separated by dots (Keycloak's "realm_access.roles").
	RoleClaim string
	// TokenAuthMethod is how the client authenticates at the token
	// endpoint: "client_secret_basic" (the default, as discovery's own
	// default) or "client_secret_post".
	TokenAuthMethod string
}

// Tenant is what the console shows of a tenant.
type Tenant struct {
	ID, Name string
	// Certificates are the tenant's signing and push certificates.
	Certificates []Certificate
	// SecuTix names the institution and its quota; Quota, when set,
	// tells how much of it the last window used.
	SecuTix SecuTix
}

// Certificate is a certificate an operator must renew in time.
type Certificate struct {
	Name     string // what it is for: "pass signing", "APNs"
	Subject  string
	NotAfter time.Time
}

// SecuTix is a tenant's SecuTix connection as the console shows it.
type SecuTix struct {
	Institution    string
	RequestsPerMin int
	// Usage, when set, returns the calls of the last window and the end
	// of a pause SecuTix asked for (zero: none).
	Usage func(ctx context.Context) (calls int, pausedUntil time.Time, err error)
}

// Config is the console's setup; cmd/walletpass fills it.
type Config struct {
	// BaseURL is the public base URL of the service: the console is at
	// BaseURL/console/, its sign-in callback at BaseURL/console/callback.
	BaseURL string
	OIDC    OIDC
	// SessionKey signs the session cookies (at least 32 bytes, the same on
	// every instance); a key derived from it names the searches in the
	// audit log, which a new session key names anew.
	SessionKey []byte
	// SessionTTL is how long a session lasts (default 8 hours).
	SessionTTL time.Duration
	Tenants    []Tenant
	Store      Store
	// Revocations ends sessions before their time (signing out, an
	// operator's sessions revoked); nil: a session lasts until it expires.
	Revocations Revocations
	// Versions, Voids and Links serve the order page's previews, voids
	// and fresh links; each is optional.
	Versions Versions
	Voids    Voider
	Links    Links
	// LinkTTL is how long a fresh link lasts (default 7 days).
	LinkTTL time.Duration
	Log     *slog.Logger
	Clock   pass.Clock
	// HTTPClient reaches the identity provider (nil: a client with a 10 s
	// timeout).
	HTTPClient *http.Client
	// TrustedProxies are the load balancers (addresses or CIDR ranges)
	// whose X-Forwarded-For names the client the sign-in limit counts.
	TrustedProxies []string
}

// Console serves the operator console under /console/.
type Console struct {
	cfg     Config
	secure  bool // cookies marked Secure
	tenants map[string]Tenant
	pages   map[string]*template.Template
	mux     *http.ServeMux

	oidcMu sync.Mutex
	oidc   *oidcClient // discovered on the first sign-in

	limitMu sync.Mutex
	limits  map[string]*rate.Limiter // sign-ins per client
	proxies []netip.Prefix           // Config.TrustedProxies

	searchKey []byte // names searches in the audit log (queryHash)
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed templates/style.css
var styleSheet []byte

// MinSessionKey is the shortest session key accepted.
const MinSessionKey = 32

// New returns the console. It returns an error for a configuration it
// cannot work with.
func New(cfg Config) (*Console, error) {
	if len(cfg.SessionKey) < MinSessionKey {
		return nil, errors.New("console: the session key is shorter than 32 bytes")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Host == "" {
		return nil, errors.New("console: the base URL is not an absolute URL")
	}
	if cfg.OIDC.Issuer == "" || cfg.OIDC.ClientID == "" {
		return nil, errors.New("console: the identity provider's issuer and client id are required")
	}
	if cfg.OIDC.RoleClaim == "" {
		cfg.OIDC.RoleClaim = "roles"
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 7 * 24 * time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		// The OIDC library reads the discovery document and the keys
		// whole: a megabyte is far more than either takes.
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: httpx.LimitBodies(nil, 1<<20)}
	}
	proxies, err := httpx.ParseProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	host := u.Hostname()
	c := &Console{cfg: cfg, tenants: map[string]Tenant{}, limits: map[string]*rate.Limiter{}, proxies: proxies,
		// A browser keeps a Secure cookie only over https, or on
		// localhost; a development run on another http host goes without.
		secure: u.Scheme == "https" || host == "localhost" || strings.HasSuffix(host, ".localhost")}
	for _, t := range cfg.Tenants {
		c.tenants[t.ID] = t
	}
	// A key of its own, from the session key: no cookie's MAC is over
	// this text (theirs hold a NUL, see mac).
	m := hmac.New(sha256.New, cfg.SessionKey)
	m.Write([]byte("walletpass console audit search"))
	c.searchKey = m.Sum(nil)
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// routes is the console's route table.
func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /console/login", c.login)
	m.HandleFunc("GET /console/callback", c.callback)
	m.HandleFunc("POST /console/logout", c.authed(c.logout))
	m.HandleFunc("GET /console/signedout", c.signedOut)
	m.HandleFunc("GET /console/{$}", c.authed(c.search))
	m.HandleFunc("GET /console/t/{tenant}/orders/{secret}", c.authed(c.order))
	m.HandleFunc("POST /console/t/{tenant}/orders/{secret}/resync", c.authed(c.resync))
	m.HandleFunc("POST /console/t/{tenant}/orders/{secret}/repush", c.authed(c.repush))
	m.HandleFunc("POST /console/t/{tenant}/orders/{secret}/void", c.authed(c.void))
	m.HandleFunc("POST /console/t/{tenant}/orders/{secret}/links", c.authed(c.links))
	m.HandleFunc("GET /console/t/{tenant}/passes/{serial}/versions/{version}/preview", c.authed(c.preview))
	m.HandleFunc("GET /console/tenants", c.authed(c.tenantsPage))
	m.HandleFunc("GET /console/t/{tenant}/usage", c.authed(c.usage))
	m.HandleFunc("GET /console/t/{tenant}/usage/{performance}", c.authed(c.performanceUsage))
	m.HandleFunc("GET /console/queue", c.authed(c.queue))
	m.HandleFunc("POST /console/queue/retry", c.authed(c.retryTasks))
	m.HandleFunc("POST /console/queue/discard", c.authed(c.discardTasks))
	m.HandleFunc("GET /console/audit", c.authed(c.audit))
	m.HandleFunc("GET /console/style.css", c.style)
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, http.StatusNotFound, "notFound")
	})
	c.mux = m
}

// maxForm bounds a form's body.
const maxForm = 64 << 10

// ServeHTTP serves the console's paths.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self' "+
		c.formTargets()+"; frame-ancestors 'none'; base-uri 'none'")
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	c.mux.ServeHTTP(w, r)
}

// formTargets is where forms may go besides the console: the identity
// provider (the sign-in redirect follows a form post on some browsers).
func (c *Console) formTargets() string {
	u, err := url.Parse(c.cfg.OIDC.Issuer)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// allowSignIn spends one of the client's sign-in attempts: 30 a minute,
// bursts of 10 (each costs the identity provider a round trip).
func (c *Console) allowSignIn(r *http.Request) bool {
	ip := httpx.LimitKey(httpx.ClientIP(r, c.proxies))
	c.limitMu.Lock()
	defer c.limitMu.Unlock()
	if len(c.limits) > 100_000 {
		c.limits = map[string]*rate.Limiter{}
	}
	l, ok := c.limits[ip]
	if !ok {
		l = rate.NewLimiter(rate.Every(2*time.Second), 10)
		c.limits[ip] = l
	}
	return l.AllowN(c.cfg.Clock.Now(), 1)
}

// record writes an audit entry (and a log line without personal data); a
// failure to record is logged, the action stands.
func (c *Console) record(ctx context.Context, s *session, tenant, action, target, detail string) {
	e := pass.AuditEntry{At: c.cfg.Clock.Now(), Actor: s.actor(), Tenant: tenant, Action: action, Target: target, Detail: detail}
	if err := c.cfg.Store.AddAudit(context.WithoutCancel(ctx), e); err != nil {
		c.cfg.Log.Error("console audit", slog.String("action", action), slog.String("error", err.Error()))
	}
	c.cfg.Log.Info("console action", slog.String("subject", s.Subject), slog.String("tenant", tenant),
		slog.String("action", action), slog.String("target", target))
}
