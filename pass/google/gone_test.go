package google_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/walletobjects/v1"

	fakegoogle "walletpass/fake/google"
	"walletpass/pass"
	"walletpass/pass/google"
)

// objectInserts are the object inserts the fake answered, as status codes.
func objectInserts(b *bundle) []int {
	var out []int
	for _, r := range b.fake.Requests() {
		if r.Method == http.MethodPost && r.Path == "/walletobjects/v1/eventTicketObject" {
			out = append(out, r.Status)
		}
	}
	return out
}

// TestGoneObjectInsertedAgain: the object of a pass the record says was
// inserted is gone from Google (deleted; a development fake reset). The
// next change of the pass inserts it again as a first insert would: the
// pass as it is now, without messages (no phone holds the object), the
// record's notifications kept. A later sync has nothing to send.
func TestGoneObjectInsertedAgain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*pass.Ticket)
		// check looks at the object inserted again.
		check func(t *testing.T, o *walletobjects.EventTicketObject)
	}{
		{
			name:   "new seat",
			change: func(tk *pass.Ticket) { tk.Seat.Row, tk.Seat.Number = "3", "7" },
			check: func(t *testing.T, o *walletobjects.EventTicketObject) {
				if o.State != google.StateActive || o.Barcode == nil || o.Barcode.Value != "BC1" || o.SeatInfo == nil ||
					ls(o.SeatInfo.Row) != "3" || ls(o.SeatInfo.Seat) != "7" {
					t.Errorf("object %+v, want ACTIVE with barcode BC1, row 3, seat 7", o)
				}
			},
		},
		{
			name:   "cancelled",
			change: func(tk *pass.Ticket) { tk.State = pass.TicketCancelled },
			check: func(t *testing.T, o *walletobjects.EventTicketObject) {
				if o.State != google.StateInactive || o.Barcode != nil {
					t.Errorf("object %+v, want INACTIVE without a barcode", o)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			ctx := context.Background()
			p := b.saved(t, ticket(1))
			// A first change notifies the holder: the record counts it.
			p = b.update(t, p, func(tk *pass.Ticket) { tk.Venue.Entrance = "Porte C" })
			b.sync(t, p)
			oid := google.ObjectID(issuerID, "demo", p.SerialNumber)
			if !b.fake.DeleteObject(oid) {
				t.Fatal("the fake had no object to delete")
			}
			b.fake.ClearRequests()

			p = b.update(t, p, tt.change)
			ref := pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}
			if err := b.syncer.Sync(ctx, ref, ""); err != nil {
				t.Fatalf("the sync after Google lost the object: %v", err)
			}
			o := b.object(t, p)
			tt.check(t, o)
			if len(o.Messages) != 0 {
				t.Errorf("the object inserted again has messages %v, want none (as a first insert)", messageIDs(o.Messages))
			}
			if tries := addMessageTries(b); len(tries) > 1 {
				t.Errorf("addMessage calls %v, want at most the one that found the object gone", tries)
			}
			if got := objectInserts(b); !cmp.Equal(got, []int{http.StatusOK}) {
				t.Errorf("object inserts %v, want one, answered 200", got)
			}
			rec, err := b.db.GoogleObject(ctx, "demo", p.SerialNumber)
			if err != nil {
				t.Fatal(err)
			}
			state := b.object(t, p).State
			if rec.Version != p.Version || rec.State != state || len(rec.Notified) != 1 {
				t.Errorf("record: version %d, state %s, %d notifications; want %d, %s and the 1 of the first change",
					rec.Version, rec.State, len(rec.Notified), p.Version, state)
			}
			if n := len(b.fake.ObjectNotifications(oid)); n != 0 {
				t.Errorf("%d notifications of the object inserted again, want none", n)
			}

			b.fake.ClearRequests()
			if err := b.syncer.Sync(ctx, ref, ""); err != nil || len(b.fake.Requests()) != 0 {
				t.Errorf("a second sync: %v, %d requests; want nothing to send", err, len(b.fake.Requests()))
			}
		})
	}
}

// TestGoneObjectExpired: with expireAfterEvent, the expiry's sync of an
// object Google lost inserts it EXPIRED.
func TestGoneObjectExpired(t *testing.T) {
	t.Parallel()
	b := setup(t, func(is *google.Issuer) { is.ExpireAfterEvent = true })
	ctx := context.Background()
	p := b.saved(t, ticket(1))
	if !b.fake.DeleteObject(google.ObjectID(issuerID, "demo", p.SerialNumber)) {
		t.Fatal("the fake had no object to delete")
	}
	queue := &recordingQueue{}
	b.syncer.Queue = queue
	b.clock.add(32 * 24 * time.Hour)
	if n, err := b.syncer.Expire(ctx); err != nil || n != 1 {
		t.Fatalf("Expire: %d, %v; want 1 queued", n, err)
	}
	if err := b.syncer.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}, ""); err != nil {
		t.Fatalf("the expiry's sync: %v", err)
	}
	if o := b.object(t, p); o.State != google.StateExpired || len(o.Messages) != 0 {
		t.Errorf("state %s, %d messages; want EXPIRED, none", o.State, len(o.Messages))
	}
	if n, err := b.syncer.Expire(ctx); err != nil || n != 0 {
		t.Errorf("expired again: %d, %v", n, err)
	}
}

