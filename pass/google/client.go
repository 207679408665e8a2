package google

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"
	"golang.org/x/time/rate"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/api/walletobjects/v1"

	"walletpass/internal/httpx"
	"walletpass/pass"
)

// DefaultEndpoint is the Google Wallet API's base URL.
const DefaultEndpoint = "https://walletobjects.googleapis.com/"

// DefaultRequestsPerSecond is Google's quota per issuer.
const DefaultRequestsPerSecond = 20

// ClientConfig configures a tenant's API client.
type ClientConfig struct {
	// Endpoint overrides DefaultEndpoint (tests, the development fake).
	Endpoint string
	Account  *ServiceAccount
	// RequestsPerSecond caps the calls (default 20, Google's quota).
	RequestsPerSecond float64
	// Timeout bounds each call (default 10 s: Google's p99 is about 5 s).
	Timeout time.Duration
	// Transport is the base transport (default http.DefaultTransport).
	Transport http.RoundTripper
}

// Client calls the Google Wallet API for one tenant. It is safe for
// concurrent use.
type Client struct {
	svc *walletobjects.Service
}

type limited struct {
	lim  *rate.Limiter
	base http.RoundTripper
}

func (l limited) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := l.lim.Wait(r.Context()); err != nil {
		return nil, err
	}
	return l.base.RoundTrip(r)
}

// MaxAnswer bounds what the client reads of one answer of Google's (the
// API's and its token endpoint's): an object or a class with its messages
// is a few kilobytes.
const MaxAnswer = 4 << 20

// NewClient returns a client authenticated as cfg.Account (OAuth 2.0 JWT
// bearer flow against the key's token_uri, scope wallet_object.issuer).
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Account == nil {
		return nil, errors.New("google: a service account is required")
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	if !strings.HasSuffix(cfg.Endpoint, "/") {
		cfg.Endpoint += "/"
	}
	if cfg.RequestsPerSecond <= 0 {
		cfg.RequestsPerSecond = DefaultRequestsPerSecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	// The API library reads a whole answer into memory, an error's too.
	base := httpx.LimitBodies(cfg.Transport, MaxAnswer)
	jc := &jwt.Config{
		Email: cfg.Account.Email, PrivateKeyID: cfg.Account.KeyID, TokenURL: cfg.Account.TokenURI,
		PrivateKey: pemKey(cfg.Account), Scopes: []string{walletobjects.WalletObjectIssuerScope},
	}
	tokenCtx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: base, Timeout: cfg.Timeout})
	burst := int(cfg.RequestsPerSecond)
	if burst < 1 {
		burst = 1
	}
	hc := &http.Client{
		Timeout: cfg.Timeout,
		Transport: &oauth2.Transport{
			Source: oauth2.ReuseTokenSource(nil, jc.TokenSource(tokenCtx)),
			Base:   limited{lim: rate.NewLimiter(rate.Limit(cfg.RequestsPerSecond), burst), base: base},
		},
	}
	svc, err := walletobjects.NewService(context.Background(), option.WithEndpoint(cfg.Endpoint), option.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("google: client: %w", err)
	}
	return &Client{svc: svc}, nil
}

// UpsertClass inserts the class, or patches it when it exists already.
func (c *Client) UpsertClass(ctx context.Context, cl *walletobjects.EventTicketClass) error {
	_, err := c.svc.Eventticketclass.Insert(cl).Context(ctx).Do()
	if isCode(err, http.StatusConflict) {
		_, err = c.svc.Eventticketclass.Patch(cl.Id, cl).Context(ctx).Do()
		return classify("patch class", err)
	}
	return classify("insert class", err)
}

// PatchClass patches a class Google has; an error of kind
// pass.KindNotFound when it has not.
func (c *Client) PatchClass(ctx context.Context, cl *walletobjects.EventTicketClass) error {
	_, err := c.svc.Eventticketclass.Patch(cl.Id, cl).Context(ctx).Do()
	return classify("patch class", err)
}

