package pass

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The answers of a gate scan.
const (
	ScanValid       = "valid"        // let in: the ticket is now used
	ScanAlreadyUsed = "already_used" // scanned before (here or at SecuTix's gates)
	ScanCancelled   = "cancelled"    // cancelled, refunded or passed on to another holder
	ScanUnknown     = "unknown"      // no ticket of the tenant has this barcode
	// ScanWrongTime: the ticket is for an event that is not now (more
	// than occasionMargin before its start or after its end: another
	// day's ticket; a season ticket after its last event); it is not
	// marked used.
	ScanWrongTime = "wrong_time"
)

// ScanSourceGate is the WebhookEvent source of a gate scan: it records a
// used-ticket hint and syncs the order, as a SecuTix validation does.
const ScanSourceGate = "gate-scan"

// ScanRequest is what a gate system sends: the barcode it read, and
// optionally its own id for the scan (a scan sent again with the same id
// gets the first answer, and marks nothing twice).
type ScanRequest struct {
	Tenant        string
	Data          string
	ScanID        string
	CorrelationID string
}

// ScanResult is what a gate needs to decide.
type ScanResult struct {
	ScanID string
	Result string
	// Pass is the ticket's pass (nil for ScanUnknown).
	Pass *Pass
	// At is when the scan that decided Result happened (the first one for
	// a repeated scan id).
	At time.Time
	// ReEntry: a valid scan of a ticket scanned before, let in again
	// (Gate.ReEntry).
	ReEntry bool
}

// ScanRecord is a stored scan.
type ScanRecord struct {
	Tenant, ScanID, Serial, Result string
	ReEntry                        bool
	At                             time.Time
}

// ScanStore is what the gate needs of the store.
type ScanStore interface {
	PassByBarcode(ctx context.Context, tenant, barcode string) (*Pass, error)
	GetPass(ctx context.Context, tenant, serial string) (*Pass, error)
	RecordScan(ctx context.Context, sc ScanRecord) (ScanRecord, bool, error)
	// AdmitScan writes a's admission in one transaction and returns the
	// scan as stored (valid, or already_used when the claim was lost)
	// and whether it is a's (false: a scan id stored before, whose answer
	// is repeated, and nothing is written).
	AdmitScan(ctx context.Context, a Admission, now time.Time) (ScanRecord, bool, error)
	HintReader
}

// Gate answers the organisers' own gate systems. A valid ticket becomes
// used the way a SecuTix validation makes it: a used-ticket hint and a
// sync of its order through the inbox (so the pass is signed again,
// pushed, and its Google object COMPLETED), durable once Scan returns.
type Gate struct {
	Store ScanStore
	Inbox *Inbox
	// Events: each valid scan is announced as ticket.scanned (webhook
	// subscriptions), in the transaction that admits it.
	Events bool
	// Rotating, when it knows the tenant, reads the rotating barcodes of
	// its Google Wallet passes ("<barcode>-<step>-<code>"): a code that
	// does not check out is an unknown ticket, a screenshot's stale code
	// included.
	Rotating map[string]RotatingChecker
	// ReEntry names the tenants whose tickets admit again after a scan
	// (apple.reEntry: their passes stay valid once used): a ticket
	// scanned before is let in again (ScanResult.ReEntry), a cancelled
	// one still is not.
	ReEntry map[string]bool
	Clock   Clock
}

// RotatingChecker checks a rotating barcode read from the pass with this
// serial number, and returns the ticket's barcode it carries.
type RotatingChecker interface {
	Check(serial, scanned string, now time.Time) (barcode string, ok bool)
}

// RotatingBarcodePrefix returns the ticket barcode a rotating barcode
// value starts with ("<barcode>-<step>-<code>"), or "" when data has not
// that form.
func RotatingBarcodePrefix(data string) string {
	i := strings.LastIndexByte(data, '-')
	if i <= 0 {
		return ""
	}
	j := strings.LastIndexByte(data[:i], '-')
	if j <= 0 {
		return ""
	}
	if _, err := strconv.ParseInt(data[j+1:i], 10, 64); err != nil {
		return ""
	}
	return data[:j]
}

