package storage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/storage"
)

// TestPerformanceStores: notices (kept once per id, newest first), a
// performance's passes page by page, its fingerprint, the registrations
// an event-wide change owes a push, and its passes' Google records.
func TestPerformanceStores(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		at := time.UnixMilli(1_800_000_000_000).UTC()

		// Notices.
		if _, err := db.LatestNotice(ctx, "demo", 77); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("no notice: %v", err)
		}
		task := pass.TaskOf(pass.PerformanceArgs{Tenant: "demo", PerformanceID: 77}, "c1")
		n1 := pass.Notice{Tenant: "demo", PerformanceID: 77, ID: "n1", Body: pass.LocalText{"en": "one"}, CreatedAt: at}
		n2 := pass.Notice{Tenant: "demo", PerformanceID: 77, ID: "n2", Header: pass.LocalText{"fr": "Titre"},
			Body: pass.LocalText{"fr": "deux"}, CreatedAt: at.Add(time.Millisecond)}
		for _, n := range []pass.Notice{n1, n2} {
			if _, created, err := db.AddNotice(ctx, n, task); err != nil || !created {
				t.Fatalf("add %s: %v %v", n.ID, created, err)
			}
		}
		again := n1
		again.Body = pass.LocalText{"en": "changed"}
		if got, created, err := db.AddNotice(ctx, again, task); err != nil || created || got.Body["en"] != "one" {
			t.Errorf("the same id again: %+v %v %v", got, created, err)
		}
		if got, err := db.LatestNotice(ctx, "demo", 77); err != nil || got.ID != "n2" || got.Header["fr"] != "Titre" ||
			!got.CreatedAt.Equal(n2.CreatedAt) {
			t.Errorf("latest: %+v %v", got, err)
		}
		if n, _ := db.CountTasks(ctx, "demo", pass.TaskPerformanceSync, ""); n != 1 {
			t.Errorf("%d performance-sync tasks, want 1 (merged)", n)
		}

		// Passes of the performance, by page; one of another.
		for i := range 7 {
			p := newPass(fmt.Sprintf("s%02d", i), int64(100+i))
			p.Ticket.Event.PerformanceID = 77
			if i == 6 {
				p.Ticket.Event.PerformanceID = 78
			}
			if err := db.CreatePass(ctx, p, nil); err != nil {
				t.Fatal(err)
			}
		}
		var serials []string
		after := ""
		for {
			page, err := db.PerformancePasses(ctx, "demo", 77, after, 4)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page {
				serials = append(serials, p.SerialNumber)
				after = p.SerialNumber
			}
			if len(page) < 4 {
				break
			}
		}
		if fmt.Sprint(serials) != "[s00 s01 s02 s03 s04 s05]" {
			t.Errorf("pages: %v", serials)
		}

		// Fingerprint.
		if _, err := db.PerformanceFingerprint(ctx, "demo", 77); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("no fingerprint: %v", err)
		}
		for _, f := range []string{"f1", "f2"} {
			if err := db.SetPerformanceFingerprint(ctx, "demo", 77, f, at); err != nil {
				t.Fatal(err)
			}
		}
		if f, err := db.PerformanceFingerprint(ctx, "demo", 77); err != nil || f != "f2" {
			t.Errorf("fingerprint %q %v", f, err)
		}

		// Pushes owed: device A holds s00 and s01, device B s02; s03's
		// device was pushed already; s06 is another performance's.
		reg := func(dev, serial string) {
			if _, err := db.Register(ctx, "demo", pass.Device{LibraryID: dev, PushToken: "tok-" + dev}, "pass.x.y", serial, at); err != nil {
				t.Fatal(err)
			}
		}
		reg("devA", "s00")
		reg("devA", "s01")
		reg("devB", "s02")
		reg("devC", "s03")
		reg("devD", "s06")
		if err := db.MarkPushed(ctx, "demo", "pass.x.y", "s03", []string{"devC"}, at.UnixMilli()); err != nil {
			t.Fatal(err)
		}
		// Registration leaves pushed_tag behind the pass: every one is owed.
		owed, err := db.PerformancePushes(ctx, "demo", 77, nil, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range owed {
			got = append(got, o.LibraryID+"/"+o.Serial)
		}
		if fmt.Sprint(got) != "[devA/s00 devA/s01 devB/s02]" {
			t.Errorf("owed pushes: %v", got)
		}
		if page, _ := db.PerformancePushes(ctx, "demo", 77, nil, "devA", 100); len(page) != 1 || page[0].LibraryID != "devB" {
			t.Errorf("after devA: %+v", page)
		}
		// Of some passes only (a batch of an event-wide change).
		if page, _ := db.PerformancePushes(ctx, "demo", 77, []string{"s01", "s02", "s03"}, "", 100); len(page) != 2 ||
			page[0].Serial != "s01" || page[1].Serial != "s02" {
			t.Errorf("of s01..s03: %+v", page)
		}
		if page, _ := db.PerformancePushes(ctx, "demo", 77, []string{"s01", "s02", "s06"}, "devA", 100); len(page) != 1 ||
			page[0].LibraryID != "devB" || page[0].Serial != "s02" {
			t.Errorf("of s01, s02 and another performance's s06, after devA: %+v", page)
		}
		if page, _ := db.PerformancePushes(ctx, "demo", 78, []string{"s01", "s06"}, "", 100); len(page) != 1 || page[0].LibraryID != "devD" {
			t.Errorf("of s01 and s06, as performance 78's: %+v", page)
		}
		if err := db.MarkPushedMany(ctx, "demo", owed[:2]); err != nil {
			t.Fatal(err)
		}
		if owed, _ := db.PerformancePushes(ctx, "demo", 77, nil, "", 100); len(owed) != 1 || owed[0].Serial != "s02" {
			t.Errorf("after marking devA: %+v", owed)
		}

		// Google records of the performance's passes.
		for i, serial := range []string{"s01", "s04"} {
			o := &pass.GoogleObject{Tenant: "demo", Serial: serial, ObjectID: "o-" + serial, ClassID: "c77", Version: 1,
				State: "ACTIVE", Shown: "{}", ObjectHash: "h-" + serial, UpdatedAt: at}
			for range i + 1 {
				o.Notified = append(o.Notified, at.Add(-time.Hour))
			}
			o.Notified = append(o.Notified, at.Add(-48*time.Hour)) // out of the window
			if err := db.PutGoogleObject(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := db.GoogleMaxObjectNotifications(ctx, "demo", "c77", at.Add(-24*time.Hour)); err != nil || n != 2 {
			t.Errorf("most notifications of an object: %d %v", n, err)
		}
		rows, err := db.GoogleRowsOfPerformance(ctx, "demo", 77, "", 1)
		if err != nil || len(rows) != 1 || rows[0].Pass.SerialNumber != "s01" || rows[0].Object.ObjectHash != "h-s01" ||
			rows[0].Object.Serial != "s01" || len(rows[0].Object.Notified) != 2 {
			t.Fatalf("first row: %+v %v", rows, err)
		}
		rows, err = db.GoogleRowsOfPerformance(ctx, "demo", 77, "s01", 10)
		if err != nil || len(rows) != 1 || rows[0].Pass.SerialNumber != "s04" {
			t.Fatalf("next rows: %+v %v", rows, err)
		}
		o := rows[0].Object
		// A sync counted a notification since the object was read: the
		// batch moves the record on, and keeps the count.
		counted := o
		counted.Notified = append(slices.Clone(o.Notified), at)
		if err := db.PutGoogleObject(ctx, &counted); err != nil {
			t.Fatal(err)
		}
		o.Version, o.Shown = 2, `{"seat":"B 2"}`
		if err := db.AdvanceGoogleObjects(ctx, []*pass.GoogleObject{&o}); err != nil {
			t.Fatal(err)
		}
		moved, err := db.GoogleObject(ctx, "demo", "s04")
		if err != nil || moved.Version != 2 || moved.Shown != o.Shown || len(moved.Notified) != len(counted.Notified) || moved.ObjectHash != o.ObjectHash {
			t.Errorf("after the batch: %+v %v; want version 2, the new shown, %d notifications", moved, err, len(counted.Notified))
		}
		// A record a sync moved as far already is left as it is.
		o.Shown = `{"seat":"B 3"}`
		if err := db.AdvanceGoogleObjects(ctx, []*pass.GoogleObject{&o}); err != nil {
			t.Fatal(err)
		}
		if got, err := db.GoogleObject(ctx, "demo", "s04"); err != nil || got.Shown != `{"seat":"B 2"}` {
			t.Errorf("a batch of a version the record has: %+v %v; want it left", got, err)
		}
	})
}

