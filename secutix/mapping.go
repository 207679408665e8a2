package secutix

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
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
	symbology   pass.Symbology // "" means QR
	fields      fieldPaths
	seasons     map[string][]string // Config.SeasonTickets
}

// maxProblems caps how many bad movements one error lists.
const maxProblems = 5

// rawFile is a SecuTix file (or a lone order) as decoded twice: typed, for
// its structure, and as JSON nodes, which pass fields are read from.
type rawFile struct {
	file       *fileData // nil for a lone order
	fileNode   node
	orders     []orderData
	orderNodes []node
}

// parseFile decodes a getFileDetails / getFileDetailsFromOrderSecretId
// answer. When wantFileID is not 0 the answer must be about that file.
// Errors: KindNotFound (wrapping pass.ErrNotFound) or KindInvalid /
// KindUnavailable for error envelopes as classify says; KindUnavailable
// for an answer that is not the expected JSON or is still "in_progress".
func parseFile(body []byte, wantFileID int64) (*rawFile, error) {
	var res fileResult
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, malformed("getFileDetails", err)
	}
	if err := checkStatus("getFileDetails", res.envelope); err != nil {
		return nil, err
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
	root, err := decodeNode(body)
	if err != nil {
		return nil, malformed("getFileDetails", err)
	}
	r := &rawFile{file: res.FileDetailsData, fileNode: get(root, "fileDetailsData"), orders: res.OrderDetailsDatas}
	for i := range r.orders {
		r.orderNodes = append(r.orderNodes, at(get(root, "orderDetailsDatas"), i))
	}
	return r, nil
}

// parseOrder decodes a getOrderDetails answer, or the body of SecuTix's
// order webhook V2 (the same object, perhaps without the status part).
func parseOrder(body []byte) (*rawFile, error) {
	var res orderResult
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, malformed(MethodGetOrderDetails, err)
	}
	if err := checkStatus(MethodGetOrderDetails, res.envelope); err != nil {
		return nil, err
	}
	if res.OrderDetailsData == nil {
		return nil, pass.Errorf(pass.KindUnavailable, "secutix: getOrderDetails: the answer has no orderDetailsData")
	}
	root, err := decodeNode(body)
	if err != nil {
		return nil, malformed(MethodGetOrderDetails, err)
	}
	return &rawFile{orders: []orderData{*res.OrderDetailsData}, orderNodes: []node{get(root, "orderDetailsData")}}, nil
}

// checkStatus turns a non-success status into an error.
func checkStatus(method string, env envelope) error {
	switch code := strings.ToLower(env.StatusCode.String()); code {
	case "success", "":
		return nil
	case "in_progress", "inprogress":
		return pass.Errorf(pass.KindUnavailable, "secutix: %s: the answer is still in progress", method)
	default:
		return classify("secutix: "+method, env, nil)
	}
}

// fileID is the file's id, or for a lone order the fileId its operations name.
func (r *rawFile) fileID() int64 {
	if r.file != nil {
		return int64(r.file.FileID)
	}
	for _, o := range r.orders {
		for _, op := range o.OperationDatas {
			if op.FileID > 0 {
				return int64(op.FileID)
			}
		}
	}
	return 0
}

