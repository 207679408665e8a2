package httpapi

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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

	// The same, under the names of the product we replace's pass list,
	// so that an integration reading them moves over as it is: id (the
	// serial number), creationDate, lastUpdateDate, passType (the
	// template) and identifiers ("secutix.movementId", … as strings).
	ID             string            `json:"id"`
	CreationDate   time.Time         `json:"creationDate"`
	LastUpdateDate time.Time         `json:"lastUpdateDate"`
	PassType       string            `json:"passType"`
	Identifiers    map[string]string `json:"identifiers"`
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
			Google: GoogleInstalls{State: in.GoogleState, Saved: in.GoogleSaved}},
		ID: p.SerialNumber, CreationDate: p.CreatedAt, LastUpdateDate: p.UpdatedAt, PassType: p.Template,
		Identifiers: passIdentifiers(p)}
}

// passIdentifiers are p's SecuTix identifiers by the names the product
// we replace filters them by (twcFields); a performance only when known.
func passIdentifiers(p *pass.Pass) map[string]string {
	ids := map[string]string{"secutix.fileId": strconv.FormatInt(p.FileID, 10), "secutix.orderId": strconv.FormatInt(p.OrderID, 10),
		"secutix.ticketId": strconv.FormatInt(p.TicketID, 10), "secutix.movementId": strconv.FormatInt(p.MovementID, 10)}
	if id := p.Ticket.Event.PerformanceID; id != 0 {
		ids["secutix.performanceId"] = strconv.FormatInt(id, 10)
	}
	return ids
}

// Default and largest page of the passes API.
const defaultPageSize = 20

// passFilters are the query parameters of GET /api/{tenant}/passes.
var passFilters = []string{"pageIndex", "pageSize", "fileId", "orderId", "performanceId", "movementId", "ticketId", "status", "installed",
	"template"}

// twcParam is a query parameter of the product we replace's pass list:
// filter[i].field, .operator and .value, sortBy[i].field and .direction.
var twcParam = regexp.MustCompile(`^(filter|sortBy)\[([0-9]{1,2})\]\.(field|operator|value|direction)$`)

// templateRefused reports whether a template filter may not hold r: a
// control character, or one that reorders text (a folder's name may hold
// a no-break space, an emoji's joiner).
func templateRefused(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }

// twcParts are the parts of a filter[i] and of a sortBy[i].
var twcParts = map[string][]string{"filter": {"field", "operator", "value"}, "sortBy": {"field", "direction"}}

// twcFields are the fields a filter[i].field names, as the filters of
// passFilters they are: the product we replace's (its passes are keyed
// by identifiers.secutix.movementId; the other SecuTix identifiers are
// read by the same pattern, passType is the template, installationStatus
// where the pass is installed), and this API's own names.
var twcFields = map[string]string{
	"identifiers.secutix.movementId": "movementId", "identifiers.secutix.fileId": "fileId",
	"identifiers.secutix.orderId": "orderId", "identifiers.secutix.ticketId": "ticketId",
	"identifiers.secutix.performanceId": "performanceId", "passType": "template", "installationStatus": "installed",
	"fileId": "fileId", "orderId": "orderId", "performanceId": "performanceId", "movementId": "movementId",
	"ticketId": "ticketId", "status": "status", "installed": "installed", "template": "template",
}

// twcSorts are the fields a sortBy[i].field names.
var twcSorts = map[string]string{"creationDate": pass.SortCreated, "lastUpdateDate": pass.SortUpdated}

