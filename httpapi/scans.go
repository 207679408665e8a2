package httpapi

import (
	"context"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"walletpass/pass"
)

// ScopeScans is the scope of POST /api/{tenant}/scans.
const ScopeScans = "scans:write"

// Scanner decides on gate scans (pass.Gate).
type Scanner interface {
	Scan(ctx context.Context, req pass.ScanRequest) (pass.ScanResult, error)
}

// MaxScanBody bounds a scan's body: room for 2048 characters of data
// written as JSON escapes.
const MaxScanBody = 32 << 10

// scanTypes are the kinds of read a gate may report (the product we
// replace has the same list).
var scanTypes = []string{"manual", "text", "qrcode", "pdf417", "aztec", "code128", "code39", "codabar", "ean8", "ean13",
	"itf14", "upca", "datamatrix", "nfc"}

// ScanBody is what a gate system posts.
type ScanBody struct {
	Data   string `json:"data"`
	Type   string `json:"type"`
	ScanID string `json:"scanId,omitempty"`
}

// ScanAnswer is what a gate gets back.
type ScanAnswer struct {
	ScanID    string    `json:"scanId,omitempty"`
	Result    string    `json:"result"`
	ScannedAt time.Time `json:"scannedAt"`
	// ReEntry: valid for a ticket scanned before (a re-entry tenant).
	ReEntry bool `json:"reEntry,omitempty"`
	// PassID is the ticket's pass (its serial number), the one field the
	// product we replace answers a scan with.
	PassID string      `json:"passId,omitempty"`
	Ticket *ScanTicket `json:"ticket,omitempty"`
}

// ScanTicket is the ticket a gate sees: enough to let the holder in, or
// to tell them why not.
type ScanTicket struct {
	SerialNumber string           `json:"serialNumber"`
	TicketID     int64            `json:"ticketId"`
	FileID       int64            `json:"fileId"`
	State        pass.TicketState `json:"state"`
	HolderName   string           `json:"holderName,omitempty"`
	Event        PassEventView    `json:"event"`
	Seat         *pass.Seat       `json:"seat,omitempty"`
	Entrance     string           `json:"entrance,omitempty"`
}

// scan: POST /api/{tenant}/scans {data, type, scanId?} with scope
// scans:write: finds the ticket by its barcode and answers valid (it is
// now used, as a SecuTix validation makes it; reEntry for a ticket scanned
// before, at a re-entry tenant), already_used, cancelled, unknown or
// wrong_time (another day's ticket: not used up). A
// scanId sent again gets the first answer.
func (s *Server) scan(c *gin.Context) {
	tenant := c.Param("tenantId")
	if _, ok := s.tenants[tenant]; !ok || s.deps.Scans == nil {
		writeProblem(c, http.StatusNotFound, "unknown tenant")
		return
	}
	if !s.authorizeAPI(c, tenant, ScopeScans, ScopeScans) {
		return
	}
	body, ok := readBody(c, MaxScanBody)
	if !ok {
		return
	}
	var req ScanBody
	if !decodeStrict(c, body, &req, `the body must be {"data", "type", "scanId"?}`) {
		return
	}
	switch {
	case utf8.RuneCountInString(req.Data) < 3 || utf8.RuneCountInString(req.Data) > 2048:
		writeProblem(c, http.StatusBadRequest, "data must have 3 to 2048 characters")
		return
	case !slices.Contains(scanTypes, req.Type):
		writeProblem(c, http.StatusBadRequest, "type must be one of manual, text, qrcode, pdf417, aztec, code128, code39, codabar, ean8, ean13, itf14, upca, datamatrix, nfc")
		return
	case req.ScanID != "" && !idChars(req.ScanID, 1, 128, "._:-"):
		writeProblem(c, http.StatusBadRequest, "scanId must have 1 to 128 letters, digits, '.', '_', ':' or '-'")
		return
	}
	res, err := s.deps.Scans.Scan(c.Request.Context(), pass.ScanRequest{Tenant: tenant, Data: req.Data, ScanID: req.ScanID,
		CorrelationID: correlationID(c)})
	if err != nil {
		s.fail(c, err)
		return
	}
	out := ScanAnswer{ScanID: res.ScanID, Result: res.Result, ScannedAt: res.At, ReEntry: res.ReEntry}
	if p := res.Pass; p != nil {
		out.PassID = p.SerialNumber
		t := p.Ticket
		out.Ticket = &ScanTicket{SerialNumber: p.SerialNumber, TicketID: p.TicketID, FileID: p.FileID, State: t.State,
			HolderName: t.HolderName, Event: PassEventView{Name: t.Event.Name, Start: t.Event.Start}, Entrance: t.Venue.Entrance}
		if t.Seat != (pass.Seat{}) {
			seat := t.Seat
			out.Ticket.Seat = &seat
		}
	}
	c.JSON(http.StatusOK, out)
}
