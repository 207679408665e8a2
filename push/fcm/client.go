package fcm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/auth"
	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"

	"walletpass/internal/httpx"
	"walletpass/pass"
)

// maxTokenLen is the longest registration token Send passes on; FCM's are
// about 160 characters.
const maxTokenLen = 4096

// androidPriority is the Android delivery priority of every message: the
// organiser's app should show the notification at once.
const androidPriority = "high"

// Reasons Send gives without an FCM error code.
const (
	reasonInvalidToken     = "INVALID_ARGUMENT"
	reasonDeadlineExceeded = "DEADLINE_EXCEEDED"
	reasonUnavailable      = "UNAVAILABLE"
)

// Outcome is the domain's push outcome, which this adapter returns as it
// is (see the constants for what each means here).
type Outcome = pass.PushOutcome

// The outcomes of a Send.
const (
	// Delivered: FCM accepted the message.
	Delivered = pass.PushDelivered
	// Unregistered: the registration token is gone (UNREGISTERED) or not
	// a token (INVALID_ARGUMENT about the token). Forget it.
	Unregistered = pass.PushUnregistered
	// Retry: FCM is over quota, unavailable or failing (QUOTA_EXCEEDED,
	// UNAVAILABLE, INTERNAL, any 5xx), or did not answer in time. Send
	// again later; keep the token.
	Retry = pass.PushRetry
	// ConfigError: FCM refused our project or credentials
	// (SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR, UNAUTHENTICATED,
	// PERMISSION_DENIED, NOT_FOUND). Keep the token and fix the
	// configuration; retrying will not help.
	ConfigError = pass.PushConfigError
)

// Notification is what the organiser's app shows, and the data it gets.
// With an empty Title and Body the message is data-only.
type Notification struct {
	Title, Body string
	Data        map[string]string
}

// Client sends FCM messages for one Firebase project. It is safe for
// concurrent use; create one and reuse it.
type Client struct {
	mc        *messaging.Client
	transport *http.Transport // ours to close; nil with Config.HTTPClient
	timeout   time.Duration
	desc      string
}

// maxAnswer bounds what the client reads of one answer of FCM's or of
// Google's token endpoint.
const maxAnswer = 1 << 20

// New validates cfg and builds the client; it does not connect (the first
// Send does, and the first Send with credentials fetches an access token).
// It returns an error of kind pass.KindInvalid listing every problem with
// cfg: no credentials and no Endpoint, a key file that is not a
// service-account key, no project ID, an Endpoint that is not an http(s)
// URL ending in "/v1" (or not https with credentials), a negative Timeout.
// The error never contains key material. It returns an error of kind
// pass.KindInternal if the Firebase or Google auth library refuses the
// configuration.
func New(ctx context.Context, cfg Config) (*Client, error) {
	v, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	c := &Client{timeout: v.Timeout}

	// Always hand the Firebase library an *http.Client: it uses one given
	// with option.WithHTTPClient as is, ignoring every auth option, so
	// credentials go into its transport here.
	hc := v.HTTPClient
	if hc == nil {
		c.transport = http.DefaultTransport.(*http.Transport).Clone()
		hc = &http.Client{Transport: c.transport}
	}
	// The Firebase library reads a whole answer into memory, an error's
	// too (and the token endpoint's, through this transport as well).
	limited := *hc
	limited.Transport = httpx.LimitBodies(hc.Transport, maxAnswer)
	hc = &limited
	if len(v.CredentialsJSON) > 0 {
		base := hc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		rt, err := htransport.NewTransport(ctx, base,
			option.WithAuthCredentialsJSON(option.ServiceAccount, v.CredentialsJSON),
			option.WithScopes(messagingScope))
		if err != nil {
			return nil, pass.Errorf(pass.KindInvalid, "fcm: config: the Google auth library refuses CredentialsJSON")
		}
		authed := *hc
		authed.Transport = credentialsCheck{next: rt}
		hc = &authed
	}
	outer := *hc
	outer.Transport = waitCheck{next: hc.Transport}
	if hc.Transport == nil {
		outer.Transport = waitCheck{next: http.DefaultTransport}
	}
	hc = &outer

	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if v.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(v.Endpoint))
	}
	if len(v.CredentialsJSON) == 0 {
		// No effect next to WithHTTPClient today; it keeps the library from
		// looking for default credentials should that change.
		opts = append(opts, option.WithoutAuthentication())
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: v.ProjectID}, opts...)
	if err != nil {
		return nil, pass.Wrap(pass.KindInternal, err, "fcm: new app")
	}
	if c.mc, err = app.Messaging(ctx); err != nil {
		return nil, pass.Wrap(pass.KindInternal, err, "fcm: new messaging client")
	}

	auth := "none"
	if v.account != "" {
		auth = strconv.Quote(v.account)
	}
	endpoint := v.Endpoint
	if endpoint == "" {
		endpoint = "https://fcm.googleapis.com/v1"
	}
	c.desc = fmt.Sprintf("fcm.Client{project=%q endpoint=%q account=%s}", v.ProjectID, endpoint, auth)
	return c, nil
}

