package pass_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/apple/appletest"
)

// TestErasure: erasing a holder by e-mail signs their passes again
// without name and address, deletes the older files and scrubs the
// timeline; a later sync from SecuTix (which still has the data) keeps
// it out, while a new holder on the ticket is still told apart (a
// transfer); erasing an order does the same for every holder of it; the
// retention erases the orders of events over for the given days.
func TestErasure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Erasures = b.db
	er := &pass.Eraser{Service: b.svc, Store: b.db, Blobs: b.blob, Clock: b.svc.Clock}
	mk := func(movement int64, file int64, name, email string) pass.Ticket {
		tk := apple.SampleTicket(pass.EventConcert)
		tk.Tenant, tk.MovementID, tk.TicketID, tk.FileID = "demo", movement, movement+100, file
		tk.OrderSecretToken = "secret-" + strings.Repeat("x", int(file%7)+1)
		tk.HolderName, tk.HolderEmail = name, email
		return tk
	}
	lea := mk(1, 10, "Léa Favre", "lea@example.ch")
	p1, _, err := b.svc.Apply(ctx, lea, "default")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p1.HolderKey, "h:") || strings.Contains(p1.HolderKey, "lea") {
		t.Errorf("holder key %q: want a hash", p1.HolderKey)
	}
	other := mk(2, 10, "Marc Rochat", "marc@example.ch")
	if _, _, err := b.svc.Apply(ctx, other, "default"); err != nil {
		t.Fatal(err)
	}
	if err := b.db.AddTimeline(ctx, pass.TimelineEntry{Tenant: "demo", SecretToken: lea.OrderSecretToken, FileID: 10, At: time.Now(),
		Kind: "note", Detail: "called LÉA FAVRE about lea@example.ch"}); err != nil {
		t.Fatal(err)
	}

	for _, bad := range []pass.ErasureRequest{{Tenant: "demo"}, {Tenant: "demo", FileID: 10, Email: "lea@example.ch"},
		{Tenant: "demo", Email: "not an address"}, {Tenant: "demo", Email: "Léa <lea@example.ch>"}, {Tenant: "demo", FileID: -1}} {
		_, err := er.Erase(ctx, bad)
		if pass.KindOf(err) != pass.KindInvalid {
			t.Errorf("%+v: %v, want invalid", bad, err)
		} else if bad.Email != "" && bad.FileID == 0 && strings.Contains(err.Error(), "lea@") {
			t.Errorf("the error repeats the address it was given: %v", err) // personal data stays out of errors
		}
	}
	rep, err := er.Erase(ctx, pass.ErasureRequest{Tenant: "demo", Email: "Lea@Example.ch"})
	if err != nil || rep.Passes != 1 || rep.Files != 1 || rep.Timeline != 1 {
		t.Fatalf("erase: %+v %v", rep, err)
	}
	p, err := b.db.GetPass(ctx, "demo", p1.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 2 || p.Ticket.HolderName != "" || p.Ticket.HolderEmail != "" || p.HolderKey != p1.HolderKey {
		t.Errorf("after the erasure: v%d holder %q %q key %q", p.Version, p.Ticket.HolderName, p.Ticket.HolderEmail, p.HolderKey)
	}
	data, err := b.files.PassFile(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if pj := appletest.Verify(t, data, b.wwdr); strings.Contains(string(mustJSON(t, pj)), "Favre") {
		t.Error("the new pass still names the holder")
	}
	if _, err := b.files.PassFile(ctx, p1); !errors.Is(err, pass.ErrNotFound) {
		t.Errorf("the first version's file: %v, want it deleted", err)
	}
	tl, _ := b.db.Timeline(ctx, "demo", lea.OrderSecretToken, 0)
	for _, e := range tl {
		if strings.Contains(strings.ToLower(e.Detail), "favre") || strings.Contains(e.Detail, "lea@") {
			t.Errorf("the timeline keeps %q", e.Detail)
		}
	}
	if m, _ := b.db.GetPass(ctx, "demo", byMovementSerial(t, b, 2)); m.Ticket.HolderName != "Marc Rochat" {
		t.Errorf("the other holder lost their name: %q", m.Ticket.HolderName)
	}

	// SecuTix still has her: a sync keeps her out of the pass.
	lea.Seat.Row = "9"
	p2, changed, err := b.svc.Apply(ctx, lea, "default")
	if err != nil || !changed || p2.Ticket.HolderName != "" || p2.Ticket.Seat.Row != "9" {
		t.Errorf("a later sync: %+v changed=%v %v", p2.Ticket, changed, err)
	}
	// The ticket goes to someone else: still a transfer.
	if !pass.SameHolder(p2.HolderKey, lea) || pass.SameHolder(p2.HolderKey, mk(1, 10, "Paul", "paul@example.ch")) {
		t.Error("the erased pass's holder key no longer tells holders apart")
	}

	// Erasing the order: the other holder too, and it stays erased.
	rep, err = er.Erase(ctx, pass.ErasureRequest{Tenant: "demo", FileID: 10})
	if err != nil || rep.Passes != 1 {
		t.Errorf("erase the order: %+v %v (the first pass holds nothing any more)", rep, err)
	}
	other.Seat.Row = "3"
	if p, _, err := b.svc.Apply(ctx, other, "default"); err != nil || p.Ticket.HolderName != "" {
		t.Errorf("a sync of the erased order: %q %v", p.Ticket.HolderName, err)
	}

	// Retention: an order whose event ended 40 days ago.
	old := mk(3, 20, "Anna Keller", "")
	old.Event.Start = time.Now().Add(-41 * 24 * time.Hour)
	old.Event.End = old.Event.Start.Add(3 * time.Hour)
	if _, _, err := b.svc.Apply(ctx, old, "default"); err != nil {
		t.Fatal(err)
	}
	recent := mk(4, 30, "Tom Meier", "")
	if _, _, err := b.svc.Apply(ctx, recent, "default"); err != nil {
		t.Fatal(err)
	}
	if n, err := er.Retain(ctx, "demo", 30); err != nil || n != 1 {
		t.Fatalf("retention: %d %v", n, err)
	}
	if p, _ := b.db.GetPass(ctx, "demo", byMovementSerial(t, b, 3)); p.Ticket.HolderName != "" {
		t.Errorf("retention kept %q", p.Ticket.HolderName)
	}
	if p, _ := b.db.GetPass(ctx, "demo", byMovementSerial(t, b, 4)); p.Ticket.HolderName != "Tom Meier" {
		t.Errorf("retention erased a coming event's holder")
	}
	if n, err := er.Retain(ctx, "demo", 30); err != nil || n != 0 {
		t.Errorf("retention again: %d %v", n, err)
	}
}

func byMovementSerial(t *testing.T, b bundle, movement int64) string {
	t.Helper()
	p, err := b.db.GetPassByIdentity(context.Background(), "demo", movement, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p.SerialNumber
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
