package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"walletpass/pass"
)

// MaxInstallationBody caps the body of the app-installation endpoints.
const MaxInstallationBody = 8 << 10

type customerDeviceRequest struct {
	OrderSecretToken string `json:"orderSecretToken"`
	FCMToken         string `json:"fcmToken"`
	Platform         string `json:"platform"`
	Locale           string `json:"locale"`

	fileID    int64  // of the order, once found
	eventName string // of its first ticket
}

// installationBody reads and checks the body of the app-installation
// endpoints; the order's secret token must name an order we have.
func (s *Server) installationBody(c *gin.Context, register bool) (string, customerDeviceRequest, bool) {
	tenant := c.Param("tenantId")
	if _, ok := s.tenants[tenant]; !ok || s.deps.App.Installations == nil || s.deps.App.Notices == nil {
		writeProblem(c, http.StatusNotFound, "unknown tenant")
		return "", customerDeviceRequest{}, false
	}
	if !s.devices.allow(s.clientIP(c), s.now()) {
		c.Header("Retry-After", "3")
		writeProblem(c, http.StatusTooManyRequests, "too many requests from this client; try again later")
		return "", customerDeviceRequest{}, false
	}
	body, ok := readBody(c, MaxInstallationBody)
	if !ok {
		return "", customerDeviceRequest{}, false
	}
	var req customerDeviceRequest
	if !decodeStrict(c, body, &req, `the body must be {"orderSecretToken", "fcmToken", "platform", "locale"}`) {
		return "", req, false
	}
	var probs []string
	if !secretTokenRE.MatchString(req.OrderSecretToken) {
		probs = append(probs, "orderSecretToken is missing or malformed")
	}
	if !idChars(req.FCMToken, 1, 4096, ":_-.") {
		probs = append(probs, "fcmToken is missing or malformed")
	}
	if register {
		switch req.Platform {
		case "ios", "android", "web":
		default:
			probs = append(probs, "platform must be ios, android or web")
		}
		if req.Locale == "" {
			req.Locale = "en"
		}
		if !idChars(req.Locale, 2, 35, "-_") {
			probs = append(probs, "locale must be a language tag such as fr-CH")
		}
	}
	if len(probs) > 0 {
		writeProblem(c, http.StatusBadRequest, strings.Join(probs, "; "))
		return "", req, false
	}
	// The order's secret token is the capability: it must name an order we
	// have passes for or, right after the purchase, one SecuTix knows (its
	// passes are made now).
	ps, err := s.deps.Passes.PassesByOrder(c.Request.Context(), tenant, req.OrderSecretToken)
	if err != nil {
		s.fail(c, err)
		return "", req, false
	}
	if len(ps) == 0 && !register {
		// Nothing to remove: the same answer as for an order we have, so
		// that the endpoint says nothing of which secrets exist.
		c.Status(http.StatusNoContent)
		c.Abort()
		return "", req, false
	}
	if len(ps) == 0 && s.deps.Tickets.Orders != nil {
		// An order walletpass does not have yet: right after a purchase,
		// SecuTix has it. Anyone can ask, so the tenant spends a small
		// budget on such lookups, behind every other call to SecuTix (the
		// webhooks' syncs, the buyers') in its quota.
		// One client gets a few of them (a buyer needs one), so that it
		// cannot spend the tenant's budget alone.
		wait := UnknownOrderClientEvery
		if s.unknownClients.allow(scopedClient(tenant, s.clientIP(c)), s.now()) {
			wait = 0
			if !s.unknown.allow(tenant, s.now()) {
				wait = UnknownOrderEvery
			}
		}
		if wait > 0 {
			c.Header("Retry-After", strconv.Itoa(int(wait/time.Second)))
			writeProblem(c, http.StatusTooManyRequests, "too many lookups of unknown orders; try again later")
			return "", req, false
		}
		ctx := pass.WithPriority(c.Request.Context(), pass.PriorityBackground)
		res, err := s.deps.Tickets.Orders.SyncOrder(ctx, pass.OrderRef{Tenant: tenant, SecretToken: req.OrderSecretToken}, correlationID(c))
		if res.Order == nil && pass.KindOf(err) != pass.KindNotFound {
			s.fail(c, err)
			return "", req, false
		}
		if res.Order != nil {
			ps, err = s.deps.Passes.PassesByOrder(c.Request.Context(), tenant, req.OrderSecretToken)
			if err != nil {
				s.fail(c, err)
				return "", req, false
			}
		}
	}
	if len(ps) == 0 {
		writeProblem(c, http.StatusNotFound, "no such order")
		return "", req, false
	}
	req.fileID, req.eventName = ps[0].FileID, ps[0].Ticket.Event.Name
	return tenant, req, true
}

// registerInstallation: POST /api/{tenant}/customers/devices registers
// an installation of the organiser's app for an order's app notices: 201
// new (a new installation gets "tickets ready" for an order whose tickets
// exist, once), 200 already registered, 409 for a new one when the order
// has pass.MaxInstallationsPerOrder (the store's KindConflict: waiting
// does not help, removing one of them does).
func (s *Server) registerInstallation(c *gin.Context) {
	tenant, req, ok := s.installationBody(c, true)
	if !ok {
		return
	}
	created, err := s.deps.App.Notices.Register(c.Request.Context(), pass.AppInstallation{Tenant: tenant,
		SecretToken: req.OrderSecretToken, FCMToken: req.FCMToken, Platform: req.Platform, Locale: req.Locale},
		req.fileID, req.eventName, correlationID(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, gin.H{"registered": true})
}

// unregisterInstallation: DELETE /api/{tenant}/customers/devices with
// {"orderSecretToken", "fcmToken"}: 204.
func (s *Server) unregisterInstallation(c *gin.Context) {
	tenant, req, ok := s.installationBody(c, false)
	if !ok {
		return
	}
	if err := s.deps.App.Installations.UnregisterInstallation(c.Request.Context(), tenant, req.OrderSecretToken, req.FCMToken); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// The budget of SecuTix lookups a tenant spends on orders walletpass does
// not have, asked for by the unauthenticated app API: a burst of
// UnknownOrderBurst, then one per UnknownOrderEvery.
const (
	UnknownOrderBurst = 5
	UnknownOrderEvery = 6 * time.Second
)

// A client's own share of those lookups: UnknownOrderClientBurst, then
// one per UnknownOrderClientEvery.
const (
	UnknownOrderClientBurst = 3
	UnknownOrderClientEvery = 30 * time.Second
)

// tenantBudgets holds a token bucket per tenant.
type tenantBudgets struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (b *tenantBudgets) allow(tenant string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.m[tenant]
	if l == nil {
		l = rate.NewLimiter(rate.Every(UnknownOrderEvery), UnknownOrderBurst)
		b.m[tenant] = l
	}
	return l.AllowN(now, 1)
}

// InstallationRegistrar registers app installations (pass.AppNoticeService).
type InstallationRegistrar interface {
	Register(ctx context.Context, i pass.AppInstallation, fileID int64, eventName, correlationID string) (created bool, err error)
}
