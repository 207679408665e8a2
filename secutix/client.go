package secutix

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"walletpass/internal/httpx"
	"walletpass/internal/strs"
	"walletpass/pass"
)

// The SecuTix endpoints the client calls, by method name (the sandbox
// counts its calls by these names).
const (
	MethodAuth                            = "auth"
	MethodGetFileDetails                  = "getFileDetails"
	MethodGetFileDetailsFromOrderSecretID = "getFileDetailsFromOrderSecretId"
	MethodGetOrderDetails                 = "getOrderDetails"
	MethodGetCatalogDetailed              = "getCatalogDetailed"
	MethodGetPOSConfig                    = "getPOSConfig"
	MethodGetLastSetupUpdate              = "getLastSetupUpdate"
)

// DefaultAuthPath is the token exchange's path (Config.AuthPath) that
// SecuTix's public clients call most; one is seen calling it under the
// tnco module instead.
const DefaultAuthPath = "/tnai/backend-apis/v1/auth"

// authPath is a path Config.AuthPath may be: plain segments, none of
// them . or ..
var authPath = regexp.MustCompile(`^(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$`)

// ErrResponseTooLarge is wrapped by the error returned when a SecuTix
// response is larger than Config.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("secutix: response too large")

// Client fetches orders from one SecuTix institution over its REST_RPC
// JSON API. It caches the bearer token, sends each request when its Quota
// (per institution and service) lets it, and retries only what SecuTix
// asks it to retry ("in_progress") plus one re-authentication on HTTP 401
// or 403 (SecuTix does not say which one a stale token gets);
// overload (429, 509) pauses the quota and, like outages (5xx, network),
// is returned to the caller, whose task queue backs off.
//
// A Client is safe for concurrent use.
type Client struct {
	cfg    Config
	mapper mapper

	calls atomic.Int64 // requests sent, for the probe
	log   *slog.Logger

	catalog catalog

	mu     sync.Mutex
	token  string // token mode: the /v1/auth token, until a 401 or 403
	flight *authFlight
}

// authFlight is one /auth round-trip that concurrent callers share.
type authFlight struct {
	done  chan struct{}
	token string
	err   error
}

var _ pass.OrderSource = (*Client)(nil)

// New validates cfg and returns a Client. It returns an error of kind
// KindInvalid listing every problem with cfg. New does no I/O.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Client{
		cfg: cfg,
		mapper: mapper{tenant: cfg.Tenant, locale: cfg.Locale, defaultKind: cfg.DefaultEventKind, symbology: cfg.Symbology, fields: cfg.fields,
			seasons: cfg.SeasonTickets},
		log: cfg.Log,
	}, nil
}

// The SecuTix services the client calls. SecuTix counts its quota per
// institution and service (all its methods, versions and protocols
// together), so the client's Quota keys are too.
const (
	ServiceAuth    = "auth"
	ServiceOrders  = "externalOrderService"
	ServiceCatalog = "catalogService"
)

// serviceOf is the service of a method.
func serviceOf(method string) string {
	switch method {
	case MethodAuth:
		return ServiceAuth
	case MethodGetCatalogDetailed, MethodGetPOSConfig, MethodGetLastSetupUpdate:
		return ServiceCatalog
	case MethodListTicketsByCriteria:
		return ServiceHistory
	case MethodGetContactData:
		return ServiceContact
	}
	return ServiceOrders
}

// readsOrder reports whether method reads an order or file: what a sync's
// read mark records (see pass.MarkRead).
func readsOrder(method string) bool {
	switch method {
	case MethodGetFileDetails, MethodGetFileDetailsFromOrderSecretID, MethodGetOrderDetails:
		return true
	}
	return false
}

// pathOf is the URL path of a service method (REST_RPC: module, service,
// version, method).
func pathOf(method string) string {
	if method == MethodGetContactData {
		return "/tnco/backend-apis/" + ServiceContact + "/v2_21/" + method
	}
	return "/tnseb/backend-apis/" + serviceOf(method) + "/v1_33/" + method
}

// MethodUpdateExternalReferences writes an external reference on an
// order (externalOrderService).
const MethodUpdateExternalReferences = "updateExternalReferences"

// SetExternalReference writes key=value on order orderID, kind ORDER
// (updateExternalReferences). Errors as for OrderBySecret.
func (c *Client) SetExternalReference(ctx context.Context, tenant string, orderID int64, key, value string) error {
	if err := c.checkTenant(tenant); err != nil {
		return err
	}
	if orderID <= 0 || key == "" {
		return pass.Errorf(pass.KindInvalid, "secutix: %s: an order id and a key are required", MethodUpdateExternalReferences)
	}
	_, err := c.call(ctx, MethodUpdateExternalReferences, map[string]any{"id": orderID, "externalReferenceKind": "ORDER",
		"externalReference": map[string]any{"key": key, "value": value}}, "order "+strconv.FormatInt(orderID, 10))
	return err
}

