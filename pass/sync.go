package pass

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Syncer brings every pass of an order in line with SecuTix: it fetches the
// order (the truth; webhooks are hints), applies the ticket states only
// webhooks carry, follows holders across transfers and records the order's
// timeline.
type Syncer struct {
	Orders   OrderSource
	Service  *Service
	Hints    HintReader
	Timeline Timeline
	// Templates says how each tenant's tickets get their template.
	Templates map[string]TemplateChoice
	Log       *slog.Logger
	Clock     Clock
}

// HintReader reads the ticket states only webhooks carry.
type HintReader interface {
	// Hints returns the ticket hints of an order.
	Hints(ctx context.Context, tenant, secretToken string) ([]TicketHint, error)
}

// SyncResult says what a sync did.
type SyncResult struct {
	Order   *Order
	Changed []*Pass
}

// Work runs a sync-order task (see workers.Worker).
func (s *Syncer) Work(ctx context.Context, ref OrderRef, correlationID string) error {
	_, err := s.SyncOrder(ctx, ref, correlationID)
	return err
}

// SyncOrder fetches the order ref names and updates its passes. Errors keep
// their kind: KindUnavailable (retry later), KindNotFound, KindInvalid.
func (s *Syncer) SyncOrder(ctx context.Context, ref OrderRef, correlationID string) (SyncResult, error) {
	var (
		o   *Order
		err error
	)
	// When SecuTix is read (the worker's run carries a mark; a sync
	// called inline gets its own): the tickets carry it (Ticket.ReadAt).
	mark := ReadMarkOf(ctx)
	if mark == nil {
		ctx, mark = WithReadMark(ctx)
	}
	ds, canMap := s.Orders.(DetailsSource)
	switch {
	case len(ref.Details) > 0 && canMap:
		o, err = ds.OrderFromDetails(ctx, ref.Tenant, ref.Details)
		if errors.Is(err, ErrDetailsUnreadable) && (ref.SecretToken != "" || ref.OrderID != 0) {
			// The body is not an order (SecuTix's webhook carried one the
			// mapping cannot read): the order is read from SecuTix.
			s.timeline(ctx, ref.Tenant, ref.SecretToken, ref.FileID, "warning", correlationID,
				"the order webhook's body could not be read ("+err.Error()+"); the order is read from SecuTix")
			if ref.SecretToken != "" {
				o, err = s.Orders.OrderBySecret(ctx, ref.Tenant, ref.SecretToken)
			} else {
				o, err = s.Orders.OrderByOrderID(ctx, ref.Tenant, ref.OrderID)
			}
			break
		}
		if err == nil && s.revives(ctx, ref.Tenant, o) {
			// The body would bring a cancelled ticket back: a webhook sent
			// again late, or retried after the refund. SecuTix decides.
			s.timeline(ctx, ref.Tenant, o.SecretToken, o.FileID, "warning", correlationID,
				"the order webhook's body shows a cancelled ticket valid: it is older than what walletpass has; the order is read from SecuTix")
			if o.FileID != 0 {
				o, err = s.Orders.OrderByFileID(ctx, ref.Tenant, o.FileID)
			} else {
				o, err = s.Orders.OrderBySecret(ctx, ref.Tenant, o.SecretToken)
			}
		}
	case ref.SecretToken != "":
		o, err = s.Orders.OrderBySecret(ctx, ref.Tenant, ref.SecretToken)
	case ref.FileID != 0:
		o, err = s.Orders.OrderByFileID(ctx, ref.Tenant, ref.FileID)
	case ref.OrderID != 0:
		o, err = s.Orders.OrderByOrderID(ctx, ref.Tenant, ref.OrderID)
	default:
		return SyncResult{}, Errorf(KindInvalid, "sync: the order reference is empty")
	}
	if err != nil {
		// An order SecuTix does not know gets no timeline: the reference
		// may be a caller's invention, and nothing is written for it.
		if KindOf(err) != KindNotFound {
			s.timeline(ctx, ref.Tenant, ref.SecretToken, ref.FileID, "error", correlationID, "fetch from SecuTix: "+err.Error())
		}
		return SyncResult{}, err
	}
	if len(ref.Details) > 0 {
		// A body SecuTix sent after the order's erasure (a refund's
		// webhook) holds the names again: it leaves the order's tasks, as
		// the erasure's did, whatever this sync comes to (a retry reads
		// the order from SecuTix).
		if err := s.forgetErasedBody(ctx, ref.Tenant, o); err != nil {
			return SyncResult{}, err
		}
	}
	res := SyncResult{Order: o}
	tl := &timelineBatch{}
	defer s.flush(ctx, ref.Tenant, tl)
	// The hints of every order of the file: a ticket of a second order
	// (an exchange, a later sale) is scanned or voided under its own
	// order's secret.
	var hints []TicketHint
	secrets := []string{o.SecretToken}
	for _, t := range o.Tickets {
		if t.OrderSecretToken != "" && !slices.Contains(secrets, t.OrderSecretToken) {
			secrets = append(secrets, t.OrderSecretToken)
		}
	}
	for _, secret := range secrets {
		hs, err := s.Hints.Hints(ctx, ref.Tenant, secret)
		if err != nil {
			return res, err
		}
		hints = append(hints, hs...)
	}
	used := map[string]time.Time{}
	atGate := map[string]bool{} // scans walletpass's gate announced
	voided := map[string]bool{}
	for _, h := range hints {
		if IsUsedState(h.State) {
			used[h.Ref] = h.LastUpdate
			atGate[h.Ref] = h.Source == ScanSourceGate
		}
		if h.State == StateVoidedByOperator {
			voided[h.Ref] = true
		}
	}
	tl.add(s.entry(ref.Tenant, o.SecretToken, o.FileID, "sync-started", correlationID,
		fmt.Sprintf("%d tickets from %s", len(o.Tickets), cmp.Or(o.Source, "SecuTix"))))
	if o.Answer != "" {
		tl.add(s.entry(ref.Tenant, o.SecretToken, o.FileID, TimelineSecuTixAnswer, correlationID, o.Answer))
	}
	for _, w := range o.Warnings {
		tl.add(s.entry(ref.Tenant, o.SecretToken, o.FileID, "warning", correlationID, w))
		if s.Log != nil {
			s.Log.WarnContext(ctx, "secutix", slog.String("tenant", ref.Tenant), slog.Int64("fileId", o.FileID), slog.String("warning", w))
		}
	}
	choice := s.Templates[ref.Tenant]
	readAt := mark.At()
	var errs []error
	for _, t := range o.Tickets {
		t.Tenant = ref.Tenant
		t.ReadAt = readAt
		if t.OrderSecretToken == "" {
			t.OrderSecretToken = o.SecretToken
		}
		if voided["v:"+strconv.FormatInt(t.TicketID, 10)] {
			t.State = TicketCancelled
		}
		if t.MultiEvent() && t.State == TicketUsed {
			// An entry to one of a season ticket's events (SecuTix's
			// control or our gate's) leaves it good for the others: the
			// gate tells entries to the same event apart (SameOccasion).
			t.State = TicketValid
		}
		tRef, mRef := "t:"+strconv.FormatInt(t.TicketID, 10), "m:"+strconv.FormatInt(t.MovementID, 10)
		at, hinted := used[tRef]
		if !hinted {
			at, hinted = used[mRef]
		}
		if hinted && !t.MultiEvent() && (t.State == TicketValid || t.State == TicketUsed) {
			t.State, t.UsedAt = TicketUsed, at
		}
		t.ScanAnnounced = atGate[tRef] || (t.TicketID == 0 && atGate[mRef])
		changed, err := s.applyTicket(ctx, t, choice, correlationID, tl)
		if err != nil {
			errs = append(errs, fmt.Errorf("movement %d: %w", t.MovementID, err))
			continue
		}
		res.Changed = append(res.Changed, changed...)
	}
	detail := fmt.Sprintf("%d pass versions", len(res.Changed))
	if len(errs) > 0 {
		err := errors.Join(errs...)
		tl.add(s.entry(ref.Tenant, o.SecretToken, o.FileID, "error", correlationID, err.Error()))
		return res, err
	}
	tl.add(s.entry(ref.Tenant, o.SecretToken, o.FileID, "sync-finished", correlationID, detail))
	return res, nil
}

