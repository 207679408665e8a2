package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/storage"
)

// TestUpdateFindsPassByNewKeys updates a pass once keeping the columns
// that find it and once changing every one of them: each lookup then finds
// it by the new values only, and a stale version is a conflict either way.
func TestUpdateFindsPassByNewKeys(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		start := time.Date(2027, 3, 1, 20, 0, 0, 0, time.UTC)
		p := newPass("s1", 100)
		p.SecretToken, p.HolderKey = "secret-a", "holder-a"
		p.Ticket = pass.Ticket{MovementID: 100, Barcode: "BC-A", Event: pass.Event{PerformanceID: 55, Start: start}}
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		next := func(p *pass.Pass) *pass.Pass {
			n := *p
			n.Version++
			n.UpdateTag++
			n.UpdatedAt = n.UpdatedAt.Add(time.Second)
			return &n
		}
		type keys struct {
			secret, holder, barcode string
			file, perf              int64
		}
		findsBy := func(k keys) []string {
			t.Helper()
			var found []string
			if ps, err := db.PassesByOrder(ctx, "demo", k.secret); err != nil {
				t.Fatal(err)
			} else if len(ps) == 1 {
				found = append(found, "secret")
			}
			if ps, err := db.HolderPasses(ctx, "demo", 0, k.holder); err != nil {
				t.Fatal(err)
			} else if len(ps) == 1 {
				found = append(found, "holder")
			}
			if ps, err := db.HolderPasses(ctx, "demo", k.file); err != nil {
				t.Fatal(err)
			} else if len(ps) == 1 {
				found = append(found, "file")
			}
			if _, err := db.PassByBarcode(ctx, "demo", k.barcode); err == nil {
				found = append(found, "barcode")
			} else if !errors.Is(err, pass.ErrNotFound) {
				t.Fatal(err)
			}
			if ps, err := db.PerformancePasses(ctx, "demo", k.perf, "", 10); err != nil {
				t.Fatal(err)
			} else if len(ps) == 1 {
				found = append(found, "performance")
			}
			return found
		}
		all := "secret holder file barcode performance"
		a := keys{"secret-a", "holder-a", "BC-A", p.FileID, 55}

		// The performance moves: the same keys, a later end.
		moved := next(p)
		moved.Ticket.Event.Start = start.Add(2 * time.Hour)
		if err := db.UpdatePasses(ctx, []pass.PassWrite{{Pass: moved}}, nil); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(findsBy(a), " "); got != all {
			t.Errorf("after a move, found by %q, want %q", got, all)
		}
		if files, err := db.HolderDataAfter(ctx, "demo", start.Add(time.Hour), 10); err != nil || len(files) != 0 {
			t.Errorf("ended before the new end: %v, %v; want none (the event end moved)", files, err)
		}
		if files, err := db.HolderDataAfter(ctx, "demo", start.Add(3*time.Hour), 10); err != nil || len(files) != 1 {
			t.Errorf("ended before after the new end: %v, %v; want the order", files, err)
		}

		// Every key changes.
		changed := next(moved)
		changed.SecretToken, changed.HolderKey, changed.FileID, changed.OrderID = "secret-b", "holder-b", 70, 80
		changed.Ticket.Barcode, changed.Ticket.Event.PerformanceID = "BC-B", 56
		if err := db.UpdatePass(ctx, changed, nil); err != nil {
			t.Fatal(err)
		}
		if got := findsBy(a); len(got) != 0 {
			t.Errorf("found by the old keys: %v", got)
		}
		if got := strings.Join(findsBy(keys{"secret-b", "holder-b", "BC-B", 70, 56}), " "); got != all {
			t.Errorf("after the keys changed, found by %q, want %q", got, all)
		}
		got, err := db.GetPass(ctx, "demo", "s1")
		if err != nil || got.Version != 3 || got.OrderID != 80 {
			t.Fatalf("stored: %+v, %v; want version 3 of order 80", got, err)
		}

		// A writer still at version 2, with and without the new keys.
		for _, stale := range []*pass.Pass{next(moved), next(changed)} {
			stale.Version = 3
			if err := db.UpdatePasses(ctx, []pass.PassWrite{{Pass: stale}}, nil); pass.KindOf(err) != pass.KindConflict {
				t.Errorf("stale update: %v, want a conflict", err)
			}
		}
	})
}