// String describes the client without its key.
func (c *Client) String() string { return c.desc }

// GoString is String, so that %#v does not print the key either.
func (c *Client) GoString() string { return c.desc }

// Close closes the idle connections of the client's own transport (not
// those of a Config.HTTPClient). Call it after the last Send has returned;
// a later Send opens a new connection.
func (c *Client) Close() {
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
}

// Send sends one notification to one registration token: a POST to
// <endpoint>/projects/<project>/messages:send with the notification's
// title and body (omitted when both are empty), its data and Android
// priority "high". The Firebase client retries a 503 or a network failure
// up to four times, with back-offs of 0, 1, 2 and 4 s, or a 503's
// Retry-After when it is at most two minutes; Config.Timeout bounds the
// whole. A 503 whose Retry-After is longer than what Config.Timeout
// leaves ends the send at once, Retry "UNAVAILABLE" with that
// RetryAfter (comeBackLater), rather than sleep until the timeout and
// lose it.
//
// The string result is FCM's message name ("projects/<p>/messages/<id>")
// when Delivered, and otherwise the reason: FCM's error code
// ("UNREGISTERED", "QUOTA_EXCEEDED", ...), the status of an error without
// one ("UNAUTHENTICATED", "NOT_FOUND", ...), "CREDENTIALS_REFUSED: " and
// the OAuth 2 error when the token endpoint refused the key,
// "DEADLINE_EXCEEDED" when Config.Timeout ran out or "UNAVAILABLE" when FCM
// could not be reached.
//
// An empty token, or one over 4096 bytes, is Unregistered with reason
// "INVALID_ARGUMENT" without any request.
//
// Send returns a nil error for every Outcome. It returns an error, always
// with Outcome Retry so that a caller that misses it neither forgets the
// token nor counts it delivered, only when the answer is neither: FCM
// refused the message itself (INVALID_ARGUMENT not about the token: kind
// pass.KindInvalid, retrying will not help), ctx is done (kind
// pass.KindUnavailable; errors.Is with context.Canceled or
// DeadlineExceeded holds), or an answer FCM does not give (kind
// pass.KindInternal).
func (c *Client) Send(ctx context.Context, token string, n Notification) (Outcome, string, error) {
	r, err := c.Deliver(ctx, token, n)
	return r.Outcome, r.Reason, err
}

// Result is what FCM answered to one message.
type Result struct {
	Outcome Outcome
	// Reason is the message name when Delivered, else the reason (see
	// Send).
	Reason string
	// RetryAfter is FCM's Retry-After for a Retry (a 429 QUOTA_EXCEEDED
	// carries one), 0 when it gave none.
	RetryAfter time.Duration
}

// NotifyApp implements pass.AppNotifier for the client's tenant: Deliver,
// with FCM's Retry-After passed on as a *pass.RetryAfterError.
func (c *Client) NotifyApp(ctx context.Context, _, token string, n pass.AppNotice) (pass.PushOutcome, string, error) {
	r, err := c.Deliver(ctx, token, Notification{Title: n.Title, Body: n.Body, Data: n.Data})
	if r.Outcome == Retry && err == nil && r.RetryAfter > 0 {
		err = &pass.RetryAfterError{After: r.RetryAfter, Err: pass.Errorf(pass.KindUnavailable, "fcm: %s; retry in %s", r.Reason, r.RetryAfter)}
	}
	return r.Outcome, r.Reason, err
}

