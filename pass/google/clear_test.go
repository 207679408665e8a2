package google_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/walletobjects/v1"

	"walletpass/pass"
	"walletpass/pass/google"
)

// Google merges a PATCH into what it holds, nested objects too, and
// clears only what is sent as null (the fake does the same). These tests
// show that what a pass or its class no longer has is gone at Google
// after a sync, not left over from an earlier version.

// TestReseatToStandingClearsRowAndSeat: a ticket moved from section A,
// row 3, seat 12 to a standing area keeps no row or seat at Google.
func TestReseatToStandingClearsRowAndSeat(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tk := ticket(1)
	tk.Seat = pass.Seat{Area: "A", Row: "3", Number: "12"}
	p := b.create(t, tk)
	if _, err := b.syncer.SaveURL(context.Background(), "demo", "secret-order-token", nil, ""); err != nil {
		t.Fatal(err)
	}
	if si := b.object(t, p).SeatInfo; ls(si.Section) != "A" || ls(si.Row) != "3" || ls(si.Seat) != "12" {
		t.Fatalf("seat before: section %q, row %q, seat %q", ls(si.Section), ls(si.Row), ls(si.Seat))
	}

	p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat = pass.Seat{Area: "Standing"} })
	b.sync(t, p)
	si := b.object(t, p).SeatInfo
	if si == nil {
		t.Fatal("no seatInfo after the reseat")
	}
	if ls(si.Section) != "Standing" || si.Row != nil || si.Seat != nil || ls(si.Gate) != "Porte A" {
		t.Errorf("seat after the reseat: section %q, row %q (%t), seat %q (%t), gate %q; want section Standing, gate Porte A, no row, no seat",
			ls(si.Section), ls(si.Row), si.Row != nil, ls(si.Seat), si.Seat != nil, ls(si.Gate))
	}
	if r := refused(b); len(r) > 0 {
		t.Errorf("the fake refused: %v", r)
	}
}

// TestClassLosesWhatItNoLongerHas: a template design that drops its hero
// image, an event whose doors time is no longer known and whose name
// comes in one language where it came in three: the class at Google has
// no heroImage, no doorsOpen and no translations left.
func TestClassLosesWhatItNoLongerHas(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	design := google.Design{Template: "default", Background: "#1b2a4a", Logo: "icon@3x.png", Hero: "strip@3x.png"}
	b.syncer.Tenants["demo"].Design = func(string) google.Design { return design }
	tk := ticket(1)
	tk.Event.Doors = tk.Event.Start.Add(-time.Hour)
	tk.Event.Names = pass.LocalText{"en": "Symphonic Night", "fr": "Nuit symphonique", "de": "Sinfonische Nacht"}
	p := b.create(t, tk)
	if _, err := b.syncer.SaveURL(context.Background(), "demo", "secret-order-token", nil, ""); err != nil {
		t.Fatal(err)
	}
	cid := google.ClassID(issuerID, "demo", tk)
	cl, ok := b.fake.EventTicketClass(cid)
	if !ok || cl.HeroImage == nil || cl.DateTime.DoorsOpen == "" || len(cl.EventName.TranslatedValues) != 2 {
		t.Fatalf("class before: %+v", cl)
	}

	design.Hero = ""
	p = b.update(t, p, func(tk *pass.Ticket) {
		tk.Event.Doors = time.Time{}
		tk.Event.Names = nil
	})
	b.sync(t, p)
	cl, _ = b.fake.EventTicketClass(cid)
	if cl.HeroImage != nil {
		t.Errorf("heroImage %+v after the design dropped it", cl.HeroImage)
	}
	if cl.DateTime.DoorsOpen != "" || cl.DateTime.Start == "" {
		t.Errorf("dateTime %+v, want a start and no doorsOpen", cl.DateTime)
	}
	if ls(cl.EventName) != "Symphonic Night" || len(cl.EventName.TranslatedValues) != 0 {
		t.Errorf("eventName %q with translations %+v, want none", ls(cl.EventName), cl.EventName.TranslatedValues)
	}
	if cl.Logo == nil {
		t.Error("the logo went too")
	}
	if r := refused(b); len(r) > 0 {
		t.Errorf("the fake refused: %v", r)
	}
}