// MethodGetContactData reads a contact (module tnco), for the buyer's
// e-mail and language; ServiceContact is its service.
const (
	MethodGetContactData = "getContactData"
	ServiceContact       = "contactInformationPublicService"
)

// quotaKey is the key of the quota that counts calls to method: the
// institution (or, when the configuration names none, the API root) and
// the method's service, "MOSA/externalOrderService".
func (c *Client) quotaKey(method string) string {
	inst := c.cfg.Institution
	if inst == "" {
		inst = c.cfg.BaseURL
	}
	return inst + "/" + serviceOf(method)
}

// QuotaUsage returns the most calls one of the institution's services
// made in the quota's last window, the limit, and the end of a pause
// SecuTix asked for (zero: none); ok is false when the quota cannot tell.
func (c *Client) QuotaUsage(ctx context.Context) (calls, limit int, pausedUntil time.Time, ok bool, err error) {
	qu, can := c.cfg.Quota.(QuotaUsage)
	if !can {
		return 0, 0, time.Time{}, false, nil
	}
	inst := c.cfg.Institution
	if inst == "" {
		inst = c.cfg.BaseURL
	}
	calls, pausedUntil, err = qu.Usage(ctx, inst+"/")
	return calls, cmp.Or(c.cfg.RequestsPerMinute, DefaultRequestsPerMinute), pausedUntil, err == nil, err
}

// Institution returns the institution the client calls ("" when the
// configuration names none).
func (c *Client) Institution() string { return c.cfg.Institution }

// Tenant returns the tenant the client serves.
func (c *Client) Tenant() string { return c.cfg.Tenant }

// OrderBySecret returns the file that holds the order whose orderSecretId is
// secretToken (getFileDetailsFromOrderSecretId). A movement that cannot
// become a valid ticket is left out, with a warning on the order naming
// it. Errors: KindInvalid when tenant is not the client's tenant, or when
// no ticket of the file maps because of values walletpass cannot read
// (the message names the movements); KindNotFound,
// wrapping pass.ErrNotFound, for an unknown secret; KindUnauthorized when
// SecuTix refuses the credentials; KindUnavailable when SecuTix is down,
// keeps answering "in_progress" or is over quota (then a
// *pass.RetryAfterError says when to retry). The secret never appears in
// an error message.
func (c *Client) OrderBySecret(ctx context.Context, tenant, secretToken string) (*pass.Order, error) {
	if err := c.checkTenant(tenant); err != nil {
		return nil, err
	}
	if strings.TrimSpace(secretToken) == "" {
		return nil, pass.Errorf(pass.KindInvalid, "secutix: the order secret token is empty")
	}
	body, err := c.call(ctx, MethodGetFileDetailsFromOrderSecretID, map[string]any{"orderSecretId": secretToken},
		"order secret", secretToken)
	if err != nil {
		return nil, err
	}
	return c.assemble(ctx, body, 0)
}

// assemble maps a file answer with the catalogue and POS data it needs.
func (c *Client) assemble(ctx context.Context, body []byte, wantFileID int64) (*pass.Order, error) {
	r, err := parseFile(body, wantFileID)
	if err != nil {
		return nil, err
	}
	o, _, err := c.mapRaw(ctx, r)
	if o != nil {
		o.Answer = answerOf(body)
	}
	return o, err
}

// maxAnswer bounds pass.Order.Answer.
const maxAnswer = 16 << 10

// answerOf is an answer as an operator may see it: secrets and personal
// data masked (MaskJSON), compact, cut at maxAnswer bytes.
func answerOf(body []byte) string {
	masked := MaskJSON(body)
	var b bytes.Buffer
	if err := json.Compact(&b, masked); err != nil {
		b.Reset()
		b.Write(masked)
	}
	if b.Len() <= maxAnswer {
		return b.String()
	}
	return strings.ToValidUTF8(string(b.Bytes()[:maxAnswer]), "") + "…"
}

// mapRaw maps r with the catalogue, POS and contact data it needs; it
// also returns the movements left out (mapper.mapFile).
func (c *Client) mapRaw(ctx context.Context, r *rawFile) (*pass.Order, []leftOut, error) {
	cat, err := c.view(ctx, r.performanceIDs())
	if err != nil {
		return nil, nil, err
	}
	if err := c.lookUpContacts(ctx, r, cat); err != nil {
		return nil, nil, err
	}
	return c.mapper.mapFile(r, cat)
}

