package httpapi

import (
	"cmp"
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"walletpass/internal/httpx"
	"walletpass/pass"
	"walletpass/pass/apple"
)

// MaxBody caps every request body; endpoints set lower limits of their
// own, and SecuTix's V2 webhook a larger one (MaxV2Body).
const MaxBody = 1 << 20

// v2Path is the route of SecuTix's order webhook V2.
const v2Path = "/api/:tenantId/webhooks/secutix/v2/orders"

// Pinger is something whose health readiness depends on.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Metrics is what the HTTP layer reports; cmd/walletpass counts it for
// Prometheus. Route is the route's pattern ("unmatched" for none), never
// the path, so that the number of series stays bounded; tenant is "" for
// a tenant walletpass does not serve, for the same reason.
type Metrics interface {
	Request(route, method string, status int, d time.Duration)
	// Webhook reports one SecuTix webhook: its source (secutix-order,
	// secutix-v1, secutix-v2) and outcome (queued, merged, unauthorized,
	// throttled, rejected, failed).
	Webhook(tenant, source, outcome string)
}

// HealthCheck is one thing readiness depends on: What names it in the
// problem ("the database").
type HealthCheck struct {
	What string
	Pinger
}

// TenantInfo is what the HTTP layer shows of a tenant.
type TenantInfo struct {
	ID              string
	Name            string
	DefaultTemplate string
	// PublicBaseURL is how buyers reach the tenant's links and pages.
	PublicBaseURL string
	// Background is the brand colour of the order page ("#rrggbb"), and
	// Foreground the colour of text on it (the default template's).
	Background, Foreground string
	// Google says whether the tenant issues Google Wallet passes.
	Google bool
	// Locale is the tenant's language (BCP 47): the order page's when
	// neither the browser's nor the order's is spoken.
	Locale string
}

// Deps is what the server needs, grouped by feature; cmd/walletpass fills
// it. A feature whose group is left zero is off: its routes answer 404.
type Deps struct {
	Log     *slog.Logger
	Tenants []TenantInfo
	// Health is what readiness depends on (the database, the pass file
	// store), each named for the problem when it fails.
	Health []HealthCheck
	// Draining, when it answers true, makes readiness answer 503 while
	// requests are still served (the shutdown's drain delay).
	Draining func() bool
	// Metrics hears of every request and webhook (nil: nobody counts).
	Metrics Metrics
	// Scans answers the gate systems' scans (nil: the route answers 404).
	Scans Scanner
	// Notices takes the organisers' notifications to every holder of a
	// performance (nil: the route answers 404).
	Notices Announcer
	// Erasures erases holder data (nil: the route answers 404).
	Erasures HolderEraser
	// Subscriptions is the webhook subscriptions API (Store nil: 404).
	Subscriptions SubscriptionDeps
	Clock         pass.Clock
	// AccessLog logs every request; failed ones (4xx, 5xx) always are.
	AccessLog bool
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client (the rate limits); none by default.
	TrustedProxies []string
	// RequestDeadline bounds a request's work (0: DefaultRequestDeadline).
	RequestDeadline time.Duration

	// Passes and their signed files, read by every buyer-facing feature;
	// TemplateFile serves a template's images (order page, Google Wallet).
	Passes       PassReader
	Files        PassFiles
	TemplateFile func(template, file string) ([]byte, bool)

	// Console is the operator console, served under /console/ (nil: off).
	Console http.Handler

	Webhooks WebhookDeps
	Apple    AppleDeps
	Links    LinkDeps
	Google   GoogleDeps
	Tickets  TicketsAPI
	App      AppDeps
	Preview  PreviewDeps
	Dev      DevDeps
}

// PassReader reads passes: the metadata that serves a pass file, and an
// order's passes.
type PassReader interface {
	GetPassMeta(ctx context.Context, tenant, serial string) (*pass.Pass, error)
	PassesByOrder(ctx context.Context, tenant, secretToken string) ([]pass.Pass, error)
}

// PassFiles reads a version of a pass whole, as phones download it (the
// stored form completed with its template's files).
type PassFiles interface {
	PassFile(ctx context.Context, p *pass.Pass) ([]byte, error)
}

// WebhookDeps is SecuTix's side: the inbox that records webhooks and each
// tenant's webhook credentials (missing means none).
type WebhookDeps struct {
	Inbox WebhookInbox
	Auth  map[string]WebhookAuth
}