// TestGoneObjectInPerformanceSync: an event-wide change (a new time and
// entrance) reaches an object Google lost: SyncPerformance inserts it
// again, and the class gets its message.
func TestGoneObjectInPerformanceSync(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	p1, p2 := b.create(t, ticket(1)), b.create(t, ticket(2))
	if _, err := b.syncer.SaveURL(ctx, "demo", "secret-order-token", nil, ""); err != nil {
		t.Fatal(err)
	}
	if !b.fake.DeleteObject(google.ObjectID(issuerID, "demo", p1.SerialNumber)) {
		t.Fatal("the fake had no object to delete")
	}
	moved := func(tk *pass.Ticket) { tk.Event.Start = tk.Event.Start.Add(time.Hour); tk.Venue.Entrance = "Porte D" }
	p1, p2 = b.update(t, p1, moved), b.update(t, p2, moved)
	perf := pass.GooglePerformanceArgs{Tenant: "demo", PerformanceID: p1.Ticket.Event.PerformanceID}
	if err := b.syncer.SyncPerformance(ctx, perf, ""); err != nil {
		t.Fatalf("the performance's sync: %v", err)
	}
	o1, o2 := b.object(t, p1), b.object(t, p2)
	if ls(o1.SeatInfo.Gate) != "Porte D" || o1.State != google.StateActive || len(o1.Messages) != 0 {
		t.Errorf("object inserted again: gate %q, state %s, messages %v", ls(o1.SeatInfo.Gate), o1.State, messageIDs(o1.Messages))
	}
	if want := []string{fmt.Sprintf("v%d-gate", p2.Version)}; ls(o2.SeatInfo.Gate) != "Porte D" || !cmp.Equal(messageIDs(o2.Messages), want) {
		t.Errorf("the other object: gate %q, messages %v; want Porte D, %v", ls(o2.SeatInfo.Gate), messageIDs(o2.Messages), want)
	}
	cl := b.class(t, p1)
	if ids := messageIDs(cl.Messages); len(ids) != 1 || !strings.HasPrefix(ids[0], "time-") {
		t.Errorf("class messages %v, want the new time", ids)
	}
}

// TestGoogleForgotEverything: a development fake reset keeps no class and
// no object. A change of a valid pass sends its class again and inserts
// its object; so does one of a cancelled pass whose event is older than
// the class's (the performance moved after the cancellation), and the
// next valid pass's sync then sends the class's newer time, telling no
// one: every holder was told of it before the reset.
func TestGoogleForgotEverything(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	p1, p2 := b.create(t, ticket(1)), b.create(t, ticket(2))
	if _, err := b.syncer.SaveURL(ctx, "demo", "secret-order-token", nil, ""); err != nil {
		t.Fatal(err)
	}
	p2 = b.update(t, p2, func(tk *pass.Ticket) { tk.State = pass.TicketCancelled })
	b.sync(t, p2)
	p1 = b.update(t, p1, func(tk *pass.Ticket) { tk.Event.Start = tk.Event.Start.Add(time.Hour) })
	b.sync(t, p1)
	classID := google.ClassID(issuerID, "demo", p1.Ticket)
	b.fake.Reset()

	p2 = b.update(t, p2, func(tk *pass.Ticket) { tk.HolderName = "" }) // the holder's data erased
	if err := b.syncer.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p2.SerialNumber}, ""); err != nil {
		t.Fatalf("the cancelled pass's sync: %v", err)
	}
	if o := b.object(t, p2); o.State != google.StateInactive || o.Barcode != nil || len(o.Messages) != 0 {
		t.Errorf("cancelled pass: state %s, barcode %v, messages %v", o.State, o.Barcode, messageIDs(o.Messages))
	}
	p1 = b.update(t, p1, func(tk *pass.Ticket) { tk.Seat.Number = "15" })
	if err := b.syncer.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p1.SerialNumber}, ""); err != nil {
		t.Fatalf("the valid pass's sync: %v", err)
	}
	if o := b.object(t, p1); o.State != google.StateActive || ls(o.SeatInfo.Seat) != "15" || len(o.Messages) != 0 {
		t.Errorf("valid pass: state %s, seat %q, messages %v", o.State, ls(o.SeatInfo.Seat), messageIDs(o.Messages))
	}
	cl, ok := b.fake.EventTicketClass(classID)
	if !ok {
		t.Fatal("the class was not sent again")
	}
	if want := "2026-06-01T21:00:00+02:00"; cl.DateTime.Start != want || len(cl.Messages) != 0 {
		t.Errorf("class: start %s, messages %v; want %s, none", cl.DateTime.Start, messageIDs(cl.Messages), want)
	}
}

