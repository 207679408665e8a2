package httpapi

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"walletpass/pass"
)

// The scopes of the organisers' API beyond getTicketsUrl's (an API key
// carries them too).
const (
	ScopeTickets = "tickets:read"
	ScopePasses  = "passes:read"
)

// PassCatalog answers the passes API.
type PassCatalog interface {
	ListPasses(ctx context.Context, q pass.PassQuery) ([]pass.PassListing, int, error)
	GetPass(ctx context.Context, tenant, serial string) (*pass.Pass, error)
	ListVersions(ctx context.Context, tenant, serial string) ([]pass.Pass, error)
	PassInstalls(ctx context.Context, tenant, serial string) (pass.Installs, error)
}

// PassView is a pass as the passes API shows it: identifiers, state and
// where it is installed; no holder data, no authentication token or order
// secret (they are capabilities, not metadata).
type PassView struct {
	SerialNumber       string        `json:"serialNumber"`
	PassTypeIdentifier string        `json:"passTypeIdentifier"`
	Template           string        `json:"template"`
	Status             pass.Status   `json:"status"`
	Version            int           `json:"version"`
	FileID             int64         `json:"fileId"`
	OrderID            int64         `json:"orderId"`
	TicketID           int64         `json:"ticketId"`
	MovementID         int64         `json:"movementId"`
	HolderGeneration   int           `json:"holderGeneration"`
	PerformanceID      int64         `json:"performanceId,omitempty"`
	Event              PassEventView `json:"event"`
	CreatedAt          time.Time     `json:"createdAt"`
	UpdatedAt          time.Time     `json:"updatedAt"`
	Installs           InstallsView  `json:"installs"`
	Versions           []VersionView `json:"versions,omitempty"`
}

// PassEventView is the event a pass is for.
type PassEventView struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
}

// InstallsView says where a pass is installed, per wallet.
type InstallsView struct {
	Apple  AppleInstalls  `json:"apple"`
	Google GoogleInstalls `json:"google"`
}

// AppleInstalls: the devices registered for a pass's updates.
type AppleInstalls struct {
	Devices int `json:"devices"`
}

// GoogleInstalls: the Google Wallet object's state ("" when none was
// made) and whether Google's last callback for it was a save.
type GoogleInstalls struct {
	State string `json:"state,omitempty"`
	Saved bool   `json:"saved"`
}

// VersionView is one signed version of a pass.
type VersionView struct {
	Version   int         `json:"version"`
	Status    pass.Status `json:"status"`
	CreatedAt time.Time   `json:"createdAt"`
}

func passView(p *pass.Pass, in pass.Installs) PassView {
	return PassView{SerialNumber: p.SerialNumber, PassTypeIdentifier: p.PassTypeID, Template: p.Template, Status: p.Status,
		Version: p.Version, FileID: p.FileID, OrderID: p.OrderID, TicketID: p.TicketID, MovementID: p.MovementID,
		HolderGeneration: p.HolderGeneration, PerformanceID: p.Ticket.Event.PerformanceID,
		Event:     PassEventView{Name: p.Ticket.Event.Name, Start: p.Ticket.Event.Start},
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
		Installs: InstallsView{Apple: AppleInstalls{Devices: in.AppleDevices},
			Google: GoogleInstalls{State: in.GoogleState, Saved: in.GoogleSaved}}}
}

// Default and largest page of the passes API.
const defaultPageSize = 20

// passFilters are the query parameters of GET /api/{tenant}/passes.
var passFilters = []string{"pageIndex", "pageSize", "fileId", "orderId", "performanceId", "movementId", "ticketId", "status", "installed"}

