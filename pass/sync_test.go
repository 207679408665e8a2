package pass_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/pass/apple"
)

// syncOnce syncs the demo order o once.
func syncOnce(t *testing.T, b bundle, o pass.Order, correlationID string) pass.SyncResult {
	t.Helper()
	res, err := staticSyncer(b, o).SyncOrder(context.Background(), pass.OrderRef{Tenant: "demo", SecretToken: o.SecretToken}, correlationID)
	if err != nil {
		t.Fatalf("sync %s: %v", correlationID, err)
	}
	return res
}

// orderOf is the demo order of tickets.
func orderOf(tks ...pass.Ticket) pass.Order {
	return pass.Order{Tenant: "demo", FileID: tks[0].FileID, OrderID: tks[0].OrderID, SecretToken: tks[0].OrderSecretToken, Tickets: tks}
}

// standIn is tk cancelled as the SecuTix mapping gives a ticket whose
// performance the catalogue no longer holds: VoidOnly, dated by its
// order's time, without its performance or time zone (EventUnknown).
func standIn(tk pass.Ticket) pass.Ticket {
	tk.State = pass.TicketCancelled
	tk.VoidOnly, tk.EventUnknown = true, true
	tk.Event.PerformanceID, tk.Event.TimeZone = 0, ""
	tk.Event.Start, tk.Event.End, tk.Event.Doors = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), time.Time{}, time.Time{}
	return tk
}

// TestVoidOnlyMakesNoPass: a VoidOnly ticket (a cancelled parking line, a
// cancelled hold, a cancellation dated by a stand-in) voids a pass made of
// its movement earlier and makes none: with no pass for its movement, the
// sync skips it, with a timeline note. Before, it was made a voided pass.
func TestVoidOnlyMakesNoPass(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	res := syncOnce(t, b, orderOf(standIn(tk)), "c1")
	if len(res.Changed) != 0 {
		t.Errorf("%d pass versions, want none", len(res.Changed))
	}
	if p, err := b.db.LatestPassForMovement(ctx, "demo", tk.MovementID); err == nil {
		t.Fatalf("the movement has pass %s (%s), want none", p.SerialNumber, p.Status)
	}
	tl, err := b.db.Timeline(ctx, "demo", tk.OrderSecretToken, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range tl {
		found = found || (e.Kind == pass.TimelineVoidOnly && strings.Contains(e.Detail, "no pass was made of it"))
	}
	if !found {
		t.Errorf("no %s entry on the timeline: %+v", pass.TimelineVoidOnly, tl)
	}
}

// TestVoidOnlyVoidsThePass: a VoidOnly ticket voids its movement's pass:
// with a stand-in event (EventUnknown) the voided pass keeps the event it
// showed (its date, performance and time zone: its Google Wallet class
// follows the performance), and a holder other than the pass's, on the
// same ticket or another, is no new holder (the pass there is is voided
// as it is, and no pass is made for the other). Before, the pass was
// re-rendered with the stand-in date and without its performance, and a
// holder other than the pass's was shown on it, or got a pass of its own.
func TestVoidOnlyVoidsThePass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		ticketID int64 // added to the pass's
	}{{"the same ticket", 0}, {"another ticket", 5}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t)
			tk := apple.SampleTicket(pass.EventConcert)
			tk.Event.PerformanceID = 77
			syncOnce(t, b, orderOf(tk), "made")
			made, err := b.db.LatestPassForMovement(ctx, "demo", tk.MovementID)
			if err != nil {
				t.Fatal(err)
			}
			void := standIn(tk)
			void.HolderName, void.TicketID = "Somebody Else", tk.TicketID+tc.ticketID
			syncOnce(t, b, orderOf(void), "voided")
			p, err := b.db.LatestPassForMovement(ctx, "demo", tk.MovementID)
			if err != nil {
				t.Fatal(err)
			}
			if p.SerialNumber != made.SerialNumber || p.HolderGeneration != 0 || p.Status != pass.StatusVoided || p.Version != 2 {
				t.Fatalf("pass %s generation %d v%d %s, want %s generation 0 v2 voided", p.SerialNumber, p.HolderGeneration, p.Version, p.Status, made.SerialNumber)
			}
			if e, want := p.Ticket.Event, made.Ticket.Event; e.PerformanceID != 77 || e.TimeZone != want.TimeZone || !e.Start.Equal(want.Start) ||
				!e.End.Equal(want.End) || !e.Doors.Equal(want.Doors) {
				t.Errorf("the voided pass shows %+v, want what it showed: %+v", e, want)
			}
			if p.Ticket.HolderName != tk.HolderName {
				t.Errorf("the voided pass names %q, want %q", p.Ticket.HolderName, tk.HolderName)
			}
		})
	}
}

