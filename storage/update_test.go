package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
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
		if files, err := db.HolderDataAfter(ctx, "demo", start.Add(2*time.Hour+pass.AssumedLength+time.Second), 10); err != nil || len(files) != 1 {
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

// TestUpdatePassesStaleInBatch: a batch of new versions with one stale
// pass in its second statement's worth of rows is a conflict naming that
// pass, and stores none of the batch; the same batch without it stores
// every pass, with its tasks.
func TestUpdatePassesStaleInBatch(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const n = 60 // more than one statement's rows on PostgreSQL
		var ws []pass.PassWrite
		for i := range n {
			p := newPass(fmt.Sprintf("b%02d", i), int64(1000+i))
			p.Ticket = pass.Ticket{MovementID: int64(1000 + i), Barcode: fmt.Sprintf("BC%02d", i), Event: pass.Event{PerformanceID: 77}}
			if err := db.CreatePass(ctx, p, nil); err != nil {
				t.Fatal(err)
			}
			next := *p
			next.Version, next.UpdateTag, next.ContentHash = 2, p.UpdateTag+1, "h2"
			next.Ticket.Seat = pass.Seat{Row: "R", Number: fmt.Sprint(i)}
			ws = append(ws, pass.PassWrite{Pass: &next, Follow: []pass.NewTask{
				pass.TaskOf(pass.PushArgs{Tenant: "demo", PassTypeID: next.PassTypeID, Serial: next.SerialNumber}, "test")}})
		}
		stale := *ws[55].Pass
		stale.Version = 3 // the store holds version 1
		bad := slices.Clone(ws)
		bad[55] = pass.PassWrite{Pass: &stale}
		err := db.UpdatePasses(ctx, bad, nil)
		if pass.KindOf(err) != pass.KindConflict || !strings.Contains(err.Error(), "b55") {
			t.Fatalf("a stale pass in the batch: %v, want a conflict naming b55", err)
		}
		for _, serial := range []string{"b00", "b55", "b59"} {
			if p, err := db.GetPass(ctx, "demo", serial); err != nil || p.Version != 1 {
				t.Errorf("after the conflict, %s: %+v, %v; want version 1", serial, p, err)
			}
		}
		if err := db.UpdatePasses(ctx, ws, nil); err != nil {
			t.Fatal(err)
		}
		ps, err := db.PerformancePasses(ctx, "demo", 77, "", 100)
		if err != nil || len(ps) != n {
			t.Fatalf("performance passes: %d, %v", len(ps), err)
		}
		for i, p := range ps {
			if p.Version != 2 || p.ContentHash != "h2" || p.Ticket.Seat.Number != fmt.Sprint(i) || p.Ticket.Barcode != fmt.Sprintf("BC%02d", i) {
				t.Errorf("%s: version %d, hash %q, seat %+v, barcode %q; want the new version", p.SerialNumber, p.Version,
					p.ContentHash, p.Ticket.Seat, p.Ticket.Barcode)
			}
		}
		if c, err := db.CountTasks(ctx, "demo", pass.TaskPushPass, ""); err != nil || c != n {
			t.Errorf("push tasks: %d, %v; want %d (one follow-up per pass)", c, err, n)
		}
	})
}

// checkBatchUpdatePlan checks that PostgreSQL's generic plans of the
// updates of a batch of passes and of registrations find each row through
// an index once the tenant has a performance's worth of them: right
// after they are written (the passes with the statistics of 500 rows
// scaled to the table's size, the registrations with none) and after
// autovacuum's ANALYZE. (On a table of a few hundred rows it scans the
// table, which costs less there.)
func checkBatchUpdatePlan(t *testing.T, d testDB) {
	t.Helper()
	ctx := context.Background()
	raw := d.raw(t)
	if _, err := raw.ExecContext(ctx, `INSERT INTO passes (tenant, serial_number, auth_token, pass_type_id, template,
		movement_id, holder_generation, file_id, order_id, ticket_id, version, update_tag, content_hash, status, blob_key,
		created_at, updated_at) SELECT 'demo', 'bulk-' || g, 't', 'pass.x.y', 'default', 100000 + g, 0, g, g, g, 1, 1, 'h',
		'active', '', 0, 0 FROM generate_series(1, 20000) AS g`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `INSERT INTO registrations (tenant, device_library_id, pass_type_id, serial_number,
		created_at) SELECT 'demo', 'device-' || g, 'pass.x.y', 'bulk-' || g, 0 FROM generate_series(1, 20000) AS g`); err != nil {
		t.Fatal(err)
	}
	// Two passes' new versions, two registrations pushed: each array holds
	// a column.
	batch := []any{"{demo,demo}", "{s1,s2}", "{1,1}", "{2,2}", "{5,5}", "{h,h}", "{active,active}", `{"",""}`,
		"{1,1}", "{t,t}", "{5,5}", `{"{}","{}"}`, "{sec,sec}", "{1,1}", "{2,2}", "{3,3}", "{4,4}", "{bc,bc}", `{"",""}`}
	pushed := []any{"demo", "{device-1,device-2}", "{pass.x.y,pass.x.y}", "{bulk-1,bulk-2}", "{5,5}"}
	c := []planCase{
		{"update of a batch", storage.UpdatePassesPostgres, batch, "passes_pkey", "Seq Scan"},
		// By the pass's index or the primary key: a pass has few devices.
		{"registrations pushed", storage.MarkPushedPostgresSQL, pushed, "Index Scan using registrations_", "Seq Scan"},
	}
	checkPlans(t, d, c)
	if _, err := raw.ExecContext(ctx, `ANALYZE passes, registrations`); err != nil {
		t.Fatal(err)
	}
	for i := range c {
		c[i].name += ", analysed"
	}
	checkPlans(t, d, c)
}

