package pass

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Policy is what a tenant's configuration says about the work that follows
// a new pass version.
type Policy struct {
	// AppNotices: the tenant has an organiser's app to tell (FCM).
	AppNotices bool
	// Google: the tenant issues Google Wallet passes.
	Google bool
	// GoogleOnPayment: Google Wallet objects are inserted as soon as a
	// pass exists, not when the buyer first opens the save link.
	GoogleOnPayment bool
	// Events: every change is announced to the tenant's webhook
	// subscriptions (an event-fanout task; nothing is sent without one).
	Events bool
}

// Policies holds each tenant's policy; a tenant without one gets the zero
// Policy (no app, no Google Wallet).
type Policies map[string]Policy

// For returns the policy of tenant.
func (p Policies) For(tenant string) Policy { return p[tenant] }

// Change is one new pass version and what the domain knows around it: the
// facts FollowUps decides on.
type Change struct {
	// Prev is the version before, nil when the pass is new.
	Prev *Pass
	// Next is the version being stored.
	Next *Pass
	// Superseded: Next voids a previous holder's pass because the ticket
	// moved to a new holder (the app hears of it through the new pass).
	Superseded bool
	// Bulk: the change is one of an event-wide rewrite (PerformanceSyncer),
	// whose push and Google Wallet tasks follow once for the performance.
	Bulk bool
	// Erased: the version drops the holder's data (Eraser); it is stored
	// even when the pass shows nothing of the holder.
	Erased bool
}

// Notice is the app notice a change calls for, or "": "ready" for a
// ticket's first pass, "transferred" for a pass of a new holder, "changed"
// for a modification, "cancelled" for a cancellation, nothing for a later
// change of a new holder's pass (the order's app is the seller's: the
// ticket is no longer theirs to hear of), nothing for a scan at the gate
// (the holder is there), for the voiding of a previous holder's pass, or
// for an erasure (the holder's data leaving the pass is not news to tell
// them, and however it was asked for, by the API, the CLI or the
// retention, it tells the app the same: nothing).
func (c Change) Notice() string {
	switch {
	case c.Prev == nil && c.Next.Status == StatusVoided:
		return "" // cancelled before its pass was made (a lapsed option, an exchange): nothing to announce
	case c.Prev == nil && c.Next.HolderGeneration > 0:
		return NoticeTransferred // the ticket went to a new holder
	case c.Prev == nil:
		return NoticeReady
	case c.Superseded, c.Erased, c.Next.Status == StatusUsed, c.Next.HolderGeneration > 0:
		return ""
	case c.Next.Status == StatusVoided && c.Prev.Status != StatusVoided:
		return NoticeCancelled
	}
	return NoticeChanged
}

// FollowUps returns the tasks a new pass version calls for, to be stored in
// the transaction that stores the version (so a crash cannot lose them):
//   - push-pass, for an existing pass: its Apple Wallet devices must hear
//     of the new version (a new pass has no device yet);
//   - app-notice, when the tenant has an app and the change calls for a
//     notice (Change.Notice);
//   - google-sync, for a change of a pass of a tenant with Google Wallet
//     (the task does nothing when Google has no object of the pass), or
//     for a new pass when the tenant inserts objects on payment (then the
//     task inserts it). Whether Google has an object is the task's to
//     read, not the change's: a save link in flight may insert one after
//     the change looked and before it is stored, and its record would
//     then be written too late for the change to see it and too early for
//     the save link to see the change (the object would keep the version
//     before, a cancellation too);
//   - event-fanout, when the tenant announces changes to webhooks; an
//     event-batch of a ticket.scanned and the change's announcement, in
//     this order, when SecuTix's gates made the ticket used (walletpass's
//     gate announces its own scans: Ticket.ScanAnnounced).
//
// A Bulk change has no push-pass or google-sync: the performance's
// push-performance and google-performance tasks follow once for all.
//
// It is a pure function: the same change and policy give the same tasks.
func FollowUps(c Change, pol Policy) []NewTask {
	out, ev := followUps(c, pol)
	if ev != nil {
		out = append(out, TaskOf(*ev, ""))
	}
	return out
}

