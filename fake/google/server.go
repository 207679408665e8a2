package google

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/walletobjects/v1"

	"walletpass/internal/loopback"
)

// DefaultIssuerID is the issuer ID the fake uses when Options.IssuerID is
// empty.
const DefaultIssuerID = "3388000000022222222"

// MaxBodyBytes is the largest request body the fake reads; a larger one
// gets 413.
const MaxBodyBytes = 1 << 20

// MaxMessages is how many messages a class or object may hold.
const MaxMessages = 10

// NotifyLimit is how many notifying changes (addMessage with
// TEXT_AND_NOTIFY, or PUT/PATCH with notifyPreference NOTIFY_ON_UPDATE) a
// class or object accepts within NotifyWindow.
const NotifyLimit = 3

// NotifyWindow is the sliding window NotifyLimit applies to.
const NotifyWindow = 24 * time.Hour

// TokenLifetime is how long an access token from /token is valid.
const TokenLifetime = time.Hour

// Scope is the OAuth scope a service-account assertion must ask for.
const Scope = "https://www.googleapis.com/auth/wallet_object.issuer"

// Options configure the fake.
type Options struct {
	// IssuerID is the issuer ID (a decimal string) that resource IDs must
	// start with. Empty means DefaultIssuerID. New panics if it is not
	// decimal.
	IssuerID string
	// RequireAuth makes every API request need an
	// "Authorization: Bearer <token>" header carrying an unexpired access
	// token issued by the fake's /token endpoint; otherwise it gets 401.
	RequireAuth bool
	// ServiceAccountEmail is the iss a /token assertion must carry. Empty
	// accepts any.
	ServiceAccountEmail string
	// ServiceAccountPublicKey verifies the RS256 signature of /token
	// assertions. Without it /token refuses every assertion, so New panics
	// if RequireAuth is set without it.
	ServiceAccountPublicKey *rsa.PublicKey
	// Now is the fake's clock, used for the notification quota, the
	// recorded request times and the assertion and token lifetimes. Nil
	// means time.Now.
	Now func() time.Time
}

// Request is one request the fake answered.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the URL path as the handler saw it (unescaped).
	Path string
	// Query is the parsed query string.
	Query url.Values
	// Header holds the request headers.
	Header http.Header
	// Body is the body as read, at most MaxBodyBytes+1 bytes.
	Body []byte
	// At is the fake clock's time when the request arrived.
	At time.Time
	// AuthOK says whether the request carried a valid, unexpired access
	// token issued by the fake, whether or not one was required.
	AuthOK bool
	// Status is the HTTP status the fake answered with.
	Status int
}

// Failure is a programmed error answer; see [Server.Fail].
type Failure struct {
	// Method is the HTTP method to match; "" matches any.
	Method string
	// PathPrefix is matched against the start of the request's URL path,
	// e.g. "/walletobjects/v1/eventTicketObject"; "" matches any path,
	// including /token.
	PathPrefix string
	// Status is the HTTP status to answer with, e.g. 429, 500 or 503.
	Status int
	// Count is how many matching requests get the failure; 0 means 1.
	Count int
	// After is how many matching requests are answered as usual before
	// the failure begins (a failure in the middle of a series of calls).
	After int
	// RetryAfter, if positive, is sent as a Retry-After header in whole
	// seconds, rounded up.
	RetryAfter time.Duration
	// Reason and Message override the errors[0].reason and message of the
	// Google-shaped error body. Empty means a default for Status (e.g.
	// rateLimitExceeded for 429, backendError for 5xx).
	Reason  string
	Message string
}

// Server is a fake Google Wallet REST API (walletobjects v1) for event
// ticket classes and objects, plus an OAuth 2.0 token endpoint for
// service accounts. It is an http.Handler and is safe for concurrent use.
type Server struct {
	// URL is the base URL once Start (or NewServer) has run, e.g.
	// "http://127.0.0.1:1234", without a trailing slash. Use
	// option.WithEndpoint(URL+"/") with the walletobjects client and
	// URL+"/token" as the service account's token_uri.
	URL string

	issuer      string
	requireAuth bool
	saEmail     string
	saKey       *rsa.PublicKey
	now         func() time.Time

	startOnce sync.Once
	closeOnce sync.Once
	srv       *loopback.Server

	mu       sync.Mutex
	classes  *store
	objects  *store
	requests []Request
	failures []Failure
	tokens   map[string]time.Time // access token → expiry

	callbacks callbackSigner // keys that sign save/delete callbacks (callbacks.go)
}

