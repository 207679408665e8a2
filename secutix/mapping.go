package secutix

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"walletpass/internal/strs"
	"walletpass/pass"
)

// mapper turns SecuTix payloads into domain values.
type mapper struct {
	tenant      string
	locale      string
	defaultKind pass.EventKind
}

// maxProblems caps how many bad movements one error lists.
const maxProblems = 5

// decodeFile decodes a getFileDetails / getFileDetailsFromOrderSecretId
// answer into an Order. When wantFileID is not 0 the answer must be about
// that file. Every ticket of the returned Order passes Ticket.Validate.
// Errors: KindNotFound (wrapping pass.ErrNotFound) or KindInvalid /
// KindUnavailable for error envelopes as classify says; KindUnavailable
// for an answer that is not the expected JSON or is still "in_progress";
// KindInvalid for a movement that cannot become a valid ticket.
func (m mapper) decodeFile(body []byte, wantFileID int64) (*pass.Order, error) {
	var res fileResult
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, malformed("getFileDetails", err)
	}
	switch code := strings.ToLower(res.StatusCode.String()); code {
	case "success", "":
	case "in_progress", "inprogress":
		return nil, pass.Errorf(pass.KindUnavailable, "secutix: getFileDetails: the answer is still in progress")
	default:
		return nil, classify("secutix: getFileDetails", res.envelope, nil)
	}
	if res.FileDetailsData == nil {
		return nil, pass.Errorf(pass.KindUnavailable, "secutix: getFileDetails: the answer has no fileDetailsData")
	}
	if res.FileDetailsData.FileID <= 0 {
		return nil, pass.Errorf(pass.KindUnavailable, "secutix: getFileDetails: the answer has no fileId")
	}
	if wantFileID != 0 && int64(res.FileDetailsData.FileID) != wantFileID {
		return nil, pass.Errorf(pass.KindUnavailable, "secutix: getFileDetails: asked for file %d, got file %d",
			wantFileID, int64(res.FileDetailsData.FileID))
	}
	return m.order(res.FileDetailsData, res.OrderDetailsDatas)
}

// order maps a file (fd may be nil when only an order is known) and its
// orders: one ticket per movement of every order except refund and
// cancellation orders, whose movements cancel the sale movements they name.
func (m mapper) order(fd *fileData, orders []orderData) (*pass.Order, error) {
	out := &pass.Order{Tenant: m.tenant}
	fileCancelled := false
	if fd != nil {
		out.FileID = int64(fd.FileID)
		t, err := parseTime(fd.LastModDateTime.String(), nil)
		if err != nil {
			return nil, pass.Errorf(pass.KindInvalid, "secutix: file %d: lastModDateTime: %v", out.FileID, err)
		}
		out.LastModified = t
		fileCancelled = cancelledState(fd.FileState.String())
	}

	cancelledBy := make(map[int64]bool)
	main := -1
	for i, o := range orders {
		if cancellingOrder(o) {
			for _, mv := range o.MovementDatas {
				id := int64(mv.CancelledMovementID)
				if id == 0 {
					id = int64(mv.MovementID)
				}
				cancelledBy[id] = true
			}
			continue
		}
		if main < 0 || (strings.EqualFold(o.OrderType.String(), "SALE") && !strings.EqualFold(orders[main].OrderType.String(), "SALE")) {
			main = i
		}
	}
	if main < 0 && len(orders) > 0 {
		main = 0
	}
	if main >= 0 {
		out.OrderID = int64(orders[main].OrderID)
		out.SecretToken = orders[main].OrderSecretID.String()
	}
	if fd == nil && main >= 0 {
		for _, op := range orders[main].OperationDatas {
			if op.FileID > 0 {
				out.FileID = int64(op.FileID)
				break
			}
		}
	}

	var probs []string
	seen := make(map[int64]bool)
	for i := range orders {
		o := &orders[i]
		if cancellingOrder(*o) {
			continue
		}
		for j := range o.MovementDatas {
			mv := &o.MovementDatas[j]
			id := int64(mv.MovementID)
			if id != 0 && seen[id] {
				probs = append(probs, fmt.Sprintf("movement %d appears twice", id))
				continue
			}
			seen[id] = true
			t, warn, err := m.ticket(out.FileID, o, mv, fileCancelled || cancelledBy[id])
			out.Warnings = append(out.Warnings, warn...)
			if err != nil {
				probs = append(probs, err.Error())
				continue
			}
			out.Tickets = append(out.Tickets, t)
		}
	}
	if len(probs) > 0 {
		more := ""
		if len(probs) > maxProblems {
			more = fmt.Sprintf(" (and %d more)", len(probs)-maxProblems)
			probs = probs[:maxProblems]
		}
		return nil, pass.Errorf(pass.KindInvalid, "secutix: file %d: %s%s", out.FileID, strings.Join(probs, "; "), more)
	}
	return out, nil
}

