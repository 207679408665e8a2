package secutix

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
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

// maxWarnings caps the warnings of one mapping (each is an entry of the
// order's timeline at every sync): a large group order of parking places
// would otherwise write hundreds. The most useful come first (the file's
// and its orders', then the movements left out, then what was noted of
// the tickets mapped); one more line counts the rest.
const maxWarnings = 20

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
// performance). cat gives the catalogue and POS data. Every ticket of the
// returned Order passes Ticket.Validate. A movement that cannot become one
// is left out of the order's tickets, with a warning naming it (mapFile
// says which and why). When no ticket is left, the file is an error:
// of kind KindInvalid when a movement was left out for a reason of
// walletpass's own (leftOut.ours: the tenant's configuration, not
// SecuTix's data, has to change); else of kind KindUnavailable when a
// movement that is not cancelled lacks what a pass needs (a barcode not
// printed yet, a performance the catalogue lacks, a venue), so that the
// sync is retried, and dies visibly if it never maps. A file whose
// movements are all no tickets (parking, unpaid holds) is an order
// without tickets.
func (m mapper) order(r *rawFile, cat *catView) (*pass.Order, error) {
	o, _, err := m.mapFile(r, cat)
	return o, err
}

// leftOut is a movement the mapping leaves out of the order's tickets.
type leftOut struct {
	why   string // names the movement and says why
	cause leftCause
	// cancelled: the movement is cancelled (it would void a pass, and
	// makes none).
	cancelled bool
}

// leftCause says why a movement was left out.
type leftCause int

const (
	// lacking: the movement lacks what a pass needs (a barcode, not
	// printed yet; a performance the catalogue does not hold; a venue):
	// SecuTix's data, which a later read, or the file around an order
	// that was given alone, may complete.
	lacking leftCause = iota
	// unreadable: a value is there that walletpass cannot read (a date or
	// a number in a form it does not know, found by a default path or the
	// tenant's), or a barcode the tenant's symbology cannot print: the
	// cause is walletpass's or its configuration's, not SecuTix's data.
	unreadable
	// notATicket: the movement is no entry to an event (a SIMPLE_PRODUCT
	// line: parking, merchandise) or an unpaid hold (a reservation or an
	// option): it gets no pass, and the file around it would not change
	// that.
	notATicket
)

// ours reports whether l was left out for a reason of walletpass's own.
func (l leftOut) ours() bool { return l.cause == unreadable }

// pending reports whether l is a movement that is not cancelled and lacks
// what a pass needs: SecuTix may give it later (a ticket printed, the
// catalogue read again).
func (l leftOut) pending() bool { return l.cause == lacking && !l.cancelled }

// needsFile reports whether an order given alone (getOrderDetails, a V2
// webhook's body) left out a movement that the file around it may map:
// one that lacked something, or whose values could not be read.
func needsFile(left []leftOut) bool {
	for _, l := range left {
		if l.cause != notATicket {
			return true
		}
	}
	return false
}

