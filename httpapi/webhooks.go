package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"walletpass/pass"
	"walletpass/secutix/webhook"
)

// Body limits of the webhook endpoints. A V2 body is SecuTix's order
// details, for up to 100 orders: a group order's alone may pass a
// megabyte, and SecuTix drops a webhook refused twelve times, so it may
// be larger than MaxBody.
const (
	MaxListenerBody = 64 << 10
	MaxV2Body       = 16 << 20
)

// WebhookInbox takes SecuTix's webhooks (pass.Inbox): it records each with
// the sync of its order, durably, before the handler answers.
type WebhookInbox interface {
	Receive(ctx context.Context, ev pass.WebhookEvent) (pass.Enqueued, error)
}

// WebhookAuth is how a tenant's SecuTix authenticates its webhooks: Mode
// "none", "basic" (Username, Password) or "apikey" (Header, Key).
type WebhookAuth struct {
	Mode     string
	Username string
	Password string
	Header   string
	Key      string
}

// checkWebhookAuth compares credentials in constant time (over SHA-256
// digests, so lengths leak nothing either). With queryKey (SecuTix's own
// V1 and V2 webhooks, which can send no credentials but the URL they are
// given), an apikey tenant's key may also come as the query parameter
// "key"; the access log never shows query strings.
func checkWebhookAuth(c *gin.Context, a WebhookAuth, queryKey bool) bool {
	eq := func(got, want string) bool {
		g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
		return subtle.ConstantTimeCompare(g[:], w[:]) == 1
	}
	switch a.Mode {
	case "none": // set so in the configuration; a tenant missing here is refused
		return true
	case "basic":
		u, p, ok := c.Request.BasicAuth()
		// Evaluate both comparisons whatever the first gives.
		uok, pok := eq(u, a.Username), eq(p, a.Password)
		return ok && uok && pok
	case "apikey":
		header := a.Header
		if header == "" {
			header = "X-API-Key"
		}
		got := c.GetHeader(header)
		if got == "" && queryKey {
			got = c.Query("key")
		}
		return got != "" && eq(got, a.Key)
	}
	return false
}

// webhookTenant checks the tenant and the caller's credentials; it answers
// and returns false when either is wrong.
func (s *Server) webhookTenant(c *gin.Context, queryKey bool) (string, bool) {
	tenant := c.Param("tenantId")
	if _, ok := s.tenants[tenant]; !ok || s.deps.Webhooks.Inbox == nil {
		writeProblem(c, http.StatusNotFound, "unknown tenant")
		return "", false
	}
	auth := s.deps.Webhooks.Auth[tenant]
	// Counted per tenant: SecuTix calls every tenant from the same
	// addresses, so one tenant's rotated key must not lock out the others.
	client := scopedClient(tenant, s.clientIP(c))
	if s.authFailures.spent(client, s.now()) {
		// Too many wrong credentials from this client for this tenant: no
		// more guesses for a while, right or wrong.
		c.Header("Retry-After", strconv.Itoa(int(authFailureEvery/time.Second)))
		writeProblem(c, http.StatusTooManyRequests, "too many failed webhook authentications from this client for this tenant; try again later")
		return "", false
	}
	if !checkWebhookAuth(c, auth, queryKey) {
		s.authFailures.allow(client, s.now()) // spend one guess
		if auth.Mode == "basic" {
			c.Header("WWW-Authenticate", `Basic realm="walletpass webhooks", charset="UTF-8"`)
		}
		writeProblem(c, http.StatusUnauthorized, "missing or wrong webhook credentials")
		return "", false
	}
	return tenant, true
}

// A client may get webhook credentials wrong authFailureBurst times, then
// once per authFailureEvery.
const (
	authFailureBurst = 10
	authFailureEvery = 6 * time.Second
)

func readBody(c *gin.Context, limit int64) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, limit+1))
	if err != nil {
		var tooLarge *http.MaxBytesError
		var netErr net.Error
		switch {
		case errors.As(err, &tooLarge):
			writeProblem(c, http.StatusRequestEntityTooLarge, "the request body is too large")
		case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
			writeProblem(c, http.StatusRequestTimeout, "the request body did not arrive in time")
		default:
			writeProblem(c, http.StatusBadRequest, "the request body was cut short")
		}
		return nil, false
	}
	if int64(len(body)) > limit {
		writeProblem(c, http.StatusRequestEntityTooLarge, "the request body is larger than "+strconv.FormatInt(limit, 10)+" bytes")
		return nil, false
	}
	return body, true
}