// ticket maps one movement. cancelled says that something outside the
// movement (the file, a refund order) cancels it. Its error names the
// movement.
func (m mapper) ticket(fileID int64, o *orderData, mv *movementData, cancelled bool) (_ pass.Ticket, warnings []string, _ error) {
	id := int64(mv.MovementID)
	fail := func(format string, args ...any) (pass.Ticket, []string, error) {
		return pass.Ticket{}, warnings, fmt.Errorf("movement %d of order %d: %s", id, int64(o.OrderID), fmt.Sprintf(format, args...))
	}
	if id <= 0 {
		return fail("no movementId")
	}
	op := findOperation(o, int64(mv.OperationID))
	if op == nil {
		return fail("operation %d is not in the order", int64(mv.OperationID))
	}
	t := pass.Ticket{
		Tenant:           m.tenant,
		FileID:           fileID,
		OrderID:          int64(o.OrderID),
		OrderSecretToken: o.OrderSecretID.String(),
		MovementID:       id,
		Symbology:        pass.SymbologyQR,
	}
	tk := newestTicket(mv)
	if tk != nil {
		t.TicketID = int64(tk.TicketID)
		t.Barcode = tk.Barcode.String()
	}

	// Event.
	t.Event.PerformanceID = int64(op.PerformanceID)
	t.Event.Name = op.Performance.pick(m.locale)
	if t.Event.Name == "" {
		t.Event.Name = op.Product.pick(m.locale)
	}
	t.Event.Kind = eventKind(op.EventKind.String(), m.defaultKind)
	t.Event.TimeZone = op.TimeZone.String()
	var loc *time.Location
	if t.Event.TimeZone != "" {
		loc, _ = t.Event.Location()
	}
	var err error
	if t.Event.Start, err = parseTime(op.PerformanceStartDate.String(), loc); err != nil {
		return fail("performanceStartDate: %v", err)
	}
	if t.Event.End, err = parseTime(op.PerformanceEndDate.String(), loc); err != nil {
		return fail("performanceEndDate: %v", err)
	}
	if t.Event.Doors, err = parseTime(op.DoorsOpenDate.String(), loc); err != nil {
		return fail("doorsOpenDate: %v", err)
	}
	for _, p := range op.Performers {
		if v := p.pick(m.locale); v != "" {
			t.Event.Performers = append(t.Event.Performers, v)
		}
	}
	t.Event.HomeTeam = m.team(op.HomeTeam)
	t.Event.AwayTeam = m.team(op.AwayTeam)
	t.Event.League = op.League.pick(m.locale)
	t.Event.Sport = op.Sport.pick(m.locale)

	// Venue.
	if len(op.Locations) > 0 {
		l := op.Locations[0]
		t.Venue.Name = l.SiteExternalName.pick(m.locale)
		if t.Venue.Name == "" {
			t.Venue.Name = l.SiteName.pick(m.locale)
		}
		lat, lon := l.Latitude, l.Longitude
		if a := l.SiteAddress; a != nil {
			t.Venue.Address = strs.JoinNonEmpty(", ", a.FirstAddressLine.String(), a.SecondAddressLine.String())
			t.Venue.City = a.Locality.pick(m.locale)
			t.Venue.PostalCode = a.ZipCode.String()
			t.Venue.Country = strings.ToUpper(a.CountryCode.String())
			if lat == nil || lon == nil {
				lat, lon = a.Latitude, a.Longitude
			}
		}
		if lat != nil && lon != nil {
			la, lo := float64(*lat), float64(*lon)
			t.Venue.Latitude, t.Venue.Longitude = &la, &lo
		}
	}
	t.Venue.Entrance = mv.Entrance.pick(m.locale)

	// Seat, tariff, price.
	t.Seat = pass.Seat{
		Area:   mv.Area.pick(m.locale),
		Block:  mv.Block.pick(m.locale),
		Row:    mv.Row.String(),
		Number: mv.SeatNumber.String(),
	}
	t.Tariff = op.AudienceSubCategory.pick(m.locale)
	if t.Tariff == "" {
		t.Tariff = op.AudienceSubCategoryExternalDescription.pick(m.locale)
	}
	switch {
	case op.UnitPrice != nil:
		t.Price.Thousandths = int64(*op.UnitPrice)
	case tk != nil && tk.Price != nil:
		t.Price.Thousandths = int64(*tk.Price)
	}
	if o.CatalogCurrency != nil {
		t.Price.Currency = strings.ToUpper(o.CatalogCurrency.CurrencyCode.String())
	}
	if t.Price.Thousandths == 0 {
		t.Price = pass.Money{}
	}

	// Holder.
	if h := mv.Holder; h != nil {
		t.HolderName = strs.JoinNonEmpty(" ", h.FirstName.String(), h.LastName.String())
		t.HolderEmail = h.Email.String()
		t.Locale = bcp47(h.Locale.String())
	}
	if t.HolderEmail == "" {
		t.HolderEmail = o.ContactEmail.String()
	}
	if t.Locale == "" {
		t.Locale = bcp47(o.ContactLocale.String())
	}
	if t.Locale == "" {
		t.Locale = bcp47(m.locale)
	}

	// State.
	state := pass.TicketValid
	if tk != nil {
		if s, ok := ticketState(tk.TicketState.String()); ok {
			state = s
		} else {
			// SecuTix's APIs use several vocabularies: keep the ticket,
			// say so, and let the other signals decide.
			warnings = append(warnings, fmt.Sprintf("movement %d of order %d: unknown ticketState %q, taken as valid",
				id, int64(o.OrderID), tk.TicketState.String()))
		}
		if cause := strings.ToUpper(tk.CancellationCause.String()); cause != "" && cause != "NOT_CANCELLED" {
			state = pass.TicketCancelled
		}
	}
	if cancelled ||
		(mv.Cancelled != nil && *mv.Cancelled) || cancelledState(mv.MovementState.String()) ||
		(op.Cancelled != nil && *op.Cancelled) || cancelledState(op.OperationState.String()) ||
		cancelledState(o.OrderState.String()) {
		state = pass.TicketCancelled
	}
	t.State = state

	t.Normalize()
	if err := t.Validate(); err != nil {
		return fail("%s", strings.TrimPrefix(pass.PublicMessage(err), "ticket: "))
	}
	return t, warnings, nil
}