// listPasses: GET /api/{tenant}/passes?pageIndex&pageSize&fileId&orderId&
// performanceId&movementId&ticketId&status&installed&template, or the
// same filters in the product we replace's form (filter[i].field,
// .operator "equals", .value: twcFields), and its sortBy[i].field
// (creationDate, lastUpdateDate) and .direction (asc, desc); the total
// is in x-pagination-total. Another parameter, field or operator (its
// "contains", its metadata.*), a filter given twice (in either form) or
// empty, and an id filter that is not a positive whole number (fileId=0
// would select every pass) are refused rather than ignored: ignored, the
// answer would hold passes it did not select.
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
	// vals are the filters by their name here; from says which
	// parameter gave each (a filter's value is named by its field).
	vals, from := map[string]string{}, map[string]string{}
	type twcItem struct {
		field, operator, value, direction string
		at                                string // filter[i] or sortBy[i], as the query first wrote it
	}
	items := map[string]map[int]*twcItem{"filter": {}, "sortBy": {}}
	for _, name := range slices.Sorted(maps.Keys(query)) {
		m := twcParam.FindStringSubmatch(name)
		switch {
		case !slices.Contains(passFilters, name) && (m == nil || !slices.Contains(twcParts[m[1]], m[3])):
			msg := fmt.Sprintf("unknown parameter %q: the passes API takes %s, and filter[i].field|operator|value and sortBy[i].field|direction (i from 0 to 99)",
				name, strings.Join(passFilters, ", "))
			bad(msg)
			return
		case len(query[name]) > 1:
			bad(name + " is given more than once")
			return
		case query[name][0] == "":
			bad(name + " is empty: give it a value or leave it out")
			return
		case m == nil:
			vals[name], from[name] = query[name][0], name
			continue
		}
		i, _ := strconv.Atoi(m[2])
		it := items[m[1]][i]
		if it == nil {
			it = &twcItem{at: name[:strings.IndexByte(name, ']')+1]}
			items[m[1]][i] = it
		}
		dst := map[string]*string{"field": &it.field, "operator": &it.operator, "value": &it.value, "direction": &it.direction}[m[3]]
		if *dst != "" {
			bad(fmt.Sprintf("%s is given more than once (as %s.%s)", name, it.at, m[3])) // filter[1] and filter[01]
			return
		}
		*dst = query[name][0]
	}
	for _, i := range slices.Sorted(maps.Keys(items["filter"])) {
		it := items["filter"][i]
		name, ok := twcFields[it.field]
		switch {
		case it.field == "" || it.value == "":
			bad(it.at + " needs a field and a value")
			return
		case !ok:
			bad(fmt.Sprintf("%s.field %q: the passes API filters by identifiers.secutix.movementId, .fileId, .orderId, .ticketId, "+
				".performanceId, passType, installationStatus (and its own names); it keeps no metadata", it.at, it.field))
			return
		case it.operator != "" && !strings.EqualFold(it.operator, "equals"):
			bad(fmt.Sprintf("%s.operator %q: the passes API filters by whole values only (equals)", it.at, it.operator))
			return
		case from[name] != "":
			bad(fmt.Sprintf("%s (%s) is given more than once (also as %s)", it.at, it.field, from[name]))
			return
		}
		vals[name], from[name] = it.value, it.at+".value ("+it.field+")"
	}
	for _, i := range slices.Sorted(maps.Keys(items["sortBy"])) {
		it := items["sortBy"][i]
		by, ok := twcSorts[it.field]
		desc := strings.EqualFold(it.direction, "desc")
		switch {
		case !ok:
			bad(fmt.Sprintf("%s.field %q: passes are sorted by creationDate or lastUpdateDate", it.at, it.field))
			return
		case it.direction != "" && !desc && !strings.EqualFold(it.direction, "asc"):
			bad(fmt.Sprintf("%s.direction %q: asc or desc", it.at, it.direction))
			return
		case slices.ContainsFunc(q.Sort, func(k pass.PassSort) bool { return k.By == by }):
			bad(fmt.Sprintf("%s sorts by %s again", it.at, it.field))
			return
		}
		q.Sort = append(q.Sort, pass.PassSort{By: by, Desc: desc})
	}
	// intParam reads the whole number name, from lo to hi, into dst (not
	// called when name is absent).
	intParam := func(name string, lo, hi int64, dst func(int64)) bool {
		v := vals[name]
		if v == "" {
			return true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi || strings.HasPrefix(v, "+") {
			bad(fmt.Sprintf("%s must be a whole number from %d to %d", from[name], lo, hi))
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
	switch st := pass.Status(vals["status"]); st {
	case "", pass.StatusActive, pass.StatusUsed, pass.StatusVoided:
		q.Status = st
	default:
		bad(from["status"] + " must be active, used or voided")
		return
	}
	// Where a pass is installed, in any case, also in the product we
	// replace's words.
	switch in := strings.ToLower(vals["installed"]); in {
	case "", "apple", "google", "wallet", "none":
		q.Installed = in
	case "installed":
		q.Installed = "wallet"
	case "notinstalled":
		q.Installed = "none"
	default:
		bad(from["installed"] + " must be apple, google, wallet (installed) or none (notInstalled)")
		return
	}
	if t := vals["template"]; t != "" {
		// A template is a folder's name: any text but control characters.
		if len(t) > 128 || !utf8.ValidString(t) || strings.ContainsFunc(t, templateRefused) {
			bad(from["template"] + " is not a template's name (at most 128 bytes of UTF-8 without control characters)")
			return
		}
		q.Template = t
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
