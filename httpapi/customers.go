package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"walletpass/pass"
)

// MaxCustomerDeviceBody caps the body of the app-installation endpoints.
const MaxCustomerDeviceBody = 8 << 10

type customerDeviceRequest struct {
	OrderSecretToken string `json:"orderSecretToken"`
	FCMToken         string `json:"fcmToken"`
	Platform         string `json:"platform"`
	Locale           string `json:"locale"`

	fileID    int64  // of the order, once found
	eventName string // of its first ticket
}

// customerDeviceBody reads and checks the body of the app-installation
// endpoints; the order's secret token must name an order we have.
func (s *Server) customerDeviceBody(c *gin.Context, register bool) (string, customerDeviceRequest, bool) {
	tenant := c.Param("tenantId")
	if _, ok := s.tenants[tenant]; !ok || s.deps.Customers == nil {
		writeProblem(c, http.StatusNotFound, "unknown tenant")
		return "", customerDeviceRequest{}, false
	}
	body, ok := readBody(c, MaxCustomerDeviceBody)
	if !ok {
		return "", customerDeviceRequest{}, false
	}
	var req customerDeviceRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeProblem(c, http.StatusBadRequest, `the body must be {"orderSecretToken", "fcmToken", "platform", "locale"}`)
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
	if len(ps) == 0 && register && s.deps.Tickets.Orders != nil {
		res, err := s.deps.Tickets.Orders.SyncOrder(c.Request.Context(), pass.OrderRef{Tenant: tenant, SecretToken: req.OrderSecretToken}, correlationID(c))
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

// registerCustomerDevice: POST /api/{tenant}/customers/devices registers
// an installation of the organiser's app for an order's notices: 201 new,
// 200 already registered.
func (s *Server) registerCustomerDevice(c *gin.Context) {
	tenant, req, ok := s.customerDeviceBody(c, true)
	if !ok {
		return
	}
	created, err := s.deps.Customers.RegisterCustomerDevice(c.Request.Context(), pass.CustomerDevice{Tenant: tenant,
		SecretToken: req.OrderSecretToken, FCMToken: req.FCMToken, Platform: req.Platform, Locale: req.Locale, CreatedAt: s.now()})
	if err != nil {
		s.fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		// A new installation gets "tickets ready" for an order whose
		// tickets exist (once per installation: the notice is recorded).
		if s.deps.Notices != nil {
			if err := s.deps.Notices(c.Request.Context(), pass.NoticeRef{Tenant: tenant, SecretToken: req.OrderSecretToken,
				FileID: req.fileID, Event: pass.NoticeReady, EventName: req.eventName}, correlationID(c)); err != nil {
				s.log.WarnContext(c.Request.Context(), "queue app notice", "error", err)
			}
		}
	}
	c.JSON(status, gin.H{"registered": true})
}

// unregisterCustomerDevice: DELETE /api/{tenant}/customers/devices with
// {"orderSecretToken", "fcmToken"}: 204.
func (s *Server) unregisterCustomerDevice(c *gin.Context) {
	tenant, req, ok := s.customerDeviceBody(c, false)
	if !ok {
		return
	}
	if err := s.deps.Customers.UnregisterCustomerDevice(c.Request.Context(), tenant, req.OrderSecretToken, req.FCMToken); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