// Scan decides on one scan. Errors come from the store (KindUnavailable).
func (g *Gate) Scan(ctx context.Context, req ScanRequest) (ScanResult, error) {
	now := g.Clock.Now().UTC().Truncate(time.Millisecond) // as stored: a repeated scan answers the same time
	p, err := g.Store.PassByBarcode(ctx, req.Tenant, req.Data)
	if rc, ok := g.Rotating[req.Tenant]; ok && errors.Is(err, ErrNotFound) {
		// A rotating barcode: the ticket's barcode, then the step and its
		// code, which must be the pass's.
		if prefix := RotatingBarcodePrefix(req.Data); prefix != "" {
			if p, err = g.Store.PassByBarcode(ctx, req.Tenant, prefix); err == nil {
				if _, valid := rc.Check(p.SerialNumber, req.Data, now); !valid {
					p, err = nil, ErrNotFound
				}
			}
		}
	}
	switch {
	case errors.Is(err, ErrNotFound):
		p = nil
	case err != nil:
		return ScanResult{}, err
	}
	res := ScanResult{ScanID: req.ScanID, Result: ScanUnknown, Pass: p, At: now}
	if p != nil {
		usedAt, used, voided, err := g.marks(ctx, p)
		if err != nil {
			return ScanResult{}, err
		}
		if used && p.Ticket.MultiEvent() && !SameOccasion(p.Ticket, usedAt, now) {
			used = false // a season ticket's earlier entry: this is another event
		}
		used = used || p.Status == StatusUsed || p.Ticket.State == TicketUsed
		switch {
		case voided || p.Status == StatusVoided || p.Ticket.State == TicketCancelled:
			res.Result = ScanCancelled
		case used && !g.ReEntry[req.Tenant]:
			res.Result = ScanAlreadyUsed
		case !forNow(p.Ticket, now):
			// Before the ticket is claimed: Friday's ticket shown on
			// Thursday must still let its holder in on Friday.
			res.Result = ScanWrongTime
		case used:
			res.Result, res.ReEntry = ScanValid, true
		default:
			res.Result = ScanValid
		}
	}
	if res.Result == ScanValid {
		return g.admit(ctx, req, res, now)
	}
	if req.ScanID == "" {
		return res, nil
	}
	serial := ""
	if p != nil {
		serial = p.SerialNumber
	}
	stored, fresh, err := g.Store.RecordScan(ctx, ScanRecord{Tenant: req.Tenant, ScanID: req.ScanID, Serial: serial,
		Result: res.Result, At: now})
	if err != nil || fresh {
		return res, err
	}
	return g.answered(ctx, req, stored)
}

// admit lets the holder of a ticket found valid in: its used mark, the
// scan's record, the sync of its order and the scan's announcement are
// written together, and only if no other scan took the ticket for the
// same occasion meanwhile (two gates reading one screenshot at once: one
// is let in, the other is told already_used).
func (g *Gate) admit(ctx context.Context, req ScanRequest, res ScanResult, now time.Time) (ScanResult, error) {
	p := res.Pass
	mark, sync := g.Inbox.Prepare(WebhookEvent{Tenant: req.Tenant, Source: ScanSourceGate, SecretToken: p.SecretToken,
		TicketID: p.TicketID, State: "VALIDATED", LastUpdate: now, CorrelationID: req.CorrelationID})
	if p.TicketID == 0 {
		mark.MovementID = p.MovementID
	}
	a := Admission{
		Scan: ScanRecord{Tenant: req.Tenant, ScanID: req.ScanID, Serial: p.SerialNumber, Result: ScanValid, ReEntry: res.ReEntry, At: now},
		Ref:  usedRef(p), Since: occasionStart(p.Ticket, now), ReEntry: res.ReEntry, Again: g.ReEntry[req.Tenant], Mark: mark, Sync: sync,
	}
	if g.Events {
		ann := TaskOf(PassEvent(p, EventTicketScanned, now, req.ScanID), req.CorrelationID)
		a.Announce = &ann
	}
	stored, fresh, err := g.Store.AdmitScan(ctx, a, now)
	if err != nil {
		return ScanResult{}, err
	}
	if !fresh {
		return g.answered(ctx, req, stored)
	}
	res.Result, res.ReEntry = stored.Result, stored.ReEntry
	return res, nil
}

// answered is the answer a scan id sent again gets: the one stored the
// first time, with the pass it found.
func (g *Gate) answered(ctx context.Context, req ScanRequest, stored ScanRecord) (ScanResult, error) {
	res := ScanResult{ScanID: req.ScanID, Result: stored.Result, ReEntry: stored.ReEntry, At: stored.At}
	if stored.Serial != "" {
		var err error
		if res.Pass, err = g.Store.GetPass(ctx, req.Tenant, stored.Serial); err != nil {
			return ScanResult{}, err
		}
	}
	return res, nil
}