// TestIssuerChanged: the tenant's issuerId changes (a test issuer's for
// the production one), so every id does. An unchanged pass's save link
// inserts its object under the new issuer (its class first), without
// messages; a change after it is a patch, with its message.
func TestIssuerChanged(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	p := b.create(t, ticket(1))
	p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Number = "15" })
	if _, err := b.syncer.SaveURL(ctx, "demo", "secret-order-token", nil, ""); err != nil {
		t.Fatal(err)
	}

	const production = "3388000000099999999"
	prod := fakegoogle.NewServer(fakegoogle.Options{IssuerID: production, RequireAuth: true,
		ServiceAccountEmail: b.sa.Email, ServiceAccountPublicKey: &b.sa.Key.PublicKey})
	t.Cleanup(prod.Close)
	sa := *b.sa
	sa.TokenURI = prod.TokenURL()
	api, err := google.NewClient(google.ClientConfig{Endpoint: prod.URL + "/", Account: &sa})
	if err != nil {
		t.Fatal(err)
	}
	b.issuer.IssuerID = production
	b.syncer.Tenants["demo"].API = api

	u, err := b.syncer.SaveURL(ctx, "demo", "secret-order-token", nil, "")
	if err != nil {
		t.Fatalf("the save link under the new issuer: %v", err)
	}
	oid := google.ObjectID(production, "demo", p.SerialNumber)
	_, claims := decodeJWT(t, strings.TrimPrefix(u, google.DefaultSaveURL), &b.sa.Key.PublicKey)
	if diff := cmp.Diff([]google.ObjectRef{{ID: oid}}, claims.Payload.EventTicketObjects); diff != "" {
		t.Errorf("objects in the link (-want +got):\n%s", diff)
	}
	o, ok := prod.EventTicketObject(oid)
	if !ok {
		t.Fatal("no object under the new issuer")
	}
	if o.State != google.StateActive || ls(o.SeatInfo.Seat) != "15" || len(o.Messages) != 0 {
		t.Errorf("object under the new issuer: state %s, seat %q, messages %v", o.State, ls(o.SeatInfo.Seat), messageIDs(o.Messages))
	}

	p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Number = "16" })
	b.sync(t, p)
	o, _ = prod.EventTicketObject(oid)
	if want := []string{fmt.Sprintf("v%d-seat", p.Version)}; ls(o.SeatInfo.Seat) != "16" || !cmp.Equal(messageIDs(o.Messages), want) {
		t.Errorf("after a new seat: seat %q, messages %v; want 16, %v", ls(o.SeatInfo.Seat), messageIDs(o.Messages), want)
	}
}

// recordMovesOn is a Google store on which another sync changes a class's
// record (a moved performance) after this sync's first read of it.
type recordMovesOn struct {
	pass.GoogleStore
	reads atomic.Int32
}

func (r *recordMovesOn) GoogleClass(ctx context.Context, tenant, classID string) (*pass.GoogleClass, error) {
	c, err := r.GoogleStore.GoogleClass(ctx, tenant, classID)
	if err == nil && r.reads.Add(1) > 1 {
		moved := *c
		moved.Hash = "another sync's class"
		return &moved, nil
	}
	return c, err
}

// TestClassSentAgainOnlyAsRecorded: Google lost the class and the object;
// the sync of a changed seat sends them again, and finds the class's
// record changed by another sync since it read its pass. It does not send
// its class, older than the record's (the holders would see the
// performance's old time): it is retried.
func TestClassSentAgainOnlyAsRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	p := b.saved(t, ticket(1))
	classID := google.ClassID(issuerID, "demo", p.Ticket)
	b.fake.Reset()
	p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Number = "15" })
	b.syncer.Store = &recordMovesOn{GoogleStore: b.db}
	err := b.syncer.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}, "")
	if pass.KindOf(err) != pass.KindUnavailable {
		t.Errorf("the sync: %v, want it retried (unavailable)", err)
	}
	if _, ok := b.fake.EventTicketClass(classID); ok {
		t.Error("the older class was sent again over the record's")
	}
}
