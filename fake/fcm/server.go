package fcm

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"walletpass/internal/loopback"
)

// Limits the fake enforces.
const (
	// MaxPayload is FCM's limit on a message's payload: the compact JSON of
	// the message without its target (token, topic or condition).
	MaxPayload = 4096
	// MaxTokenLen is the longest registration token the fake accepts, in
	// bytes.
	MaxTokenLen = 4096
	// MaxRequestBody is the largest request body the fake reads; no valid
	// request comes near it.
	MaxRequestBody = 64 << 10
)

// FCM error codes (the errorCode of the FcmError detail) that Answer
// accepts without a Status.
const (
	Unregistered        = "UNREGISTERED"
	QuotaExceeded       = "QUOTA_EXCEEDED"
	Unavailable         = "UNAVAILABLE"
	Internal            = "INTERNAL"
	InvalidArgument     = "INVALID_ARGUMENT"
	SenderIDMismatch    = "SENDER_ID_MISMATCH"
	ThirdPartyAuthError = "THIRD_PARTY_AUTH_ERROR"
)

// codeStatus is the HTTP status FCM answers with each error code.
var codeStatus = map[string]int{
	Unregistered:        http.StatusNotFound,
	QuotaExceeded:       http.StatusTooManyRequests,
	Unavailable:         http.StatusServiceUnavailable,
	Internal:            http.StatusInternalServerError,
	InvalidArgument:     http.StatusBadRequest,
	SenderIDMismatch:    http.StatusForbidden,
	ThirdPartyAuthError: http.StatusUnauthorized,
}

// statusCode is the error code the fake gives a programmed Status without
// an ErrorCode.
var statusCode = map[int]string{
	http.StatusNotFound:            Unregistered,
	http.StatusTooManyRequests:     QuotaExceeded,
	http.StatusServiceUnavailable:  Unavailable,
	http.StatusInternalServerError: Internal,
	http.StatusBadRequest:          InvalidArgument,
	http.StatusForbidden:           SenderIDMismatch,
	http.StatusUnauthorized:        ThirdPartyAuthError,
}

// Options say what the fake expects.
type Options struct {
	// ProjectID is the Firebase project the fake serves; a request for
	// another project gets 403 SENDER_ID_MISMATCH. "" accepts any.
	ProjectID string
	// RequireAuth makes the fake demand "Authorization: Bearer <token>"
	// where the token is AccessToken (if set) or one that the fake's token
	// endpoint issued; anything else gets 401 UNAUTHENTICATED.
	RequireAuth bool
	// AccessToken is a bearer token the fake accepts when RequireAuth is
	// set, for clients that do not use its token endpoint.
	AccessToken string
	// TokenKey, if set, is the public key of the service account: the
	// token endpoint then only accepts assertions it verifies.
	TokenKey *rsa.PublicKey
}

// Answer is a programmed answer for a registration token. An empty
// ErrorCode with Status 0 (or 200) is a success. A Status of 0 is filled in
// from the ErrorCode (404 UNREGISTERED, 429 QUOTA_EXCEEDED, 503 UNAVAILABLE,
// 500 INTERNAL, 400 INVALID_ARGUMENT, 403 SENDER_ID_MISMATCH, 401
// THIRD_PARTY_AUTH_ERROR) and an empty ErrorCode from the Status the same
// way. An INVALID_ARGUMENT answer says the registration token is invalid,
// as FCM does for a token it cannot parse.
type Answer struct {
	Status    int
	ErrorCode string
	// RetryAfter, if positive, is sent as a Retry-After header in whole
	// seconds (at least 1). The Firebase Admin SDK does not retry a 503
	// whose Retry-After is over two minutes, which keeps tests of an
	// UNAVAILABLE answer fast.
	RetryAfter time.Duration
}

// normalize fills in Status and ErrorCode; it panics on an answer FCM
// would not give.
func (a Answer) normalize() Answer {
	if a.ErrorCode == "" {
		if a.Status == 0 || a.Status == http.StatusOK {
			a.Status = http.StatusOK
			return a
		}
		code, ok := statusCode[a.Status]
		if !ok {
			panic(fmt.Sprintf("fake fcm: Answer with Status %d needs an ErrorCode", a.Status))
		}
		a.ErrorCode = code
		return a
	}
	if a.Status == 0 {
		status, ok := codeStatus[a.ErrorCode]
		if !ok {
			panic(fmt.Sprintf("fake fcm: Answer with ErrorCode %q needs a Status", a.ErrorCode))
		}
		a.Status = status
	}
	if a.Status < 400 || a.Status > 599 {
		panic(fmt.Sprintf("fake fcm: Answer with ErrorCode %q has Status %d, not an error status", a.ErrorCode, a.Status))
	}
	return a
}