// lookUpContacts adds to cat the contacts of r's orders (getContactData
// with each contactReference), when the tenant looks them up.
func (c *Client) lookUpContacts(ctx context.Context, r *rawFile, cat *catView) error {
	if !c.cfg.ContactLookup {
		return nil
	}
	cat.contacts = map[string]node{}
	for _, on := range r.orderNodes {
		ref := textOf(get(on, "contactReference")).String()
		if _, done := cat.contacts[ref]; ref == "" || done {
			continue
		}
		n, err := intOf(get(on, "contactReference"))
		if err != nil {
			continue // not a contact number
		}
		req := map[string]any{"contactNumber": n}
		if len(c.cfg.ContactDetails) > 0 {
			req["details"] = c.cfg.ContactDetails
		}
		body, err := c.call(ctx, MethodGetContactData, req, "contact")
		if pass.KindOf(err) == pass.KindNotFound {
			// A contact SecuTix no longer has (merged, erased) leaves its
			// fields to their defaults; the order is still there.
			cat.contacts[ref] = nil
			continue
		}
		if err != nil {
			return err
		}
		root, err := decodeNode(body)
		if err != nil {
			return malformed(MethodGetContactData, err)
		}
		m, _ := root.(map[string]any)
		for _, k := range []string{"requestId", "statusCode", "statusDetail", "statusMessage"} {
			delete(m, k)
		}
		cat.contacts[ref] = m
	}
	return nil
}

// OrderByFileID returns the file fileID (getFileDetails). Errors are those
// of OrderBySecret; KindInvalid also when fileID is not positive.
func (c *Client) OrderByFileID(ctx context.Context, tenant string, fileID int64) (*pass.Order, error) {
	if err := c.checkTenant(tenant); err != nil {
		return nil, err
	}
	if fileID <= 0 {
		return nil, pass.Errorf(pass.KindInvalid, "secutix: file id %d is not positive", fileID)
	}
	return c.fileByID(ctx, fileID)
}

func (c *Client) fileByID(ctx context.Context, fileID int64) (*pass.Order, error) {
	body, err := c.call(ctx, MethodGetFileDetails, map[string]any{"fileId": fileID}, fmt.Sprintf("file %d", fileID))
	if err != nil {
		return nil, err
	}
	return c.assemble(ctx, body, fileID)
}

// OrderByOrderID returns the file that holds order orderID: it calls
// getOrderDetails; a sale order is the whole picture (one call), any other
// order is read with its file (getFileDetails with the fileId of its
// operations, or getFileDetailsFromOrderSecretId with its secret), so
// that the sale a refund cancels is seen. Errors are those of
// OrderBySecret; KindInvalid also when orderID is not positive.
func (c *Client) OrderByOrderID(ctx context.Context, tenant string, orderID int64) (*pass.Order, error) {
	if err := c.checkTenant(tenant); err != nil {
		return nil, err
	}
	if orderID <= 0 {
		return nil, pass.Errorf(pass.KindInvalid, "secutix: order id %d is not positive", orderID)
	}
	body, err := c.call(ctx, MethodGetOrderDetails, map[string]any{"orderId": orderID, "granularity": c.cfg.Granularity},
		fmt.Sprintf("order %d", orderID))
	if err != nil {
		return nil, err
	}
	return c.orderFromDetails(ctx, tenant, body, true)
}

// OrderFromDetails maps a getOrderDetails answer, which is also the body
// of SecuTix's order webhook V2 ({"orderDetailsData":…}). A sale order is
// mapped as it is (no call but the cached catalogue's); another order
// type (a refund, an exchange) is read with its whole file, as
// OrderByOrderID does. Errors are those of OrderBySecret; KindInvalid for
// a body that is not an order.
func (c *Client) OrderFromDetails(ctx context.Context, tenant string, body []byte) (*pass.Order, error) {
	return c.orderFromDetails(ctx, tenant, body, false)
}

// SourceWebhook is Order.Source for an order mapped from its webhook body.
const SourceWebhook = "the order webhook"