// AppleDeps is the PassKit web service: device registrations, and the
// timeline that device logs go to.
type AppleDeps struct {
	Devices  pass.DeviceStore
	Timeline pass.Timeline
	// Announce: pass.installed and pass.uninstalled are queued as devices
	// register and unregister, in the registration's transaction.
	Announce bool
}

// LinkDeps signs the links buyers get: their key and how long they work.
type LinkDeps struct {
	Signer LinkSigner
	TTL    time.Duration
}

// GoogleDeps is Google Wallet: the save links and Google's callbacks.
type GoogleDeps struct {
	Save      GoogleSaver
	Callbacks GoogleCallbacks
}

// AppDeps is the organiser's app: its installations and app notices.
type AppDeps struct {
	Installations pass.InstallationStore
	Notices       InstallationRegistrar
}

// PreviewDeps serves sample passes (development and designers).
type PreviewDeps struct {
	Enabled  bool
	Packager PreviewPackager
}

// PreviewPackager renders and signs sample passes, whole (they are not
// stored); with nfc, as an NFC tenant signs them (the poster layout).
type PreviewPackager interface {
	Sample(ctx context.Context, tenant, template string, in pass.PassInput, nfc bool) ([]byte, error)
}

// DevDeps are the development fakes served by `make run` (nil: off).
type DevDeps struct {
	// Sandbox serves the built-in SecuTix sandbox under /sandbox/.
	Sandbox http.Handler
	// Google serves the fake Google Wallet API under /dev/google/.
	Google http.Handler
	// FCM serves the fake FCM under /dev/fcm/.
	FCM http.Handler
	// OAuth serves the development identity provider's keys at
	// /dev/oauth/jwks.json.
	OAuth http.Handler
	// OIDC is the development OpenID provider of the console's sign-in,
	// under /dev/oidc/.
	OIDC http.Handler
}

// Server holds the handlers' dependencies.
type Server struct {
	log     *slog.Logger
	deps    Deps
	tenants map[string]TenantInfo

	deviceLogs *deviceLogBudgets // the PassKit log route's (apple.go)
	// The order page: a client's unknown tokens (guesses) are limited
	// strictly, its views of real orders loosely (a venue's Wi-Fi or a
	// carrier's address is many buyers at the doors).
	pageMisses *clientLimiter // 30 per minute per client, bursts of 10
	pages      *clientLimiter // 20 a second per client, bursts of 200
	downloads  *clientLimiter // per link: 10 a minute, bursts of 10
	// passFiles: the PassKit web service's whole passes, per pass
	// (PassFileBurst, then one per PassFileEvery): each is built anew,
	// and the pass's token is in every copy of it.
	passFiles *clientLimiter
	devices   *clientLimiter // the app's (un)registrations: 20 per minute per client, bursts of 10
	// passChanges: the PassKit registrations and unregistrations that
	// change something, per pass (RegistrationChangeBurst).
	passChanges passBudgets
	// signing: the previews, which sign a pass on the spot: 30 per minute
	// per client, bursts of 20.
	signing *clientLimiter
	// saves: the openings of a Google save link, per link; saveClients,
	// per client.
	saves, saveClients *clientLimiter
	unknown            tenantBudgets  // SecuTix lookups of orders walletpass does not have yet, per tenant
	unknownClients     *clientLimiter // and per client of a tenant
	// authFailures counts wrong webhook credentials per client;
	// apiAuthFailures, wrong organiser API credentials; callbackFailures,
	// Google Wallet callbacks whose signature failed.
	authFailures, apiAuthFailures, callbackFailures *clientLimiter
	// goodCredentials are the organiser credentials that passed lately.
	goodCredentials goodCredentials
	// proxies are Deps.TrustedProxies, parsed.
	proxies []netip.Prefix
	// proxyWarned: the warning that requests come through a proxy while
	// none is trusted was logged (once per server).
	proxyWarned atomic.Bool
	// notReady is whether the last readiness probe failed.
	notReady atomic.Bool
	// readyCheck shares the health checks between readiness probes.
	readyCheck readyCheck
}

