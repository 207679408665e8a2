package storage_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/storage"
)

// TestListPasses: the passes API's filters, paging, install status and
// orders, on SQLite and PostgreSQL, with ids past 2^31 as SecuTix has
// them.
func TestListPasses(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const bigFile = int64(10075001001)
		mk := func(serial string, movement, file int64, perf int64, status pass.Status, minute int) {
			p := newPass(serial, movement)
			p.FileID, p.Status, p.TicketID = file, status, 100+movement
			p.Ticket.Event.PerformanceID = perf
			p.CreatedAt = p.CreatedAt.Add(time.Duration(minute) * time.Minute)
			// The later made, the earlier changed last.
			p.UpdatedAt = p.CreatedAt.Add(time.Duration(10-2*minute) * time.Minute)
			if movement == 3 {
				p.Template = "vip"
			}
			if err := db.CreatePass(ctx, p, nil); err != nil {
				t.Fatal(err)
			}
		}
		mk("a", 1, bigFile, 555, pass.StatusActive, 0)
		mk("b", 2, bigFile, 555, pass.StatusVoided, 1)
		mk("c", 3, 42, 777, pass.StatusActive, 2)
		other := newPass("z", 9)
		other.Tenant = "other"
		if err := db.CreatePass(ctx, other, nil); err != nil {
			t.Fatal(err)
		}
		now := time.UnixMilli(1_800_000_100_000).UTC()
		// a: on an iPhone; c: saved to Google Wallet then deleted; b: saved.
		if _, err := db.Register(ctx, "demo", pass.Device{LibraryID: "dev1", PushToken: "ab"}, "pass.x.y", "a", now); err != nil {
			t.Fatal(err)
		}
		for _, g := range []struct{ serial, object, event, nonce string }{
			{"b", "o.b", pass.GoogleSaved, "n1"}, {"c", "o.c", pass.GoogleSaved, "n2"}, {"c", "o.c", pass.GoogleDeleted, "n3"},
		} {
			if err := db.PutGoogleObject(ctx, &pass.GoogleObject{Tenant: "demo", Serial: g.serial, ObjectID: g.object, ClassID: "cl", State: "ACTIVE"}); err != nil {
				t.Fatal(err)
			}
			if _, err := db.RecordGoogleCallback(ctx, pass.GoogleCallback{Tenant: "demo", Nonce: g.nonce, ObjectID: g.object, ClassID: "cl",
				EventType: g.event, ReceivedAt: now}); err != nil {
				t.Fatal(err)
			}
			now = now.Add(time.Second)
		}
		for _, c := range []struct {
			name  string
			q     pass.PassQuery
			want  []string
			total int
		}{
			{"all", pass.PassQuery{}, []string{"a", "b", "c"}, 3},
			{"by file past 2^31", pass.PassQuery{FileID: bigFile}, []string{"a", "b"}, 2},
			{"by performance", pass.PassQuery{PerformanceID: 777}, []string{"c"}, 1},
			{"by status", pass.PassQuery{Status: pass.StatusVoided}, []string{"b"}, 1},
			{"by movement", pass.PassQuery{MovementID: 2}, []string{"b"}, 1},
			{"by ticket", pass.PassQuery{TicketID: 103}, []string{"c"}, 1},
			{"by movement and another ticket", pass.PassQuery{MovementID: 2, TicketID: 103}, nil, 0},
			{"in Apple Wallet", pass.PassQuery{Installed: "apple"}, []string{"a"}, 1},
			{"in Google Wallet", pass.PassQuery{Installed: "google"}, []string{"b"}, 1},
			{"in a wallet", pass.PassQuery{Installed: "wallet"}, []string{"a", "b"}, 2},
			{"in none", pass.PassQuery{Installed: "none"}, []string{"c"}, 1},
			{"second page", pass.PassQuery{Offset: 1, Limit: 1}, []string{"b"}, 3},
			{"by template", pass.PassQuery{Template: "vip"}, []string{"c"}, 1},
			{"by another template", pass.PassQuery{Template: "default", Status: pass.StatusActive}, []string{"a"}, 1},
			{"newest first", pass.PassQuery{Sort: []pass.PassSort{{By: pass.SortCreated, Desc: true}}}, []string{"c", "b", "a"}, 3},
			{"changed first", pass.PassQuery{Sort: []pass.PassSort{{By: pass.SortUpdated}}}, []string{"c", "b", "a"}, 3},
			{"changed last first", pass.PassQuery{Sort: []pass.PassSort{{By: pass.SortUpdated, Desc: true}}}, []string{"a", "b", "c"}, 3},
			{"changed last first, second page", pass.PassQuery{Sort: []pass.PassSort{{By: pass.SortUpdated, Desc: true}, {By: pass.SortCreated}},
				Offset: 1, Limit: 1}, []string{"b"}, 3},
		} {
			c.q.Tenant = "demo"
			got, total, err := db.ListPasses(ctx, c.q)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			var serials []string
			for _, l := range got {
				serials = append(serials, l.Pass.SerialNumber)
			}
			if total != c.total || !slices.Equal(serials, c.want) {
				t.Errorf("%s: %v (total %d), want %v (total %d)", c.name, serials, total, c.want, c.total)
			}
		}
		in, err := db.PassInstalls(ctx, "demo", "a")
		if err != nil || in.AppleDevices != 1 || in.GoogleState != "" || in.GoogleSaved {
			t.Errorf("installs of a: %+v %v", in, err)
		}
		if in, _ := db.PassInstalls(ctx, "demo", "c"); in.GoogleState != "ACTIVE" || in.GoogleSaved {
			t.Errorf("installs of c (saved, then deleted): %+v", in)
		}
		if _, _, err := db.ListPasses(ctx, pass.PassQuery{Tenant: "demo", Installed: "phone"}); pass.KindOf(err) != pass.KindInvalid {
			t.Errorf("unknown installed filter: %v", err)
		}
		if _, _, err := db.ListPasses(ctx, pass.PassQuery{Tenant: "demo", Sort: []pass.PassSort{{By: "version"}}}); pass.KindOf(err) != pass.KindInvalid {
			t.Errorf("unknown sort key: %v", err)
		}
		// A negative id selects nothing any caller meant: refused, not an
		// empty page.
		for _, q := range []pass.PassQuery{{FileID: -1}, {OrderID: -1}, {PerformanceID: -1}, {MovementID: -2}, {TicketID: -103}} {
			q.Tenant = "demo"
			if _, _, err := db.ListPasses(ctx, q); pass.KindOf(err) != pass.KindInvalid {
				t.Errorf("negative id filter %+v: %v, want an invalid error", q, err)
			}
		}
	})
}