// mapFile is order, also returning the movements it left out (each has a
// warning on the order too; with an error, the error names them).
func (m mapper) mapFile(r *rawFile, cat *catView) (*pass.Order, []leftOut, error) {
	out := &pass.Order{Tenant: m.tenant, FileID: r.fileID()}
	// The warnings, most useful first: the file's and the orders', then
	// the movements left out, then the notes on the tickets mapped.
	var fileNotes, notes []string
	fileCancelled, fileHold := false, ""
	if fd := r.file; fd != nil {
		// No pass shows it: a value that cannot be read is a warning.
		t, err := parseTime(fd.LastModDateTime.String(), nil)
		if err != nil {
			fileNotes = append(fileNotes, fmt.Sprintf("file %d: lastModDateTime: %v; ignored", out.FileID, err))
		}
		out.LastModified = t
		fileCancelled = cancelledState(fd.FileState.String())
		st := strings.ToUpper(strings.TrimSpace(fd.FileState.String()))
		if st != "" && !knownFileStates[st] {
			fileNotes = append(fileNotes, fmt.Sprintf("file %d: fileState %q is not one SecuTix is known to send; its tickets keep their own states", out.FileID, fd.FileState.String()))
		}
		if holdFileStates[st] {
			fileHold = st
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
			fileNotes = append(fileNotes, fmt.Sprintf("order %d: orderType %q is not one SecuTix is known to send; read as %s",
				int64(o.OrderID), ot, as))
		}
	}
	// sold are the movements of orders that are neither refunds nor
	// holds: a hold of the same movement is not one to warn of.
	sold := make(map[int64]bool)
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
		if holdOf(o, fileHold) == "" {
			for _, mv := range o.MovementDatas {
				sold[int64(mv.MovementID)] = true
			}
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
	// outside says whether something outside movement mv of order o (the
	// file, a refund order) cancels it.
	outside := func(o *orderData, mv *movementData, op *operationData) bool {
		if fileCancelled || cancelledMv[int64(mv.MovementID)] {
			return true
		}
		if op != nil && mv.SeatID > 0 {
			if r, ok := cancelledSeat[[2]int64{int64(op.PerformanceID), int64(mv.SeatID)}]; ok && r.cancels(orderTime(*o)) {
				return true
			}
		}
		return false
	}
	kept := m.keptCopies(r, cat, fileHold, sold, outside)

	var left []leftOut
	for i := range r.orders {
		o := &r.orders[i]
		if cancellingOrder(*o) {
			continue
		}
		hold := holdOf(*o, fileHold)
		for j := range o.MovementDatas {
			mv := &o.MovementDatas[j]
			id := int64(mv.MovementID)
			if hold != "" && id != 0 && sold[id] {
				continue // a sale of the same movement is its ticket
			}
			if k, ok := kept[id]; ok && (k.order != i || k.movement != j) {
				notes = append(notes, fmt.Sprintf("movement %d of order %d: the movement appears twice in the file; the copy in order %d is kept (%s)",
					id, int64(o.OrderID), int64(r.orders[k.order].OrderID), k.why))
				continue
			}
			sc, op := r.scope(i, j, cat)
			cancelled := outside(o, mv, op)
			t, warn, lo := m.ticket(out.FileID, o, mv, op, sc, cancelled, hold)
			if lo != nil && lo.pending() {
				if rt, rwarn, ok := m.replaced(out.FileID, o, mv, op, sc, cancelled, hold); ok {
					t, warn, lo = rt, rwarn, nil
				}
			}
			notes = append(notes, warn...)
			if lo != nil {
				left = append(left, *lo)
				continue
			}
			if covers := m.seasons[t.Product.Code]; len(covers) > 0 {
				t.Upcoming = m.upcoming(cat, covers, t.Locale)
			}
			out.Tickets = append(out.Tickets, t)
		}
	}
	var whys, ours, pending []string
	for _, l := range left {
		whys = append(whys, l.why)
		if l.ours() {
			ours = append(ours, l.why)
		}
		if l.pending() {
			pending = append(pending, l.why)
		}
	}
	out.Warnings = capWarnings(out.FileID, fileNotes, whys, notes)
	if len(out.Tickets) > 0 {
		return out, left, nil
	}
	if len(ours) > 0 {
		// Nothing maps, and not for want of data: the tenant's mapping
		// or symbology does not fit what the institution sends. The sync
		// fails, loudly, rather than finishing with no pass.
		return nil, left, pass.Upstream(pass.Errorf(pass.KindInvalid, "secutix: file %d: no ticket maps: %s", out.FileID, listProblems(ours)))
	}
	if len(pending) > 0 {
		// Nothing maps, and a movement that is not cancelled lacks what
		// a pass needs: a later read may have it (a ticket printed), or
		// the tenant's mapping may read the wrong place. Either way the
		// sync is not a success without a pass: it is retried, and dies
		// visibly if it never maps.
		return nil, left, pass.Errorf(pass.KindUnavailable, "secutix: file %d: no ticket maps yet: %s", out.FileID, listProblems(pending))
	}
	// Only movements that are no tickets (parking, unpaid holds), or
	// cancelled ones that cannot be mapped: an order without tickets.
	return out, left, nil
}

// listProblems joins the first maxProblems of probs, counting the rest.
func listProblems(probs []string) string {
	more := ""
	if len(probs) > maxProblems {
		more = fmt.Sprintf(" (and %d more)", len(probs)-maxProblems)
		probs = probs[:maxProblems]
	}
	return strings.Join(probs, "; ") + more
}

// capWarnings joins the warnings of a mapping, most useful first (the
// file's and the orders', the movements left out, the notes on the
// tickets), and keeps maxWarnings of them, then a line counting the rest.
func capWarnings(fileID int64, fileNotes, leftOut, notes []string) []string {
	all := slices.Concat(fileNotes, leftOut, notes)
	if len(all) <= maxWarnings {
		return all
	}
	n := len(all) - maxWarnings
	more := fmt.Sprintf("file %d: %d more warnings", fileID, n)
	if l := min(len(fileNotes)+len(leftOut)-maxWarnings, len(leftOut)); l > 0 {
		more += fmt.Sprintf(", %d of them movements left out", l)
	}
	return append(all[:maxWarnings], more)
}

// keptCopy is the copy of a movement the mapping keeps when the file
// holds it more than once: movement movement of order order, and why.
type keptCopy struct {
	order, movement int
	why             string
}

// keptCopies chooses, for each movement that the orders giving tickets
// (not refunds, not a hold of a movement sold) hold more than once, the
// copy that is its ticket: the one of the latest order (creationDateTime;
// an EXCHANGE or an ST_TRANSFER that cancels what a SALE sold); when the
// orders' times do not tell, a cancelled copy over a valid one (SecuTix
// never brings a cancelled ticket back); else the one listed last.
// outside says what cancels a movement from outside it.
func (m mapper) keptCopies(r *rawFile, cat *catView, fileHold string, sold map[int64]bool,
	outside func(*orderData, *movementData, *operationData) bool) map[int64]keptCopy {
	each := func(f func(i, j int, id int64)) {
		for i := range r.orders {
			o := r.orders[i]
			if cancellingOrder(o) {
				continue
			}
			hold := holdOf(o, fileHold)
			for j, mv := range o.MovementDatas {
				if id := int64(mv.MovementID); id != 0 && (hold == "" || !sold[id]) {
					f(i, j, id)
				}
			}
		}
	}
	count := map[int64]int{}
	each(func(_, _ int, id int64) { count[id]++ })
	type cand struct {
		keptCopy
		at        time.Time
		cancelled bool
	}
	best := map[int64]cand{}
	each(func(i, j int, id int64) {
		if count[id] < 2 {
			return
		}
		o := &r.orders[i]
		sc, op := r.scope(i, j, cat)
		st, _ := m.state(func(f string) string { return m.text(sc, f) }, sc, "",
			outside(o, &o.MovementDatas[j], op) || cancelledState(o.OrderState.String()))
		c := cand{keptCopy: keptCopy{order: i, movement: j}, at: orderTime(*o), cancelled: st == pass.TicketCancelled}
		b, ok := best[id]
		switch {
		case !ok:
		case !b.at.IsZero() && !c.at.IsZero() && !b.at.Equal(c.at):
			if c.at.Before(b.at) {
				c = b
			}
			c.why = "its order is the later (creationDateTime)"
		case b.cancelled != c.cancelled:
			if b.cancelled {
				c = b
			}
			c.why = "it is cancelled, and the orders' times do not tell which is later"
		default:
			c.why = "it is listed later"
		}
		best[id] = c
	})
	kept := make(map[int64]keptCopy, len(best))
	for id, c := range best {
		kept[id] = c.keptCopy
	}
	return kept
}

// replaced maps a movement whose current ticket (newestTicket) has no
// barcode (not printed yet: a reprint, a transfer) from the newest older
// ticket that is cancelled (its ticketId, its barcode), as a VoidOnly
// ticket: the pass made of the old ticket is voided, and none is made;
// the new ticket gets its pass when a later sync finds it printed. ok is
// false when the movement has no such ticket, or it does not map as
// cancelled.
func (m mapper) replaced(fileID int64, o *orderData, mv *movementData, op *operationData, sc ticketScope, cancelled bool, hold string) (_ pass.Ticket, warnings []string, ok bool) {
	cands := movementTickets(mv)
	nodes := ticketNodes(sc["movement"])
	newest := newestOf(cands, nil)
	if newest < 0 || len(cands) < 2 || m.text(sc, "barcode") != "" {
		return pass.Ticket{}, nil, false
	}
	with := func(k int) ticketScope {
		alt := maps.Clone(sc)
		alt["ticket"] = nodes[k]
		return alt
	}
	old := newestOf(cands, func(k int) bool {
		if k == newest || k >= len(nodes) {
			return false
		}
		alt := with(k)
		st, _ := m.state(func(f string) string { return m.text(alt, f) }, alt, "", false)
		return st == pass.TicketCancelled
	})
	if old < 0 {
		return pass.Ticket{}, nil, false
	}
	t, warnings, lo := m.ticket(fileID, o, mv, op, with(old), cancelled, hold)
	if lo != nil || t.State != pass.TicketCancelled {
		return pass.Ticket{}, nil, false
	}
	t.VoidOnly = true
	warnings = append(warnings, fmt.Sprintf("movement %d of order %d: its new ticket %s is not printed yet (no barcode) and the ticket %s it replaces is cancelled: "+
		"the movement is mapped as that cancelled ticket, so that a pass of it is voided (none is made); the new ticket gets its pass once printed",
		int64(mv.MovementID), int64(o.OrderID), ticketName(cands[newest]), ticketName(cands[old])))
	return t, warnings, true
}

// ticketName names a ticket by its id in messages.
func ticketName(t *ticketData) string {
	if t.TicketID > 0 {
		return strconv.FormatInt(int64(t.TicketID), 10)
	}
	return "(without a ticketId)"
}

// text reads field in sc by the tenant's path, in the tenant's language.
func (m mapper) text(sc ticketScope, field string) string {
	h, _ := m.fields.lookup(sc, field)
	return textOf(h.v).pick(m.locale)
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
		if !cat.now.IsZero() && pass.EventEnd(d.Start, d.End).Before(cat.now) {
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
// movement (the file, a refund order) cancels it; hold, when not "", says
// that it is an unpaid hold and why. A movement that cannot become a
// ticket comes back as a leftOut naming it.
func (m mapper) ticket(fileID int64, o *orderData, mv *movementData, op *operationData, sc ticketScope, cancelled bool, hold string) (_ pass.Ticket, warnings []string, _ *leftOut) {
	id := int64(mv.MovementID)
	name := fmt.Sprintf("movement %d of order %d", id, int64(o.OrderID))
	str := func(field string) string { return m.text(sc, field) }

	// State: first, because a cancelled ticket maps with less, and a
	// movement left out is told apart by it (leftOut.pending).
	state, warnings := m.state(str, sc, name, cancelled || cancelledState(o.OrderState.String()))
	leave := func(cause leftCause, format string, args ...any) (pass.Ticket, []string, *leftOut) {
		return pass.Ticket{}, warnings, &leftOut{why: name + ": " + fmt.Sprintf(format, args...), cause: cause,
			cancelled: state == pass.TicketCancelled}
	}
	if id <= 0 {
		return leave(lacking, "no movementId")
	}
	if op == nil {
		return leave(lacking, "operation %d is not in the order", int64(mv.OperationID))
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

	kind := strings.ToUpper(strings.TrimSpace(textOf(get(sc["operation"], "kind")).String()))
	voidOnly := false
	if kind == "SIMPLE_PRODUCT" || hold != "" {
		// No pass for these; but one that SecuTix cancels is mapped as
		// cancelled, with or without a performance (earlier releases
		// made valid passes of such movements), so that such a pass is
		// voided; it makes none (Ticket.VoidOnly).
		if state != pass.TicketCancelled {
			if kind == "SIMPLE_PRODUCT" {
				return leave(notATicket, "operation %d is a SIMPLE_PRODUCT (parking, merchandise: no entry to an event); no pass", int64(op.OperationID))
			}
			return leave(notATicket, "an unpaid hold (%s); no pass until it is sold", hold)
		}
		voidOnly = true
	}

	// unread says whether a value that cannot be read leaves the
	// movement out: a cancelled one is mapped without it (a warning says
	// so), so that its pass is voided.
	unread := func(err error) bool {
		if state == pass.TicketCancelled {
			warnings = append(warnings, fmt.Sprintf("%s: %v; ignored, as the ticket is cancelled", name, err))
			return false
		}
		return true
	}

	t := pass.Ticket{
		Tenant:           m.tenant,
		FileID:           fileID,
		OrderID:          int64(o.OrderID),
		OrderSecretToken: o.OrderSecretID.String(),
		MovementID:       id,
		Symbology:        cmp.Or(m.symbology, pass.SymbologyQR),
		Barcode:          str("barcode"),
		State:            state,
	}
	if n, _, err := num("ticketId"); err != nil && unread(err) {
		return leave(unreadable, "%v", err)
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
			warnings = append(warnings, fmt.Sprintf("%s: time zone %q is unknown; ignored", name, zone))
			t.Event.TimeZone = ""
		}
		loc = l
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"eventStart", &t.Event.Start}, {"eventEnd", &t.Event.End}, {"doors", &t.Event.Doors}} {
		v, err := parseTime(str(f.name), loc)
		if err != nil && unread(fmt.Errorf("%s: %v", f.name, err)) {
			return leave(unreadable, "%s: %v", f.name, err)
		}
		*f.dst = v
	}
	// validity reads the ticket's validity (once): a date without a time
	// is the whole day in the point of sale's time zone.
	var read bool
	var vStart, vEnd time.Time
	var vErr error
	validity := func() (time.Time, time.Time, error) {
		if !read {
			read = true
			vStart, vEnd, vErr = m.validity(str, loc, name, &warnings)
			if vErr != nil && !unread(vErr) {
				vStart, vEnd, vErr = time.Time{}, time.Time{}, nil
			}
		}
		return vStart, vEnd, vErr
	}
	if t.Event.Start.IsZero() && op.PerformanceID == 0 && !voidOnly {
		// A ticket whose operation names no performance (a season
		// ticket) is dated by its validity. A named performance the
		// catalogue lacks is waited for instead: its dates are the
		// catalogue's. (A cancelled parking line or hold without a
		// performance has no event: it is dated by a stand-in, below.)
		start, end, err := validity()
		if err != nil {
			return leave(unreadable, "%v", err)
		}
		t.Event.Start = start
		if t.Event.End.IsZero() {
			t.Event.End = end
		}
		if !t.Event.End.After(t.Event.Start) {
			t.Event.End = time.Time{}
		}
	}
	standIn := false
	if t.Event.Start.IsZero() {
		_, known := sc["performance"].(map[string]any)
		switch {
		case state == pass.TicketCancelled:
			// SecuTix cancels a ticket the catalogue (or the validity)
			// no longer dates: it is mapped all the same, so that its
			// pass is voided.
			start, end, from, err := m.standIn(o, validity)
			if err != nil {
				return leave(unreadable, "%v", err)
			}
			if start.IsZero() {
				return leave(lacking, "cancelled, but neither the catalogue, its validity nor its order's creationDateTime dates it")
			}
			t.Event.Start, t.Event.End = start, time.Time{}
			if end.After(start) {
				t.Event.End = end
			}
			why := "its operation names no performance"
			switch {
			case op.PerformanceID != 0 && !known:
				why = fmt.Sprintf("performance %d is not in the catalogue (getCatalogDetailed)", int64(op.PerformanceID))
			case op.PerformanceID != 0:
				why = fmt.Sprintf("performance %d has no start walletpass can read", int64(op.PerformanceID))
			}
			warnings = append(warnings, fmt.Sprintf("%s: %s; the ticket is cancelled, so it is mapped to void a pass made of it (none is made), "+
				"dated by %s and apart from its performance: the voided pass keeps the event it shows", name, why, from))
			// A stand-in date must not reach what the performance's
			// passes share (Google Wallet's class, event-wide changes):
			// the Syncer shows the pass's own event (EventUnknown).
			t.Event.PerformanceID = 0
			standIn = true
		case !known && op.PerformanceID != 0:
			return leave(lacking, "performance %d is not in the catalogue (getCatalogDetailed), so its start is unknown", int64(op.PerformanceID))
		}
	}
	if t.Event.End.IsZero() && !t.Event.Start.IsZero() && !standIn {
		secs, ok, err := num("eventDuration")
		if err != nil && unread(err) {
			return leave(unreadable, "%v", err)
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
	if err != nil && unread(err) {
		return leave(unreadable, "%v", err)
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

	t.VoidOnly, t.EventUnknown = voidOnly || standIn, standIn
	t.Normalize()
	if err := t.Validate(); err != nil {
		cause := lacking
		if qr := t; qr.Symbology != pass.SymbologyQR {
			// Valid but for the tenant's symbology: the configuration's.
			qr.Symbology = pass.SymbologyQR
			if qr.Validate() == nil {
				cause = unreadable
			}
		}
		return leave(cause, "%s", strings.TrimPrefix(pass.PublicMessage(err), "ticket: "))
	}
	return t, warnings, nil
}

// validity reads a ticket's validity (validityStart and validityEnd),
// in loc when a value has no offset; a date without a time is the whole
// day (parseBound). A date read in UTC for want of loc adds a warning
// naming the movement (name) to warnings.
func (m mapper) validity(str func(string) string, loc *time.Location, name string, warnings *[]string) (start, end time.Time, _ error) {
	for _, f := range []struct {
		name string
		dst  *time.Time
		end  bool
	}{{"validityStart", &start, false}, {"validityEnd", &end, true}} {
		s := str(f.name)
		v, err := parseBound(s, loc, f.end)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("%s: %v", f.name, err)
		}
		if loc == nil && isDate(s) {
			*warnings = append(*warnings, fmt.Sprintf("%s: %s %q has no time and the point of sale's time zone is unknown; read in UTC", name, f.name, s))
		}
		*f.dst = v
	}
	return start, end, nil
}

// state maps a ticket's state: its ticketState, then a cancellationCause
// known to mean cancelled, then cancelled (something outside the ticket
// voids it). An unknown ticketState is valid, an unknown
// cancellationCause leaves the ticketState to decide; each with a warning
// naming the movement (name).
func (m mapper) state(str func(string) string, sc ticketScope, name string, cancelled bool) (pass.TicketState, []string) {
	var warnings []string
	state := pass.TicketValid
	if raw := str("ticketState"); raw != "" {
		if s, ok := ticketState(raw); ok {
			state = s
		} else {
			// SecuTix's APIs use several vocabularies: keep the ticket,
			// say so, and let the other signals decide.
			warnings = append(warnings, fmt.Sprintf("%s: unknown ticketState %q, taken as valid", name, raw))
		}
	}
	if cancelled {
		return pass.TicketCancelled, warnings
	}
	raw := strings.TrimSpace(textOf(get(sc["ticket"], "cancellationCause")).String())
	switch cause := strings.ToUpper(raw); {
	case cause == "" || cause == "NOT_CANCELLED":
	case cancellingCauses[cause]:
		state = pass.TicketCancelled
	case state != pass.TicketCancelled:
		warnings = append(warnings, fmt.Sprintf("%s: unknown cancellationCause %q; the ticketState decides (%s)", name, raw, state))
	}
	return state, warnings
}

// standIn dates a cancelled ticket that neither the catalogue nor (for a
// ticket without a performance) its validity dates: its validity, else its
// order's creationDateTime. from says which; a zero start, that neither is
// there.
func (m mapper) standIn(o *orderData, validity func() (time.Time, time.Time, error)) (start, end time.Time, from string, _ error) {
	start, end, err := validity()
	if err != nil {
		return time.Time{}, time.Time{}, "", err
	}
	if !start.IsZero() {
		return start, end, "its validity", nil
	}
	if !end.IsZero() {
		return end, time.Time{}, "the end of its validity", nil
	}
	return orderTime(*o), time.Time{}, "its order's creationDateTime", nil
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
func newestTicket(mv *movementData) int { return newestOf(movementTickets(mv), nil) }

// movementTickets lists the movement's tickets in ticketNodes' order.
func movementTickets(mv *movementData) []*ticketData {
	cands := make([]*ticketData, 0, len(mv.Tickets)+len(mv.Ticket))
	for i := range mv.Tickets {
		cands = append(cands, &mv.Tickets[i])
	}
	for i := range mv.Ticket {
		cands = append(cands, &mv.Ticket[i])
	}
	return cands
}

// newestOf returns the index of the newest of cands (as newestTicket
// orders them) that keep accepts (every one when keep is nil); -1 when
// none is.
func newestOf(cands []*ticketData, keep func(int) bool) int {
	best := -1
	var bestAt time.Time
	for i, c := range cands {
		if keep != nil && !keep(i) {
			continue
		}
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

// holdFileStates are the file states of an unpaid hold: a file in option,
// in reservation, or both (SecuTix's fileState values).
var holdFileStates = map[string]bool{"IN_RESERVATION": true, "IN_OPTION": true, "OPTION_RESERV": true}

// holdOf says why the movements of o are an unpaid hold, or "" when they
// are not: o is a reservation or an option (orderType RESERVATION or
// OPTION), or any order but a sale, an exchange or a refund in a file that
// is held (fileHold, its fileState IN_RESERVATION, IN_OPTION or
// OPTION_RESERV). A sale is paid, whatever else its file holds.
func holdOf(o orderData, fileHold string) string {
	switch t := strings.ToUpper(strings.TrimSpace(o.OrderType.String())); {
	case t == "RESERVATION" || t == "OPTION":
		return "orderType " + t
	case fileHold != "" && t != "SALE" && !exchangeOrder(o) && !cancellingOrder(o):
		return "fileState " + fileHold
	}
	return ""
}

// cancellingCauses are the cancellationCause values known to mean that
// the ticket is void. SecuTix's record shows only NOT_CANCELLED (a valid
// ticket); these are the built-in sandbox's (CANCELLED for a cancellation
// or a refund; REPRINTED and TRANSFERRED for a ticket reissued), REFUNDED
// (the sandbox's earlier word) and CANCELED (SecuTix's spelling of its
// cancelled states). Another value leaves the ticketState to decide.
var cancellingCauses = map[string]bool{"CANCELLED": true, "CANCELED": true, "REFUNDED": true, "REPRINTED": true, "TRANSFERRED": true}

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

// isDate reports whether s is a date without a time ("2026-09-01").
func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	return err == nil
}

// parseBound parses a bound of a ticket's validity: a date-time as
// parseTime does, or a date without a time, which SecuTix's
// startValidityDate and endValidityDate may be (their format is not on
// record): the start of that day in loc for a start, its last second for
// an end (end). Without loc, the day is UTC's.
func parseBound(s string, loc *time.Location, end bool) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return parseTime(s, loc)
	}
	if loc == nil {
		loc = time.UTC
	}
	y, mo, day := d.Date()
	if end {
		return time.Date(y, mo, day, 23, 59, 59, 0, loc), nil
	}
	return time.Date(y, mo, day, 0, 0, 0, 0, loc), nil
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