// Message is a request the fake answered on a send URL (a POST to
// /v1/projects/{project}/messages:send), accepted or refused. Fields the
// request did not have, or had with the wrong type, are zero.
type Message struct {
	Project      string
	Token        string
	Topic        string
	Condition    string
	Title, Body  string            // notification.title and .body
	Data         map[string]string // data's string values
	Priority     string            // android.priority ("high", "normal")
	ValidateOnly bool
	Bearer       string // the bearer token sent, "" without one
	Raw          []byte // the request body, at most MaxRequestBody+1 bytes
	At           time.Time
	Status       int    // the answer's HTTP status
	ErrorCode    string // its FcmError code (or status, when it has none); "" for 200
	Name         string // the message name answered with 200
}

// Handler is a fake FCM HTTP v1 endpoint. It serves
// POST /v1/projects/{project}/messages:send and POST /token, also behind
// http.StripPrefix. It is safe for concurrent use.
type Handler struct {
	opts Options

	mu           sync.Mutex
	msgs         []Message
	answers      map[string][]Answer
	unregistered map[string]bool
	issued       map[string]bool // access tokens from /token
	seq          int
}

// New returns a fake FCM endpoint to mount on a server, for
// instance under a prefix:
//
//	mux.Handle("/dev/fcm/", http.StripPrefix("/dev/fcm", fake.New(opts)))
//
// and then fcm.Config.Endpoint = "http://<host>/dev/fcm/v1".
func New(opts Options) *Handler {
	return &Handler{
		opts:         opts,
		answers:      make(map[string][]Answer),
		unregistered: make(map[string]bool),
		issued:       make(map[string]bool),
	}
}

// Server is a fake FCM on a loopback port, speaking plain HTTP/1.1. Its
// Handler's methods program and inspect it. Close it.
type Server struct {
	*Handler
	// URL is the server's base URL; Endpoint is URL + "/v1", the value for
	// fcm.Config.Endpoint, and TokenURL is URL + "/token", for the
	// token_uri of a service-account key (see ServiceAccountJSON).
	URL, Endpoint, TokenURL string

	srv *loopback.Server
}

// NewServer starts a fake FCM on a loopback port. It panics if it cannot
// listen.
func NewServer(opts Options) *Server {
	h := New(opts)
	srv := loopback.Start(h, loopback.Options{Name: "fcm"})
	return &Server{Handler: h, URL: srv.URL, Endpoint: srv.URL + "/v1", TokenURL: srv.URL + "/token", srv: srv}
}

// Close shuts the server down, waiting for the requests in progress. It
// may be called more than once.
func (s *Server) Close() { s.srv.Close() }

// Respond programs answers for a registration token: the next valid
// requests for it get them in order, then 200 again. It panics on an
// answer FCM would not give (see Answer).
func (h *Handler) Respond(token string, answers ...Answer) {
	norm := make([]Answer, len(answers))
	for i, a := range answers {
		norm[i] = a.normalize()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.answers[token] = append(h.answers[token], norm...)
}

// Unregister makes every later valid request for token get 404
// UNREGISTERED, as FCM answers for an app that was uninstalled. It takes
// precedence over answers programmed with Respond, which stay queued.
func (h *Handler) Unregister(token string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unregistered[token] = true
}

// Messages returns a copy of every request answered on a send URL, in
// order.
func (h *Handler) Messages() []Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Message, len(h.msgs))
	copy(out, h.msgs)
	return out
}

// MessagesFor returns the requests answered for one registration token,
// in order.
func (h *Handler) MessagesFor(token string) []Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Message
	for _, m := range h.msgs {
		if m.Token == token {
			out = append(out, m)
		}
	}
	return out
}

// Reset forgets the recorded requests, the programmed answers and the
// unregistered tokens. Access tokens already issued stay valid.
func (h *Handler) Reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = nil
	h.answers = make(map[string][]Answer)
	h.unregistered = make(map[string]bool)
}

