package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"walletpass/pass"
)

// The scopes of the webhook subscriptions API.
const (
	ScopeWebhooksRead  = "webhooks:read"
	ScopeWebhooksWrite = "webhooks:write"
)

// SubscriptionStore keeps the webhook subscriptions.
type SubscriptionStore interface {
	Subscriptions(ctx context.Context, tenant string) ([]pass.Subscription, error)
	Subscription(ctx context.Context, tenant, id string) (*pass.Subscription, error)
	CreateSubscription(ctx context.Context, sub pass.Subscription) error
	UpdateSubscription(ctx context.Context, sub pass.Subscription) error
	DeleteSubscription(ctx context.Context, tenant, id string) error
	// RotateSecret gives the subscription secret, the previous one signing
	// beside it until previousUntil (not at all when that is not after at).
	RotateSecret(ctx context.Context, tenant, id, secret string, previousUntil, at time.Time) (*pass.Subscription, error)
}

// SubscriptionDeps is the webhook subscriptions API.
type SubscriptionDeps struct {
	Store SubscriptionStore
	// CheckEndpoint refuses an endpoint walletpass must not post to.
	CheckEndpoint func(endpoint string) error
	NewSecret     func() string
}

// MaxSubscriptionBody bounds a subscription's body.
const MaxSubscriptionBody = 16 << 10