// TestUpdateRewritesFewIndexes checks, in SQLite's program for it, that a
// new version keeping a pass's keys rewrites two of its indexes' entries
// (the update time's and the event end's), where the whole update
// rewrites seven.
func TestUpdateRewritesFewIndexes(t *testing.T) {
	t.Parallel()
	d := sqliteDB(t)
	d.handle(t) // migrated
	raw := d.raw(t)
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
		if d.name == "postgres" {
			checkBatchUpdatePlan(t, d)
		}
	})
}

// TestVersionContentCompression: on PostgreSQL a stored form written after
// the migrations is compressed with lz4 where the server has it (pglz,
// its default, where it has not).
func TestVersionContentCompression(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d testDB) {
		if d.name != "postgres" {
			return // SQLite compresses nothing
		}
		ctx := context.Background()
		db := d.handle(t)
		p := newPass("c1", 300)
		p.Content = []byte(strings.Repeat(`{"formatVersion":1,"serialNumber":"c1","description":"A concert"}`, 100))
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		raw := d.raw(t)
		var lz4 bool
		if err := raw.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_settings
			WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals))`).Scan(&lz4); err != nil {
			t.Fatal(err)
		}
		var method sql.NullString
		if err := raw.QueryRowContext(ctx, `SELECT pg_column_compression(content) FROM pass_versions
			WHERE tenant = 'demo' AND serial_number = 'c1'`).Scan(&method); err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{true: "lz4", false: "pglz"}[lz4]
		if method.String != want {
			t.Errorf("the stored form is compressed with %q, want %q (the server has lz4: %v)", method.String, want, lz4)
		}
	})
}

// TestFirstStatisticsOwnTables: FirstStatistics leaves alone the tables
// its role may not analyse (it does not own them): PostgreSQL would only
// warn and skip them, and they would be "analysed" again every few
// seconds. The owner's store analyses the same table.
func TestFirstStatisticsOwnTables(t *testing.T) {
	t.Parallel()
	d := postgresDB(t)
	ctx := context.Background()
	owner := d.handle(t)
	admin, err := adminDB(d.adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	role := d.schema + "_app"
	if _, err := admin.ExecContext(ctx, `CREATE ROLE `+role+` LOGIN`); err != nil {
		t.Fatalf("create a role: %v", err)
	}
	t.Cleanup(func() {
		for _, stmt := range []string{`DROP OWNED BY ` + role, `DROP ROLE ` + role} {
			if _, err := admin.ExecContext(context.Background(), stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})
	// Autovacuum would analyse the table itself, and the owner's store
	// then find nothing to do.
	for _, stmt := range []string{`GRANT USAGE ON SCHEMA ` + d.schema + ` TO ` + role,
		// Not ALL: from PostgreSQL 17 that includes MAINTAIN, which allows
		// ANALYZE (tried below).
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + d.schema + ` TO ` + role,
		`GRANT ALL ON ALL SEQUENCES IN SCHEMA ` + d.schema + ` TO ` + role,
		`ALTER TABLE ` + d.schema + `.passes SET (autovacuum_enabled = off)`} {
		if _, err := admin.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	dsn := d.dsn + " user=" + role // keyword/value form: the last value counts
	if u, err := url.Parse(d.dsn); err == nil && u.Scheme != "" {
		u.User = url.User(role)
		dsn = u.String()
	}
	app, err := storage.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatalf("open the store as %s: %v", role, err)
	}
	defer app.Close()

	for i := range storage.FirstStatisticsRows {
		if err := owner.CreatePass(ctx, newPass(fmt.Sprintf("s%04d", i), int64(1000+i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until PostgreSQL counts the writes, so that the table is due.
	raw := d.raw(t)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var n int64
		if err := raw.QueryRowContext(ctx, `SELECT n_mod_since_analyze FROM pg_stat_user_tables
			WHERE schemaname = current_schema() AND relname = 'passes'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= storage.FirstStatisticsRows {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL counts %d writes to passes after 30 s", n)
		}
	}
	if tables, err := app.FirstStatistics(ctx); err != nil || slices.Contains(tables, "passes") {
		t.Errorf("as a role that does not own the tables: analysed %v, %v; want passes left alone", tables, err)
	}
	var version int
	if err := raw.QueryRowContext(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version >= 170000 { // MAINTAIN lets the role analyse the table
		if _, err := admin.ExecContext(ctx, `GRANT MAINTAIN ON `+d.schema+`.passes TO `+role); err != nil {
			t.Fatal(err)
		}
		if tables, err := app.FirstStatistics(ctx); err != nil || !slices.Contains(tables, "passes") {
			t.Errorf("as a role with MAINTAIN: analysed %v, %v; want passes", tables, err)
		}
		return
	}
	if tables, err := owner.FirstStatistics(ctx); err != nil || !slices.Contains(tables, "passes") {
		t.Errorf("as the owner: analysed %v, %v; want passes", tables, err)
	}
}