// forgetErasedBody removes the order SecuTix sent whole from o's tasks
// when o's holder data was erased (the order, or a holder of it).
func (s *Syncer) forgetErasedBody(ctx context.Context, tenant string, o *Order) error {
	st := s.Service.Erasures
	if st == nil {
		return nil
	}
	var subjects []string
	if o.FileID != 0 {
		subjects = append(subjects, ErasureSubject(o.FileID, ""))
	}
	for _, t := range o.Tickets {
		if t.HolderEmail != "" {
			subjects = append(subjects, ErasureSubject(0, t.HolderEmail))
		}
	}
	if len(subjects) == 0 {
		return nil
	}
	erased, err := st.Erased(ctx, tenant, subjects...)
	if err != nil || !erased {
		return err
	}
	return st.ForgetOrderPayloads(ctx, OrderRef{Tenant: tenant, SecretToken: o.SecretToken, FileID: o.FileID, OrderID: o.OrderID})
}

// TimelineVoidOnly is the kind of the timeline entry of a VoidOnly ticket
// skipped: its movement has no pass to void.
const TimelineVoidOnly = "void-only"

// ReadSkew is how much later than another a read of SecuTix must be to
// count as later: the instances' clocks, which stamp them, may differ by
// that much.
const ReadSkew = 200 * time.Millisecond