// TestReissueAfterVoid: the pass of a ticket voided because a reprint
// replaced it (SecuTix's ticket 101 cancelled, 102 not printed yet: the
// mapping's VoidOnly ticket 101) becomes valid again, on the same pass
// (its serial, its holder generation), when a later sync finds ticket
// 102 printed for the same holder: a new ticket id on the same movement
// is no revival of the cancelled ticket (Syncer.revives compares ticket
// ids), and the same holder is no transfer.
func TestReissueAfterVoid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	syncOnce(t, b, orderOf(tk), "101")
	old := tk
	old.State, old.VoidOnly = pass.TicketCancelled, true
	syncOnce(t, b, orderOf(old), "101 cancelled")
	voided, err := b.db.LatestPassForMovement(ctx, "demo", tk.MovementID)
	if err != nil || voided.Status != pass.StatusVoided {
		t.Fatalf("after the cancellation: %+v, %v; want the pass voided", voided, err)
	}
	reprint := tk
	reprint.TicketID, reprint.Barcode = tk.TicketID+1, "REPRINTED-102"
	syncOnce(t, b, orderOf(reprint), "102 printed")
	p, err := b.db.LatestPassForMovement(ctx, "demo", tk.MovementID)
	if err != nil {
		t.Fatal(err)
	}
	if p.SerialNumber != voided.SerialNumber || p.HolderGeneration != 0 || p.Status != pass.StatusActive || p.TicketID != reprint.TicketID ||
		p.Ticket.Barcode != reprint.Barcode {
		t.Errorf("pass %s generation %d %s ticket %d barcode %q; want %s generation 0 active with ticket %d, barcode %q",
			p.SerialNumber, p.HolderGeneration, p.Status, p.TicketID, p.Ticket.Barcode, voided.SerialNumber, reprint.TicketID, reprint.Barcode)
	}
}

// TestTicketFlagsNotStored: VoidOnly and EventUnknown are the mapping's
// word to the sync: a ticket's JSON (a pass's stored ticket) and its
// validation are the same with them or without, and a ticket document
// that names them is refused as one with unknown fields.
func TestTicketFlagsNotStored(t *testing.T) {
	t.Parallel()
	tk := apple.SampleTicket(pass.EventConcert)
	flagged := tk
	flagged.VoidOnly, flagged.EventUnknown = true, true
	plain, err := json.Marshal(tk)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(flagged)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Errorf("the flags reach the JSON:\n%s\nwant\n%s", got, plain)
	}
	if err := flagged.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	flagged.Event.Start = time.Time{}
	if err := flagged.Validate(); err == nil {
		t.Errorf("Validate of a flagged ticket without a start: nil, want the usual error")
	}
	doc := bytes.Replace(plain, []byte(`{`), []byte(`{"VoidOnly":true,`), 1)
	if _, err := pass.ParseTicket(doc); pass.KindOf(err) != pass.KindInvalid {
		t.Errorf("ParseTicket of %s: %v, want an invalid document", doc[:40], err)
	}
}

