package secutix

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultQuotaPerMinute    = 60
	DefaultTokenTTL          = 10 * time.Minute
	DefaultWebhookRetryDelay = 50 * time.Millisecond
	DefaultFaultRetryAfter   = 5 // seconds, for injected 429 and 509
	webhookRetries           = 5
	v2Retries                = 12 // SecuTix resends a V2 webhook 12 times, M minutes apart
	maxControlBody           = 64 << 10
	maxTicketsPerOrder       = 50
	timeLayout               = "2006-01-02T15:04:05.000-07:00"
)

// Config configures a Sandbox.
type Config struct {
	// Tenant is the walletpass tenant the sandbox stands in for (logs only).
	Tenant string
	// Institution is the SecuTix institution code it pretends to be
	// (product and site codes, and the sub of the JWTs it accepts); ""
	// means the one the operator login names (CMOSA_WALLET → CMOSA), else
	// SANDBOX.
	Institution string
	// Operator, Partner and Secret are the credentials it accepts: in a
	// self-signed JWT (aud, iss, HS256 key) or at /v1/auth. Required.
	Operator, Partner, Secret string
	// WebhookURL receives change notifications; "" sends none. Example:
	// http://127.0.0.1:8080/api/demo/webhooks/listeners/secutix/orders
	WebhookURL string
	// WebhookHeaders are added to every webhook (an API key, Basic auth).
	WebhookHeaders map[string]string
	// WebhookFormat is what the webhooks look like: "listener" (default;
	// the body of the contract walletpass replaces, one per ticket change),
	// "v1" (SecuTix's order webhook V1: a GET of WebhookURL with
	// "${orderId}" replaced, once per closed order) or "v2" (SecuTix's
	// order webhook V2: a POST of {"orderDetailsData": …}, the order as
	// getOrderDetails shows it when sent, once per closed order, retried
	// 12 times every WebhookRetryDelay). A scan closes no order: V1 and V2
	// say nothing of it.
	WebhookFormat string
	// QuotaPerMinute is the number of API calls per service (all its
	// methods together) per QuotaWindow; over it the API answers 509
	// without Retry-After, as SecuTix does. 0 means 60; a negative value
	// disables the quota.
	QuotaPerMinute int
	// CatalogInterval is how often getCatalogDetailed may be called (more
	// often answers 509); 0 means 10 minutes, SecuTix's limit; a negative
	// value disables the limit.
	CatalogInterval time.Duration
	// QuotaWindow is the length of the quota's windows, fixed windows
	// aligned to multiples of it (calendar minutes by default); 0 means one
	// minute. Tests shorten it.
	QuotaWindow time.Duration
	// StateFile, when set, keeps the files, the catalogue and the id
	// counters across restarts: read by New, written after every order
	// and change (make run keeps it in the data directory).
	StateFile string
	// TokenTTL is the lifetime of the tokens /v1/auth issues; 0 means 10 min.
	TokenTTL time.Duration
	// WebhookRetryDelay is the first pause between webhook attempts; it
	// doubles after each failure. 0 means 50 ms.
	WebhookRetryDelay time.Duration
	// HTTPClient sends webhooks; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock (dates, token expiry, quota windows); nil means time.Now.
	Now func() time.Time
	// Log receives the sandbox's logs; nil discards them.
	Log *slog.Logger
}

// Sandbox is a fake SecuTix institution: it holds files in memory, serves
// the ExternalOrderService REST API the client uses, offers a control API
// to create and change orders, and notifies WebhookURL of every change.
// It is safe for concurrent use. Close it to wait for webhook deliveries.
type Sandbox struct {
	cfg   Config
	log   *slog.Logger
	zone  *time.Location
	hooks *deliverer

	mu             sync.Mutex
	files          map[int64]*File
	bySecret       map[string]int64 // any order's secret id → file
	byOrder        map[int64]int64  // order id → file
	byTicket       map[int64]ticketRef
	barcodes       map[string]bool
	seq            map[string]int64 // id counters by kind
	catalog        catalog
	catalogRefused int                  // getCatalogDetailed calls refused by its limit
	tokens         map[string]time.Time // token → expiry
	quota          map[string]*window
	calls          map[string]int
	refused        int // calls answered 509 over the quota
	contacts       map[int64]ContactData
	failStatus     int
	failLeft       int
	failAfter      int // Retry-After seconds of injected 429/509
	inProgress     int // in_progress answers per new request
	requests       map[int64]*pendingRequest
	holderSeq      int
	extRefs        map[int64]map[string]string // order id → key → value (updateExternalReferences)

	// The state file's writer (Config.StateFile).
	dirty     bool
	saveWake  chan struct{}
	saveStop  chan struct{}
	saveDone  chan struct{}
	closeOnce sync.Once
}

type ticketRef struct{ fileID, movementID int64 }

type window struct {
	start time.Time
	n     int
}