// orderFromDetails is OrderFromDetails; fetched says body is an answer
// SecuTix gave (getOrderDetails), not a webhook's.
func (c *Client) orderFromDetails(ctx context.Context, tenant string, body []byte, fetched bool) (*pass.Order, error) {
	if err := c.checkTenant(tenant); err != nil {
		return nil, err
	}
	r, err := parseOrder(body)
	if err != nil {
		if !fetched {
			// A webhook's body that is not an order never will be:
			// invalid, so that the sync reads the order from SecuTix.
			return nil, fmt.Errorf("secutix: %w: %w", pass.ErrDetailsUnreadable, err)
		}
		return nil, err
	}
	if r.onlySales() {
		o, left, err := c.mapRaw(ctx, r)
		if err == nil {
			o.Answer = answerOf(body)
			if !fetched {
				o.Source = SourceWebhook
			}
		}
		// An error with movements left out is the mapping's (nothing
		// maps); another (the catalogue's, the contact's) is returned.
		if (err == nil && !needsFile(left)) || (err != nil && len(left) == 0 && pass.KindOf(err) != pass.KindInvalid) {
			return o, err
		}
		// The details lack what a pass needs (a coarser granularity,
		// say) for some movement: read the file instead.
	}
	if id := r.fileID(); id > 0 {
		return c.fileByID(ctx, id)
	}
	od := r.orders[0]
	if secret := od.OrderSecretID.String(); secret != "" {
		body, err := c.call(ctx, MethodGetFileDetailsFromOrderSecretID, map[string]any{"orderSecretId": secret},
			fmt.Sprintf("file of order %d", int64(od.OrderID)), secret)
		if err != nil {
			return nil, err
		}
		return c.assemble(ctx, body, 0)
	}
	o, _, err := c.mapRaw(ctx, r)
	return o, err
}

func (c *Client) checkTenant(tenant string) error {
	if tenant != c.cfg.Tenant {
		return pass.Errorf(pass.KindInvalid, "secutix: this client serves tenant %q, not %q", c.cfg.Tenant, tenant)
	}
	return nil
}

// call POSTs req to a service method and returns the body of a "success"
// answer. subject names what is asked for in error messages; hide lists
// strings (secrets) that must never appear in them.
func (c *Client) call(ctx context.Context, method string, req map[string]any, subject string, hide ...string) ([]byte, error) {
	url := c.cfg.BaseURL + pathOf(method)
	prefix := strings.TrimSpace("secutix: " + method + " " + subject)
	reauthed := false
	inProgress := 0
	for {
		payload, err := json.Marshal(req)
		if err != nil {
			return nil, pass.Wrap(pass.KindInternal, err, prefix+": encode request")
		}
		// Wait for the quota first: a forged JWT must be fresh when SecuTix
		// receives it.
		if err := c.wait(ctx, method); err != nil {
			return nil, withPrefix(prefix, err)
		}
		token, err := c.bearer(ctx)
		if err != nil {
			return nil, err
		}
		hideAll := append([]string{token}, hide...)
		if readsOrder(method) {
			pass.MarkRead(ctx, c.cfg.Clock.Now())
		}
		start := time.Now()
		resp, err := c.send(ctx, url, payload, token, method)
		c.observe(method, resp, err, start)
		if err != nil {
			return nil, withPrefix(prefix, err)
		}
		switch {
		case (resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden) && !reauthed:
			// The token expired or was refused: forge or fetch a new one,
			// once. SecuTix documents neither status for it, so both count.
			reauthed = true
			c.invalidate(token)
			continue
		case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden:
			return nil, pass.Upstream(pass.Errorf(pass.KindUnauthorized, "%s: SecuTix refused the token (HTTP %d)", prefix, resp.status))
		case resp.status == http.StatusTooManyRequests || resp.status == 509:
			return nil, c.overQuota(ctx, method, resp, prefix)
		case resp.status >= 500:
			return nil, pass.Errorf(pass.KindUnavailable, "%s: SecuTix answered HTTP %d%s", prefix, resp.status, envSummary(resp.body, hideAll))
		}
		var env envelope
		envErr := json.Unmarshal(resp.body, &env)
		if resp.status < 200 || resp.status > 299 {
			if envErr == nil && env.StatusCode.String() != "" {
				return nil, classify(prefix, env, hideAll)
			}
			kind := pass.KindUnavailable
			if resp.status == http.StatusBadRequest || resp.status == http.StatusUnprocessableEntity {
				kind = pass.KindInvalid
			}
			if kind == pass.KindInvalid {
				return nil, pass.Upstream(pass.Errorf(kind, "%s: SecuTix answered HTTP %d", prefix, resp.status))
			}
			return nil, pass.Errorf(kind, "%s: SecuTix answered HTTP %d", prefix, resp.status)
		}
		if envErr != nil {
			return nil, malformed(method, envErr)
		}
		switch code := strings.ToLower(env.StatusCode.String()); code {
		case "success", "":
			return resp.body, nil
		case "in_progress", "inprogress":
			if inProgress >= c.cfg.InProgressRetries {
				return nil, pass.Errorf(pass.KindUnavailable, "%s: still in progress after %d retries", prefix, inProgress)
			}
			inProgress++
			if rid := bytes.TrimSpace(env.RequestID); len(rid) > 0 && string(rid) != "null" {
				req["requestId"] = json.RawMessage(rid)
			}
			if err := sleep(ctx, c.cfg.InProgressDelay); err != nil {
				return nil, pass.Wrap(pass.KindUnavailable, err, prefix+": waiting for an in-progress answer")
			}
		default:
			err := classify(prefix, env, hideAll)
			if pass.KindOf(err) == pass.KindUnauthorized && !reauthed {
				// Refused in words rather than by status: a new token, once.
				reauthed = true
				c.invalidate(token)
				continue
			}
			return nil, err
		}
	}
}