// performanceIDs lists the performances the file's operations name.
func (r *rawFile) performanceIDs() []int64 {
	var ids []int64
	seen := map[int64]bool{}
	for _, o := range r.orders {
		for _, op := range o.OperationDatas {
			if id := int64(op.PerformanceID); id > 0 && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// onlySales reports whether every order of r is a sale with its
// movements: such an order is a whole picture. A refund or an exchange
// needs the file around it (the tickets it cancels sit in the sale), and
// an order given at a granularity coarser than its movements (operations
// only, say) lacks its tickets.
func (r *rawFile) onlySales() bool {
	for _, o := range r.orders {
		if cancellingOrder(o) || exchangeOrder(o) || (len(o.MovementDatas) == 0 && len(o.OperationDatas) > 0) {
			return false
		}
	}
	return len(r.orders) > 0
}

// exchangeOrder reports whether o is an exchange (SecuTix's orderType
// EXCHANGE_CLIENT or EXCHANGE_ORGANIZATION).
func exchangeOrder(o orderData) bool {
	return strings.HasPrefix(strings.ToUpper(strings.TrimSpace(o.OrderType.String())), "EXCHANGE")
}

// order maps a file and its orders: one ticket per movement of every order
// except refund and freeing orders, whose movements cancel the sale
// movements they match (the same movementId, or the same seat of the same
// performance). cat gives the catalogue and POS data; performances
// missing from it leave their tickets without a start, which fails them.
// Every ticket of the returned Order passes Ticket.Validate; a movement
// that cannot become one is an error of kind KindInvalid naming it.
func (m mapper) order(r *rawFile, cat *catView) (*pass.Order, error) {
	out := &pass.Order{Tenant: m.tenant, FileID: r.fileID()}
	fileCancelled := false
	if fd := r.file; fd != nil {
		// No pass shows it: a value that cannot be read is a warning.
		t, err := parseTime(fd.LastModDateTime.String(), nil)
		if err != nil {
			out.Warnings = append(out.Warnings, fmt.Sprintf("file %d: lastModDateTime: %v; ignored", out.FileID, err))
		}
		out.LastModified = t
		fileCancelled = cancelledState(fd.FileState.String())
		if st := fd.FileState.String(); st != "" && !knownFileStates[strings.ToUpper(strings.TrimSpace(st))] {
			out.Warnings = append(out.Warnings, fmt.Sprintf("file %d: fileState %q is not one SecuTix is known to send; its tickets keep their own states", out.FileID, st))
		}
	}
	if cat == nil {
		cat = &catView{}
	}

	cancelledMv := make(map[int64]bool)
	cancelledSeat := make(map[[2]int64]seatRefund) // performance, seat
	main := -1
	for _, o := range r.orders {
		if ot := o.OrderType.String(); ot != "" && !knownOrderTypes[strings.ToUpper(strings.TrimSpace(ot))] {
			as := "a sale"
			switch {
			case cancellingOrder(o):
				as = "a refund"
			case exchangeOrder(o):
				as = "an exchange"
			}
			out.Warnings = append(out.Warnings, fmt.Sprintf("order %d: orderType %q is not one SecuTix is known to send; read as %s",
				int64(o.OrderID), ot, as))
		}
	}
	for i, o := range r.orders {
		if cancellingOrder(o) {
			for _, mv := range o.MovementDatas {
				cancelledMv[int64(mv.MovementID)] = true
				if op := findOperation(&o, int64(mv.OperationID)); op != nil && mv.SeatID > 0 {
					k := [2]int64{int64(op.PerformanceID), int64(mv.SeatID)}
					cancelledSeat[k] = cancelledSeat[k].and(orderTime(o))
				}
			}
			continue
		}
		if main < 0 || (strings.EqualFold(o.OrderType.String(), "SALE") && !strings.EqualFold(r.orders[main].OrderType.String(), "SALE")) {
			main = i
		}
	}
	if main < 0 && len(r.orders) > 0 {
		main = 0
	}
	if main >= 0 {
		out.OrderID = int64(r.orders[main].OrderID)
		out.SecretToken = r.orders[main].OrderSecretID.String()
	}

	var probs []string
	seen := make(map[int64]bool)
	for i := range r.orders {
		o := &r.orders[i]
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
			sc, op := r.scope(i, j, cat)
			cancelled := fileCancelled || cancelledMv[id]
			if op != nil && mv.SeatID > 0 {
				if r, ok := cancelledSeat[[2]int64{int64(op.PerformanceID), int64(mv.SeatID)}]; ok && r.cancels(orderTime(*o)) {
					cancelled = true
				}
			}
			t, warn, err := m.ticket(out.FileID, o, mv, op, sc, cancelled)
			out.Warnings = append(out.Warnings, warn...)
			if err != nil {
				probs = append(probs, err.Error())
				continue
			}
			if covers := m.seasons[t.Product.Code]; len(covers) > 0 {
				t.Upcoming = m.upcoming(cat, covers, t.Locale)
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

// upcoming lists the performances of the products covers names that the
// catalogue holds and that have not ended, soonest first, at most
// pass.MaxUpcoming, named in locale. A cancelled performance (state
// CANCELED or CANCELED_CLOSED) and one the catalogue no longer holds are
// left out.
func (m mapper) upcoming(cat *catView, covers []string, locale string) []pass.UpcomingEvent {
	var out []pass.UpcomingEvent
	for id, e := range cat.all {
		code, _ := get(e.product, "code").(string)
		if !slices.Contains(covers, code) || !e.left.IsZero() || performanceCancelled(e.performance) {
			continue
		}
		d, err := m.performance(id, ticketScope{"product": e.product, "performance": e.performance, "pos": cat.pos})
		if err != nil || d.Start.IsZero() {
			continue // a performance the mapping cannot date is left out
		}
		end := cmp.Or(d.End, d.Start)
		if !cat.now.IsZero() && end.Before(cat.now) {
			continue
		}
		name := d.Names.Pick(locale, m.locale)
		if name == "" {
			name = d.Name
		}
		out = append(out, pass.UpcomingEvent{ID: strconv.FormatInt(id, 10), Name: name, Start: d.Start, End: d.End})
	}
	slices.SortFunc(out, func(a, b pass.UpcomingEvent) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.ID, b.ID))
	})
	if len(out) > pass.MaxUpcoming {
		out = out[:pass.MaxUpcoming]
	}
	return out
}

// scope gathers the JSON around movement j of order i.
func (r *rawFile) scope(i, j int, cat *catView) (ticketScope, *operationData) {
	o := &r.orders[i]
	mv := &o.MovementDatas[j]
	on := r.orderNodes[i]
	sc := ticketScope{"file": r.fileNode, "order": on, "pos": cat.pos}
	if ref := textOf(get(on, "contactReference")).String(); ref != "" {
		sc["contact"] = cat.contacts[ref]
	}
	sc["movement"] = at(get(on, "movementDatas"), j)
	if k, nodes := newestTicket(mv), ticketNodes(sc["movement"]); k >= 0 && k < len(nodes) {
		sc["ticket"] = nodes[k]
	}
	k := operationIndex(o, int64(mv.OperationID))
	var op *operationData
	if k >= 0 {
		op = &o.OperationDatas[k]
		sc["operation"] = at(get(on, "operationDatas"), k)
		sc["location"] = at(get(sc["operation"], "locations"), 0)
		if e, ok := cat.perfs[int64(op.PerformanceID)]; ok {
			sc["product"], sc["performance"] = e.product, e.performance
		}
	}
	return sc, op
}

// ticket maps one movement. cancelled says that something outside the
// movement (the file, a refund order) cancels it. Its error names the
// movement.
func (m mapper) ticket(fileID int64, o *orderData, mv *movementData, op *operationData, sc ticketScope, cancelled bool) (_ pass.Ticket, warnings []string, _ error) {
	id := int64(mv.MovementID)
	fail := func(format string, args ...any) (pass.Ticket, []string, error) {
		return pass.Ticket{}, warnings, fmt.Errorf("movement %d of order %d: %s", id, int64(o.OrderID), fmt.Sprintf(format, args...))
	}
	if id <= 0 {
		return fail("no movementId")
	}
	if op == nil {
		return fail("operation %d is not in the order", int64(mv.OperationID))
	}
	str := func(field string) string {
		h, _ := m.fields.lookup(sc, field)
		return textOf(h.v).pick(m.locale)
	}
	num := func(field string) (int64, bool, error) {
		h, ok := m.fields.lookup(sc, field)
		if !ok {
			return 0, false, nil
		}
		n, err := intOf(h.v)
		if err != nil {
			return 0, false, fmt.Errorf("%s (%s): %v", field, h.src, err)
		}
		return n, true, nil
	}
	t := pass.Ticket{
		Tenant:           m.tenant,
		FileID:           fileID,
		OrderID:          int64(o.OrderID),
		OrderSecretToken: o.OrderSecretID.String(),
		MovementID:       id,
		Symbology:        cmp.Or(m.symbology, pass.SymbologyQR),
		Barcode:          str("barcode"),
	}
	if n, _, err := num("ticketId"); err != nil {
		return fail("%v", err)
	} else {
		t.TicketID = n
	}

	// Event.
	names := func(field string) pass.LocalText {
		h, ok := m.fields.lookup(sc, field)
		if !ok {
			return nil
		}
		return textOf(h.v).all()
	}
	t.Event.PerformanceID = int64(op.PerformanceID)
	t.Event.Name = str("eventName")
	t.Event.Names = names("eventName")
	t.Event.Kind = eventKind(str("eventKind"), m.defaultKind)
	var loc *time.Location
	if zone := str("timeZone"); zone != "" {
		t.Event.TimeZone = zone
		l, err := t.Event.Location()
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("movement %d of order %d: time zone %q is unknown; ignored", id, int64(o.OrderID), zone))
			t.Event.TimeZone = ""
		}
		loc = l
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"eventStart", &t.Event.Start}, {"eventEnd", &t.Event.End}, {"doors", &t.Event.Doors}} {
		v, err := parseTime(str(f.name), loc)
		if err != nil {
			return fail("%s: %v", f.name, err)
		}
		*f.dst = v
	}
	if t.Event.Start.IsZero() && op.PerformanceID == 0 {
		// A ticket whose operation names no performance (a season
		// ticket) is dated by its validity. A named performance the
		// catalogue lacks is waited for instead: its dates are the
		// catalogue's.
		for _, f := range []struct {
			name string
			dst  *time.Time
		}{{"validityStart", &t.Event.Start}, {"validityEnd", &t.Event.End}} {
			v, err := parseTime(str(f.name), loc)
			if err != nil {
				return fail("%s: %v", f.name, err)
			}
			if f.dst.IsZero() {
				*f.dst = v
			}
		}
		if !t.Event.End.After(t.Event.Start) {
			t.Event.End = time.Time{}
		}
	}
	if t.Event.Start.IsZero() {
		if _, known := sc["performance"].(map[string]any); !known {
			return fail("performance %d is not in the catalogue (getCatalogDetailed), so its start is unknown", int64(op.PerformanceID))
		}
	}
	if t.Event.End.IsZero() && !t.Event.Start.IsZero() {
		secs, ok, err := num("eventDuration")
		if err != nil {
			return fail("%v", err)
		}
		if ok && secs > 0 && secs < 366*24*3600 {
			t.Event.End = t.Event.Start.Add(time.Duration(secs) * time.Second)
		}
	}
	if h, ok := m.fields.lookup(sc, "performers"); ok {
		if list, isList := h.v.([]any); isList {
			for _, p := range list {
				if v := textOf(p).pick(m.locale); v != "" {
					t.Event.Performers = append(t.Event.Performers, v)
				}
			}
		} else if v := textOf(h.v).pick(m.locale); v != "" {
			t.Event.Performers = []string{v}
		}
	}
	t.Event.HomeTeam = pass.Team{Name: str("homeTeam")}
	t.Event.AwayTeam = pass.Team{Name: str("awayTeam")}
	t.Event.League = str("league")
	t.Event.Sport = str("sport")

	// Venue.
	t.Venue = venueOf(str)
	t.Venue.Names = names("venueName")
	if la, lo := str("latitude"), str("longitude"); la != "" && lo != "" {
		lat, err1 := strconv.ParseFloat(la, 64)
		lon, err2 := strconv.ParseFloat(lo, 64)
		if err1 == nil && err2 == nil {
			t.Venue.Latitude, t.Venue.Longitude = &lat, &lon
		}
	}

	// Seat, tariff, price.
	t.Seat = pass.Seat{Area: str("seatArea"), Block: str("seatBlock"), Row: str("seatRow"), Number: str("seatNumber")}
	t.Tariff = str("tariff")
	price, _, err := num("price")
	if err != nil {
		return fail("%v", err)
	}
	t.Price = pass.Money{Thousandths: price, Currency: strings.ToUpper(str("currency"))}
	if t.Price.Thousandths == 0 {
		t.Price = pass.Money{}
	}

	// Product: what template rules choose by.
	t.Product = pass.Product{Code: str("productCode"), FamilyType: str("productFamily"), FamilySubType: str("productFamilySubType")}
	if n, _, err := num("eventId"); err == nil {
		t.Product.EventID = n
	}
	if h, ok := m.fields.lookup(sc, "comfortVariables"); ok {
		t.Product.Comfort = comfortVariables(h.v)
	}

	// Holder.
	t.HolderName = strs.JoinNonEmpty(" ", str("holderFirstName"), str("holderLastName"))
	t.HolderEmail = str("holderEmail")
	t.Locale = bcp47(str("locale"))
	if t.Locale == "" {
		t.Locale = bcp47(m.locale)
	}
	// The event and venue in the holder's language, when SecuTix has it
	// (else the tenant's, else English).
	if len(t.Event.Names) > 0 {
		t.Event.Name = t.Event.Names.Pick(t.Locale, m.locale)
	}
	if len(t.Venue.Names) > 0 {
		t.Venue.Name = t.Venue.Names.Pick(t.Locale, m.locale)
	}

	// State.
	state := pass.TicketValid
	if raw := str("ticketState"); raw != "" {
		if s, ok := ticketState(raw); ok {
			state = s
		} else {
			// SecuTix's APIs use several vocabularies: keep the ticket,
			// say so, and let the other signals decide.
			warnings = append(warnings, fmt.Sprintf("movement %d of order %d: unknown ticketState %q, taken as valid",
				id, int64(o.OrderID), raw))
		}
	}
	if cause := strings.ToUpper(textOf(get(sc["ticket"], "cancellationCause")).String()); cause != "" && cause != "NOT_CANCELLED" {
		state = pass.TicketCancelled
	}
	if cancelled || cancelledState(o.OrderState.String()) {
		state = pass.TicketCancelled
	}
	t.State = state

	t.Normalize()
	if err := t.Validate(); err != nil {
		return fail("%s", strings.TrimPrefix(pass.PublicMessage(err), "ticket: "))
	}
	return t, warnings, nil
}