// ServeHTTP answers one request like FCM (see the package documentation
// for the checks and their answers).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		h.serveToken(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, apiError{status: http.StatusMethodNotAllowed, message: "Method not allowed: use POST."}, 0)
		return
	}
	project, ok := sendPath(r.URL.Path)
	if !ok {
		writeError(w, apiError{status: http.StatusNotFound, message: "The requested URL was not found on this server."}, 0)
		return
	}

	body, _ := io.ReadAll(io.LimitReader(r.Body, MaxRequestBody+1))
	m := Message{Project: project, Raw: body, At: time.Now()}
	if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		m.Bearer = strings.TrimSpace(auth[7:])
	}
	e, retryAfter := h.answer(r, &m)
	if e.status == http.StatusOK {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_ = json.NewEncoder(w).Encode(map[string]string{"name": m.Name})
		return
	}
	writeError(w, e, retryAfter)
}

// answer checks the request, picks the answer, records the message and
// returns the error to write (status 200 for a success, with m.Name set).
func (h *Handler) answer(r *http.Request, m *Message) (apiError, time.Duration) {
	e := h.check(r, m)
	var retryAfter time.Duration

	h.mu.Lock()
	defer h.mu.Unlock()
	if e.status == http.StatusOK {
		switch q := h.answers[m.Token]; {
		case h.unregistered[m.Token]:
			e = codeError(Answer{ErrorCode: Unregistered}.normalize())
		case len(q) > 0:
			if len(q) == 1 {
				delete(h.answers, m.Token)
			} else {
				h.answers[m.Token] = q[1:]
			}
			if q[0].Status != http.StatusOK {
				e, retryAfter = codeError(q[0]), q[0].RetryAfter
			}
		}
	}
	if e.status == http.StatusOK {
		h.seq++
		id := fmt.Sprintf("0:%d%%%s", h.seq, randomHex(8))
		if m.ValidateOnly {
			id = "fake_message_id"
		}
		m.Name = "projects/" + m.Project + "/messages/" + id
	}
	m.Status, m.ErrorCode = e.status, e.code()
	h.msgs = append(h.msgs, *m)
	return e, retryAfter
}

// check applies FCM's rules, in the documented order, and fills m in with
// what it could read. It returns status 200 when the request is valid.
func (h *Handler) check(r *http.Request, m *Message) apiError {
	if h.opts.ProjectID != "" && m.Project != h.opts.ProjectID {
		return apiError{status: http.StatusForbidden, fcmCode: SenderIDMismatch,
			message: "SenderId mismatch: project " + strconv.Quote(m.Project) + " is not this server's"}
	}
	if h.opts.RequireAuth && !h.authorized(m.Bearer) {
		return apiError{status: http.StatusUnauthorized,
			message: "Request is missing required authentication credential. Expected OAuth 2 access token."}
	}
	if len(m.Raw) > MaxRequestBody {
		return invalid("Request payload size exceeds the limit: " + strconv.Itoa(MaxRequestBody) + " bytes.")
	}
	var req map[string]json.RawMessage
	if err := decodeObject(m.Raw, &req); err != nil {
		return invalid("Invalid JSON payload received: the body must be a JSON object.")
	}
	if raw, ok := field(req, "validate_only", "validateOnly"); ok {
		if err := json.Unmarshal(raw, &m.ValidateOnly); err != nil {
			return invalidField("validate_only", "Invalid value at 'validate_only' (TYPE_BOOL).")
		}
	}
	rawMsg, ok := req["message"]
	var msg map[string]json.RawMessage
	if !ok || decodeObject(rawMsg, &msg) != nil || msg == nil {
		return invalidField("message", "Invalid value at 'message': a message object is required.")
	}
	readRecord(msg, m)

	targets := 0
	for _, name := range []string{"token", "topic", "condition"} {
		raw, ok := msg[name]
		if !ok || string(raw) == "null" {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return invalidField("message."+name, "Invalid value at 'message."+name+"' (TYPE_STRING).")
		}
		if s != "" {
			targets++
		}
	}
	if targets != 1 {
		return invalidField("message", "Exactly one of message.token, message.topic or message.condition must be set.")
	}
	if e := checkNotification(msg); e.status != http.StatusOK {
		return e
	}
	if raw, ok := msg["data"]; ok && string(raw) != "null" {
		var data map[string]json.RawMessage
		if decodeObject(raw, &data) != nil {
			return invalidField("message.data", "Invalid value at 'message.data': a map of strings is required.")
		}
		for k, v := range data {
			var s string
			if string(v) == "null" || json.Unmarshal(v, &s) != nil {
				return invalidField("message.data", "Invalid value at 'message.data["+strconv.Quote(k)+"].value' (TYPE_STRING).")
			}
			// FCM's reserved words: "from", "message_type", and any key
			// starting with "google" or "gcm".
			if lk := strings.ToLower(k); lk == "from" || lk == "message_type" || strings.HasPrefix(lk, "google") || strings.HasPrefix(lk, "gcm") {
				return invalid("Invalid data payload key: " + k)
			}
		}
	}
	if m.Token != "" && len(m.Token) > MaxTokenLen {
		return invalidToken()
	}
	if n := payloadSize(msg); n > MaxPayload {
		return invalidField("message", "Message is too big: its payload is "+strconv.Itoa(n)+
			" bytes, over the limit of "+strconv.Itoa(MaxPayload)+".")
	}
	return apiError{status: http.StatusOK}
}