// listPasses: GET /api/{tenant}/passes?pageIndex&pageSize&fileId&orderId&
// performanceId&movementId&ticketId&status&installed; the total is in
// x-pagination-total. Another parameter (a filter this API does not
// have, such as the product we replace's filter[0].field), a parameter
// given twice or empty, and an id filter that is not a positive whole
// number (fileId=0 would select every pass) are refused rather than
// ignored: ignored, the answer would hold passes it did not select.
func (s *Server) listPasses(c *gin.Context) {
	tenant := c.Param("tenantId")
	if _, ok := s.tenants[tenant]; !ok || s.deps.Tickets.Passes == nil {
		writeProblem(c, http.StatusNotFound, "unknown tenant")
		return
	}
	if !s.authorizeAPI(c, tenant, ScopePasses, ScopePasses) {
		return
	}
	q := pass.PassQuery{Tenant: tenant, Limit: defaultPageSize}
	bad := func(msg string) { writeProblem(c, http.StatusBadRequest, msg) }
	query, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		// url.Values would drop the pair it cannot read (a bad escape,
		// a semicolon) and list passes the query did not select.
		bad("the query cannot be read: " + err.Error())
		return
	}
	for _, name := range slices.Sorted(maps.Keys(query)) {
		switch {
		case !slices.Contains(passFilters, name):
			bad(fmt.Sprintf("unknown parameter %q: the passes API takes %s", name, strings.Join(passFilters, ", ")))
			return
		case len(query[name]) > 1:
			bad(name + " is given more than once")
			return
		case query[name][0] == "":
			bad(name + " is empty: give it a value or leave it out")
			return
		}
	}
	// intParam reads the whole number name, from lo to hi, into dst (not
	// called when name is absent).
	intParam := func(name string, lo, hi int64, dst func(int64)) bool {
		v := query.Get(name)
		if v == "" {
			return true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi || strings.HasPrefix(v, "+") {
			bad(fmt.Sprintf("%s must be a whole number from %d to %d", name, lo, hi))
			return false
		}
		dst(n)
		return true
	}
	// The id filters start at 1: SecuTix ids are positive, and the
	// query's zero means no filter.
	const maxID = 1 << 62
	var pageIndex int64
	if !intParam("pageIndex", 0, 1_000_000, func(n int64) { pageIndex = n }) ||
		!intParam("pageSize", 1, pass.MaxPageSize, func(n int64) { q.Limit = int(n) }) ||
		!intParam("fileId", 1, maxID, func(n int64) { q.FileID = n }) ||
		!intParam("orderId", 1, maxID, func(n int64) { q.OrderID = n }) ||
		!intParam("performanceId", 1, maxID, func(n int64) { q.PerformanceID = n }) ||
		!intParam("movementId", 1, maxID, func(n int64) { q.MovementID = n }) ||
		!intParam("ticketId", 1, maxID, func(n int64) { q.TicketID = n }) {
		return
	}
	q.Offset = int(pageIndex) * q.Limit
	switch st := pass.Status(c.Query("status")); st {
	case "", pass.StatusActive, pass.StatusUsed, pass.StatusVoided:
		q.Status = st
	default:
		bad("status must be active, used or voided")
		return
	}
	switch in := c.Query("installed"); in {
	case "", "apple", "google", "wallet", "none":
		q.Installed = in
	default:
		bad("installed must be apple, google, wallet or none")
		return
	}
	list, total, err := s.deps.Tickets.Passes.ListPasses(c.Request.Context(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]PassView, 0, len(list))
	for i := range list {
		out = append(out, passView(&list[i].Pass, list[i].Installs))
	}
	c.Header("x-pagination-total", strconv.Itoa(total))
	c.JSON(http.StatusOK, out)
}

// passFile serves GET /api/{tenant}/passes/{file}: a signed download when
// file is "<serial>.pkpass", else the passes API's view of one pass.
func (s *Server) passFile(c *gin.Context) {
	if strings.HasSuffix(c.Param("file"), ".pkpass") {
		s.downloadPass(c)
		return
	}
	s.getPass(c)
}

// getPass: GET /api/{tenant}/passes/{serial}: the pass, its versions and
// where it is installed.
func (s *Server) getPass(c *gin.Context) {
	tenant, serial := c.Param("tenantId"), c.Param("file")
	if _, ok := s.tenants[tenant]; !ok || s.deps.Tickets.Passes == nil {
		writeProblem(c, http.StatusNotFound, "unknown tenant")
		return
	}
	if !s.authorizeAPI(c, tenant, ScopePasses, ScopePasses) {
		return
	}
	if !idChars(serial, 1, 128, "._-") {
		writeProblem(c, http.StatusNotFound, "no such pass")
		return
	}
	ctx := c.Request.Context()
	p, err := s.deps.Tickets.Passes.GetPass(ctx, tenant, serial)
	if err != nil {
		s.fail(c, err)
		return
	}
	in, err := s.deps.Tickets.Passes.PassInstalls(ctx, tenant, serial)
	if err != nil {
		s.fail(c, err)
		return
	}
	versions, err := s.deps.Tickets.Passes.ListVersions(ctx, tenant, serial)
	if err != nil {
		s.fail(c, err)
		return
	}
	v := passView(p, in)
	for _, ver := range versions {
		v.Versions = append(v.Versions, VersionView{Version: ver.Version, Status: ver.Status, CreatedAt: ver.UpdatedAt})
	}
	c.JSON(http.StatusOK, v)
}