type pendingRequest struct {
	left int
	at   time.Time
}

// New validates cfg and returns a Sandbox. It returns an error listing
// every problem with cfg.
func New(cfg Config) (*Sandbox, error) {
	var probs []string
	if cfg.Operator == "" {
		probs = append(probs, "Operator is required")
	}
	if cfg.Partner == "" {
		probs = append(probs, "Partner is required")
	}
	if cfg.Secret == "" {
		probs = append(probs, "Secret is required")
	}
	if cfg.WebhookURL != "" {
		if u, err := url.Parse(cfg.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			probs = append(probs, "WebhookURL must be an absolute http(s) URL")
		}
	}
	for k := range cfg.WebhookHeaders {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			probs = append(probs, fmt.Sprintf("WebhookHeaders: %q is not a header name", k))
		}
	}
	if cfg.TokenTTL < 0 {
		probs = append(probs, "TokenTTL must not be negative")
	}
	if cfg.QuotaWindow < 0 {
		probs = append(probs, "QuotaWindow must not be negative")
	}
	if cfg.WebhookRetryDelay < 0 {
		probs = append(probs, "WebhookRetryDelay must not be negative")
	}
	switch cfg.WebhookFormat {
	case "", "listener", "v2":
	case "v1":
		if cfg.WebhookURL != "" && !strings.Contains(cfg.WebhookURL, "${orderId}") {
			probs = append(probs, "WebhookURL must contain ${orderId} for V1 webhooks")
		}
	default:
		probs = append(probs, fmt.Sprintf("WebhookFormat %q is not listener, v1 or v2", cfg.WebhookFormat))
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("sandbox: config: %s", strings.Join(probs, "; "))
	}
	if cfg.Institution == "" {
		// The operator login names its institution: CMOSA_WALLET → CMOSA.
		if code, _, ok := strings.Cut(cfg.Operator, "_"); ok && code != "" {
			cfg.Institution = strings.ToUpper(code)
		} else {
			cfg.Institution = "SANDBOX"
		}
	}
	if cfg.QuotaPerMinute == 0 {
		cfg.QuotaPerMinute = DefaultQuotaPerMinute
	}
	if cfg.CatalogInterval == 0 {
		cfg.CatalogInterval = 10 * time.Minute
	}
	if cfg.QuotaWindow == 0 {
		cfg.QuotaWindow = time.Minute
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.WebhookRetryDelay == 0 {
		cfg.WebhookRetryDelay = DefaultWebhookRetryDelay
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(slog.String("component", "secutix-sandbox"), slog.String("tenant", cfg.Tenant))
	zone, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		zone = time.FixedZone("CET", 3600)
	}
	s := &Sandbox{
		cfg:       cfg,
		log:       log,
		zone:      zone,
		files:     make(map[int64]*File),
		bySecret:  make(map[string]int64),
		byOrder:   make(map[int64]int64),
		byTicket:  make(map[int64]ticketRef),
		barcodes:  make(map[string]bool),
		seq:       make(map[string]int64),
		tokens:    make(map[string]time.Time),
		quota:     make(map[string]*window),
		calls:     make(map[string]int),
		contacts:  make(map[int64]ContactData),
		requests:  make(map[int64]*pendingRequest),
		extRefs:   make(map[int64]map[string]string),
		failAfter: DefaultFaultRetryAfter,
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	if cfg.StateFile != "" {
		s.saveWake, s.saveStop, s.saveDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
		go s.saver()
	}
	s.hooks = newDeliverer(cfg, log)
	s.hooks.orderBody = s.orderWebhookBody
	return s, nil
}

// Handler serves the SecuTix API and the control API at their absolute
// paths under /sandbox/ (see the package documentation); mount it at
// "/sandbox/".
func (s *Sandbox) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/sandbox/secutix/tnai/backend-apis/v1/auth", s.serveAuth)
	mux.HandleFunc("/sandbox/secutix/tnseb/backend-apis/externalOrderService/v1_33/{method}", s.serveService)
	mux.HandleFunc("/sandbox/secutix/tnseb/backend-apis/catalogService/v1_33/{method}", s.serveService)
	mux.HandleFunc("/sandbox/secutix/tnseb/backend-apis/externalOrderHistoryService/v1_33/{method}", s.serveService)
	mux.HandleFunc("/sandbox/secutix/tnco/backend-apis/contactInformationPublicService/v2_21/{method}", s.serveService)
	mux.HandleFunc("/sandbox/orders", s.serveCreate)
	mux.HandleFunc("/sandbox/orders/{fileId}", s.serveGet)
	mux.HandleFunc("/sandbox/orders/{fileId}/tickets/{ticketId}/{action}", s.serveAction)
	mux.HandleFunc("/sandbox/performances/{performanceId}/reschedule", s.servePerformance)
	mux.HandleFunc("/sandbox/faults", s.serveFaults)
	mux.HandleFunc("/sandbox/stats", s.serveStats)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, &Error{Status: http.StatusNotFound, Detail: "no such sandbox endpoint"})
	})
	return mux
}