// store holds the resources of one kind.
type store struct {
	kind     string // "eventTicketClass" or "eventTicketObject"
	res      map[string]map[string]any
	order    []string               // IDs in insertion order
	notified map[string][]time.Time // ID → accepted notifying changes
}

func newStore(kind string) *store {
	return &store{kind: kind, res: make(map[string]map[string]any), notified: make(map[string][]time.Time)}
}

// New returns a fake that is not listening yet: call Start, or mount
// Handler on a listener of your own. It panics if opts.IssuerID is not
// decimal or if opts.RequireAuth is set without
// opts.ServiceAccountPublicKey.
func New(opts Options) *Server {
	issuer := opts.IssuerID
	if issuer == "" {
		issuer = DefaultIssuerID
	}
	if !isDecimal(issuer) {
		panic(fmt.Sprintf("fake google: IssuerID %q is not a decimal number", issuer))
	}
	if opts.RequireAuth && opts.ServiceAccountPublicKey == nil {
		panic("fake google: RequireAuth needs ServiceAccountPublicKey")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Server{
		issuer:      issuer,
		requireAuth: opts.RequireAuth,
		saEmail:     opts.ServiceAccountEmail,
		saKey:       opts.ServiceAccountPublicKey,
		now:         now,
		classes:     newStore("eventTicketClass"),
		objects:     newStore("eventTicketObject"),
		tokens:      make(map[string]time.Time),
	}
}

// NewServer starts a fake on a loopback port; close it with Close. It
// panics like New.
func NewServer(opts Options) *Server {
	s := New(opts)
	s.Start()
	return s
}

// Start makes the fake listen on a loopback port and sets
// URL. Later calls do nothing.
func (s *Server) Start() {
	s.startOnce.Do(func() {
		s.srv = loopback.Start(s, loopback.Options{Name: "google"})
		s.URL = s.srv.URL
	})
}

// Close stops a started fake, waiting for the requests in progress. It may
// be called more than once, and on a fake that was never started.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.startOnce.Do(func() {}) // a later Start does nothing
		if s.srv != nil {
			s.srv.Close()
		}
	})
}

// Handler returns the fake as an http.Handler. It serves /token and
// /walletobjects/v1/... at its root.
func (s *Server) Handler() http.Handler { return s }

// IssuerID returns the issuer ID the fake accepts.
func (s *Server) IssuerID() string { return s.issuer }

// TokenURL returns URL+"/token", the token_uri for a service-account key.
func (s *Server) TokenURL() string { return s.URL + "/token" }

// Fail programs a failure: the next f.Count requests matching f.Method and
// f.PathPrefix get f.Status with a Google-shaped error body instead of
// being handled. Failures are matched in the order they were programmed,
// before any other check (including authentication).
func (s *Server) Fail(f Failure) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, f)
}

// FailNext programs the next n requests with the given method ("" for
// any) whose path starts with pathPrefix to get status with a
// Google-shaped error body. It is short for Fail(Failure{...}).
func (s *Server) FailNext(method, pathPrefix string, status, n int) {
	s.Fail(Failure{Method: method, PathPrefix: pathPrefix, Status: status, Count: n})
}

// Requests returns a copy of every request answered so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Query = cloneValues(r.Query)
		r.Header = r.Header.Clone()
		r.Body = slices.Clone(r.Body)
		out[i] = r
	}
	return out
}

// ClearRequests forgets the recorded requests.
func (s *Server) ClearRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Reset forgets the recorded requests, the programmed failures, every
// stored class and object and the notification history. Access tokens
// already issued stay valid.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.failures = nil
	s.classes = newStore(s.classes.kind)
	s.objects = newStore(s.objects.kind)
}

// Class returns the stored class as JSON, as GET would answer it.
func (s *Server) Class(id string) (json.RawMessage, bool) { return s.raw(s.classes, id) }

// Object returns the stored object as JSON, as GET would answer it.
func (s *Server) Object(id string) (json.RawMessage, bool) { return s.raw(s.objects, id) }

func (s *Server) raw(st *store, id string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := st.res[id]
	if !ok {
		return nil, false
	}
	b, _ := json.Marshal(m)
	return b, true
}

