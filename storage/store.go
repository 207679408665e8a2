package storage

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"walletpass/pass"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open walletpass database with its schema up to date, on SQLite
// (OpenSQLite) or PostgreSQL (OpenPostgres). It implements pass.PassStore
// and the domain's other store interfaces.
type DB struct {
	db      *sql.DB // writes (and migrations)
	rdb     *sql.DB // reads; the same pool as db where the server arbitrates writers
	dialect goose.Dialect
	group   *groupCommitter // batches webhook writes on a single-writer store
	// stmts prepares the writer's statements once (SQLite); it is nil on
	// PostgreSQL, where pgx caches prepared statements per connection.
	stmts *stmtCache
	// passMeta serves the PassKit web service's hottest read; meta caches
	// its answers where this process is the only writer (SQLite).
	passMeta *sql.Stmt
	meta     *metaCache
	watch    *foreignWatch // SQLite: the commits of other processes empty meta
	ckpt     *checkpointer // SQLite: WAL checkpoints off the write path

	// PostgreSQL only: the connection settings (ListenTasks connects with
	// them), the schema, and the electors to close with the store.
	pg         *pgx.ConnConfig
	schema     string
	electorsMu sync.Mutex
	electors   []*Elector

	// local wakes this process's task listeners (SQLite; see ListenTasks).
	local wakers
	// batches are the events of event-wide batches read (ActiveFanouts).
	batches batchEvents
}

