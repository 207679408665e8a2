package apns

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/token"

	"walletpass/internal/httpx"
	"walletpass/pass"
)

// The pass-update push: an empty dictionary, background type at the
// priority Apple requires for it (see the package documentation).
var emptyPayload = []byte("{}")

const (
	pushType     = apns2.PushTypeBackground
	pushPriority = apns2.PriorityLow
)

// Device token limits: APNs tokens are hex, 32 bytes today and up to 100
// bytes by Apple's documentation.
const (
	minTokenLen = 64
	maxTokenLen = 200
)

// Outcome is the domain's push outcome, which this adapter returns as it
// is (see the constants for what each means here).
type Outcome = pass.PushOutcome

// The outcomes of a push.
const (
	// Delivered: APNs accepted the push (200).
	Delivered = pass.PushDelivered
	// Unregistered: the push token is dead (410, 400 BadDeviceToken or
	// ExpiredToken, or not a valid token at all). Delete the registration,
	// unless it was updated after Result.Timestamp.
	Unregistered = pass.PushUnregistered
	// Retry: APNs is busy or unreachable (429, 5xx, network). Push again
	// after Result.RetryAfter; keep the registration.
	Retry = pass.PushRetry
	// ConfigError: APNs refused our credentials, topic or request (403,
	// 400 DeviceTokenNotForTopic, TopicDisallowed, ...). Keep the
	// registration and fix the tenant's configuration; a refusal of our
	// credentials or topic has Result.RetryAfter pass.ConfigRetry (the
	// configuration may be fixed, a provider token renewed), another
	// (one device's token for another topic, a bad request) none.
	ConfigError = pass.PushConfigError
)

// Result is what became of one push.
type Result struct {
	Outcome Outcome
	// Status is APNs's HTTP status; 0 when no request was answered (an
	// invalid token, a certificate refused in the TLS handshake, a network
	// failure, a canceled context).
	Status int
	// Reason is APNs's reason string ("Unregistered", "BadDeviceToken",
	// ...), "BadDeviceToken" for a token rejected before sending, or
	// "BadCertificate" for our certificate refused in the TLS handshake.
	Reason string
	// APNsID is the apns-id APNs gave the push.
	APNsID string
	// RetryAfter is the suggested back-off for Outcome Retry.
	RetryAfter time.Duration
	// Timestamp is, for a 410, when APNs last learned that the token was
	// no longer valid; a registration refreshed after it is still good.
	// It is zero when the 410's body has no timestamp, or one that is not
	// a positive integer (of milliseconds).
	Timestamp time.Time
}

// Client sends pass-update pushes with one credential. It is safe for
// concurrent use; create one per tenant and reuse it, so that pushes share
// one HTTP/2 connection.
type Client struct {
	apns      *apns2.Client
	transport *http.Transport
	sem       chan struct{}
	timeout   time.Duration
	log       *slog.Logger
	desc      string // String() form, without key material

	mu     sync.Mutex
	logged map[string]bool // ConfigError kinds already logged
}

// maxAnswer bounds what the client reads of one answer of APNs's.
const maxAnswer = 64 << 10

// New validates cfg and builds the client; it does not connect (the
// connection is opened by the first push and then kept). It returns an
// error of kind pass.KindInvalid listing every problem with cfg: no or two
// credentials, an unreadable certificate or .p8 key, a missing KeyID or
// TeamID, a Host that is not an https URL, a negative Concurrency or
// Timeout. The error never contains key material.
func New(cfg Config) (*Client, error) {
	v, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{RootCAs: v.RootCAs, MinVersion: tls.VersionTLS12}
	ac := &apns2.Client{Host: v.Host}
	if v.Certificate != nil {
		tlsConf.Certificates = []tls.Certificate{*v.Certificate}
		// TLS 1.2, so that APNs's verdict on our certificate is part of the
		// handshake. In TLS 1.3 our side of the handshake ends before the
		// server has judged the certificate: its alert comes after our
		// first request is written, and against the fake the transport
		// reported a third of such refusals as "write: broken pipe" or
		// "http2: client conn could not be established" instead, which
		// reads as APNs being down.
		tlsConf.MaxVersion = tls.VersionTLS12
		ac.Certificate = *v.Certificate
	} else {
		tok := &token.Token{AuthKey: v.authKey, KeyID: v.KeyID, TeamID: v.TeamID}
		// Sign once now: apns2 ignores signing errors later and would send
		// an empty bearer token.
		if _, err := tok.Generate(); err != nil {
			return nil, pass.Errorf(pass.KindInvalid, "apns: config: TokenKeyPEM cannot sign an ES256 token")
		}
		ac.Token = tok
	}
	// Our own transport rather than apns2's (x/net/http2, deprecated): the
	// caller's roots, dials that honour the context, HTTP/2 only, and one
	// connection per host (MaxConnsPerHost 1 also stops concurrent first
	// pushes from dialing in parallel); pings detect a dead idle connection.
	var protocols http.Protocols
	protocols.SetHTTP2(true)
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{KeepAlive: tcpKeepAlive}).DialContext,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: v.Timeout,
		Protocols:           &protocols,
		MaxConnsPerHost:     1,
		IdleConnTimeout:     0, // keep the connection: APNs dislikes reconnects
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: sendPingTimeout,
			PingTimeout:     pingTimeout,
		},
	}
	// apns2 decodes an answer whole: APNs's are a few dozen bytes. What it
	// decodes is what answers kept of the answer's body.
	ac.HTTPClient = &http.Client{Transport: answers{httpx.LimitBodies(tr, maxAnswer)}}
	return &Client{
		apns:      ac,
		transport: tr,
		sem:       make(chan struct{}, v.Concurrency),
		timeout:   v.Timeout,
		log:       v.Logger,
		desc:      fmt.Sprintf("apns.Client{auth=%s host=%q}", v.authMode(), v.Host),
		logged:    make(map[string]bool),
	}, nil
}