// SubscriptionView is a subscription as the API shows it; the secret
// only in the answer to its creation or rotation.
type SubscriptionView struct {
	ID          string    `json:"id"`
	Endpoint    string    `json:"endpoint"`
	Events      []string  `json:"events"`
	Enabled     bool      `json:"enabled"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	Secret      string    `json:"secret,omitempty"`
	// PreviousSecretUntil, after a rotation, is when the previous secret
	// stops signing beside the new one.
	PreviousSecretUntil *time.Time `json:"previousSecretUntil,omitempty"`
	// PausedUntil, while the endpoint is spared, is when requests to it
	// may start again.
	PausedUntil *time.Time `json:"pausedUntil,omitempty"`
}

func subscriptionView(s pass.Subscription, withSecret bool, now time.Time) SubscriptionView {
	v := SubscriptionView{ID: s.ID, Endpoint: s.Endpoint, Events: s.Events, Enabled: s.Enabled, Description: s.Description,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	if withSecret {
		v.Secret = s.Secret
	}
	if len(s.Secrets(now)) > 1 {
		until := s.PreviousUntil
		v.PreviousSecretUntil = &until
	}
	if s.PausedUntil.After(now) {
		until := s.PausedUntil
		v.PausedUntil = &until
	}
	return v
}

// Secret rotation: the previous secret signs beside the new one for
// DefaultSecretOverlap unless the body says otherwise, at most
// MaxSecretOverlap (0: it stops at once, for a secret that leaked).
const (
	DefaultSecretOverlap = 24 * time.Hour
	MaxSecretOverlap     = 7 * 24 * time.Hour
)

// rotateSecret: POST /api/{tenant}/webhooks/{id}/secret, optionally
// {"previousSecretValidFor": seconds} → the subscription with its new
// secret, shown this once.
func (s *Server) rotateSecret(c *gin.Context) {
	sub, ok := s.subscription(c, ScopeWebhooksWrite)
	if !ok {
		return
	}
	raw, ok := readBody(c, MaxSubscriptionBody)
	if !ok {
		return
	}
	overlap := DefaultSecretOverlap
	if len(bytes.TrimSpace(raw)) > 0 {
		var b struct {
			For *int64 `json:"previousSecretValidFor"`
		}
		if !decodeStrict(c, raw, &b, `the body must be empty or {"previousSecretValidFor": seconds}`) {
			return
		}
		if b.For != nil {
			if *b.For < 0 || *b.For > int64(MaxSecretOverlap/time.Second) {
				writeProblem(c, http.StatusBadRequest, "previousSecretValidFor is 0 to "+strconv.Itoa(int(MaxSecretOverlap/time.Second))+" seconds")
				return
			}
			overlap = time.Duration(*b.For) * time.Second
		}
	}
	now := s.now().UTC()
	rotated, err := s.deps.Subscriptions.Store.RotateSecret(c.Request.Context(), sub.Tenant, sub.ID, s.deps.Subscriptions.NewSecret(),
		now.Add(overlap), now)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, subscriptionView(*rotated, true, now))
}

// subscriptionBody is a POST or PATCH body; PATCH leaves out what it does
// not change.
type subscriptionBody struct {
	Endpoint    *string   `json:"endpoint"`
	Events      *[]string `json:"events"`
	Enabled     *bool     `json:"enabled"`
	Description *string   `json:"description"`
}

// subscriptionsTenant checks the tenant, the feature and the scope.
func (s *Server) subscriptionsTenant(c *gin.Context, scope string) (string, bool) {
	tenant := c.Param("tenantId")
	if _, ok := s.tenants[tenant]; !ok || s.deps.Subscriptions.Store == nil {
		writeProblem(c, http.StatusNotFound, "unknown tenant")
		return "", false
	}
	return tenant, s.authorizeAPI(c, tenant, scope, scope)
}

func (s *Server) listSubscriptions(c *gin.Context) {
	tenant, ok := s.subscriptionsTenant(c, ScopeWebhooksRead)
	if !ok {
		return
	}
	subs, err := s.deps.Subscriptions.Store.Subscriptions(c.Request.Context(), tenant)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]SubscriptionView, 0, len(subs))
	for _, sub := range subs {
		out = append(out, subscriptionView(sub, false, s.now()))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) getSubscription(c *gin.Context) {
	if sub, ok := s.subscription(c, ScopeWebhooksRead); ok {
		c.JSON(http.StatusOK, subscriptionView(*sub, false, s.now()))
	}
}

// subscription checks the tenant and scope, and finds the subscription
// the path names; it answers and returns false when any is wrong.
func (s *Server) subscription(c *gin.Context, scope string) (*pass.Subscription, bool) {
	tenant, ok := s.subscriptionsTenant(c, scope)
	if !ok {
		return nil, false
	}
	id := c.Param("id")
	if !idChars(id, 1, 64, "_-") {
		writeProblem(c, http.StatusNotFound, "no such subscription")
		return nil, false
	}
	sub, err := s.deps.Subscriptions.Store.Subscription(c.Request.Context(), tenant, id)
	if err != nil {
		if pass.KindOf(err) == pass.KindNotFound {
			err = pass.Wrap(pass.KindNotFound, err, "no such subscription")
		}
		s.fail(c, err)
		return nil, false
	}
	return sub, true
}

// readSubscription decodes and checks a body onto sub.
func (s *Server) readSubscription(c *gin.Context, sub *pass.Subscription, create bool) bool {
	raw, ok := readBody(c, MaxSubscriptionBody)
	return ok && s.applySubscription(c, raw, sub, create)
}

// applySubscription decodes and checks the body raw onto sub.
func (s *Server) applySubscription(c *gin.Context, raw []byte, sub *pass.Subscription, create bool) bool {
	var b subscriptionBody
	if !decodeStrict(c, raw, &b, `the body must be {"endpoint", "events", "enabled", "description"}`) {
		return false
	}
	if create && (b.Endpoint == nil || b.Events == nil) {
		writeProblem(c, http.StatusBadRequest, "endpoint and events are required")
		return false
	}
	if b.Endpoint != nil {
		if err := s.deps.Subscriptions.CheckEndpoint(*b.Endpoint); err != nil {
			s.fail(c, err)
			return false
		}
		sub.Endpoint = *b.Endpoint
	}
	if b.Events != nil {
		if len(*b.Events) == 0 || len(*b.Events) > 20 {
			writeProblem(c, http.StatusBadRequest, "events names 1 to 20 events")
			return false
		}
		events := make([]string, 0, len(*b.Events))
		for _, e := range *b.Events {
			name, ok := pass.EventName(e)
			if !ok {
				writeProblem(c, http.StatusBadRequest, "unknown event "+eventForProblem(e)+" ("+strings.Join(pass.OutboundEvents, ", ")+
					", a family's wildcard pass.* or ticket.*, or *; Pass:Created is read as pass.created)")
				return false
			}
			events = append(events, name)
		}
		sub.Events = slices.Compact(slices.Sorted(slices.Values(events)))
	}
	if b.Enabled != nil {
		sub.Enabled = *b.Enabled
	}
	if b.Description != nil {
		if utf8.RuneCountInString(*b.Description) > 500 {
			writeProblem(c, http.StatusBadRequest, "description has at most 500 characters")
			return false
		}
		sub.Description = *b.Description
	}
	return true
}

// eventForProblem quotes an event name a body gave for a problem's
// detail, cut to pass.MaxEventName bytes.
func eventForProblem(e string) string {
	if len(e) > pass.MaxEventName {
		e = strings.ToValidUTF8(e[:pass.MaxEventName], "") + "…"
	}
	return strconv.Quote(e)
}

func (s *Server) createSubscription(c *gin.Context) {
	tenant, ok := s.subscriptionsTenant(c, ScopeWebhooksWrite)
	if !ok {
		return
	}
	now := s.now().UTC()
	sub := pass.Subscription{Tenant: tenant, ID: "wh_" + pass.NewSerialNumber()[:16], Enabled: true, CreatedAt: now, UpdatedAt: now,
		Secret: s.deps.Subscriptions.NewSecret()}
	if !s.readSubscription(c, &sub, true) {
		return
	}
	if err := s.deps.Subscriptions.Store.CreateSubscription(c.Request.Context(), sub); err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/api/"+tenant+"/webhooks/"+sub.ID)
	c.JSON(http.StatusCreated, subscriptionView(sub, true, s.now()))
}

// patchSubscription changes the fields the body names. The subscription
// is written only if nothing changed it since it was read (a 410 Gone
// that disabled it, another PATCH): otherwise it is read again and the
// body applied to it again, so that a field the body does not name is
// never written back as it was.
func (s *Server) patchSubscription(c *gin.Context) {
	sub, ok := s.subscription(c, ScopeWebhooksWrite)
	if !ok {
		return
	}
	raw, ok := readBody(c, MaxSubscriptionBody)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	for attempt := 1; ; attempt++ {
		wasEnabled, endpoint := sub.Enabled, sub.Endpoint
		if !s.applySubscription(c, raw, sub, false) {
			return
		}
		if sub.Enabled && (!wasEnabled || sub.Endpoint != endpoint) {
			sub.PausedUntil = time.Time{} // the store ends the pause with the waits
		}
		sub.WasUpdatedAt, sub.UpdatedAt = sub.UpdatedAt, s.now().UTC()
		err := s.deps.Subscriptions.Store.UpdateSubscription(ctx, *sub)
		if pass.KindOf(err) == pass.KindConflict && attempt < 3 {
			if sub, err = s.deps.Subscriptions.Store.Subscription(ctx, sub.Tenant, sub.ID); err == nil {
				continue
			}
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, subscriptionView(*sub, false, s.now()))
		return
	}
}

func (s *Server) deleteSubscription(c *gin.Context) {
	sub, ok := s.subscription(c, ScopeWebhooksWrite)
	if !ok {
		return
	}
	if err := s.deps.Subscriptions.Store.DeleteSubscription(c.Request.Context(), sub.Tenant, sub.ID); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