// InsertObject inserts the object; when it exists already (409) it is
// patched instead, so a retried insert converges.
func (c *Client) InsertObject(ctx context.Context, o *walletobjects.EventTicketObject) error {
	_, err := c.svc.Eventticketobject.Insert(o).Context(ctx).Do()
	if isCode(err, http.StatusConflict) {
		return c.PatchObject(ctx, o)
	}
	return classify("insert object", err)
}

// PatchObject sends the object's fields; fields it does not carry (and its
// message list) stay as they are at Google.
func (c *Client) PatchObject(ctx context.Context, o *walletobjects.EventTicketObject) error {
	_, err := c.svc.Eventticketobject.Patch(o.Id, o).Context(ctx).Do()
	return classify("patch object", err)
}

// GetObject returns the object as Google has it; an error of kind
// pass.KindNotFound when it does not exist.
func (c *Client) GetObject(ctx context.Context, id string) (*walletobjects.EventTicketObject, error) {
	o, err := c.svc.Eventticketobject.Get(id).Context(ctx).Do()
	return o, classify("get object", err)
}

// ErrNotifyQuota is returned by AddMessage when Google refuses another
// notifying message for the object today.
var ErrNotifyQuota = errors.New("google: notification quota of the pass exceeded")

// ErrNotifyThrottled is returned by AddMessage when Google refused a
// notifying message with a 429 that reads as its rate limit of the
// issuer's requests (rateLimited), not as the pass's notification limit:
// the error it wraps is worth retrying (pass.RetryAfterError).
var ErrNotifyThrottled = errors.New("google: a notifying message was throttled")

// MaxMessages is how many messages Google lets a class or an object hold;
// it refuses to add another.
const MaxMessages = 10

// AddMessage appends m to the object's messages, notifying the holder's
// phone when notify is set. When the object holds MaxMessages already,
// its oldest message is dropped so that m is added as the newest (see
// addWithRoom). It returns an error wrapping ErrNotifyQuota when Google
// refuses the notification, ErrNotifyThrottled when its rate limit
// refused it, and otherwise an error of the kinds classify gives.
func (c *Client) AddMessage(ctx context.Context, objectID string, m Message, notify bool) error {
	req := &walletobjects.AddMessageRequest{Message: &walletobjects.Message{Id: m.ID, Header: m.Header, Body: m.Body, MessageType: messageType(notify)}}
	add := func() error {
		_, err := c.svc.Eventticketobject.Addmessage(objectID, req).Context(ctx).Do()
		return addError("add message", notify, err)
	}
	makeRoom := func() (bool, error) {
		o, err := c.svc.Eventticketobject.Get(objectID).Context(ctx).Do()
		if err != nil {
			return false, classify("get object", err)
		}
		keep, full := withoutOldest(o.Messages)
		if !full {
			return false, nil
		}
		_, err = c.svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{Id: objectID, Messages: keep}).Context(ctx).Do()
		return true, classify("drop old messages", err)
	}
	return addWithRoom(add, makeRoom)
}

// AddClassMessage appends m to the class's messages, which every holder
// of the class sees; notify, a full list and errors as AddMessage.
func (c *Client) AddClassMessage(ctx context.Context, classID string, m ClassMessage, notify bool) error {
	msg := &walletobjects.Message{Id: m.ID, LocalizedHeader: m.Header, LocalizedBody: m.Body, MessageType: messageType(notify)}
	if m.Header != nil && m.Header.DefaultValue != nil {
		msg.Header = m.Header.DefaultValue.Value
	}
	if m.Body != nil && m.Body.DefaultValue != nil {
		msg.Body = m.Body.DefaultValue.Value
	}
	req := &walletobjects.AddMessageRequest{Message: msg}
	add := func() error {
		_, err := c.svc.Eventticketclass.Addmessage(classID, req).Context(ctx).Do()
		return addError("add class message", notify, err)
	}
	makeRoom := func() (bool, error) {
		cl, err := c.svc.Eventticketclass.Get(classID).Context(ctx).Do()
		if err != nil {
			return false, classify("get class", err)
		}
		keep, full := withoutOldest(cl.Messages)
		if !full {
			return false, nil
		}
		// Google asks for reviewStatus UNDER_REVIEW on every update of a
		// class, a patch of its messages too.
		_, err = c.svc.Eventticketclass.Patch(classID, &walletobjects.EventTicketClass{Id: classID, Messages: keep, ReviewStatus: "UNDER_REVIEW"}).Context(ctx).Do()
		return true, classify("drop old class messages", err)
	}
	return addWithRoom(add, makeRoom)
}