// String describes the client without its key material.
func (c *Client) String() string { return c.desc }

// GoString is String, so that %#v does not print the key either.
func (c *Client) GoString() string { return c.desc }

// Close closes the idle connection to APNs. Call it after the last push
// has returned; a later push opens a new connection.
func (c *Client) Close() {
	c.transport.CloseIdleConnections()
}

// PushPass implements pass.Pusher for the client's tenant: Push, with an
// error that is not Retry's taken as a retry; a 410's timestamp and a
// 429's back-off are passed on.
func (c *Client) PushPass(ctx context.Context, _, deviceToken, passTypeID string) (pass.PushResult, error) {
	r, err := c.Push(ctx, deviceToken, passTypeID)
	if err != nil && r.Outcome != Retry {
		return pass.PushResult{Outcome: pass.PushRetry}, err
	}
	return pass.PushResult{Outcome: r.Outcome, Reason: r.Reason, GoneSince: r.Timestamp, RetryAfter: r.RetryAfter}, nil
}

// Push sends the pass-update push to one device: POST /3/device/<token>
// with apns-topic = topic (the pass type identifier), apns-push-type
// background, apns-priority 5 and the body {}. It waits for one of the
// Config.Concurrency slots (as long as ctx allows), then gives the exchange
// Config.Timeout.
//
// A deviceToken that is not 64 to 200 hex digits is Outcome Unregistered
// with Reason "BadDeviceToken" and Status 0, without any request: APNs
// would refuse it with the same reason.
//
// APNs refuses an expired, revoked or unknown client certificate in the
// TLS handshake, with an alert about the certificate rather than an HTTP
// answer. Push takes that alert as it takes a 403 BadCertificate: Outcome
// ConfigError with Reason "BadCertificate", Status 0 and RetryAfter
// pass.ConfigRetry, and a nil error.
//
// Push returns a nil error for every APNs answer; the Result's Outcome says
// what to do. A body that is not APNs's JSON is an answer without a
// reason. It returns an error only when there is no answer: a done ctx
// (errors.Is with context.Canceled or DeadlineExceeded holds; Outcome
// Retry), no answer from APNs within Config.Timeout or a network failure (a
// *pass.RetryAfterError of kind pass.KindUnavailable; Outcome Retry), or an
// empty topic (pass.KindInvalid; no Outcome).
func (c *Client) Push(ctx context.Context, deviceToken, topic string) (Result, error) {
	if topic == "" {
		return Result{}, pass.Errorf(pass.KindInvalid, "apns: push: the topic (pass type identifier) is required")
	}
	if !ValidDeviceToken(deviceToken) {
		return Result{Outcome: Unregistered, Reason: apns2.ReasonBadDeviceToken}, nil
	}
	if err := ctx.Err(); err != nil {
		return Result{Outcome: Retry}, canceled(err, deviceToken)
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return Result{Outcome: Retry}, canceled(ctx.Err(), deviceToken)
	}
	defer func() { <-c.sem }()

	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.apns.PushWithContext(rctx, &apns2.Notification{
		DeviceToken: deviceToken,
		Topic:       topic,
		Payload:     emptyPayload,
		PushType:    pushType,
		Priority:    pushPriority,
	})
	if err != nil {
		if ctx.Err() != nil {
			return Result{Outcome: Retry}, canceled(ctx.Err(), deviceToken)
		}
		if alert, ok := refusedCertificate(err); ok {
			res := Result{Outcome: ConfigError, Reason: apns2.ReasonBadCertificate, RetryAfter: pass.ConfigRetry}
			c.logConfigError(ctx, res, topic, alert)
			return res, nil
		}
		return Result{Outcome: Retry, RetryAfter: RetryAfterUnavailable}, &pass.RetryAfterError{
			After: RetryAfterUnavailable,
			Err:   pass.Wrap(pass.KindUnavailable, withoutURL(err), "apns: push to "+redact(deviceToken)+": no answer from APNs"),
		}
	}
	res := Result{Status: resp.StatusCode, Reason: resp.Reason, APNsID: resp.ApnsID}
	res.Outcome, res.RetryAfter = classify(resp.StatusCode, resp.Reason)
	if resp.StatusCode == http.StatusGone && !resp.Timestamp.IsZero() {
		res.Timestamp = resp.Timestamp.Time
	}
	if res.Outcome == ConfigError {
		if resp.StatusCode == http.StatusForbidden || slices.Contains(ourTopicReasons, resp.Reason) {
			res.RetryAfter = pass.ConfigRetry
		}
		c.logConfigError(ctx, res, topic, "")
	}
	return res, nil
}