// followUps is FollowUps with the announcement apart (nil when the tenant
// makes none): an event-wide change gathers its passes' announcements
// into one event-batch task instead of a task each.
func followUps(c Change, pol Policy) ([]NewTask, *EventArgs) {
	p := c.Next
	var out []NewTask
	if c.Prev != nil && !c.Bulk {
		out = append(out, TaskOf(PushArgs{Tenant: p.Tenant, PassTypeID: p.PassTypeID, Serial: p.SerialNumber}, ""))
	}
	if n := c.Notice(); n != "" && pol.AppNotices {
		out = append(out, TaskOf(AppNoticeArgs{Tenant: p.Tenant, SecretToken: p.SecretToken, FileID: p.FileID, Event: n,
			ID:        p.SerialNumber + "." + strconv.Itoa(p.Version),
			EventName: p.Ticket.Event.Name}, ""))
	}
	if pol.Google && (c.Prev != nil || pol.GoogleOnPayment) && !c.Bulk {
		out = append(out, TaskOf(GoogleArgs{Tenant: p.Tenant, Serial: p.SerialNumber, Insert: pol.GoogleOnPayment}, ""))
	}
	if pol.Events {
		var scanned *EventArgs
		if c.Prev != nil && c.Prev.Status != StatusUsed && p.Status == StatusUsed && !p.Ticket.ScanAnnounced {
			// SecuTix's gates scanned it: the scan is announced as our
			// gate's are, before the pass's new version.
			sc := PassEvent(p, EventTicketScanned, MadeAt(p), "")
			scanned = &sc
		}
		typ := EventPassUpdated
		switch {
		case c.Prev == nil:
			typ = EventPassCreated
		case p.Status == StatusVoided && c.Prev.Status != StatusVoided:
			typ = EventPassVoided
		}
		ev := PassEvent(p, typ, MadeAt(p), "")
		if scanned != nil {
			// One task fans both out, in this order (two tasks may run
			// in either order, and the later event's message could go
			// out before the earlier one's exists).
			return append(out, TaskOf(EventBatchArgs{Tenant: p.Tenant, Events: []EventArgs{*scanned, ev}}, "")), nil
		}
		return out, &ev
	}
	return out, nil
}

// MadeAt is when p's version was made: its update tag's time. Its
// UpdatedAt, the pass's Last-Modified, may be up to a second later (a
// version made in the second of the one before is modified in the next):
// the tasks that follow the version are due at once, not then.
func MadeAt(p *Pass) time.Time {
	if p.UpdateTag > 0 {
		return time.UnixMilli(p.UpdateTag).UTC()
	}
	return p.UpdatedAt
}

// PassEvent is the announcement of typ about p: the pass's identifiers,
// and the scan's id for a ticket.scanned (scanID, "" for none). It never
// carries holder data.
func PassEvent(p *Pass, typ string, at time.Time, scanID string) EventArgs {
	raw, _ := json.Marshal(passEventData{FileID: p.FileID, HolderGeneration: p.HolderGeneration, MovementID: p.MovementID,
		OrderID: p.OrderID, PassTypeID: p.PassTypeID, PerformanceID: p.Ticket.Event.PerformanceID, ScanID: scanID,
		SerialNumber: p.SerialNumber, Status: p.Status, TicketID: p.TicketID, Version: p.Version})
	now := time.Now() // the id orders a pass's events as they were made
	if at.IsZero() {
		at = now
	}
	return EventArgs{Tenant: p.Tenant, ID: NewMessageID(now), Type: typ, Stream: p.SerialNumber, At: at, Data: raw}
}

// passEventData is the data of a pass's announcement, its fields in the
// order of their keys (as a map of them marshals).
type passEventData struct {
	FileID           int64  `json:"fileId"`
	HolderGeneration int    `json:"holderGeneration"`
	MovementID       int64  `json:"movementId"`
	OrderID          int64  `json:"orderId"`
	PassTypeID       string `json:"passTypeIdentifier"`
	PerformanceID    int64  `json:"performanceId,omitzero"`
	ScanID           string `json:"scanId,omitzero"`
	SerialNumber     string `json:"serialNumber"`
	Status           Status `json:"status"`
	TicketID         int64  `json:"ticketId"`
	Version          int    `json:"version"`
}

// InstallEvent is the announcement that a pass was added to or removed
// from a wallet (typ EventPassInstalled or EventPassUninstalled).
func InstallEvent(tenant, serial, passTypeID, typ, wallet string, at time.Time) EventArgs {
	raw, _ := json.Marshal(map[string]any{"serialNumber": serial, "passTypeIdentifier": passTypeID, "wallet": wallet})
	return EventArgs{Tenant: tenant, ID: NewMessageID(time.Now()), Type: typ, Stream: serial, At: at, Data: raw}
}

// NewMessageID is a message id that sorts by time: msg_, the time in
// nanoseconds (hex), then random digits. Every id has the same length:
// the fan-outs' places rely on it (an id above another is above it with
// "~" after it too, EventBatchArgs.Place).
func NewMessageID(at time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("msg_%016x%s", uint64(at.UnixNano()), hex.EncodeToString(b[:]))
}