// response is what post keeps of an HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// send sends one JSON POST (the caller waited for the quota) and
// reads the answer within the size limit. Its errors carry a kind but no
// prefix.
func (c *Client) send(ctx context.Context, url string, payload []byte, token, method string) (*response, error) {
	c.calls.Add(1)
	timeout, limit := DefaultHTTPTimeout, c.cfg.MaxResponseBytes
	if method == MethodGetCatalogDetailed {
		timeout, limit = CatalogHTTPTimeout, c.cfg.CatalogMaxBytes
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, pass.Wrap(pass.KindInvalid, err, "build request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, pass.Wrap(pass.KindUnavailable, err, "request failed")
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, pass.Wrap(pass.KindUnavailable, err, "read response")
	}
	if int64(len(body)) > limit {
		setting := "secutix.maxResponseMiB"
		if method == MethodGetCatalogDetailed {
			setting = "secutix.catalogMaxResponseMiB"
		}
		return nil, pass.Upstream(pass.Wrap(pass.KindInvalid, ErrResponseTooLarge,
			fmt.Sprintf("the response is larger than %d bytes (raise %s)", limit, setting)))
	}
	return &response{status: res.StatusCode, header: res.Header, body: body}, nil
}

// wait blocks until the quota of the method's service lets a request go
// at ctx's priority (pass.PriorityOf), or ctx ends. When the wait would
// outlast ctx's deadline it fails at once. Its errors are KindUnavailable
// and wrap the quota's (context.DeadlineExceeded, context.Canceled, …).
func (c *Client) wait(ctx context.Context, method string) error {
	start := time.Now()
	err := c.cfg.Quota.Take(ctx, c.quotaKey(method), pass.PriorityOf(ctx))
	if c.cfg.QuotaWait != nil {
		c.cfg.QuotaWait(serviceOf(method), pass.PriorityOf(ctx), time.Since(start))
	}
	if err != nil {
		return pass.Wrap(pass.KindUnavailable, err, "waiting for the SecuTix quota")
	}
	return nil
}

// The results Config.Observe reports.
const (
	ResultSuccess      = "success"       // HTTP 2xx, statusCode success
	ResultInProgress   = "in_progress"   // HTTP 2xx, statusCode in_progress
	ResultError        = "error"         // HTTP 2xx, another statusCode (not found, invalid, …)
	ResultOverQuota    = "over_quota"    // HTTP 509 or 429
	ResultUnauthorized = "unauthorized"  // HTTP 401 or 403
	ResultServerError  = "server_error"  // HTTP 5xx
	ResultClientError  = "client_error"  // another HTTP status
	ResultNetworkError = "network_error" // no answer, or one too large to read
)

// observe reports one exchange to Config.Observe.
func (c *Client) observe(method string, resp *response, err error, start time.Time) {
	if c.cfg.Observe == nil {
		return
	}
	c.cfg.Observe(serviceOf(method), method, resultOf(resp, err), time.Since(start))
}

func resultOf(resp *response, err error) string {
	switch {
	case err != nil:
		return ResultNetworkError
	case resp.status == http.StatusTooManyRequests || resp.status == 509:
		return ResultOverQuota
	case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden:
		return ResultUnauthorized
	case resp.status >= 500:
		return ResultServerError
	case resp.status < 200 || resp.status > 299:
		return ResultClientError
	}
	var env envelope
	if json.Unmarshal(resp.body, &env) != nil {
		return ResultError
	}
	switch strings.ToLower(env.StatusCode.String()) {
	case "success", "":
		return ResultSuccess
	case "in_progress", "inprogress":
		return ResultInProgress
	}
	return ResultError
}

// pauseTimeout bounds the Pause that follows a 509 or 429.
const pauseTimeout = 5 * time.Second

// overQuota handles SecuTix's 509 or 429 to a call of method: it pauses
// the method's quota for the time SecuTix asks (or DefaultRetryAfter), so
// that no call of this process or (with a shared Quota) of another
// instance goes before then, and returns the *pass.RetryAfterError.
func (c *Client) overQuota(ctx context.Context, method string, resp *response, prefix string) error {
	ra := retryAfter(resp, prefix, c.cfg.Clock.Now())
	// The quota runs on real time (the configured Clock may be a test's).
	until := time.Now().Add(ra.After)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pauseTimeout)
	defer cancel()
	// Best effort: the caller backs off for ra.After in any case.
	_ = c.cfg.Quota.Pause(pctx, c.quotaKey(method), until)
	return ra
}