func messageType(notify bool) string {
	if notify {
		return "TEXT_AND_NOTIFY"
	}
	return "TEXT"
}

// addError is classify for an addMessage call, with Google's refusal of
// another notification as ErrNotifyQuota.
func addError(op string, notify bool, err error) error {
	var ge *googleapi.Error
	if notify && errors.As(err, &ge) && quotaRefusal(ge) {
		if rateLimited(ge) {
			return fmt.Errorf("%w: %w", ErrNotifyThrottled, classify(op, err))
		}
		return fmt.Errorf("%w: %s", ErrNotifyQuota, firstLine(ge.Message))
	}
	return classify(op, err)
}

// rateLimited reports whether a 429 reads as Google's rate limit of the
// issuer's requests rather than the pass's notification limit: it does not
// name QuotaExceededException (the limit's one documented word), and it
// says when to come back, soon (a Retry-After of at most
// MaxThrottleWait), or, without a Retry-After, names a rate limit
// (Google's APIs' rateLimitExceeded reason, say). Neither answer's wire
// shape is on record for Google Wallet: a 429 that says neither is the
// pass's limit, as before.
func rateLimited(ge *googleapi.Error) bool {
	if ge.Code != http.StatusTooManyRequests {
		return false
	}
	text := strings.ToLower(ge.Message)
	for _, e := range ge.Errors {
		text += " " + strings.ToLower(e.Reason+" "+e.Message)
	}
	if strings.Contains(text, "quotaexceededexception") {
		return false
	}
	if d, ok := httpx.ParseRetryAfter(ge.Header.Get("Retry-After"), time.Now()); ok {
		// A long wait is not a rate limit's: the message is not held
		// back (nor the state it goes with) for it. One that cannot be
		// read leaves the wording to decide.
		return d <= MaxThrottleWait
	}
	return strings.Contains(text, "ratelimit") || strings.Contains(text, "rate limit") || strings.Contains(text, "rate_limit")
}

// MaxThrottleWait is the longest Retry-After a 429 to a notifying message
// may ask for to be taken for Google's rate limit (rateLimited).
const MaxThrottleWait = time.Minute

// quotaRefusal reports whether Google's answer to a notifying message may
// be its notification limit, whose wire shape is not documented (only
// its name, QuotaExceededException): that name or a quota reason
// anywhere in the error, or 429. The message is then sent silently; a
// 429 that was Google's rate limit refuses that too, and is retried.
func quotaRefusal(ge *googleapi.Error) bool {
	if ge.Code == http.StatusTooManyRequests || strings.Contains(strings.ToLower(ge.Message), "quota") {
		return true
	}
	for _, e := range ge.Errors {
		if strings.Contains(strings.ToLower(e.Reason+" "+e.Message), "quota") {
			return true
		}
	}
	return false
}

// addWithRoom adds a message with add. Google keeps at most MaxMessages
// on a class or an object and has no call that removes one, so an add
// to a full list is refused (400) for as long as the list stays full:
// the one way to make room is to write the whole list without its oldest
// messages (a PATCH replaces a list it carries). When add is refused as
// invalid, makeRoom reads the list and, when it is full, writes it so
// that one more fits and reports that it did; add is then tried once
// more. The add stays an addMessage, the one call whose message notifies.
// A refusal while the list has room is the answer: nothing is dropped.
// Reading the list only after a refusal keeps the usual add to one call.
func addWithRoom(add func() error, makeRoom func() (made bool, err error)) error {
	err := add()
	if pass.KindOf(err) != pass.KindInvalid {
		return err
	}
	made, rerr := makeRoom()
	if rerr != nil {
		return rerr
	}
	if !made {
		return err
	}
	return add()
}