// TestPassesWithUpcoming: the passes of season tickets (not voided) are
// found, a page at a time, on both databases.
func TestPassesWithUpcoming(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		at := time.UnixMilli(1_800_000_000_000).UTC()
		for i, c := range []struct {
			upcoming bool
			status   pass.Status
		}{{true, pass.StatusActive}, {false, pass.StatusActive}, {true, pass.StatusVoided}, {true, pass.StatusUsed}} {
			p := newPass(fmt.Sprintf("u%d", i), int64(500+i))
			p.Status, p.Ticket.MovementID = c.status, p.MovementID
			if c.upcoming {
				p.Ticket.Upcoming = []pass.UpcomingEvent{{ID: "m1", Name: "Match 1", Start: at}}
			}
			if err := db.CreatePass(ctx, p, nil); err != nil {
				t.Fatal(err)
			}
		}
		ps, err := db.PassesWithUpcoming(ctx, "demo", "", 10)
		var got []string
		for _, p := range ps {
			got = append(got, p.SerialNumber)
		}
		if err != nil || fmt.Sprint(got) != "[u0 u3]" {
			t.Errorf("passes with upcoming events: %v %v", got, err)
		}
		if ps, _ := db.PassesWithUpcoming(ctx, "demo", "u0", 10); len(ps) != 1 || ps[0].SerialNumber != "u3" {
			t.Errorf("after u0: %v", ps)
		}
	})
}