// bearer returns the bearer token of a request: in jwt mode a JWT forged
// for it; in token mode the cached /v1/auth token, fetched when there is
// none (it is kept until SecuTix answers 401: SecuTix says nothing of its
// lifetime). Concurrent callers share one /auth round-trip.
func (c *Client) bearer(ctx context.Context) (string, error) {
	if c.cfg.Auth == AuthJWT {
		return c.forge()
	}
	for {
		c.mu.Lock()
		if c.token != "" {
			tok := c.token
			c.mu.Unlock()
			return tok, nil
		}
		f := c.flight
		leader := f == nil
		if leader {
			f = &authFlight{done: make(chan struct{})}
			c.flight = f
		}
		c.mu.Unlock()

		if leader {
			tok, err := c.authenticate(ctx)
			c.mu.Lock()
			c.flight = nil
			if err == nil {
				c.token = tok
			}
			f.token, f.err = tok, err
			close(f.done)
			c.mu.Unlock()
			return tok, err
		}
		select {
		case <-f.done:
			if f.err == nil {
				return f.token, nil
			}
			if (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) && ctx.Err() == nil {
				continue // the leader gave up on its own context; try again for ours
			}
			return "", f.err
		case <-ctx.Done():
			return "", pass.Wrap(pass.KindUnavailable, ctx.Err(), "secutix: auth: waiting for a token")
		}
	}
}

// forge makes the self-signed JWT SecuTix documents for its REST API:
// HS256 with the operator's secret, sub = the institution code, aud = the
// operator login, iss = the partner, iat now and exp 30 s later (RFC 7519
// seconds, or milliseconds with Config.JWTMillis). A new one goes with
// every request.
func (c *Client) forge() (string, error) {
	iat, lifetime := c.cfg.Clock.Now().Unix(), int64(JWTLifetime/time.Second)
	if c.cfg.JWTMillis {
		iat, lifetime = c.cfg.Clock.Now().UnixMilli(), JWTLifetime.Milliseconds()
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": c.cfg.Institution, "aud": c.cfg.Operator, "iss": c.cfg.Partner,
		"iat": iat, "exp": iat + lifetime,
	}).SignedString([]byte(c.cfg.Secret))
	if err != nil {
		return "", pass.Wrap(pass.KindInternal, err, "secutix: sign the JWT")
	}
	return tok, nil
}

// invalidate drops the cached token if it is still tok.
func (c *Client) invalidate(tok string) {
	c.mu.Lock()
	if c.token == tok {
		c.token = ""
	}
	c.mu.Unlock()
}