// TestOldAlternateTextIsCleared: an object Google holds with the ticket's
// barcode as alternate text (as an older release wrote it) has none after
// a sync, under a rotating barcode and under a static one.
func TestOldAlternateTextIsCleared(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		rotation *google.Rotation
	}{
		{"rotating", &google.Rotation{Key: []byte("0123456789abcdef0123456789abcdef")}},
		{"static", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(is *google.Issuer) { is.Rotation = tc.rotation })
			ctx := context.Background()
			p := b.saved(t, ticket(1))
			// What the older release left at Google, written directly.
			oid := google.ObjectID(issuerID, "demo", p.SerialNumber)
			old := &walletobjects.EventTicketObject{Id: oid}
			if tc.rotation != nil {
				old.RotatingBarcode = &walletobjects.RotatingBarcode{AlternateText: p.Ticket.Barcode}
			} else {
				old.Barcode = &walletobjects.Barcode{AlternateText: p.Ticket.Barcode}
			}
			if err := b.syncer.Tenants["demo"].API.PatchObject(ctx, old); err != nil {
				t.Fatal(err)
			}
			alt := func() string {
				o := b.object(t, p)
				if tc.rotation != nil {
					return o.RotatingBarcode.AlternateText
				}
				return o.Barcode.AlternateText
			}
			if got := alt(); got != p.Ticket.Barcode {
				t.Fatalf("alternate text written: %q, want %q", got, p.Ticket.Barcode)
			}

			p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Row = "3" })
			b.sync(t, p)
			if got := alt(); got != "" {
				t.Errorf("alternate text after the sync: %q, want none", got)
			}
			if r := refused(b); len(r) > 0 {
				t.Errorf("the fake refused: %v", r)
			}
		})
	}
}

// TestEventID: a class's eventId is its id without "<issuerId>.", and for
// a tenant id so long that this is over Google's 64 characters, a short
// form that stays the same for the class and differs between classes;
// the fake takes the class.
func TestEventID(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("grand-theatre-", 6) // 84 characters
	tk := ticket(1)
	for _, tc := range []struct {
		name, tenant string
		want         string // "" when only the form is checked
	}{
		{"short tenant", "demo", issuerID + ".demo-p99"}, // the class id, as before
		{"long tenant", long, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is := &google.Issuer{Tenant: tc.tenant, IssuerID: issuerID, IssuerName: "Demo"}
			cl := google.BuildClass(is, google.Design{Template: "default"}, tk)
			got := cl.EventId
			if tc.want != "" && got != tc.want {
				t.Errorf("eventId %q, want %q", got, tc.want)
			}
			if got == "" || len(got) > 64 || (tc.want == "" && strings.HasPrefix(got, issuerID)) {
				t.Fatalf("eventId %q (%d characters), want 1 to 64 (without the issuer id when the class id is longer)", got, len(got))
			}
			if again := google.BuildClass(is, google.Design{Template: "default"}, tk).EventId; again != got {
				t.Errorf("eventId %q, then %q", got, again)
			}
			other := tk
			other.Event.PerformanceID++
			if o := google.BuildClass(is, google.Design{Template: "default"}, other).EventId; o == got {
				t.Errorf("two performances share eventId %q", got)
			}
		})
	}
	// The fake (which refuses an eventId over 64 characters) takes the
	// class of the long tenant id.
	b := setup(t, func(is *google.Issuer) { is.Tenant = long })
	cl := google.BuildClass(b.issuer, google.Design{Template: "default"}, tk)
	if err := b.syncer.Tenants["demo"].API.UpsertClass(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.fake.EventTicketClass(cl.Id); got.EventId != cl.EventId {
		t.Errorf("eventId at Google %q, want %q", got.EventId, cl.EventId)
	}
	// The order's grouping id fits 64 characters too, and tells two
	// orders apart; the fake takes the object.
	p := &pass.Pass{Tenant: "demo", SerialNumber: pass.NewSerialNumber(), Version: 1, Status: pass.StatusActive, Ticket: tk}
	obj := google.BuildObject(b.issuer, p, google.StateActive)
	g := obj.GroupingInfo.GroupingId
	other := *p
	other.Ticket.FileID++
	if len(g) > 64 || g == google.BuildObject(b.issuer, &other, google.StateActive).GroupingInfo.GroupingId {
		t.Errorf("groupingId %q (%d characters), want at most 64, one per order", g, len(g))
	}
	if err := b.syncer.Tenants["demo"].API.InsertObject(context.Background(), obj); err != nil {
		t.Errorf("the fake refuses the long tenant's object: %v", err)
	}
}