// New returns the HTTP handler of walletpass.
func New(d Deps) http.Handler {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{log: d.Log, deps: d, tenants: map[string]TenantInfo{}, deviceLogs: newDeviceLogBudgets(),
		pageMisses: &clientLimiter{every: 2 * time.Second, burst: 10}, pages: &clientLimiter{every: 50 * time.Millisecond, burst: 200},
		devices:          &clientLimiter{every: 3 * time.Second, burst: 10},
		downloads:        &clientLimiter{every: 6 * time.Second, burst: 10},
		passFiles:        &clientLimiter{every: PassFileEvery, burst: PassFileBurst},
		signing:          &clientLimiter{every: 2 * time.Second, burst: 20},
		saves:            &clientLimiter{every: SaveEvery, burst: SaveBurst},
		saveClients:      &clientLimiter{every: SaveClientEvery, burst: SaveClientBurst},
		unknown:          tenantBudgets{m: map[string]*rate.Limiter{}},
		unknownClients:   &clientLimiter{every: UnknownOrderClientEvery, burst: UnknownOrderClientBurst},
		authFailures:     &clientLimiter{every: authFailureEvery, burst: authFailureBurst},
		apiAuthFailures:  &clientLimiter{every: APIAuthFailureEvery, burst: APIAuthFailureBurst},
		callbackFailures: &clientLimiter{every: callbackFailureEvery, burst: callbackFailureBurst}}
	for _, t := range d.Tenants {
		s.tenants[t.ID] = t
	}
	var err error
	if s.proxies, err = httpx.ParseProxies(d.TrustedProxies); err != nil {
		s.log.Error("trusted proxies: none trusted", "error", err) // config.Validate refuses such a list
	}
	r := s.routes()
	// Wallet joins webServiceURL and "/v1/..." as it likes: tolerate a
	// trailing slash on the web service's paths.
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if p := req.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") && strings.Contains(p, "/apple/v1/") {
			req.URL.Path = strings.TrimSuffix(p, "/")
			req.URL.RawPath = ""
		}
		r.ServeHTTP(w, req)
	})
}