// withoutOldest returns msgs without its oldest messages, so that one
// more fits, and whether any had to go. The oldest are the first: Google
// appends what addMessage adds, so the order of the list is the order
// the messages came in, whereas a displayInterval is optional (ours have
// none) and says when to show a message, not when it was written. The
// kept messages go back as TEXT: they notified when they were added, and
// writing the list must not count as notifying again.
func withoutOldest(msgs []*walletobjects.Message) (keep []*walletobjects.Message, full bool) {
	if len(msgs) < MaxMessages {
		return msgs, false
	}
	keep = msgs[len(msgs)-(MaxMessages-1):]
	for _, m := range keep {
		if m != nil && m.MessageType == "TEXT_AND_NOTIFY" {
			m.MessageType = "TEXT"
		}
	}
	return keep, true
}

func isCode(err error, code int) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == code
}

// tokenRefusals are the OAuth 2.0 errors (RFC 6749, section 5.2) with
// which a token endpoint refuses the service account itself: a key that
// was deleted or never registered, a disabled account. Asking again cannot
// help.
var tokenRefusals = []string{"invalid_grant", "invalid_client", "unauthorized_client"}

// classify keeps the API's answer as an error kind: 429 and 5xx (and
// network errors) are KindUnavailable, with Retry-After when Google gives
// one; 404 KindNotFound; 401/403 KindUnauthorized; 409 KindConflict; any
// other 4xx KindInvalid (retrying cannot help). The token endpoint's
// refusal of the service account (tokenRefusals) is KindUnauthorized; its
// other failures are KindUnavailable.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		if errors.Is(err, context.Canceled) {
			return err
		}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			if code := tokenErrorCode(re); slices.Contains(tokenRefusals, code) {
				return pass.Upstream(pass.Wrap(pass.KindUnauthorized, err, "google: "+op+": the token endpoint refused the service account ("+code+")"))
			}
		}
		return pass.Wrap(pass.KindUnavailable, err, "google: "+op)
	}
	msg := fmt.Sprintf("google: %s: %d %s", op, ge.Code, firstLine(ge.Message))
	switch {
	case ge.Code == http.StatusTooManyRequests || ge.Code >= 500:
		ra := &pass.RetryAfterError{Err: pass.Wrap(pass.KindUnavailable, err, msg)}
		if d, ok := httpx.ParseRetryAfter(ge.Header.Get("Retry-After"), time.Now()); ok {
			ra.After = d
		}
		return ra
	case ge.Code == http.StatusNotFound:
		return pass.Wrap(pass.KindNotFound, err, msg)
	case ge.Code == http.StatusUnauthorized || ge.Code == http.StatusForbidden:
		return pass.Upstream(pass.Wrap(pass.KindUnauthorized, err, msg))
	case ge.Code == http.StatusConflict:
		return pass.Wrap(pass.KindConflict, err, msg)
	}
	return pass.Upstream(pass.Wrap(pass.KindInvalid, err, msg))
}

// tokenErrorCode is the OAuth 2.0 error code of a token endpoint's
// answer: the RetrieveError's, or, as golang.org/x/oauth2/jwt leaves that
// empty, the "error" member of the JSON body (Google's token endpoint
// answers {"error":"invalid_grant","error_description":"..."}); "" when
// there is none.
func tokenErrorCode(re *oauth2.RetrieveError) string {
	if re.ErrorCode != "" {
		return re.ErrorCode
	}
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(re.Body, &body) != nil {
		return ""
	}
	return body.Error
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