// authenticate performs POST /v1/auth (token mode) and returns the token.
func (c *Client) authenticate(ctx context.Context) (string, error) {
	const prefix = "secutix: auth"
	payload, err := json.Marshal(map[string]string{
		"operator": c.cfg.Operator, "partner": c.cfg.Partner, "secret": c.cfg.Secret,
	})
	if err != nil {
		return "", pass.Wrap(pass.KindInternal, err, prefix+": encode request")
	}
	hide := []string{c.cfg.Secret}
	if err := c.wait(ctx, MethodAuth); err != nil {
		return "", withPrefix(prefix, err)
	}
	start := time.Now()
	resp, err := c.send(ctx, c.cfg.BaseURL+c.cfg.AuthPath, payload, "", "auth")
	c.observe(MethodAuth, resp, err, start)
	if err != nil {
		return "", withPrefix(prefix, err)
	}
	switch {
	case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden || resp.status == http.StatusBadRequest:
		return "", pass.Upstream(pass.Errorf(pass.KindUnauthorized, "%s: SecuTix refused the credentials of operator %q (HTTP %d)%s",
			prefix, c.cfg.Operator, resp.status, envSummary(resp.body, hide)))
	case resp.status == http.StatusTooManyRequests || resp.status == 509:
		return "", c.overQuota(ctx, MethodAuth, resp, prefix)
	case resp.status < 200 || resp.status > 299:
		return "", pass.Errorf(pass.KindUnavailable, "%s: SecuTix answered HTTP %d", prefix, resp.status)
	}
	// The token is at the top (as the clients of the tnai exchange read
	// it) or, when not, under data (as one of the tnco exchange reads it;
	// a data of another form is not the token's).
	var res struct {
		envelope
		Token string          `json:"token"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(resp.body, &res); err != nil {
		return "", malformed(MethodAuth, err)
	}
	if res.Token == "" && len(res.Data) > 0 {
		var data struct {
			Token string `json:"token"`
		}
		if json.Unmarshal(res.Data, &data) == nil {
			res.Token = data.Token
		}
	}
	if res.Token == "" {
		if code := strings.ToLower(res.StatusCode.String()); code != "" && code != "success" {
			return "", pass.Upstream(pass.Errorf(pass.KindUnauthorized, "%s: SecuTix refused the credentials of operator %q%s",
				prefix, c.cfg.Operator, envSummary(resp.body, hide)))
		}
		return "", pass.Errorf(pass.KindUnavailable, "%s: the answer has no token", prefix)
	}
	if !strs.VisibleASCII(res.Token) {
		// Sent as it is after "Bearer ", it would reach SecuTix cut (a
		// space) or fail every request here (a line break), and stay
		// cached. (RFC 6750's tokens are narrower; SecuTix's form is not
		// on record, so only what a header cannot carry is refused.)
		return "", pass.Errorf(pass.KindUnavailable, "%s: the answer's token cannot be sent in a header", prefix)
	}
	return res.Token, nil
}

// retryAfter builds the error for HTTP 429 and 509.
func retryAfter(resp *response, prefix string, now time.Time) *pass.RetryAfterError {
	after := DefaultRetryAfter
	if d, ok := httpx.ParseRetryAfter(resp.header.Get("Retry-After"), now); ok {
		after = max(d, time.Second)
	}
	return &pass.RetryAfterError{
		After: after,
		Err: pass.Errorf(pass.KindUnavailable, "%s: SecuTix is over quota (HTTP %d); retry in %s",
			prefix, resp.status, after),
	}
}

// classify turns a non-success envelope into an error. SecuTix does not
// publish its failure vocabulary, so the rule reads the words of the
// statusDetail (or, without one, the statusMessage; spaces and hyphens
// read as underscores) and, where they say nothing it knows, takes the
// failure for a passing one, retried. In this order:
//   - an object is missing (NOT_FOUND, DOES_NOT_EXIST, NO_SUCH; UNKNOWN
//     next to FILE, ORDER, CONTACT, TICKET, MOVEMENT or SECRET, either
//     way round, as in UNKNOWN_FILE or "File 5 unknown"; an order
//     secret that is invalid, unknown or wrong): KindNotFound wrapping
//     pass.ErrNotFound. First, so that FILE_NOT_FOUND_FOR_INSTITUTION
//     is a missing file, not refused credentials;
//   - the credentials are refused (INVALID_TOKEN, TOKEN_EXPIRED,
//     EXPIRED_TOKEN, AUTHENTICATION, UNAUTHORIZED, UNAUTHORISED,
//     CREDENTIAL, PERMISSION, FORBIDDEN, ACCESS_DENIED; UNKNOWN_ or
//     INVALID_ followed by OPERATOR, INSTITUTION or PARTNER):
//     KindUnauthorized. An order's secret is no credential;
//   - INVALID, MISSING, ILLEGAL, BAD_REQUEST, MALFORMED or NOT_ALLOWED
//     (OPERATION_NOT_ALLOWED): KindInvalid, a request of ours SecuTix
//     will never take (its task stops);
//   - any other (UNKNOWN_ERROR among them): KindUnavailable.
func classify(prefix string, env envelope, hide []string) error {
	detail := env.StatusDetail.String()
	key := strings.ToUpper(detail)
	if key == "" {
		key = strings.ToUpper(env.StatusMessage.String())
	}
	key = strings.NewReplacer(" ", "_", "-", "_").Replace(key)
	msg := fmt.Sprintf("%s: SecuTix answered %s%s", prefix, scrub(env.StatusCode.String(), hide), summary(env, hide))
	switch {
	case notFoundWords(key):
		return pass.Wrap(pass.KindNotFound, pass.ErrNotFound, msg)
	case containsAny(key, "INVALID_TOKEN", "TOKEN_EXPIRED", "EXPIRED_TOKEN", "AUTHENTICATION", "UNAUTHORIZED", "UNAUTHORISED",
		"CREDENTIAL", "PERMISSION", "FORBIDDEN", "ACCESS_DENIED",
		"UNKNOWN_OPERATOR", "UNKNOWN_INSTITUTION", "UNKNOWN_PARTNER", "INVALID_OPERATOR", "INVALID_INSTITUTION", "INVALID_PARTNER"):
		return pass.Upstream(pass.Errorf(pass.KindUnauthorized, "%s", msg))
	case containsAny(key, "INVALID", "MISSING", "ILLEGAL", "BAD_REQUEST", "MALFORMED", "NOT_ALLOWED"):
		return pass.Upstream(pass.Errorf(pass.KindInvalid, "%s", msg))
	default:
		return pass.Errorf(pass.KindUnavailable, "%s", msg)
	}
}

// missingObjects are the objects a SecuTix failure may say are unknown.
var missingObjects = map[string]bool{"FILE": true, "ORDER": true, "CONTACT": true, "TICKET": true, "MOVEMENT": true, "SECRET": true,
	"FILES": true, "ORDERS": true, "CONTACTS": true, "TICKETS": true, "MOVEMENTS": true}

// notFoundWords reports whether a failure's key (classify's) says that an
// object is missing: NOT_FOUND, NOTFOUND, DOES_NOT_EXIST or NO_SUCH; UNKNOWN
// right before an object (missingObjects) or after one, with only its id
// or a word such as ID or NUMBER between (fillerWord: "File 5 unknown",
// ORDER_SECRET_UNKNOWN, but not ORDER_STATE_UNKNOWN); or an order's secret
// that is INVALID, UNKNOWN or WRONG (INVALID_ORDER_SECRET_TOKEN: the
// secret names no order SecuTix has).
func notFoundWords(key string) bool {
	if containsAny(key, "NOT_FOUND", "NOTFOUND", "DOES_NOT_EXIST", "NO_SUCH") {
		return true
	}
	if strings.Contains(key, "ORDER_SECRET") && containsAny(key, "INVALID", "UNKNOWN", "WRONG") {
		return true
	}
	words := strings.FieldsFunc(key, func(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') })
	for i, w := range words {
		if w != "UNKNOWN" {
			continue
		}
		if i+1 < len(words) && missingObjects[words[i+1]] {
			return true // UNKNOWN_FILE
		}
		k := i - 1 // FILE_5_UNKNOWN
		for k >= 0 && fillerWord(words[k]) {
			k--
		}
		if k >= 0 && missingObjects[words[k]] {
			return true
		}
	}
	return false
}

// fillerWord reports whether w may stand between an object and UNKNOWN
// in a failure that says the object is missing: its id, or a word such
// as ID, NUMBER or IS.
func fillerWord(w string) bool {
	switch w {
	case "ID", "IDS", "NUMBER", "NO", "NR", "WITH", "OF", "TOKEN", "IS":
		return true
	}
	return strings.Trim(w, "0123456789") == ""
}

// summary renders " (DETAIL: message)" with secrets removed.
func summary(env envelope, hide []string) string {
	d, m := scrub(env.StatusDetail.String(), hide), scrub(env.StatusMessage.String(), hide)
	const maxLen = 300
	if len(m) > maxLen {
		m = m[:maxLen] + "…"
	}
	if len(d) > maxLen {
		d = d[:maxLen] + "…"
	}
	switch {
	case d != "" && m != "":
		return " (" + d + ": " + m + ")"
	case d != "":
		return " (" + d + ")"
	case m != "":
		return " (" + m + ")"
	}
	return ""
}

// envSummary is summary for a body that may or may not be an envelope.
func envSummary(body []byte, hide []string) string {
	var env envelope
	if json.Unmarshal(body, &env) != nil {
		return ""
	}
	return summary(env, hide)
}

// scrub replaces every non-empty string of hide in s.
func scrub(s string, hide []string) string {
	for _, h := range hide {
		if h != "" {
			s = strings.ReplaceAll(s, h, "***")
		}
	}
	return s
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// malformed is the error for an answer that is not the expected JSON.
func malformed(method string, err error) error {
	return pass.Wrap(pass.KindUnavailable, err, "secutix: "+method+": malformed answer")
}

// withPrefix puts context in front of an error from post, keeping its kind.
func withPrefix(prefix string, err error) error {
	var pe *pass.Error
	if errors.As(err, &pe) {
		out := error(&pass.Error{Kind: pe.Kind, Message: prefix + ": " + pe.Message, Err: pe.Err})
		if pass.IsUpstream(err) {
			out = pass.Upstream(out) // SecuTix's still
		}
		return out
	}
	return pass.Wrap(pass.KindUnavailable, err, prefix)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