// routes is the one route table of the service.
func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	// The per-client limits read the client's address with s.clientIP,
	// the console's way; gin trusts no proxy.
	if err := r.SetTrustedProxies(nil); err != nil {
		s.log.Error("trusted proxies", "error", err)
	}
	r.Use(withCorrelationID, s.logRequests, s.recoverProblem, noSniff, // a panic's 500 is logged and counted too
		limitBody(MaxBody, map[string]int64{v2Path: MaxV2Body}), requestDeadline(cmp.Or(s.deps.RequestDeadline, DefaultRequestDeadline)))
	r.NoRoute(func(c *gin.Context) { writeProblem(c, http.StatusNotFound, "no such resource") })
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, http.StatusMethodNotAllowed, "method not allowed on this resource")
	})

	r.GET("/healthz", s.health)
	r.GET("/readyz", s.ready)
	r.GET("/openapi.json", s.openAPI)
	r.GET("/", s.home)
	if s.deps.Preview.Enabled {
		r.GET("/api/:tenantId/preview/:template", s.previewPass)
	}

	// SecuTix webhooks: the listener (same path as the product we replace)
	// and SecuTix's native order webhooks V1 and V2.
	r.POST("/api/:tenantId/webhooks/listeners/secutix/orders", s.countWebhook("secutix-order"), s.orderListener)
	r.GET("/api/:tenantId/webhooks/secutix/v1/orders/:orderId", s.countWebhook("secutix-v1"), s.orderV1)
	r.POST("/api/:tenantId/webhooks/secutix/v1/orders/:orderId", s.countWebhook("secutix-v1"), s.orderV1)
	r.POST(v2Path, s.countWebhook("secutix-v2"), s.orderV2)

	// The PassKit web service under each pass's webServiceURL.
	passkit := r.Group("/api/:tenantId/apple/v1")
	passkit.POST("/devices/:deviceLibraryIdentifier/registrations/:passTypeIdentifier/:serialNumber", s.registerDevice)
	passkit.DELETE("/devices/:deviceLibraryIdentifier/registrations/:passTypeIdentifier/:serialNumber", s.unregisterDevice)
	passkit.GET("/devices/:deviceLibraryIdentifier/registrations/:passTypeIdentifier", s.updatedSerials)
	passkit.GET("/passes/:passTypeIdentifier/:serialNumber", s.latestPass)
	passkit.HEAD("/passes/:passTypeIdentifier/:serialNumber", s.latestPass)
	passkit.POST("/log", s.deviceLog)

	// The organisers' API (the same path as the product we replace).
	r.GET("/api/:tenantId/external/secutix/orders/getTicketsUrl/:fileId", s.getTicketsURL)

	// Distribution: signed downloads and the buyer's order page.
	r.GET("/api/:tenantId/passes", s.listPasses)
	r.POST("/api/:tenantId/scans", s.scan)
	r.POST("/api/:tenantId/performances/:performanceId/notifications", s.notify)
	r.POST("/api/:tenantId/erasures", s.erase)
	r.GET("/api/:tenantId/webhooks", s.listSubscriptions)
	r.POST("/api/:tenantId/webhooks", s.createSubscription)
	r.GET("/api/:tenantId/webhooks/:id", s.getSubscription)
	r.PATCH("/api/:tenantId/webhooks/:id", s.patchSubscription)
	r.DELETE("/api/:tenantId/webhooks/:id", s.deleteSubscription)
	r.POST("/api/:tenantId/webhooks/:id/secret", s.rotateSecret)
	r.GET("/api/:tenantId/passes/:file", s.passFile)
	r.GET("/api/:tenantId/orders/:secret/tickets.pkpasses", s.downloadBundle)
	r.GET("/:tenantId/orders/:secret", s.orderPageHandler)
	r.POST("/api/:tenantId/customers/devices", s.registerInstallation)
	r.DELETE("/api/:tenantId/customers/devices", s.unregisterInstallation)

	// Google Wallet: the order's save link and the images passes show.
	r.GET("/api/:tenantId/google/save/:secret", s.googleSave)
	r.GET("/api/:tenantId/google/save/:secret/:serial", s.googleSave)
	r.GET("/api/:tenantId/google/pass/:serial", s.googleSave)
	r.GET("/api/:tenantId/google/images/:template/:file", s.templateImage)
	r.POST("/api/:tenantId/google/callback", s.googleCallback)

	if d := s.deps.Dev; d.Sandbox != nil {
		r.Any("/sandbox/*path", gin.WrapH(d.Sandbox))
	}
	if d := s.deps.Dev; d.FCM != nil {
		r.Any("/dev/fcm/*path", gin.WrapH(d.FCM))
	}
	if d := s.deps.Dev; d.OAuth != nil {
		r.GET("/dev/oauth/jwks.json", gin.WrapH(d.OAuth))
	}
	if d := s.deps.Dev; d.Google != nil {
		r.Any(DevGooglePath+"*path", stripPrefix(DevGooglePath, d.Google))
	}
	if d := s.deps.Dev; d.OIDC != nil {
		r.Any("/dev/oidc/*path", gin.WrapH(d.OIDC))
	}
	if s.deps.Console != nil {
		r.GET("/console", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/console/") })
		r.Any("/console/*path", gin.WrapH(s.deps.Console))
	}
	return r
}