// EventTicketClass returns the stored class decoded into the client's
// type. Stored fields whose JSON does not fit the Go type are left zero.
func (s *Server) EventTicketClass(id string) (*walletobjects.EventTicketClass, bool) {
	b, ok := s.Class(id)
	if !ok {
		return nil, false
	}
	c := new(walletobjects.EventTicketClass)
	_ = json.Unmarshal(b, c)
	return c, true
}

// EventTicketObject returns the stored object decoded into the client's
// type. Stored fields whose JSON does not fit the Go type are left zero.
func (s *Server) EventTicketObject(id string) (*walletobjects.EventTicketObject, bool) {
	b, ok := s.Object(id)
	if !ok {
		return nil, false
	}
	o := new(walletobjects.EventTicketObject)
	_ = json.Unmarshal(b, o)
	return o, true
}

// ClassIDs returns the IDs of the stored classes in insertion order.
func (s *Server) ClassIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.classes.order)
}

// ObjectIDs returns the IDs of the stored objects in insertion order.
func (s *Server) ObjectIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.objects.order)
}

// ObjectNotifications returns the fake-clock times of the notifying
// changes accepted for an object, oldest first (all of them, not only
// those within NotifyWindow).
func (s *Server) ObjectNotifications(id string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.objects.notified[id])
}

// ClassNotifications is ObjectNotifications for a class.
func (s *Server) ClassNotifications(id string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.classes.notified[id])
}

// SetHasUsers sets the read-only hasUsers field of a stored object, as
// Google does once a user saves the pass. It reports whether the object
// exists.
func (s *Server) SetHasUsers(id string, hasUsers bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.objects.res[id]
	if !ok {
		return false
	}
	if hasUsers {
		m["hasUsers"] = true
	} else {
		delete(m, "hasUsers")
	}
	return true
}

// DeleteObject forgets a stored object and its notification history, as
// if Google had deleted it: later get, patch, update and addMessage
// calls for its ID answer 404, and an insert creates it anew. It is what
// a client meets when an object it wrote is no longer there (written
// under another issuer, or the fake's objects reset); Google's API has
// no call that deletes an object. It reports whether the object existed.
func (s *Server) DeleteObject(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects.res[id]; !ok {
		return false
	}
	delete(s.objects.res, id)
	delete(s.objects.notified, id)
	s.objects.order = slices.DeleteFunc(s.objects.order, func(o string) bool { return o == id })
	return true
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := s.now()
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	var rep reply
	authOK := false
	if err != nil {
		rep = errorReply(invalidf("Could not read the request body: %v", err))
	} else if r.URL.Path == callbackKeysPath {
		rep = s.callbackKeysReply(r)
	} else {
		rep, authOK = s.handle(r, body, at)
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Header: r.Header.Clone(),
		Body:   body,
		At:     at,
		AuthOK: authOK,
		Status: rep.status,
	})
	s.mu.Unlock()
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// reply is an answer built under the lock and written after it.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func errorReply(e *apiError) reply { return reply{status: e.code, body: e.body()} }

func jsonReply(v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		return errorReply(newError(http.StatusInternalServerError, "backendError", "fake google: %v", err))
	}
	return reply{status: http.StatusOK, body: b}
}

// takeFailure returns the first programmed failure that matches r, using
// it up, or nil.
func (s *Server) takeFailure(r *http.Request) *Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.failures {
		f := &s.failures[i]
		if (f.Method == "" || strings.EqualFold(f.Method, r.Method)) && strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			if f.After > 0 {
				f.After--
				continue
			}
			out := *f
			f.Count--
			if f.Count == 0 {
				s.failures = slices.Delete(s.failures, i, i+1)
			}
			return &out
		}
	}
	return nil
}

func failureReply(f *Failure) reply {
	reason, msg := f.Reason, f.Message
	if reason == "" {
		reason = defaultReason(f.Status)
	}
	if msg == "" {
		msg = defaultMessage(f.Status)
	}
	rep := errorReply(&apiError{code: f.Status, reason: reason, msg: msg})
	if f.RetryAfter > 0 {
		secs := int64((f.RetryAfter + time.Second - 1) / time.Second)
		rep.header = http.Header{"Retry-After": {fmt.Sprint(secs)}}
	}
	return rep
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