// OpenSQLite opens (creating it if needed) the SQLite database at path, in
// WAL mode with a busy timeout, and applies pending migrations. Writes go
// through one connection, so concurrent writers queue in Go instead of
// sleeping in SQLite's busy handler; reads use a pool of read-only
// connections that see the last committed state (WAL snapshots).
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	dsn := func(extra ...string) string {
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(NORMAL)")
		// Deleted content is overwritten with zeros, the pages a row's
		// long value freed included: an erased holder's name (a row's old
		// ticket, an older version's stored pass.json) does not linger in
		// the file. It costs writes only where content is deleted
		// (erasures, purges), not as passes are written.
		q.Add("_pragma", "secure_delete(1)")
		for _, e := range extra {
			k, v, _ := strings.Cut(e, "=")
			q.Add(k, v)
		}
		return "file:" + path + "?" + q.Encode()
	}
	// The writer never checkpoints (a checkpoint fsyncs, and would stall
	// the webhook behind it); a background checkpointer does, on its own
	// connection, without blocking the writer.
	w, err := sql.Open("sqlite", dsn("_txlock=immediate", "_pragma=wal_autocheckpoint(0)"))
	if err != nil {
		return nil, fmt.Errorf("storage: open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	s := &DB{db: w, dialect: goose.DialectSQLite3}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn("_pragma=query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("storage: open sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	s.rdb = r
	if s.passMeta, err = r.PrepareContext(ctx, sqlPassMeta); err != nil {
		s.Close()
		return nil, fmt.Errorf("storage: prepare: %w", err)
	}
	s.stmts = &stmtCache{db: w}
	s.meta = newMetaCache()
	// data_version is a connection's, and changes with the commits of
	// the others: read on the writer's one connection, it changes only
	// when another process writes.
	s.watch = newForeignWatch(w, s.meta)
	s.group = newGroupCommitter(w, s.stmts, nil)
	ck, err := sql.Open("sqlite", dsn())
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("storage: open sqlite %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	s.ckpt = newCheckpointer(ck, time.Second)
	return s, nil
}

func (s *DB) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("storage: migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithGoMigrations(contentCompression(s.isPostgres()))}
	if s.isPostgres() {
		locker, err := s.migrationLocker()
		if err != nil {
			return fmt.Errorf("storage: migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(s.dialect, s.db, sub, opts...)
	if err != nil {
		return fmt.Errorf("storage: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	return s.backfillBarcodes(ctx)
}

// Close closes the database (and, on PostgreSQL, its electors, giving up
// their leads).
func (s *DB) Close() error {
	s.electorsMu.Lock()
	electors := s.electors
	s.electors = nil
	s.electorsMu.Unlock()
	for _, e := range electors {
		_ = e.Close() // the session ends with the pool anyway
	}
	if s.group != nil {
		s.group.close()
	}
	if s.ckpt != nil {
		s.ckpt.close()
	}
	s.watch.close()
	s.stmts.close()
	if s.passMeta != nil {
		s.passMeta.Close()
	}
	err := s.db.Close()
	if s.rdb != s.db {
		if rerr := s.rdb.Close(); err == nil {
			err = rerr
		}
	}
	return err
}

// Ping checks that the database answers.
func (s *DB) Ping(ctx context.Context) error { return s.rdb.PingContext(ctx) }

const passColumns = `tenant, serial_number, auth_token, pass_type_id, template, movement_id, holder_generation,
	file_id, order_id, ticket_id, version, update_tag, content_hash, status, blob_key, created_at, updated_at,
	secret_token, holder_key, ticket_json`

// fitText makes s fit a text column of both databases: valid UTF-8
// without NUL (PostgreSQL refuses either; SQLite would keep them), at most
// n bytes, cut between two characters.
func fitText(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// eventEnd is when p's last event ends (pass.Ticket.LastEnd), in Unix
// milliseconds; 0 when it is not dated.
func eventEnd(p *pass.Pass) int64 {
	at := p.Ticket.LastEnd()
	if at.IsZero() {
		return 0
	}
	return at.UnixMilli()
}

// ReconcilePasses returns the passes of tenant whose performance is known
// and whose event ends after endAfter (see pass.ReconcileReader).
func (s *DB) ReconcilePasses(ctx context.Context, tenant string, endAfter time.Time) ([]pass.ReconcileRow, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT performance_id, ticket_id, file_id, secret_token, status FROM passes
		WHERE tenant = $1 AND event_end > $2 AND performance_id <> 0 ORDER BY performance_id, ticket_id`,
		tenant, endAfter.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("storage: reconcile passes: %w", err)
	}
	defer rows.Close()
	var out []pass.ReconcileRow
	for rows.Next() {
		var r pass.ReconcileRow
		var st string
		if err := rows.Scan(&r.PerformanceID, &r.TicketID, &r.FileID, &r.SecretToken, &st); err != nil {
			return nil, fmt.Errorf("storage: reconcile passes: %w", err)
		}
		r.Status = pass.Status(st)
		out = append(out, r)
	}
	return out, rows.Err()
}

// PerformancesEndingAfter returns the performances of tenant, in id
// order, with a pass whose event ends after endAfter (see
// pass.ReconcileReader).
func (s *DB) PerformancesEndingAfter(ctx context.Context, tenant string, endAfter time.Time) ([]int64, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT DISTINCT performance_id FROM passes
		WHERE tenant = $1 AND event_end > $2 AND performance_id <> 0 ORDER BY performance_id`, tenant, endAfter.UnixMilli())
	return int64s(rows, err, "performances")
}

// int64s reads the one-column rows of a query (and its error) as
// numbers; what names the query in its errors.
func int64s(rows *sql.Rows, err error, what string) ([]int64, error) {
	if err != nil {
		return nil, fmt.Errorf("storage: %s: %w", what, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("storage: %s: %w", what, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: %s: %w", what, err)
	}
	return out, nil
}

var _ pass.ReconcileReader = (*DB)(nil)

// CountPasses returns how many passes tenant has with status (any status
// when it is "").
func (s *DB) CountPasses(ctx context.Context, tenant string, status pass.Status) (int, error) {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM passes WHERE tenant = $1 AND ($2 = '' OR status = $2)`,
		tenant, string(status)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("storage: count passes: %w", err)
	}
	return n, nil
}

// CreatePass stores a new pass and its first version in one transaction
// (with its Google Wallet task when the tenant inserts on payment).
// It returns an error of kind pass.KindConflict if the serial number or the
// (tenant, movement id, holder generation) identity is taken.
func (s *DB) CreatePass(ctx context.Context, p *pass.Pass, follow []pass.NewTask) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		tj, err := ticketJSON(p)
		if err != nil {
			return err
		}
		_, err = s.stmts.exec(ctx, tx, `INSERT INTO passes (`+passColumns+`, performance_id, event_end, barcode)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`,
			p.Tenant, p.SerialNumber, p.AuthToken, p.PassTypeID, p.Template, p.MovementID, p.HolderGeneration,
			p.FileID, p.OrderID, p.TicketID, p.Version, p.UpdateTag, p.ContentHash, string(p.Status), p.BlobKey,
			p.CreatedAt.UnixMilli(), p.UpdatedAt.UnixMilli(), p.SecretToken, p.HolderKey, tj,
			p.Ticket.Event.PerformanceID, eventEnd(p), p.Ticket.Barcode)
		if err != nil {
			if isUniqueViolation(err) {
				return pass.Wrap(pass.KindConflict, err, "a pass with this serial number or ticket identity exists")
			}
			return fmt.Errorf("storage: create pass %s: %w", p.SerialNumber, err)
		}
		if err := s.insertVersion(ctx, tx, p); err != nil {
			return err
		}
		return s.enqueueFollowUps(ctx, tx, p, follow)
	})
}

// enqueueFollowUps writes, in tx, the tasks that follow a new version of
// p (the domain decided them: pass.FollowUps).
func (s *DB) enqueueFollowUps(ctx context.Context, tx *sql.Tx, p *pass.Pass, follow []pass.NewTask) error {
	at := pass.MadeAt(p)
	for _, t := range follow {
		if _, err := s.enqueueTx(ctx, tx, t, at); err != nil {
			return fmt.Errorf("storage: %s task of %s: %w", t.Kind, p.SerialNumber, err)
		}
	}
	return nil
}

const insertVersionHead = `INSERT INTO pass_versions (tenant, serial_number, version, content_hash, status, blob_key, created_at, content)`

// versionRow appends the values of p's version row.
func versionRow(args []any, p *pass.Pass) []any {
	return append(args, p.Tenant, p.SerialNumber, p.Version, p.ContentHash, string(p.Status), p.BlobKey, p.UpdatedAt.UnixMilli(), p.Content)
}

func (s *DB) insertVersion(ctx context.Context, tx *sql.Tx, p *pass.Pass) error {
	_, err := s.stmts.exec(ctx, tx, insertVersionHead+` VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, versionRow(nil, p)...)
	if err != nil {
		return fmt.Errorf("storage: pass %s version %d: %w", p.SerialNumber, p.Version, err)
	}
	return nil
}

// GetPass returns the pass of tenant with serial number serial, or an error
// wrapping pass.ErrNotFound.
func (s *DB) GetPass(ctx context.Context, tenant, serial string) (*pass.Pass, error) {
	row := s.rdb.QueryRowContext(ctx, `SELECT `+passColumns+` FROM passes WHERE tenant = $1 AND serial_number = $2`, tenant, serial)
	p, err := scanPass(row)
	if err != nil {
		return nil, fmt.Errorf("storage: pass %s/%s: %w", tenant, serial, err)
	}
	return p, nil
}

const sqlPassMeta = `SELECT tenant, serial_number, auth_token, pass_type_id, version, update_tag, status,
	blob_key, updated_at, secret_token, file_id FROM passes WHERE tenant = $1 AND serial_number = $2`

// GetPassMeta is GetPass without the ticket snapshot: what the PassKit web
// service needs to authenticate and serve a pass, cheaply.
func (s *DB) GetPassMeta(ctx context.Context, tenant, serial string) (*pass.Pass, error) {
	if p, ok := s.meta.get(tenant, serial); ok {
		return p, nil
	}
	epoch := s.meta.begin()
	var p pass.Pass
	var status string
	var updated int64
	err := s.passMeta.QueryRowContext(ctx, tenant, serial).Scan(
		&p.Tenant, &p.SerialNumber, &p.AuthToken, &p.PassTypeID, &p.Version, &p.UpdateTag, &status, &p.BlobKey, &updated,
		&p.SecretToken, &p.FileID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("storage: pass %s/%s: %w", tenant, serial, pass.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: pass %s/%s: %w", tenant, serial, err)
	}
	p.Status = pass.Status(status)
	p.UpdatedAt = time.UnixMilli(updated).UTC()
	s.meta.put(&p, epoch)
	return &p, nil
}

// The lookups of a ticket's passes, by movement (and holder generation).
const (
	passByIdentitySQL = `SELECT ` + passColumns + ` FROM passes
		WHERE tenant = $1 AND movement_id = $2 AND holder_generation = $3`
	latestPassSQL = `SELECT ` + passColumns + ` FROM passes WHERE tenant = $1 AND movement_id = $2
		ORDER BY holder_generation DESC LIMIT 1`
)

// GetPassByIdentity returns the pass of (tenant, movement id, holder
// generation), or an error wrapping pass.ErrNotFound.
func (s *DB) GetPassByIdentity(ctx context.Context, tenant string, movementID int64, gen int) (*pass.Pass, error) {
	row := s.rdb.QueryRowContext(ctx, passByIdentitySQL, tenant, movementID, gen)
	p, err := scanPass(row)
	if err != nil {
		return nil, fmt.Errorf("storage: pass of movement %d/%d: %w", movementID, gen, err)
	}
	return p, nil
}

// LatestPassForMovement returns the pass of the newest holder generation
// of a movement, or an error wrapping pass.ErrNotFound.
func (s *DB) LatestPassForMovement(ctx context.Context, tenant string, movementID int64) (*pass.Pass, error) {
	row := s.rdb.QueryRowContext(ctx, latestPassSQL, tenant, movementID)
	p, err := scanPass(row)
	if err != nil {
		return nil, fmt.Errorf("storage: pass of movement %d: %w", movementID, err)
	}
	return p, nil
}

// PassesByOrder returns the passes of an order, by movement and generation
// (the "+" keeps SQLite without statistics on the secret's index rather
// than reading the tenant's passes in movement order).
func (s *DB) PassesByOrder(ctx context.Context, tenant, secretToken string) ([]pass.Pass, error) {
	return s.queryPasses(ctx, "passes of order", `SELECT `+passColumns+` FROM passes WHERE tenant = $1 AND secret_token = $2
		ORDER BY +movement_id, +holder_generation`, tenant, secretToken)
}

// queryPasses runs a query of passColumns and returns its passes; what
// names them in errors.
func (s *DB) queryPasses(ctx context.Context, what, query string, args ...any) ([]pass.Pass, error) {
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("storage: %s: %w", what, err)
	}
	defer rows.Close()
	var out []pass.Pass
	for rows.Next() {
		p, err := scanPass(rows)
		if err != nil {
			return nil, fmt.Errorf("storage: %s: %w", what, err)
		}
		out = append(out, *p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: %s: %w", what, err)
	}
	return out, nil
}

func ticketJSON(p *pass.Pass) (string, error) {
	if p.Ticket.MovementID == 0 {
		return "", nil
	}
	b, err := json.Marshal(p.Ticket)
	if err != nil {
		return "", fmt.Errorf("storage: ticket of pass %s: %w", p.SerialNumber, err)
	}
	return string(b), nil
}

// UpdatePass stores p as the next version of its pass and the tasks that
// follow it, in one transaction: the stored version must be exactly
// p.Version-1, and the update tag only grows. Otherwise it returns an error
// of kind pass.KindConflict and changes nothing: of concurrent updates to
// the same version, from any instance, exactly one wins. The transaction
// notifies the task listeners of its tasks (see NotifyTasks).
func (s *DB) UpdatePass(ctx context.Context, p *pass.Pass, follow []pass.NewTask) error {
	defer s.meta.drop(p.Tenant, p.SerialNumber)
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.updatePassTx(ctx, tx, p, follow) })
}

// UpdatePasses is UpdatePass for several passes, and more tasks, in one
// transaction: all are stored or none (a conflict on one is the error).
func (s *DB) UpdatePasses(ctx context.Context, ws []pass.PassWrite, more []pass.NewTask) error {
	defer func() {
		for _, w := range ws {
			s.meta.drop(w.Pass.Tenant, w.Pass.SerialNumber)
		}
	}()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.isPostgres() {
			if err := s.updatePassRowsPostgres(ctx, tx, ws); err != nil {
				return err
			}
		} else {
			for _, w := range ws {
				if err := s.updatePassRow(ctx, tx, w.Pass, w.Follow); err != nil {
					return err
				}
			}
		}
		err := s.insertRows(ctx, tx, insertVersionHead, "", 8, len(ws), rowsPerInsert, func(args []any, i int) []any {
			return versionRow(args, ws[i].Pass)
		})
		if err != nil {
			return fmt.Errorf("storage: pass versions: %w", err)
		}
		for _, t := range more {
			if _, err := s.enqueueTx(ctx, tx, t, time.Now()); err != nil {
				return fmt.Errorf("storage: %s task: %w", t.Kind, err)
			}
		}
		return nil
	})
}

func (s *DB) updatePassTx(ctx context.Context, tx *sql.Tx, p *pass.Pass, follow []pass.NewTask) error {
	if err := s.updatePassRow(ctx, tx, p, follow); err != nil {
		return err
	}
	return s.insertVersion(ctx, tx, p)
}

// updatePassRow is updatePassTx without the version's row.
//
// SQLite rewrites the entry of every index that has a column the SET list
// names, whether its value changed or not. A new version usually keeps the
// columns that find a pass (its order's secret, holder, barcode, file,
// order and performance), so on SQLite the update is tried first with
// those in its WHERE clause and out of its SET list: two of the eight
// indexes change (the update time's, the event end's) instead of seven.
// Only when that matches no row does the whole update run; if it matches
// none either, the pass is not at version p.Version-1. PostgreSQL gains
// nothing from it (a new row version gets an entry in every index once the
// update time's changes) and, on tables without statistics, planned it
// from the holder's index, so it runs the whole update only.
func (s *DB) updatePassRow(ctx context.Context, tx *sql.Tx, p *pass.Pass, follow []pass.NewTask) error {
	tj, err := ticketJSON(p)
	if err != nil {
		return err
	}
	args := []any{p.Version, p.UpdateTag, p.ContentHash, string(p.Status), p.BlobKey, p.TicketID, p.Template,
		p.UpdatedAt.UnixMilli(), p.Tenant, p.SerialNumber, p.Version - 1, tj, p.SecretToken, p.OrderID, p.FileID,
		p.Ticket.Event.PerformanceID, eventEnd(p), p.Ticket.Barcode, p.HolderKey}
	updates := []string{updateSameIdentity, updateWhole}
	if s.isPostgres() {
		updates = updates[1:]
	}
	for _, q := range updates {
		res, err := s.stmts.exec(ctx, tx, q, args...)
		if err != nil {
			return fmt.Errorf("storage: update pass %s: %w", p.SerialNumber, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return s.enqueueFollowUps(ctx, tx, p, follow)
		}
	}
	return pass.Errorf(pass.KindConflict, "pass %s is not at version %d any more", p.SerialNumber, p.Version-1)
}

// updatePassRowsPostgres is updatePassRow for many passes on PostgreSQL:
// rowsPerInsert passes to an UPDATE, their values in arrays, each a round
// trip instead of one per pass. A pass that is not at the version before
// its new one is a conflict, as updatePassRow's (the transaction is then
// rolled back, so the passes updated with it are not stored either).
func (s *DB) updatePassRowsPostgres(ctx context.Context, tx *sql.Tx, ws []pass.PassWrite) error {
	for start := 0; start < len(ws); start += rowsPerInsert {
		batch := ws[start:min(start+rowsPerInsert, len(ws))]
		var (
			tenants, serials, hashes, statuses, blobs, templates, tickets, secrets, barcodes, holders []string
			versions, prevs                                                                           []int32
			tags, ticketIDs, updated, orders, files, perfs, ends                                      []int64
		)
		for _, w := range batch {
			p := w.Pass
			tj, err := ticketJSON(p)
			if err != nil {
				return err
			}
			tenants, serials, versions, prevs = append(tenants, p.Tenant), append(serials, p.SerialNumber),
				append(versions, int32(p.Version)), append(prevs, int32(p.Version-1))
			tags, hashes, statuses, blobs = append(tags, p.UpdateTag), append(hashes, p.ContentHash),
				append(statuses, string(p.Status)), append(blobs, p.BlobKey)
			ticketIDs, templates, updated, tickets = append(ticketIDs, p.TicketID), append(templates, p.Template),
				append(updated, p.UpdatedAt.UnixMilli()), append(tickets, tj)
			secrets, orders, files, perfs = append(secrets, p.SecretToken), append(orders, p.OrderID),
				append(files, p.FileID), append(perfs, p.Ticket.Event.PerformanceID)
			ends, barcodes, holders = append(ends, eventEnd(p)), append(barcodes, p.Ticket.Barcode), append(holders, p.HolderKey)
		}
		res, err := tx.ExecContext(ctx, updatePassesPostgres, tenants, serials, prevs, versions, tags, hashes, statuses, blobs,
			ticketIDs, templates, updated, tickets, secrets, orders, files, perfs, ends, barcodes, holders)
		if err != nil {
			return fmt.Errorf("storage: update passes: %w", err)
		}
		if n, _ := res.RowsAffected(); int(n) != len(batch) {
			return s.staleInBatch(ctx, tx, batch)
		}
		for _, w := range batch {
			if err := s.enqueueFollowUps(ctx, tx, w.Pass, w.Follow); err != nil {
				return err
			}
		}
	}
	return nil
}

// updatePassesPostgres updates every pass of its arrays (one element a
// pass) that is at the version before its new one; each array is a column
// of updatePassRow's.
const updatePassesPostgres = `UPDATE passes AS p SET version = v.version, update_tag = v.update_tag,
		content_hash = v.content_hash, status = v.status, blob_key = v.blob_key, ticket_id = v.ticket_id,
		template = v.template, updated_at = v.updated_at, ticket_json = v.ticket_json, secret_token = v.secret_token,
		order_id = v.order_id, file_id = v.file_id, performance_id = v.performance_id, event_end = v.event_end,
		barcode = v.barcode, holder_key = v.holder_key
	FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[], $5::bigint[], $6::text[], $7::text[], $8::text[],
		$9::bigint[], $10::text[], $11::bigint[], $12::text[], $13::text[], $14::bigint[], $15::bigint[], $16::bigint[],
		$17::bigint[], $18::text[], $19::text[])
		AS v(tenant, serial_number, prev, version, update_tag, content_hash, status, blob_key, ticket_id, template,
		updated_at, ticket_json, secret_token, order_id, file_id, performance_id, event_end, barcode, holder_key)
	WHERE p.tenant = v.tenant AND p.serial_number = v.serial_number AND p.version = v.prev AND p.update_tag < v.update_tag`

// staleInBatch names, as a conflict, the first pass of batch that an
// update left out: one not at the version before its new one (or whose
// update tag did not grow), or named twice. A row the update wrote holds
// its pass's new version and update tag.
func (s *DB) staleInBatch(ctx context.Context, tx *sql.Tx, batch []pass.PassWrite) error {
	seen := map[[2]string]bool{}
	for _, w := range batch {
		p := w.Pass
		key := [2]string{p.Tenant, p.SerialNumber}
		var v int
		var tag int64
		err := tx.QueryRowContext(ctx, `SELECT version, update_tag FROM passes WHERE tenant = $1 AND serial_number = $2`,
			p.Tenant, p.SerialNumber).Scan(&v, &tag)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("storage: update passes: %w", err)
		}
		if seen[key] || err != nil || v != p.Version || tag != p.UpdateTag { // not this update's row
			return pass.Errorf(pass.KindConflict, "pass %s is not at version %d any more", p.SerialNumber, p.Version-1)
		}
		seen[key] = true
	}
	return pass.Errorf(pass.KindConflict, "a pass of the batch is not at the version before its new one")
}

// The two updates of updatePassRow, with the same arguments; the first is
// SQLite's only (where equality on the whole primary key always wins the
// plan).
const (
	updateSameIdentity = `UPDATE passes SET version = $1, update_tag = $2, content_hash = $3, status = $4,
		blob_key = $5, ticket_id = $6, template = $7, updated_at = $8, ticket_json = $12, event_end = $17
		WHERE tenant = $9 AND serial_number = $10 AND version = $11 AND update_tag < $2 AND secret_token = $13
		AND order_id = $14 AND file_id = $15 AND performance_id = $16 AND barcode = $18 AND holder_key = $19`
	updateWhole = `UPDATE passes SET version = $1, update_tag = $2, content_hash = $3, status = $4,
		blob_key = $5, ticket_id = $6, template = $7, updated_at = $8, ticket_json = $12, secret_token = $13,
		order_id = $14, file_id = $15, performance_id = $16, event_end = $17, barcode = $18, holder_key = $19
		WHERE tenant = $9 AND serial_number = $10 AND version = $11 AND update_tag < $2`
)

// VersionContent returns the stored form of version v of a pass, or an
// error wrapping pass.ErrNotFound when there is no such version or it has
// none (stored as a file before, or erased).
func (s *DB) VersionContent(ctx context.Context, tenant, serial string, v int) ([]byte, error) {
	var content []byte
	err := s.rdb.QueryRowContext(ctx, `SELECT content FROM pass_versions WHERE tenant = $1 AND serial_number = $2 AND version = $3`,
		tenant, serial, v).Scan(&content)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && content == nil) {
		return nil, fmt.Errorf("storage: pass %s/%s version %d: %w", tenant, serial, v, pass.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: pass %s/%s version %d: %w", tenant, serial, v, err)
	}
	return content, nil
}

// ListVersions returns the stored versions of a pass, oldest first.
func (s *DB) ListVersions(ctx context.Context, tenant, serial string) ([]pass.Pass, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT version, content_hash, status, blob_key, created_at FROM pass_versions
		WHERE tenant = $1 AND serial_number = $2 ORDER BY version`, tenant, serial)
	if err != nil {
		return nil, fmt.Errorf("storage: versions of %s: %w", serial, err)
	}
	defer rows.Close()
	var out []pass.Pass
	for rows.Next() {
		v := pass.Pass{Tenant: tenant, SerialNumber: serial}
		var status string
		var created int64
		if err := rows.Scan(&v.Version, &v.ContentHash, &status, &v.BlobKey, &created); err != nil {
			return nil, fmt.Errorf("storage: versions of %s: %w", serial, err)
		}
		v.Status = pass.Status(status)
		v.UpdatedAt = time.UnixMilli(created).UTC()
		out = append(out, v)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scanPass(r scanner) (*pass.Pass, error) {
	var p pass.Pass
	var status, tj string
	var created, updated int64
	err := r.Scan(&p.Tenant, &p.SerialNumber, &p.AuthToken, &p.PassTypeID, &p.Template, &p.MovementID, &p.HolderGeneration,
		&p.FileID, &p.OrderID, &p.TicketID, &p.Version, &p.UpdateTag, &p.ContentHash, &status, &p.BlobKey, &created, &updated,
		&p.SecretToken, &p.HolderKey, &tj)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pass.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if tj != "" {
		if err := json.Unmarshal([]byte(tj), &p.Ticket); err != nil {
			return nil, fmt.Errorf("ticket of pass %s: %w", p.SerialNumber, err)
		}
	}
	p.Status = pass.Status(status)
	p.CreatedAt = time.UnixMilli(created).UTC()
	p.UpdatedAt = time.UnixMilli(updated).UTC()
	return &p, nil
}

// inTx runs fn in a transaction and commits it. On PostgreSQL, a
// transaction that the server aborted to break a deadlock between
// instances (or a serialization failure) is run again, up to
// maxTxAttempts times: fn must have no effect outside tx.
func (s *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if !s.isPostgres() {
		return s.txOnce(ctx, fn)
	}
	var err error
	for attempt := 1; ; attempt++ {
		if err = s.txOnce(ctx, fn); !isTxConflict(err) || attempt == maxTxAttempts {
			return err
		}
		// Let the transaction that won finish before running again: the
		// loser would otherwise often take the first lock again at once.
		t := time.NewTimer(time.Duration(attempt) * (10*time.Millisecond + rand.N(40*time.Millisecond)))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// maxTxAttempts bounds how often inTx runs a transaction that PostgreSQL
// aborted for a conflict with another.
const maxTxAttempts = 3

func (s *DB) txOnce(ctx context.Context, fn func(*sql.Tx) error) error {
	s.stmts.warm(ctx)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("storage: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("storage: commit: %w", err)
	}
	return nil
}

// isTxConflict says whether err is PostgreSQL aborting a transaction for
// a deadlock (40P01) or a serialization failure (40001): running it again
// may succeed.
func isTxConflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// isUniqueViolation says whether err is a unique constraint's: pgx's
// *pgconn.PgError with SQLSTATE 23505 on PostgreSQL, "UNIQUE constraint
// failed" (extended codes 2067 and 1555) on SQLite.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

var _ pass.PassStore = (*DB)(nil)

// checkpointer copies the SQLite WAL into the database file every period
// (PASSIVE: it never blocks the writer or the readers), keeping the WAL
// small without making a webhook wait for the fsync a checkpoint needs.
type checkpointer struct {
	db   *sql.DB
	stop chan struct{}
	done chan struct{}
}

func newCheckpointer(db *sql.DB, every time.Duration) *checkpointer {
	c := &checkpointer{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
				_, _ = c.db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`) // best effort: the next tick tries again
			}
		}
	}()
	return c
}

func (c *checkpointer) close() {
	close(c.stop)
	<-c.done
	_, _ = c.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	c.db.Close()
}