// SetWebhookURL sends the webhooks of later changes to u (a server whose
// address was not known when the sandbox was made); "" sends none.
func (s *Sandbox) SetWebhookURL(u string) {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	s.hooks.url = u
}

// Close stops accepting new webhooks and waits until every queued webhook
// has been delivered or has used up its retries, and writes the state
// file. Changes made after Close still work but send no webhook and are
// not saved. Close may be called more than once.
func (s *Sandbox) Close() {
	s.hooks.close()
	s.closeOnce.Do(func() {
		if s.saveStop != nil {
			close(s.saveStop)
			<-s.saveDone
		}
	})
}

// FailNext makes the next n SecuTix API calls (auth included) answer the
// HTTP status; 429 and 509 carry Retry-After: 5. n <= 0 clears the fault.
func (s *Sandbox) FailNext(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failLeft = status, max(n, 0)
	s.failAfter = DefaultFaultRetryAfter
}

// SetInProgressOnce turns on or off the in_progress fault: when on, the
// first request of each new request id (a request without a requestId
// gets a new one) answers statusCode "in_progress" with that requestId;
// resending it gets the real answer.
func (s *Sandbox) SetInProgressOnce(on bool) {
	if on {
		s.SetInProgress(1)
	} else {
		s.SetInProgress(0)
	}
}

// SetInProgress is SetInProgressOnce with n in_progress answers per request
// id before the real one; a large n keeps a client waiting forever.
func (s *Sandbox) SetInProgress(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inProgress = max(n, 0)
	clear(s.requests)
}

// Calls returns how many requests reached the API endpoint method ("auth",
// "getFileDetails", "getFileDetailsFromOrderSecretId", "getOrderDetails"),
// whatever they were answered.
func (s *Sandbox) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Refused returns how many calls the quota refused (HTTP 509).
func (s *Sandbox) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// ExpireTokens revokes every token issued so far, as if they had expired:
// the next API call with one answers 401.
func (s *Sandbox) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// ExternalReferences returns a copy of an order's external references
// (what updateExternalReferences wrote).
func (s *Sandbox) ExternalReferences(orderID int64) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, v := range s.extRefs[orderID] {
		out[k] = v
	}
	return out
}

// Order returns a deep copy of file fileID and whether it exists.
func (s *Sandbox) Order(fileID int64) (File, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[fileID]
	if !ok {
		return File{}, false
	}
	return deepCopy(f), true
}

func deepCopy(f *File) File {
	b, err := json.Marshal(f)
	if err != nil {
		panic("sandbox: marshal file: " + err.Error())
	}
	var out File
	if err := json.Unmarshal(b, &out); err != nil {
		panic("sandbox: unmarshal file: " + err.Error())
	}
	return out
}

// Error is a control API failure: the HTTP status and a detail for the
// problem+json body.
type Error struct {
	Status int
	Detail string
}

func (e *Error) Error() string {
	return fmt.Sprintf("sandbox: %s (HTTP %d)", e.Detail, e.Status)
}

func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Detail: fmt.Sprintf(format, args...)}
}

// statusOf returns the HTTP status an error of the Go API maps to.
func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}

// now returns the sandbox time in Europe/Zurich.
func (s *Sandbox) now() time.Time { return s.cfg.Now().In(s.zone) }

func formatTime(t time.Time) string { return t.Format(timeLayout) }

// nextID returns a fresh id of a kind. Each kind counts up from a random
// start in its own realistic range, so ids look like SecuTix's, differ
// from one sandbox to the next and never collide across kinds. Callers
// hold s.mu.
func (s *Sandbox) nextID(kind string) int64 {
	if _, ok := s.seq[kind]; !ok {
		base := map[string]int64{
			"file": 10_000_000_000, "order": 11_000_000_000, "operation": 10_228_310_000_000,
			"movement": 10_228_844_000_000, "ticket": 10_228_846_000_000, "perf": 10_228_231_000_000,
		}[kind]
		if base == 0 {
			base = 466_000_000
		}
		// Starts at most 1e8 apart from the base; bases are 1e9 apart.
		s.seq[kind] = base + mrand.Int64N(100_000)*1000
	}
	s.seq[kind]++
	return s.seq[kind]
}

// newBarcode returns an unused 24-digit barcode. Callers hold s.mu.
func (s *Sandbox) newBarcode() string {
	for {
		var b [24]byte
		digits := make([]byte, 0, 24)
		for len(digits) < 24 {
			_, _ = rand.Read(b[:])
			for _, c := range b {
				if c < 250 && len(digits) < 24 {
					digits = append(digits, '0'+c%10)
				}
			}
		}
		code := string(digits)
		if !s.barcodes[code] {
			s.barcodes[code] = true
			return code
		}
	}
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