// ReadLater reports whether stored was made from a read of SecuTix later
// than t's (by more than ReadSkew): t is then older than what the pass
// shows, and must not replace it. A ticket of unknown read is never
// older.
func ReadLater(stored, t Ticket) bool {
	return !t.ReadAt.IsZero() && stored.ReadAt.After(t.ReadAt.Add(ReadSkew))
}

// revives reports whether o shows valid (or used) a ticket whose pass is
// voided: SecuTix never brings a cancelled ticket back (a reissue is a
// new ticket), so such an order is older than what walletpass has.
func (s *Syncer) revives(ctx context.Context, tenant string, o *Order) bool {
	for _, t := range o.Tickets {
		if t.State == TicketCancelled {
			continue
		}
		latest, err := s.Service.Passes.LatestPassForMovement(ctx, tenant, t.MovementID)
		if err == nil && latest.Status == StatusVoided && latest.TicketID == t.TicketID {
			return true
		}
	}
	return false
}

// applyTicket creates or updates the pass of t, following holders: a new
// holder voids the previous holder's pass and gets a new one. A new name
// on the same ticket (the same ticket id) is a correction of the holder's
// name, not a new holder: a ticket passed on is reissued, so that the
// seller's barcode stops working.
//
// A VoidOnly ticket makes no pass: with none for its movement it is
// skipped (a timeline note says so), and it voids the movement's latest
// pass whoever that shows (no new holder's pass is made for it). An
// EventUnknown ticket shows the Event its pass already shows, not its
// stand-in.
func (s *Syncer) applyTicket(ctx context.Context, t Ticket, choice TemplateChoice, correlationID string, tl *timelineBatch) ([]*Pass, error) {
	var changed []*Pass
	// A new pass (a new ticket, or a new holder's) gets the template its
	// ticket's rule chooses; an existing one keeps its own.
	tpl, why := choice.Choose(t)
	chosen := true
	latest, err := s.Service.Passes.LatestPassForMovement(ctx, t.Tenant, t.MovementID)
	switch {
	case errors.Is(err, ErrNotFound) && t.VoidOnly:
		tl.addVoidOnly(s.entry(t.Tenant, t.OrderSecretToken, t.FileID, TimelineVoidOnly, correlationID, fmt.Sprintf(
			"movement %d: cancelled, and no pass was made of it; none is made", t.MovementID)))
		return nil, nil
	case errors.Is(err, ErrNotFound):
		t.HolderGeneration = 0
	case err != nil:
		return nil, err
	case ReadLater(latest.Ticket, t):
		// Another sync read SecuTix after this one did and has written
		// the ticket's pass: what this one read is older (a void, a
		// transfer it does not know of yet), and is left out.
		tl.add(s.entry(t.Tenant, t.OrderSecretToken, t.FileID, "stale-read", correlationID, fmt.Sprintf(
			"movement %d: SecuTix was read at %s for this sync, and at %s for the pass's version %d; this sync leaves it alone",
			t.MovementID, t.ReadAt.UTC().Format(time.RFC3339Nano), latest.Ticket.ReadAt.UTC().Format(time.RFC3339Nano), latest.Version)))
		return nil, nil
	default:
		if t.EventUnknown {
			// The mapping could not date the ticket but by a stand-in:
			// the pass keeps the event it shows (and its performance,
			// which Google Wallet's class follows).
			t.Event = latest.Ticket.Event
		}
		if t.VoidOnly && !SameHolder(latest.HolderKey, t) {
			// It voids the pass there is; it is no new holder's.
			t.HolderName, t.HolderEmail = latest.Ticket.HolderName, latest.Ticket.HolderEmail
		}
		t.HolderGeneration = latest.HolderGeneration
		corrected := t.TicketID != 0 && t.TicketID == latest.TicketID
		if HolderKey(t) != "" && latest.HolderKey != "" && !SameHolder(latest.HolderKey, t) && !corrected {
			if latest.Status != StatusVoided {
				old := latest.Ticket
				old.State = TicketCancelled
				if !t.ReadAt.IsZero() {
					old.ReadAt = t.ReadAt // the void is this read's
				}
				p, ch, err := s.Service.Supersede(ctx, old, latest.Template)
				if err != nil {
					return nil, fmt.Errorf("void the previous holder's pass: %w", err)
				}
				if ch {
					changed = append(changed, p)
					s.passChanged(p, correlationID, "pass-voided", "previous holder", tl)
				}
			}
			t.HolderGeneration = latest.HolderGeneration + 1
		}
		if latest.Template != "" && t.HolderGeneration == latest.HolderGeneration {
			tpl, chosen = latest.Template, false
		}
	}
	p, ch, err := s.Service.Apply(ctx, t, tpl)
	if err != nil {
		return changed, err
	}
	if ch {
		changed = append(changed, p)
		note := ""
		if chosen && p.Version == 1 {
			note = "template " + tpl + ", chosen by " + why
		}
		s.passChanged(p, correlationID, "pass-version", note, tl)
	}
	return changed, nil
}