// Deliver is Send with FCM's Retry-After: the organiser's app notices are
// retried no sooner than FCM asks.
func (c *Client) Deliver(ctx context.Context, token string, n Notification) (Result, error) {
	if token == "" || len(token) > maxTokenLen {
		return Result{Outcome: Unregistered, Reason: reasonInvalidToken}, nil
	}
	if err := ctx.Err(); err != nil {
		return Result{Outcome: Retry}, canceled(err, token)
	}
	for k := range n.Data {
		if reservedDataKey(k) {
			return Result{Outcome: Retry, Reason: "INVALID_ARGUMENT"}, pass.Errorf(pass.KindInvalid,
				"fcm: the data key %q is one FCM reserves", k)
		}
	}
	msg := &messaging.Message{
		Token:   token,
		Data:    n.Data,
		Android: &messaging.AndroidConfig{Priority: androidPriority},
	}
	if n.Title != "" || n.Body != "" {
		msg.Notification = &messaging.Notification{Title: n.Title, Body: n.Body}
	}

	tctx, cancelTimeout := context.WithTimeout(ctx, c.timeout)
	defer cancelTimeout()
	sctx, cancel := context.WithCancelCause(tctx)
	defer cancel(nil)
	name, err := c.mc.Send(context.WithValue(sctx, cancelKey{}, cancel), msg)
	if err == nil {
		return Result{Outcome: Delivered, Reason: name}, nil
	}
	if ctx.Err() != nil {
		return Result{Outcome: Retry}, canceled(ctx.Err(), token)
	}
	var refused *credentialsRefused
	if errors.As(context.Cause(sctx), &refused) {
		return Result{Outcome: ConfigError, Reason: refused.reason()}, nil
	}
	var later *comeBackLater
	if errors.As(context.Cause(sctx), &later) {
		return Result{Outcome: Retry, Reason: reasonUnavailable, RetryAfter: later.after}, nil
	}
	out, reason, cerr := classify(err, tctx.Err() != nil, token)
	r := Result{Outcome: out, Reason: reason}
	if resp := errorutils.HTTPResponse(err); out == Retry && resp != nil {
		r.RetryAfter, _ = httpx.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if r.RetryAfter == 0 && (messaging.IsQuotaExceeded(err) || errorutils.IsResourceExhausted(err)) {
			// FCM's quota is restored in the next minute, and it asks
			// for at least a minute before retrying what it refused.
			r.RetryAfter = QuotaRetry
		}
	}
	return r, cerr
}

// QuotaRetry is how long a message FCM refused for its quota waits when
// FCM names no Retry-After.
const QuotaRetry = time.Minute

// reservedDataKey reports whether FCM refuses k as a key of a message's
// data: "from", "message_type", and any key starting with "google" or
// "gcm".
func reservedDataKey(k string) bool {
	lk := strings.ToLower(k)
	return lk == "from" || lk == "message_type" || strings.HasPrefix(lk, "google") || strings.HasPrefix(lk, "gcm")
}

// classify maps a Send error to an outcome and a reason, and to an error
// only when the answer is not one FCM gives for a send (see Send).
func classify(err error, timedOut bool, token string) (Outcome, string, error) {
	resp := errorutils.HTTPResponse(err)
	if resp == nil { // no answer, or a local failure
		switch {
		case timedOut || errorutils.IsDeadlineExceeded(err):
			return Retry, reasonDeadlineExceeded, nil
		case errorutils.IsUnavailable(err) || errorutils.IsUnknown(err):
			return Retry, reasonUnavailable, nil
		}
		return Retry, "", pass.Wrap(pass.KindInternal, err, "fcm: send to "+redact(token))
	}
	body := readErrorBody(resp)
	reason := body.reason(resp.StatusCode)
	switch {
	case messaging.IsUnregistered(err):
		return Unregistered, reason, nil
	case messaging.IsInvalidArgument(err), body.fcmCode() == "" && errorutils.IsInvalidArgument(err):
		if body.aboutToken() {
			return Unregistered, reason, nil
		}
		return Retry, reason, pass.Wrap(pass.KindInvalid, err, "fcm: send to "+redact(token)+": FCM refused the message ("+reason+")")
	case messaging.IsQuotaExceeded(err), messaging.IsUnavailable(err), messaging.IsInternal(err):
		return Retry, reason, nil
	case messaging.IsSenderIDMismatch(err), messaging.IsThirdPartyAuthError(err):
		return ConfigError, reason, nil
	case errorutils.IsUnauthenticated(err), errorutils.IsPermissionDenied(err), errorutils.IsNotFound(err):
		// No FCM code: Google refused our credentials or project, or the
		// endpoint is wrong (a missing "/v1").
		return ConfigError, reason, nil
	case errorutils.IsResourceExhausted(err), errorutils.IsUnavailable(err), errorutils.IsInternal(err),
		errorutils.IsDeadlineExceeded(err), resp.StatusCode >= 500:
		return Retry, reason, nil
	}
	return Retry, reason, pass.Wrap(pass.KindInternal, err,
		"fcm: send to "+redact(token)+": unexpected answer "+strconv.Itoa(resp.StatusCode)+" "+reason)
}

// errorBody is the part of a Google API error that classify reads.
type errorBody struct {
	Error struct {
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type            string `json:"@type"`
			ErrorCode       string `json:"errorCode"`
			FieldViolations []struct {
				Field string `json:"field"`
			} `json:"fieldViolations"`
		} `json:"details"`
	} `json:"error"`
}

// readErrorBody parses an error answer; a body that is not Google's error
// JSON gives an empty errorBody.
func readErrorBody(resp *http.Response) errorBody {
	var b errorBody
	if resp.Body != nil {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = json.Unmarshal(raw, &b)
	}
	return b
}