// venueOf maps the venue's fields read by str.
func venueOf(str func(field string) string) pass.Venue {
	return pass.Venue{
		Name:       str("venueName"),
		Room:       str("venueRoom"),
		Address:    str("venueAddress"),
		City:       str("venueCity"),
		PostalCode: str("venuePostalCode"),
		Country:    strings.ToUpper(str("venueCountry")),
		Entrance:   str("entrance"),
	}
}

// findOperation returns the operation id of o; with id 0 and a single
// operation, that one.
func findOperation(o *orderData, id int64) *operationData {
	if k := operationIndex(o, id); k >= 0 {
		return &o.OperationDatas[k]
	}
	return nil
}

func operationIndex(o *orderData, id int64) int {
	if id == 0 && len(o.OperationDatas) == 1 {
		return 0
	}
	for i := range o.OperationDatas {
		if int64(o.OperationDatas[i].OperationID) == id {
			return i
		}
	}
	return -1
}

// newestTicket returns the index of the movement's current ticket in
// ticketNodes' order (its "tickets", then its "ticket"): the one created
// last, then the one with the highest ticketId, then the last listed; -1
// when it has none.
func newestTicket(mv *movementData) int {
	cands := make([]*ticketData, 0, len(mv.Tickets)+len(mv.Ticket))
	for i := range mv.Tickets {
		cands = append(cands, &mv.Tickets[i])
	}
	for i := range mv.Ticket {
		cands = append(cands, &mv.Ticket[i])
	}
	best := -1
	var bestAt time.Time
	for i, c := range cands {
		at, _ := parseTime(c.CreationDate.String(), nil)
		switch {
		case best < 0:
		case !at.IsZero() && !bestAt.IsZero() && !at.Equal(bestAt):
			if at.Before(bestAt) {
				continue
			}
		case c.TicketID < cands[best].TicketID:
			continue
		}
		best, bestAt = i, at
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

// knownOrderTypes and knownFileStates are the values SecuTix's enums
// have (the project's SecuTix wire notes), and the older spellings
// walletpass reads: another value is read as the nearest known one, with
// a warning on the order's timeline.
var (
	knownOrderTypes = map[string]bool{"SALE": true, "REFUND_CLIENT": true, "REFUND_ORGANIZATION": true, "EXCHANGE_ORGANIZATION": true,
		"EXCHANGE_CLIENT": true, "RESERVATION": true, "RENEWAL": true, "OPTION": true, "RESERVATION_FREEING": true, "OPTION_FREEING": true,
		"ST_TRANSFER": true, "REFUND": true, "CANCELLATION": true, "CANCEL": true}
	knownFileStates = map[string]bool{"RUNNING": true, "SUSPENDED": true, "IN_OPTION": true, "IN_RESERVATION": true, "OPTION_RESERV": true,
		"CONFIRMED": true, "SOLDED": true, "NOT_SOLDED": true, "PART_SOLDED": true, "CANCELED": true, "ABANDONNED": true, "TECH_ERROR": true,
		"CANCELLED": true, "ABANDONED": true}
)

// performanceCancelled reports whether a catalogue performance's state is
// CANCELED or CANCELED_CLOSED.
func performanceCancelled(perf node) bool {
	st := strings.ToUpper(strings.TrimSpace(textOf(get(perf, "state")).String()))
	return st == "CANCELED" || st == "CANCELED_CLOSED" || st == "CANCELLED"
}

// seatRefund is what a file's refunds of one seat say of its sales: the
// latest refund's time, or that a refund's time is unknown.
type seatRefund struct {
	latest  time.Time
	unknown bool
}

// and adds a refund made at (zero when unknown).
func (r seatRefund) and(at time.Time) seatRefund {
	if at.IsZero() {
		r.unknown = true
	} else if at.After(r.latest) {
		r.latest = at
	}
	return r
}

// cancels reports whether the refunds cancel a sale of the seat made at
// sold: every sale made before the latest refund, and every sale when a
// refund's or the sale's time is unknown. A seat sold again after its
// refund, in a later order of the same file, stays sold.
func (r seatRefund) cancels(sold time.Time) bool {
	return r.unknown || sold.IsZero() || sold.Before(r.latest)
}

// orderTime is when o was made (its creationDateTime), zero when SecuTix
// gives none that can be read.
func orderTime(o orderData) time.Time {
	t, err := parseTime(o.CreationDateTime.String(), nil)
	if err != nil {
		return time.Time{}
	}
	return t
}

// cancellingOrder reports whether o is a refund order or the freeing of a
// reservation or option (SecuTix's orderType REFUND_CLIENT,
// REFUND_ORGANIZATION, RESERVATION_FREEING, OPTION_FREEING; also the
// older spellings REFUND, CANCELLATION, CANCEL): its movements cancel the
// sale movements they match instead of being tickets.
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

// comfortVariables reads an operation's comfort variables as NAME=value:
// SecuTix's shape of them is not on record, so strings "NAME=value" and
// objects naming the variable (name, code, key or variable) and its value
// (value, or the first of values) are read; anything else is left out.
func comfortVariables(v any) []string {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []string
	for _, e := range list {
		switch x := e.(type) {
		case string:
			if name, _, ok := strings.Cut(x, "="); ok && strings.TrimSpace(name) != "" {
				out = append(out, x)
			}
		case map[string]any:
			var name, value string
			for _, k := range []string{"name", "code", "key", "variable"} {
				if s, ok := x[k].(string); ok && s != "" {
					name = s
					break
				}
			}
			switch val := x["value"].(type) {
			case string:
				value = val
			case float64, json.Number:
				value = fmt.Sprint(val)
			}
			if vals, ok := x["values"].([]any); ok && value == "" && len(vals) > 0 {
				value, _ = vals[0].(string)
			}
			if strings.TrimSpace(name) != "" && !strings.Contains(name, "=") {
				out = append(out, name+"="+value)
			}
		}
	}
	return out
}