// orderListener takes POST /api/{tenant}/webhooks/listeners/secutix/orders:
// validate, authenticate, store the event and its sync task in one
// transaction (which wakes the dispatcher), answer 200 with the correlation
// id, as the contract we replace does ("order change queued").
func (s *Server) orderListener(c *gin.Context) {
	tenant, ok := s.webhookTenant(c, false)
	if !ok {
		return
	}
	body, ok := readBody(c, MaxListenerBody)
	if !ok {
		return
	}
	l, err := webhook.ParseListener(body)
	if err != nil {
		writeProblem(c, http.StatusBadRequest, err.Error())
		return
	}
	corr := correlationID(c)
	if !webhook.KnownStates[l.State] {
		s.log.WarnContext(c.Request.Context(), "webhook with an unknown state", slog.String("tenant", tenant),
			slog.String("state", l.State), slog.String("correlationId", corr))
	}
	ev := pass.WebhookEvent{Tenant: tenant, Source: "secutix-order", SecretToken: l.OrderSecretToken, TicketID: l.TicketID,
		MovementID: l.SaleMovementID, State: l.State, LastUpdate: l.LastUpdate, CorrelationID: corr}
	s.record(c, ev, http.StatusOK)
}

// orderV1 takes SecuTix's native order webhook V1 (GET or POST with the
// order id in the URL) and answers 200 once the sync is queued.
func (s *Server) orderV1(c *gin.Context) {
	tenant, ok := s.webhookTenant(c, true)
	if !ok {
		return
	}
	id, ok := positiveID(c.Param("orderId"))
	if !ok {
		writeProblem(c, http.StatusBadRequest, "the order id must be a positive 64-bit integer")
		return
	}
	if _, ok := readBody(c, MaxListenerBody); !ok { // a POST may carry a fixed template; it is ignored
		return
	}
	ev := pass.WebhookEvent{Tenant: tenant, Source: "secutix-v1", OrderID: id, State: "CLOSED",
		CorrelationID: correlationID(c)}
	s.record(c, ev, http.StatusOK)
}

// orderV2 takes SecuTix's native order webhook V2 (the order-details body)
// and answers 200 once every order in it is queued.
func (s *Server) orderV2(c *gin.Context) {
	tenant, ok := s.webhookTenant(c, true)
	if !ok {
		return
	}
	body, ok := readBody(c, MaxV2Body)
	if !ok {
		return
	}
	orders, err := webhook.ParseV2(body)
	if err != nil {
		writeProblem(c, http.StatusBadRequest, err.Error())
		return
	}
	corr := correlationID(c)
	for i, o := range orders {
		if len(o.Details) > pass.MaxOrderDetails {
			o.Details = nil // too large to keep with its task: the sync fetches the order
		}
		ev := pass.WebhookEvent{Tenant: tenant, Source: "secutix-v2", SecretToken: o.OrderSecretID, OrderID: o.OrderID,
			State: "FINALIZED", CorrelationID: corr, Details: o.Details}
		if _, err := s.deps.Webhooks.Inbox.Receive(c.Request.Context(), ev); err != nil {
			s.fail(c, pass.Wrap(pass.KindUnavailable, err, "the webhook could not be stored; "+strconv.Itoa(i)+" of the orders were"))
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"correlationId": corr, "orders": len(orders)})
}

func (s *Server) record(c *gin.Context, ev pass.WebhookEvent, status int) {
	res, err := s.deps.Webhooks.Inbox.Receive(c.Request.Context(), ev)
	if err != nil {
		s.fail(c, pass.Wrap(pass.KindUnavailable, err, "the webhook could not be stored; send it again"))
		return
	}
	if res.How == "merged" || res.How == "rerun" {
		c.Set(webhookOutcomeKey, "merged") // joined a sync already queued or running
	}
	c.JSON(status, gin.H{"correlationId": ev.CorrelationID, "task": res.TaskID, "queued": res.How})
}

// countWebhook reports each webhook of source to the metrics once it is
// answered: queued (a task is waiting for it), merged (into a task already
// waiting), or why not.
func (s *Server) countWebhook(source string) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if s.deps.Metrics == nil {
			return
		}
		tenant := c.Param("tenantId")
		if _, ok := s.tenants[tenant]; !ok {
			tenant = ""
		}
		outcome := c.GetString(webhookOutcomeKey)
		if outcome == "" {
			switch st := c.Writer.Status(); {
			case st < 300:
				outcome = "queued"
			case st == http.StatusUnauthorized:
				outcome = "unauthorized"
			case st == http.StatusTooManyRequests:
				outcome = "throttled"
			case st >= 500:
				outcome = "failed"
			default:
				outcome = "rejected"
			}
		}
		s.deps.Metrics.Webhook(tenant, source, outcome)
	}
}

const webhookOutcomeKey = "walletpass.webhookOutcome"

func (s *Server) now() time.Time { return s.deps.Clock.Now() }