// fcmCode is the errorCode of the FcmError detail, "" if there is none.
func (b errorBody) fcmCode() string {
	for _, d := range b.Error.Details {
		if d.Type == "type.googleapis.com/google.firebase.fcm.v1.FcmError" {
			return d.ErrorCode
		}
	}
	return ""
}

// reason is the FCM code, else the status, else "HTTP <status>".
func (b errorBody) reason(status int) string {
	if code := b.fcmCode(); code != "" {
		return code
	}
	if b.Error.Status != "" {
		return b.Error.Status
	}
	return "HTTP " + strconv.Itoa(status)
}

// aboutToken reports whether an INVALID_ARGUMENT is about the registration
// token: FCM says so only in words ("The registration token is not a valid
// FCM registration token"), and some answers also name the field
// message.token in a BadRequest detail.
func (b errorBody) aboutToken() bool {
	for _, d := range b.Error.Details {
		for _, v := range d.FieldViolations {
			if v.Field == "message.token" {
				return true
			}
		}
	}
	return strings.Contains(strings.ToLower(b.Error.Message), "registration token")
}

// cancelKey is the context key of a Send's context.CancelCauseFunc.
type cancelKey struct{}

// credentialsCheck is the outermost transport with credentials. When the
// token endpoint refuses the service-account key (a 4xx other than 408 and
// 429), it cancels the Send with a *credentialsRefused cause: the Firebase
// client would otherwise retry the failure like a network error, for
// seconds, and report it as one.
type credentialsCheck struct{ next http.RoundTripper }

// waitCheck is the outermost transport. When FCM answers 503 UNAVAILABLE
// with a Retry-After that the Firebase client would sleep out (at most
// sdkRetryCap) but the Send's deadline does not leave, it cancels the Send
// with a *comeBackLater cause: the client would report the deadline, not
// the wait FCM asked for. A longer Retry-After the client does not wait
// for (it returns the answer), and a 503 with another FCM error code is
// left to classify as before.
type waitCheck struct{ next http.RoundTripper }

// sdkRetryCap is the longest Retry-After the Firebase client waits for
// before it retries a 503 itself.
const sdkRetryCap = 2 * time.Minute

// RoundTrip implements http.RoundTripper.
func (t waitCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		return resp, err
	}
	after, ok := httpx.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	dl, has := req.Context().Deadline()
	cancel, canCancel := req.Context().Value(cancelKey{}).(context.CancelCauseFunc)
	if !ok || after > sdkRetryCap || !has || time.Until(dl) >= after || !canCancel {
		return resp, nil
	}
	raw, rerr := io.ReadAll(resp.Body) // bounded by httpx.LimitBodies beneath
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	var b errorBody
	_ = json.Unmarshal(raw, &b)
	if code := b.fcmCode(); rerr == nil && (code == "" || code == reasonUnavailable) {
		cancel(&comeBackLater{after: after})
	}
	return resp, nil
}

// RoundTrip implements http.RoundTripper.
func (t credentialsCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	var ae *auth.Error
	if err != nil && errors.As(err, &ae) && ae.Response != nil {
		switch st := ae.Response.StatusCode; {
		case st < 400 || st > 499 || st == http.StatusRequestTimeout || st == http.StatusTooManyRequests:
		default:
			if cancel, ok := req.Context().Value(cancelKey{}).(context.CancelCauseFunc); ok {
				cancel(&credentialsRefused{status: st, body: ae.Body})
			}
		}
	}
	return resp, err
}

// comeBackLater is the cause of a Send canceled by credentialsCheck when
// FCM asked for a longer wait than the Send had left.
type comeBackLater struct{ after time.Duration }

func (e *comeBackLater) Error() string { return "fcm: unavailable, retry after " + e.after.String() }

// credentialsRefused is the cause of a Send canceled by credentialsCheck.
type credentialsRefused struct {
	status int
	body   []byte // the token endpoint's answer
}

func (e *credentialsRefused) Error() string {
	return "fcm: the token endpoint refused the service-account key: " + e.reason()
}

// reason is "CREDENTIALS_REFUSED: " and the OAuth 2 error code
// ("invalid_grant", ...), or the HTTP status when there is none.
func (e *credentialsRefused) reason() string {
	var b struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(e.body, &b) == nil && b.Error != "" && len(b.Error) <= 64 {
		return "CREDENTIALS_REFUSED: " + b.Error
	}
	return "CREDENTIALS_REFUSED: HTTP " + strconv.Itoa(e.status)
}

// canceled wraps the error of a done context.
func canceled(err error, token string) error {
	return pass.Wrap(pass.KindUnavailable, err, "fcm: send to "+redact(token)+" canceled")
}

// redact shortens a registration token for errors and logs.
func redact(token string) string {
	if len(token) <= 8 {
		return token
	}
	return token[:8] + "…"
}