// Admission is what a valid scan writes, all or nothing (ScanStore's
// AdmitScan): the ticket's used mark, claimed under Ref unless a used
// mark made at or after Since holds it (an entry to the same occasion;
// any used mark, for a ticket of one event), or whatever holds it when
// ReEntry; the scan's record (Scan, its Result ScanValid, stored as
// ScanAlreadyUsed when the claim is lost, or as a re-entry when Again:
// the tenant admits a ticket again, and another scan took it at the same
// moment); and, when the claim is won,
// the mark as a webhook event with its order's sync (Mark and Sync, as
// Inbox.Prepare makes them) and the scan's announcement (Announce, when
// the tenant announces).
type Admission struct {
	Scan     ScanRecord
	Ref      string
	Since    time.Time
	ReEntry  bool
	Again    bool
	Mark     WebhookEvent
	Sync     NewTask
	Announce *NewTask
}

// marks reports what the ticket's hints say that its pass may not show
// yet: whether it has a used mark (a scan here, or SecuTix's VALIDATED
// webhook) and the mark's time, so that a second scan right after the
// first is refused before the sync ends; and whether an operator voided
// it, so that it is refused before the sync voids its pass.
func (g *Gate) marks(ctx context.Context, p *Pass) (usedAt time.Time, used, voided bool, err error) {
	hints, err := g.Store.Hints(ctx, p.Tenant, p.SecretToken)
	if err != nil {
		return time.Time{}, false, false, err
	}
	ref := usedRef(p)
	void := "v:" + strconv.FormatInt(p.TicketID, 10)
	for _, h := range hints {
		switch {
		case h.Ref == ref && IsUsedState(h.State) && !used:
			usedAt, used = h.LastUpdate, true
		case p.TicketID != 0 && h.Ref == void && h.State == StateVoidedByOperator:
			voided = true
		}
	}
	return usedAt, used, voided, nil
}

// occasionMargin is how long before an event's start and after its end a
// scan counts as an entry to it.
const occasionMargin = 6 * time.Hour

// occasionStart is when the occasion a scan of t at now is for began: a
// used mark made since is an entry to it. For a ticket of one event that
// is any time (the zero time); for a multi-event ticket, the start of the
// window of its event under way, or, when none is, 12 hours before now
// (as SameOccasion).
func occasionStart(t Ticket, now time.Time) time.Time {
	if !t.MultiEvent() {
		return time.Time{}
	}
	if from, _, ok := occasionWindow(t, now); ok {
		return from
	}
	return now.Add(-12 * time.Hour)
}

// SameOccasion reports whether a multi-event ticket's entry at used and a
// scan at now are for the same event: both within one of its events
// (from occasionMargin before the start to occasionMargin after the end,
// or the start and 4 h when the end is unknown), or, when no event is
// under way at now, less than 12 hours apart. The ticket's own event
// counts only when it lasts a day at most: a season ticket dated by its
// validity spans the whole season.
func SameOccasion(t Ticket, used, now time.Time) bool {
	if from, to, ok := occasionWindow(t, now); ok {
		return !used.Before(from) && used.Before(to)
	}
	return now.Sub(used) < 12*time.Hour
}

// occasionWindow is the window of t's event under way at now (see
// SameOccasion), if one is.
func occasionWindow(t Ticket, now time.Time) (from, to time.Time, ok bool) {
	events := slices.Clone(t.Upcoming)
	if own := (UpcomingEvent{Start: t.Event.Start, End: t.Event.End}); own.End.IsZero() || own.End.Sub(own.Start) <= 24*time.Hour {
		events = append(events, own)
	}
	for _, e := range events {
		if e.Start.IsZero() {
			continue
		}
		end := e.End
		if end.IsZero() {
			end = e.Start.Add(4 * time.Hour)
		}
		if from, to := e.Start.Add(-occasionMargin), end.Add(occasionMargin); !now.Before(from) && now.Before(to) {
			return from, to, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// forNow reports whether a scan at now may be an entry with t: within
// occasionMargin of its event, however long it lasts (a festival pass),
// an event without an end lasting AssumedLength. A season ticket only
// until its last event is over: its list of events is as old as its
// order's last sync, and a match moved or added since must admit it. A
// ticket without a date is for any time.
func forNow(t Ticket, now time.Time) bool {
	e := t.Event
	if e.Start.IsZero() {
		return true
	}
	if t.MultiEvent() {
		return now.Before(t.LastEnd().Add(occasionMargin))
	}
	return !now.Before(e.Start.Add(-occasionMargin)) && now.Before(EventEnd(e.Start, e.End).Add(occasionMargin))
}

// usedRef is the hint a scan of p leaves: its ticket's ("t:<ticketId>"),
// not its movement's (a later holder's ticket is another one), unless
// SecuTix gave the ticket no id.
func usedRef(p *Pass) string {
	if p.TicketID == 0 {
		return "m:" + strconv.FormatInt(p.MovementID, 10)
	}
	return "t:" + strconv.FormatInt(p.TicketID, 10)
}