func (m mapper) team(t *team) pass.Team {
	if t == nil {
		return pass.Team{}
	}
	return pass.Team{
		Name:         t.Name.pick(m.locale),
		Abbreviation: t.Abbreviation.String(),
		Location:     t.Location.pick(m.locale),
	}
}

// findOperation returns the operation id of o; with id 0 and a single
// operation, that one.
func findOperation(o *orderData, id int64) *operationData {
	if id == 0 && len(o.OperationDatas) == 1 {
		return &o.OperationDatas[0]
	}
	for i := range o.OperationDatas {
		if int64(o.OperationDatas[i].OperationID) == id {
			return &o.OperationDatas[i]
		}
	}
	return nil
}

// newestTicket returns the movement's current ticket: of its tickets (and
// its "ticket" object) the one created last, then the one with the highest
// ticketId, then the last listed.
func newestTicket(mv *movementData) *ticketData {
	cands := make([]*ticketData, 0, len(mv.Tickets)+1)
	for i := range mv.Tickets {
		cands = append(cands, &mv.Tickets[i])
	}
	if mv.Ticket != nil {
		cands = append(cands, mv.Ticket)
	}
	var best *ticketData
	var bestAt time.Time
	for _, c := range cands {
		at, _ := parseTime(c.CreationDate.String(), nil)
		switch {
		case best == nil:
		case !at.IsZero() && !bestAt.IsZero() && !at.Equal(bestAt):
			if at.Before(bestAt) {
				continue
			}
		case c.TicketID < best.TicketID:
			continue
		}
		best, bestAt = c, at
	}
	return best
}

// ticketState maps a SecuTix ticket state.
func ticketState(s string) (pass.TicketState, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "VALID", "NOT_PRINTED", "PRINTED":
		return pass.TicketValid, true
	case "CONTROLLED":
		return pass.TicketUsed, true
	case "CANCELLED", "CANCELED", "INVALIDATED":
		return pass.TicketCancelled, true
	}
	return "", false
}

// cancelledState reports whether a file, order, operation or movement state
// means the tickets under it are void.
func cancelledState(s string) bool {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "CANCELLED", "CANCELED", "INVALIDATED", "ABANDONED", "ABANDONNED", "REFUNDED":
		return true
	}
	return false
}

// cancellingOrder reports whether o is a refund order or the freeing of a
// reservation or option (SecuTix's orderType REFUND_CLIENT,
// REFUND_ORGANIZATION, RESERVATION_FREEING, OPTION_FREEING; also the
// older spellings REFUND, CANCELLATION, CANCEL): its movements cancel the
// sale movements they name instead of being tickets.
func cancellingOrder(o orderData) bool {
	switch t := strings.ToUpper(strings.TrimSpace(o.OrderType.String())); {
	case strings.HasPrefix(t, "REFUND"), strings.HasSuffix(t, "_FREEING"), t == "CANCELLATION", t == "CANCEL":
		return true
	}
	return false
}

// eventKind maps SecuTix's (optional) eventKind; an unknown kind is generic.
func eventKind(s string, def pass.EventKind) pass.EventKind {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return def
	case "concert", "music":
		return pass.EventConcert
	case "festival":
		return pass.EventFestival
	case "sports", "sport", "match", "game":
		return pass.EventSports
	case "theatre", "theater", "opera", "dance", "show":
		return pass.EventTheatre
	case "conference", "congress", "seminar":
		return pass.EventConference
	case "movie", "film", "cinema":
		return pass.EventMovie
	}
	return pass.EventGeneric
}

// timeLayouts are the ISO-8601 forms accepted, all with an offset;
// fractional seconds are accepted by every layout.
var timeLayouts = []string{time.RFC3339, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05Z07"}

// parseTime parses an ISO-8601 date-time with an offset; "" is the zero
// time. Without an offset the time is read in loc when loc is known.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	if loc != nil {
		if t, err := time.ParseInLocation("2006-01-02T15:04:05", s, loc); err == nil {
			return t, nil
		}
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO-8601 date-time with an offset", s)
}