// checkNotification checks that notification is an object whose title and
// body, when present, are strings.
func checkNotification(msg map[string]json.RawMessage) apiError {
	raw, ok := msg["notification"]
	if !ok || string(raw) == "null" {
		return apiError{status: http.StatusOK}
	}
	var n map[string]json.RawMessage
	if decodeObject(raw, &n) != nil {
		return invalidField("message.notification", "Invalid value at 'message.notification': an object is required.")
	}
	for _, name := range []string{"title", "body"} {
		if v, ok := n[name]; ok && string(v) != "null" {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return invalidField("message.notification."+name, "Invalid value at 'message.notification."+name+"' (TYPE_STRING).")
			}
		}
	}
	return apiError{status: http.StatusOK}
}

// readRecord copies into m what it can read from the message, ignoring
// fields of the wrong type (check refuses them).
func readRecord(msg map[string]json.RawMessage, m *Message) {
	str := func(raw json.RawMessage) string {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	m.Token, m.Topic, m.Condition = str(msg["token"]), str(msg["topic"]), str(msg["condition"])
	var n map[string]json.RawMessage
	if json.Unmarshal(msg["notification"], &n) == nil {
		m.Title, m.Body = str(n["title"]), str(n["body"])
	}
	var data map[string]json.RawMessage
	if json.Unmarshal(msg["data"], &data) == nil && len(data) > 0 {
		m.Data = make(map[string]string, len(data))
		for k, v := range data {
			var s string
			if json.Unmarshal(v, &s) == nil {
				m.Data[k] = s
			}
		}
	}
	var android map[string]json.RawMessage
	if json.Unmarshal(msg["android"], &android) == nil {
		m.Priority = str(android["priority"])
	}
}

// payloadSize is the length of the compact JSON of the message without
// its target.
func payloadSize(msg map[string]json.RawMessage) int {
	rest := make(map[string]json.RawMessage, len(msg))
	for k, v := range msg {
		switch k {
		case "token", "topic", "condition", "name":
		default:
			rest[k] = v
		}
	}
	b, err := json.Marshal(rest) // compacts each value
	if err != nil {
		return MaxPayload + 1
	}
	return len(b)
}

// authorized reports whether bearer is a token the fake accepts.
func (h *Handler) authorized(bearer string) bool {
	if bearer == "" {
		return false
	}
	if h.opts.AccessToken != "" && bearer == h.opts.AccessToken {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.issued[bearer]
}

// sendPath returns the project of a path /v1/projects/{project}/messages:send.
func sendPath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/v1/projects/")
	if !ok {
		return "", false
	}
	project, ok := strings.CutSuffix(rest, "/messages:send")
	if !ok || project == "" || strings.Contains(project, "/") {
		return "", false
	}
	return project, true
}

// decodeObject decodes data, which must be exactly one JSON object (not
// null), into v.
func decodeObject(data []byte, v any) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}

// field returns the first of the names present in obj.
func field(obj map[string]json.RawMessage, names ...string) (json.RawMessage, bool) {
	for _, n := range names {
		if v, ok := obj[n]; ok {
			return v, true
		}
	}
	return nil, false
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
