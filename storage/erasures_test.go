package storage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/storage"
)

// TestErasureCompletion: an order whose erasure is recorded but not
// complete is still listed for the retention, and no longer once it is
// marked complete; recording it again makes it incomplete again.
// Dropping the older versions' files returns the keys of their blobs
// again until they are forgotten, so that a delete that failed is tried
// again.
func TestErasureCompletion(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		ended := time.Date(2027, 3, 1, 20, 0, 0, 0, time.UTC)
		p := newPass("er1", 400) // order 7; v1 is a file in the blob store
		p.Ticket = pass.Ticket{MovementID: 400, FileID: p.FileID, Event: pass.Event{Start: ended}}
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		for v := 2; v <= 3; v++ {
			next := *p
			next.Version, next.UpdateTag, next.ContentHash = v, p.UpdateTag+int64(v), fmt.Sprintf("h%d", v)
			next.UpdatedAt = p.UpdatedAt.Add(time.Duration(v) * time.Second)
			next.BlobKey, next.Content = "", []byte(fmt.Sprintf("stored form %d", v))
			if err := db.UpdatePass(ctx, &next, nil); err != nil {
				t.Fatal(err)
			}
		}

		const subject = "file:7"
		listed := func() bool {
			t.Helper()
			files, err := db.HolderDataAfter(ctx, "demo", ended.Add(pass.AssumedLength+time.Hour), 10)
			if err != nil {
				t.Fatal(err)
			}
			return slices.Contains(files, p.FileID)
		}
		steps := []struct {
			name   string
			do     func() error
			listed bool
		}{
			{"not erased", func() error { return nil }, true},
			{"recorded, not complete", func() error { return db.AddErasure(ctx, "demo", subject, ended) }, true},
			{"complete", func() error { return db.CompleteErasure(ctx, "demo", subject, ended.Add(time.Minute)) }, false},
			{"recorded again", func() error { return db.AddErasure(ctx, "demo", subject, ended.Add(time.Hour)) }, true},
			{"complete again", func() error { return db.CompleteErasure(ctx, "demo", subject, ended.Add(2*time.Hour)) }, false},
		}
		for _, s := range steps {
			if err := s.do(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if got := listed(); got != s.listed {
				t.Errorf("%s: listed for the retention = %v, want %v", s.name, got, s.listed)
			}
			if erased, err := db.Erased(ctx, "demo", subject); err != nil || erased != (s.name != "not erased") {
				t.Errorf("%s: erased = %v, %v", s.name, erased, err)
			}
		}
		if err := db.CompleteErasure(ctx, "demo", "file:8", ended); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("completing an erasure never recorded: %v, want not found", err)
		}

		drops := []struct {
			name    string
			keys    []string
			dropped int
		}{
			{"first", []string{legacyKey("er1", 1)}, 1},
			{"its blob not deleted yet", []string{legacyKey("er1", 1)}, 0},
		}
		for _, d := range drops {
			keys, dropped, err := db.DropVersionFiles(ctx, "demo", "er1", 3)
			if err != nil || !slices.Equal(keys, d.keys) || dropped != d.dropped {
				t.Errorf("%s drop: keys %v, %d stored forms, %v; want %v, %d", d.name, keys, dropped, err, d.keys, d.dropped)
			}
		}
		if err := db.ForgetVersionBlobs(ctx, "demo", "er1", []string{legacyKey("er1", 1)}); err != nil {
			t.Fatal(err)
		}
		if keys, dropped, err := db.DropVersionFiles(ctx, "demo", "er1", 3); err != nil || len(keys) != 0 || dropped != 0 {
			t.Errorf("drop after the blob was deleted: keys %v, %d stored forms, %v; want none", keys, dropped, err)
		}
		if _, err := db.VersionContent(ctx, "demo", "er1", 2); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("an older version keeps its stored form: %v", err)
		}
		if got, err := db.VersionContent(ctx, "demo", "er1", 3); err != nil || string(got) != "stored form 3" {
			t.Errorf("the latest version: %q, %v", got, err)
		}
		if got, err := db.GetPass(ctx, "demo", "er1"); err != nil || got.Version != 3 {
			t.Errorf("the pass after the drops: %+v, %v", got, err)
		}
	})
}