func (s *Syncer) passChanged(p *Pass, correlationID, kind, note string, tl *timelineBatch) {
	detail := fmt.Sprintf("serial=%s movement=%d generation=%d version=%d status=%s", p.SerialNumber, p.MovementID,
		p.HolderGeneration, p.Version, p.Status)
	if note != "" {
		detail += " (" + note + ")"
	}
	tl.add(s.entry(p.Tenant, p.SecretToken, p.FileID, kind, correlationID, detail))
}

// timelineBatch collects a sync's timeline entries, written together.
type timelineBatch struct {
	entries  []TimelineEntry
	voidOnly int // the void-only notes added, of which maxVoidOnlyNotes are kept
}

func (b *timelineBatch) add(e TimelineEntry) { b.entries = append(b.entries, e) }

// maxVoidOnlyNotes caps the void-only notes of one sync (a group order of
// cancelled parking lines would write one per line at every sync); one
// more note counts the others.
const maxVoidOnlyNotes = 20

// addVoidOnly adds a void-only note, within maxVoidOnlyNotes.
func (b *timelineBatch) addVoidOnly(e TimelineEntry) {
	b.voidOnly++
	switch {
	case b.voidOnly <= maxVoidOnlyNotes:
		b.add(e)
	case b.voidOnly == maxVoidOnlyNotes+1:
		e.Detail = "more cancelled movements without a pass; none is made (not each named)"
		b.add(e)
	}
}

func (s *Syncer) entry(tenant, secret string, fileID int64, kind, correlationID, detail string) TimelineEntry {
	return TimelineEntry{Tenant: tenant, SecretToken: secret, FileID: fileID, At: s.Clock.Now(), Kind: kind,
		CorrelationID: correlationID, Detail: detail}
}

func (s *Syncer) timeline(ctx context.Context, tenant, secret string, fileID int64, kind, correlationID, detail string) {
	s.flush(ctx, tenant, &timelineBatch{entries: []TimelineEntry{s.entry(tenant, secret, fileID, kind, correlationID, detail)}})
}

// flush writes the batch in one transaction; the timeline is for
// operators, so a failure is logged, not returned.
func (s *Syncer) flush(ctx context.Context, tenant string, b *timelineBatch) {
	if s.Timeline == nil || len(b.entries) == 0 {
		return
	}
	if err := s.Timeline.AddTimeline(context.WithoutCancel(ctx), b.entries...); err != nil && s.Log != nil {
		s.Log.WarnContext(ctx, "timeline", slog.String("tenant", tenant), slog.Any("error", err))
	}
}

// IsUsedState reports whether a webhook state means the ticket was scanned.
func IsUsedState(state string) bool {
	switch strings.ToUpper(state) {
	case "VALIDATED", "CONTROLLED", "USED":
		return true
	}
	return false
}