// TestMarkPushedMany marks more registrations than one statement holds
// (PostgreSQL), one of them named twice with an older tag after its own:
// every one marked is pushed, the greater tag kept, and the others owed.
func TestMarkPushedMany(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		at := time.UnixMilli(1_800_000_000_000).UTC()
		p := newPass("m1", 500)
		p.Ticket.Event.PerformanceID = 90
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		const devices, marked = 70, 64
		// More devices than one pass takes through Register: a stand-in
		// for many passes' registrations in one statement.
		if err := db.BulkRegister(ctx, "demo", p.PassTypeID, devices, []string{"m1"}, at); err != nil {
			t.Fatal(err)
		}
		owed, err := db.PerformancePushes(ctx, "demo", 90, nil, "", 100)
		if err != nil || len(owed) != devices {
			t.Fatalf("owed before: %d, %v", len(owed), err)
		}
		done := slices.Clone(owed[:marked])
		stale := done[3]
		stale.Tag = p.UpdateTag - 1 // an older push of dev03, after its newer one
		done = append(done, stale)
		if err := db.MarkPushedMany(ctx, "demo", done); err != nil {
			t.Fatal(err)
		}
		left, err := db.PerformancePushes(ctx, "demo", 90, nil, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range left {
			got = append(got, o.LibraryID)
		}
		if want := "[dev000064 dev000065 dev000066 dev000067 dev000068 dev000069]"; fmt.Sprint(got) != want {
			t.Errorf("owed after marking %d: %v, want %s", marked, got, want)
		}
	})
}