// TestForgetOrderPayloads: the order a V2 webhook carried whole (holder
// and buyer data) leaves every sync task of the order, pending or dead,
// found by its secret, file id or order id; another order's stays.
func TestForgetOrderPayloads(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		details := json.RawMessage(`{"orderDetailsData":{"orderId":70,"contact":{"email":"ada@example.com"}}}`)
		for _, r := range []pass.OrderRef{
			{Tenant: "demo", OrderID: 70, Details: details},
			{Tenant: "demo", FileID: 7, Details: details},
			{Tenant: "demo", OrderID: 71, Details: details}, // another order
		} {
			if _, err := db.Enqueue(ctx, pass.TaskOf(r, ""), t0); err != nil {
				t.Fatal(err)
			}
		}
		c, _ := db.Claim(ctx, t0, time.Minute, 1)
		if err := db.Fail(ctx, c[0], "malformed", t0, true, t0); err != nil { // one of them dead
			t.Fatal(err)
		}
		if err := db.ForgetOrderPayloads(ctx, pass.OrderRef{Tenant: "demo", SecretToken: "tok", FileID: 7, OrderID: 70}); err != nil {
			t.Fatal(err)
		}
		for _, st := range []pass.TaskState{pass.TaskPending, pass.TaskDead} {
			tasks, _ := db.ListTasks(ctx, st, 10)
			for _, tk := range tasks {
				var r pass.OrderRef
				if err := json.Unmarshal(tk.Payload, &r); err != nil {
					t.Fatal(err)
				}
				if kept := len(r.Details) > 0; kept != (r.OrderID == 71) || r.Tenant != "demo" || (r.OrderID == 0 && r.FileID == 0) {
					t.Errorf("%s task %s: %s", st, tk.DedupKey, tk.Payload)
				}
			}
		}
	})
}

// TestErasedBytesLeaveTheFile (SQLite): once an erasure has dropped the
// older versions' stored forms and rewritten the pass without its holder,
// the name is nowhere in the database file (freed pages are zeroed, not
// left to be reused some day).
func TestErasedBytesLeaveTheFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.db")
	db, err := storage.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	const name = "Zacharias Unterwalder"
	p := newPass("er9", 900)
	p.BlobKey, p.Content = "", []byte(`{"pass.json":"`+strings.Repeat(name+" ", 600)+`"}`) // long: its own pages
	p.Ticket = pass.Ticket{MovementID: 900, FileID: p.FileID, HolderName: name}
	if err := db.CreatePass(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	next := *p
	next.Version, next.UpdateTag, next.ContentHash, next.UpdatedAt = 2, p.UpdateTag+1, "h2", p.UpdatedAt.Add(time.Second)
	next.Content, next.Ticket.HolderName = []byte(`{"pass.json":"no holder"}`), ""
	if err := db.UpdatePass(ctx, &next, nil); err != nil {
		t.Fatal(err)
	}
	if _, dropped, err := db.DropVersionFiles(ctx, "demo", p.SerialNumber, 2); err != nil || dropped != 1 {
		t.Fatalf("drop: %d %v", dropped, err)
	}
	if err := db.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if n := bytes.Count(b, []byte("Unterwalder")); n != 0 {
			t.Errorf("%s holds the erased name %d times", filepath.Base(f), n)
		}
	}
}

// TestRetentionListsPassesOfEarlierReleases: passes stored before the
// passes kept their event's end (0, until their next version) do not keep
// their order from the retention's list, beside an ended pass or alone:
// the caller reads their tickets. A pass of a later event does.
func TestRetentionListsPassesOfEarlierReleases(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d testDB) {
		ctx := context.Background()
		db := d.handle(t)
		ended := time.Date(2027, 3, 1, 20, 0, 0, 0, time.UTC)
		for i, file := range []int64{7, 7, 8, 8, 9} {
			p := newPass(fmt.Sprintf("old%d", i), int64(500+i))
			p.FileID = file
			start := ended
			if i == 3 {
				start = ended.AddDate(0, 1, 0) // order 8's second ticket is for April
			}
			p.Ticket = pass.Ticket{MovementID: p.MovementID, FileID: file, Event: pass.Event{Start: start}}
			if err := db.CreatePass(ctx, p, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.raw(t).ExecContext(ctx, `UPDATE passes SET event_end = 0 WHERE serial_number IN ('old1', 'old2', 'old4')`); err != nil {
			t.Fatal(err)
		}
		files, err := db.HolderDataAfter(ctx, "demo", ended.AddDate(0, 0, 7), 10)
		if err != nil || !slices.Equal(files, []int64{7, 9}) {
			t.Errorf("listed: %v, %v; want orders 7 and 9 (their old passes' tickets to be read), not 8 (a ticket for April)", files, err)
		}
	})
}