// TestUpdateRewritesFewIndexes checks, in SQLite's program for it, that a
// new version keeping a pass's keys rewrites two of its indexes' entries
// (the update time's and the event end's), where the whole update
// rewrites seven.
func TestUpdateRewritesFewIndexes(t *testing.T) {
	t.Parallel()
	d := sqliteDB(t)
	d.handle(t) // migrated
	raw, err := sql.Open("sqlite", d.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, c := range []struct {
		name, sql string
		want      int
	}{{"same keys", storage.UpdateSameIdentitySQL, 2}, {"whole", storage.UpdateWholeSQL, 7}} {
		args := make([]any, 19)
		for i := range args {
			args[i] = 1
		}
		rows, err := raw.Query("EXPLAIN "+c.sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var addr, p1, p2, p3 int
			var op, p4, p5, comment sql.NullString
			if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
				t.Fatal(err)
			}
			if op.String == "IdxInsert" {
				n++
			}
		}
		rows.Close()
		if n != c.want {
			t.Errorf("%s update: %d index entries written per row, want %d", c.name, n, c.want)
		}
	}
}

// TestPassQueryPlans: a ticket's pass is found through the unique index
// of (tenant, movement, holder generation) and updated through its primary
// key, in both stores, PostgreSQL's cached generic plan included. SQLite
// plans so without statistics, and FirstStatistics leaves it alone.
// PostgreSQL plans so once it has statistics: on tables it has none of,
// it plans both from whichever index evaluates the fewest terms, the
// (tenant, holder) one on the tenant alone, which reads every pass of the
// tenant. So the test writes FirstStatisticsRows passes, a third without
// a named holder, and waits for FirstStatistics to analyse them, as the
// leader's job does every few seconds.
func TestPassQueryPlans(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d testDB) {
		ctx := context.Background()
		unique, pk := "passes_tenant_movement_id_holder_generation_key", "passes_pkey"
		if d.name == "sqlite" {
			unique, pk = "sqlite_autoindex_passes_2", "sqlite_autoindex_passes_1"
		}
		db := d.handle(t)
		for i := range storage.FirstStatisticsRows {
			p := newPass(fmt.Sprintf("s%04d", i), int64(1000+i))
			if i%3 != 0 {
				p.HolderKey = fmt.Sprintf("holder-%d", i)
			}
			if err := db.CreatePass(ctx, p, nil); err != nil {
				t.Fatal(err)
			}
		}
		// PostgreSQL counts a backend's writes when it reports them: within
		// seconds.
		var analysed []string
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			tables, err := db.FirstStatistics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			analysed = append(analysed, tables...)
			if d.name == "sqlite" || slices.Contains(analysed, "passes") || time.Now().After(deadline) {
				break
			}
		}
		if want := d.name == "postgres"; slices.Contains(analysed, "passes") != want {
			t.Fatalf("first statistics of %v, want passes among them: %v", analysed, want)
		}
		if again, err := db.FirstStatistics(ctx); err != nil || slices.Contains(again, "passes") {
			t.Errorf("analysed again: %v, %v; want passes left to autovacuum", again, err)
		}
		update := []any{2, 5, "h", "active", "", 1, "t", 5, "demo", "s1", 1, "{}", "sec", 1, 2, 3, 4, "bc", ""}
		cases := []planCase{
			{"pass by movement and generation", storage.PassByIdentitySQL, []any{"demo", 5, 0}, unique, ""},
			{"latest pass of a movement", storage.LatestPassSQL, []any{"demo", 5}, unique, ""},
			{"whole update", storage.UpdateWholeSQL, update, pk, ""},
		}
		if d.name == "sqlite" {
			cases = append(cases, planCase{"update keeping the keys", storage.UpdateSameIdentitySQL, update, pk, ""})
		}
		checkPlans(t, d, cases)
	})
}