// TestVoidOnlyNotesCapped: a group order of cancelled movements without
// passes writes a capped number of void-only notes per sync.
func TestVoidOnlyNotesCapped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	var many []pass.Ticket
	for i := range 30 {
		c := apple.SampleTicket(pass.EventConcert)
		c.MovementID, c.TicketID, c.Barcode = 9000+int64(i), 9500+int64(i), ""
		c.OrderSecretToken = "groupOrderSecret"
		c.State, c.VoidOnly = pass.TicketCancelled, true
		many = append(many, c)
	}
	syncOnce(t, b, orderOf(many...), "c3")
	tl, err := b.db.Timeline(ctx, "demo", "groupOrderSecret", 0)
	if err != nil {
		t.Fatal(err)
	}
	notes := 0
	for _, e := range tl {
		if e.Kind == pass.TimelineVoidOnly {
			notes++
		}
	}
	if notes != 21 {
		t.Errorf("%d void-only notes for 30 cancelled movements, want 20 and one that counts the rest", notes)
	}
}

// unreadableDetails is an order source whose order webhook bodies cannot
// be read (OrderFromDetails: KindInvalid); the order itself is read from
// SecuTix.
type unreadableDetails struct {
	staticOrders
	fetched int
	// mapping: the details are an order the mapping refuses (another
	// KindInvalid), which reading it again from SecuTix cannot change.
	mapping bool
}

func (u *unreadableDetails) OrderBySecret(ctx context.Context, tenant, secret string) (*pass.Order, error) {
	u.fetched++
	return u.staticOrders.OrderBySecret(ctx, tenant, secret)
}

func (u *unreadableDetails) OrderFromDetails(context.Context, string, []byte) (*pass.Order, error) {
	if u.mapping {
		return nil, pass.Errorf(pass.KindInvalid, "secutix: no ticket of the order maps")
	}
	return nil, fmt.Errorf("secutix: %w: movementDatas is not a list", pass.ErrDetailsUnreadable)
}

// TestUnreadableWebhookBodyIsFetched: an order webhook whose body cannot
// be read as an order (it never will be) makes the sync read the order
// from SecuTix, with a warning on its timeline, instead of failing for
// good.
func TestUnreadableWebhookBodyIsFetched(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant = "demo"
	o := pass.Order{Tenant: "demo", FileID: tk.FileID, OrderID: tk.OrderID, SecretToken: tk.OrderSecretToken, Tickets: []pass.Ticket{tk}}
	src := &unreadableDetails{staticOrders: staticOrders{o}}
	s := staticSyncer(b, o)
	s.Orders = src
	res, err := s.SyncOrder(ctx, pass.OrderRef{Tenant: "demo", SecretToken: tk.OrderSecretToken, Details: []byte(`{"orderDetailsData":{"orderId":1,"movementDatas":0}}`)}, "v2")
	if err != nil || len(res.Changed) != 1 || src.fetched != 1 {
		t.Fatalf("sync: %d changed, %d fetched, %v; want the order read from SecuTix", len(res.Changed), src.fetched, err)
	}
	tl, err := b.db.Timeline(ctx, "demo", tk.OrderSecretToken, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range tl {
		found = found || (e.Kind == "warning" && strings.Contains(e.Detail, "could not be read"))
	}
	if !found {
		t.Errorf("no warning on the timeline: %+v", tl)
	}
	// Details the mapping refuses are not read again from SecuTix.
	refused := &unreadableDetails{staticOrders: staticOrders{o}, mapping: true}
	s.Orders = refused
	if _, err := s.SyncOrder(ctx, pass.OrderRef{Tenant: "demo", SecretToken: tk.OrderSecretToken, Details: []byte(`{"orderDetailsData":{"orderId":1}}`)}, "v2"); pass.KindOf(err) != pass.KindInvalid || refused.fetched != 0 {
		t.Errorf("details the mapping refuses: %v, %d fetches; want the refusal and none", err, refused.fetched)
	}
}