// certificateAlerts are the TLS alerts with which a server refuses the
// client's certificate: bad_certificate (42), unsupported_certificate
// (43), certificate_revoked (44), certificate_expired (45),
// certificate_unknown (46), unknown_ca (48), access_denied (49: the
// certificate is valid but not allowed) and certificate_required (116: a
// server that wants one got none). handshake_failure (40), which a TLS 1.2
// server may also send for a missing certificate, is left out: it also
// means no common cipher suite, which a fixed configuration does not cure.
var certificateAlerts = []tls.AlertError{42, 43, 44, 45, 46, 48, 49, 116}

// refusedCertificate reports whether err is the server refusing our
// client certificate in the TLS handshake, and the alert's text.
//
// crypto/tls reports an alert received over TCP as a *net.OpError whose
// Op is "remote error" and whose Err is its own unexported alert type
// (tls.AlertError is what it returns over QUIC only); that type and
// tls.AlertError of the same code have the same text, the only handle on
// the code. The error reaches us whole through net/http
// (*url.Error, then crypto/tls's permanent-error wrapper).
func refusedCertificate(err error) (string, bool) {
	if ae, ok := errors.AsType[tls.AlertError](err); ok {
		return ae.Error(), slices.Contains(certificateAlerts, ae)
	}
	oe, ok := errors.AsType[*net.OpError](err)
	if !ok || oe.Op != "remote error" || oe.Err == nil {
		return "", false
	}
	text := oe.Err.Error()
	for _, a := range certificateAlerts {
		if text == a.Error() {
			return text, true
		}
	}
	return "", false
}

// ourTopicReasons are the 400 reasons that refuse our topic (the pass type
// our certificate is for), not one device's token.
var ourTopicReasons = []string{apns2.ReasonTopicDisallowed, apns2.ReasonBadTopic, apns2.ReasonMissingTopic}

// classify maps an APNs answer to an outcome and a back-off.
func classify(status int, reason string) (Outcome, time.Duration) {
	switch {
	case status == http.StatusOK:
		return Delivered, 0
	case status == http.StatusGone:
		return Unregistered, 0
	case status == http.StatusBadRequest && (reason == apns2.ReasonBadDeviceToken || reason == apns2.ReasonExpiredToken):
		return Unregistered, 0
	case status == http.StatusBadRequest && reason == apns2.ReasonIdleTimeout:
		return Retry, RetryAfterUnavailable
	case status == http.StatusTooManyRequests:
		return Retry, RetryAfterTooManyRequests
	case status >= 500:
		return Retry, RetryAfterUnavailable
	case status >= 400:
		return ConfigError, 0
	default: // not an answer APNs gives: try again rather than drop anything
		return Retry, RetryAfterUnavailable
	}
}

// logConfigError logs the first ConfigError of each status, reason and
// TLS alert (alert is the handshake's refusal of our certificate, or "").
func (c *Client) logConfigError(ctx context.Context, res Result, topic, alert string) {
	if c.log == nil {
		return
	}
	key := strconv.Itoa(res.Status) + " " + res.Reason + " " + alert
	c.mu.Lock()
	seen := c.logged[key]
	c.logged[key] = true
	c.mu.Unlock()
	if seen {
		return
	}
	attrs := []any{slog.Int("status", res.Status), slog.String("reason", res.Reason),
		slog.String("topic", topic), slog.String("host", c.apns.Host)}
	if alert != "" {
		attrs = append(attrs, slog.String("tls_alert", alert))
	}
	c.log.ErrorContext(ctx, "apns refused the push: fix the tenant's APNs configuration (logged once)", attrs...)
}

// canceled wraps a context error.
func canceled(err error, deviceToken string) error {
	return pass.Wrap(pass.KindUnavailable, err, "apns: push to "+redact(deviceToken)+" canceled")
}

// withoutURL drops the request URL, which holds the full device token,
// from an HTTP client error.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact shortens a device token for logs and errors.
func redact(deviceToken string) string {
	if len(deviceToken) <= 8 {
		return deviceToken
	}
	return deviceToken[:8] + "…"
}

// ValidDeviceToken reports whether s looks like an APNs device (push)
// token: 64 to 200 hexadecimal digits. Wallet sends 64 lower-case ones.
func ValidDeviceToken(s string) bool {
	if len(s) < minTokenLen || len(s) > maxTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case '0' <= ch && ch <= '9', 'a' <= ch && ch <= 'f', 'A' <= ch && ch <= 'F':
		default:
			return false
		}
	}
	return true
}