func (s *Server) health(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// ready answers the readiness probe: 503 while draining or while a health
// check fails. A load balancer asks every few seconds, and every deploy
// drains, so a failing probe is routine: the log says when readiness
// changes (a warning when the instance stops being ready, an info line
// when it is ready again), not at every probe.
func (s *Server) ready(c *gin.Context) {
	if err := s.readiness(c.Request.Context()); err != nil {
		if s.notReady.CompareAndSwap(false, true) {
			s.log.WarnContext(c.Request.Context(), "not ready", slog.String("reason", pass.PublicMessage(err)), slog.Any("error", err))
		}
		markRoutineFailure(c)
		s.fail(c, err)
		return
	}
	if s.notReady.CompareAndSwap(true, false) {
		s.log.InfoContext(c.Request.Context(), "ready again")
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// readiness returns an error of kind Unavailable while draining or while
// a health check fails.
func (s *Server) readiness(ctx context.Context) error {
	if s.deps.Draining != nil && s.deps.Draining() {
		return pass.Errorf(pass.KindUnavailable, "shutting down")
	}
	return s.healthy(ctx)
}

// Readiness is public and probed by every load balancer: its health
// checks (a database ping, an S3 HeadBucket) run at most once per
// ReadyCacheFor, and requests that come while they run wait for their
// result. They run for at most ReadyCheckTimeout, whatever the request
// that started them does: their result is every waiter's.
const (
	ReadyCacheFor     = time.Second
	ReadyCheckTimeout = 5 * time.Second
)

// readyCheck is the last run of the health checks, or the one under way.
type readyCheck struct {
	mu     sync.Mutex
	last   *healthRun // the last that ended (nil: none yet)
	flight *healthRun // the one under way (nil: none)
}

// healthRun is one run of the health checks: err is set before done is
// closed.
type healthRun struct {
	done chan struct{}
	at   time.Time // when it ended
	err  error
}

// healthy runs the health checks, or returns the result of a run that
// ended less than ReadyCacheFor ago, or waits for the run under way.
func (s *Server) healthy(ctx context.Context) error {
	if len(s.deps.Health) == 0 {
		return nil
	}
	rc := &s.readyCheck
	rc.mu.Lock()
	if l := rc.last; l != nil {
		if age := s.now().Sub(l.at); age >= 0 && age < ReadyCacheFor {
			rc.mu.Unlock()
			return l.err
		}
	}
	if f := rc.flight; f != nil {
		rc.mu.Unlock()
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return pass.Wrap(pass.KindUnavailable, ctx.Err(), "the health checks did not end in time")
		}
	}
	run := &healthRun{done: make(chan struct{})}
	rc.flight = run
	rc.mu.Unlock()
	ended := false
	defer func() {
		if !ended { // a check panicked: the waiters learn it, nothing is kept
			run.err = pass.Errorf(pass.KindInternal, "a health check failed")
		}
		rc.mu.Lock()
		rc.flight = nil
		if ended {
			run.at, rc.last = s.now(), run
		}
		rc.mu.Unlock()
		close(run.done)
	}()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ReadyCheckTimeout)
	defer cancel()
	run.err = s.checkHealth(cctx)
	ended = true
	return run.err
}

// checkHealth asks each health check in turn.
func (s *Server) checkHealth(ctx context.Context) error {
	for _, h := range s.deps.Health {
		if err := h.Ping(ctx); err != nil {
			return pass.Wrap(pass.KindUnavailable, err, h.What+" does not answer")
		}
	}
	return nil
}

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>walletpass</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b2a4a}
a{color:#1b2a4a}li{margin:.3rem 0}code{background:#f2f2f2;padding:0 .2rem}</style></head>
<body><h1>walletpass</h1>
<p>Apple Wallet and Google Wallet passes for SecuTix tickets. Health: <a href="/healthz">/healthz</a>.</p>
{{if .Preview}}<h2>Sample passes</h2>
<p>Each link downloads a signed <code>.pkpass</code> made from a sample ticket with the tenant's template.
Open it on an iPhone or a Mac, or check it with <code>openssl</code> (see the README).</p>
{{range .Tenants}}<h3>{{.Name}} <small>(tenant <code>{{.ID}}</code>, template <code>{{.DefaultTemplate}}</code>)</small></h3><ul>
{{$t := .}}{{range $.Kinds}}<li><a href="/api/{{$t.ID}}/preview/{{$t.DefaultTemplate}}?kind={{.}}">{{.}}</a>
 (<a href="/api/{{$t.ID}}/preview/{{$t.DefaultTemplate}}?kind={{.}}&amp;format=html">front and back</a>)
 · <a href="/api/{{$t.ID}}/preview/{{$t.DefaultTemplate}}?kind={{.}}&amp;state=USED">used</a>
 · <a href="/api/{{$t.ID}}/preview/{{$t.DefaultTemplate}}?kind={{.}}&amp;state=CANCELLED">cancelled</a></li>
{{end}}<li><a href="/api/{{$t.ID}}/preview/{{$t.DefaultTemplate}}?kind=season">season ticket</a>
 (<a href="/api/{{$t.ID}}/preview/{{$t.DefaultTemplate}}?kind=season&amp;format=html">front, back and upcoming events</a>)</li>
<li><a href="/api/{{$t.ID}}/preview/{{$t.DefaultTemplate}}?kind=concert&amp;nfc=1">as an NFC ticket</a>
 (<a href="/api/{{$t.ID}}/preview/{{$t.DefaultTemplate}}?kind=concert&amp;nfc=1&amp;format=html">with the poster layout</a>)</li>
</ul>{{end}}{{end}}
</body></html>`))

func (s *Server) home(c *gin.Context) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	// The tenants are named only beside their sample passes: a production
	// server does not list its organisers to whoever asks.
	_ = homePage.Execute(c.Writer, map[string]any{
		"Preview": s.deps.Preview.Enabled,
		"Tenants": s.deps.Tenants,
		"Kinds":   []pass.EventKind{pass.EventConcert, pass.EventFestival, pass.EventSports},
	})
}

var templateNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// previewPass signs a sample ticket of ?kind= (concert, festival, sports…)
// and ?state= (VALID, USED, CANCELLED) with the tenant and template of the
// path, and serves it as a download. Nothing is stored.
func (s *Server) previewPass(c *gin.Context) {
	if !s.allowSigning(c) {
		return
	}
	tenant, ok := s.tenants[c.Param("tenantId")]
	if !ok {
		writeProblem(c, http.StatusNotFound, "unknown tenant")
		return
	}
	tplName := c.Param("template")
	if !templateNameRE.MatchString(tplName) {
		writeProblem(c, http.StatusBadRequest, "the template name must be lowercase letters, digits, dashes or underscores")
		return
	}
	kind := pass.EventKind(c.DefaultQuery("kind", string(pass.EventConcert)))
	season := kind == "season" // a season ticket: a sports ticket listing the next matches
	if !kind.Valid() && !season {
		writeProblem(c, http.StatusBadRequest, fmt.Sprintf("kind %q is not one of concert, festival, sports, theatre, conference, movie, generic, season", kind))
		return
	}
	nfc := false
	switch c.Query("nfc") {
	case "", "0", "false":
	case "1", "true":
		nfc = true
	default:
		writeProblem(c, http.StatusBadRequest, "nfc must be 1 or 0")
		return
	}
	state := pass.TicketState(strings.ToUpper(c.DefaultQuery("state", string(pass.TicketValid))))
	if !state.Valid() {
		writeProblem(c, http.StatusBadRequest, "state must be VALID, USED or CANCELLED")
		return
	}
	var tk pass.Ticket
	if season {
		tk = apple.SampleSeason()
	} else {
		tk = apple.SampleTicket(kind)
	}
	tk.Tenant = tenant.ID
	tk.State = state
	data, err := s.deps.Preview.Packager.Sample(c.Request.Context(), tenant.ID, tplName,
		pass.PassInput{Ticket: tk, SerialNumber: pass.NewSerialNumber(), AuthToken: pass.NewAuthToken()}, nfc)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	switch c.Query("format") {
	case "", "pkpass", "html":
	default:
		writeProblem(c, http.StatusBadRequest, "format must be pkpass or html")
		return
	}
	if c.Query("format") == "html" {
		// A designer's view of the front and back, in ?lang= (default en).
		lang := c.DefaultQuery("lang", "en")
		if !previewLangRE.MatchString(lang) {
			writeProblem(c, http.StatusBadRequest, "lang must be a language tag such as fr or de-CH")
			return
		}
		page, err := apple.PreviewHTML(data, lang)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Data(http.StatusOK, "text/html; charset=utf-8", page)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.pkpass"`, tplName, kind))
	c.Data(http.StatusOK, pass.ContentTypePkpass, data)
}

// previewLangRE is a language of a preview: an lproj folder's name.
var previewLangRE = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$`)

// allowSigning spends one of the client's previews, or answers 429 with
// Retry-After.
func (s *Server) allowSigning(c *gin.Context) bool {
	if s.signing.allow(s.clientIP(c), s.now()) {
		return true
	}
	c.Header("Retry-After", "2")
	writeProblem(c, http.StatusTooManyRequests, "too many requests from this client; try again later")
	return false
}

// clientIP is the address of the request's client the per-client limits
// count: the peer, or, behind a trusted proxy, the right-most address of
// X-Forwarded-For the proxies did not add (httpx.ClientIP). The first
// request that looks forwarded by a proxy while none is trusted
// (httpx.UntrustedForward) logs a warning: every client behind that proxy
// counts as the proxy, so per-client limits become one limit for all.
func (s *Server) clientIP(c *gin.Context) string {
	ip := httpx.ClientIP(c.Request, s.proxies)
	if !s.proxyWarned.Load() {
		if header, ok := httpx.UntrustedForward(c.Request, s.proxies); ok && s.proxyWarned.CompareAndSwap(false, true) {
			s.log.WarnContext(c.Request.Context(), "requests come through a proxy, but server.trustedProxies is empty: "+
				"every client behind it shares the proxy's per-client rate limits; set server.trustedProxies to the "+
				"proxy's addresses (logged once)", slog.String("peer", ip), slog.String("header", header),
				slog.String("correlationId", correlationID(c)))
		}
	}
	return ip
}
