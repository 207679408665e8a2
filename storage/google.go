package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"walletpass/pass"
)

const googleObjectColumns = `object_id, class_id, version, state, shown, notified, expires_at, updated_at, object_hash`

// googleObjectDest is where a row of googleObjectColumns is scanned; fill
// completes the record.
type googleObjectDest struct {
	notified         string
	expires, updated int64
}

func (d *googleObjectDest) dest(o *pass.GoogleObject) []any {
	return []any{&o.ObjectID, &o.ClassID, &o.Version, &o.State, &o.Shown, &d.notified, &d.expires, &d.updated, &o.ObjectHash}
}

func (d *googleObjectDest) fill(o *pass.GoogleObject) error {
	var err error
	if o.Notified, err = decodeTimes(d.notified); err != nil {
		return fmt.Errorf("notified: %w", err)
	}
	if d.expires != 0 {
		o.ExpiresAt = time.UnixMilli(d.expires).UTC()
	}
	o.UpdatedAt = time.UnixMilli(d.updated).UTC()
	return nil
}

func decodeTimes(s string) ([]time.Time, error) {
	var ms []int64
	if err := json.Unmarshal([]byte(s), &ms); err != nil {
		return nil, err
	}
	var out []time.Time
	for _, m := range ms {
		out = append(out, time.UnixMilli(m).UTC())
	}
	return out, nil
}

func encodeTimes(ts []time.Time) string {
	ms := make([]int64, 0, len(ts))
	for _, t := range ts {
		ms = append(ms, t.UnixMilli())
	}
	b, _ := json.Marshal(ms) // ints always marshal
	return string(b)
}

// GoogleObject returns the record of a pass's Google Wallet object, or an
// error wrapping pass.ErrNotFound.
func (s *DB) GoogleObject(ctx context.Context, tenant, serial string) (*pass.GoogleObject, error) {
	o := pass.GoogleObject{Tenant: tenant, Serial: serial}
	var d googleObjectDest
	err := s.rdb.QueryRowContext(ctx, `SELECT `+googleObjectColumns+`
		FROM google_objects WHERE tenant = $1 AND serial_number = $2`, tenant, serial).Scan(d.dest(&o)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("storage: google object of %s: %w", serial, pass.ErrNotFound)
	}
	if err == nil {
		err = d.fill(&o)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: google object of %s: %w", serial, err)
	}
	return &o, nil
}

// PutGoogleObject creates or replaces the record of a pass's object; a
// record of a later version is kept (an overlapping sync that read an
// older version of the pass).
func (s *DB) PutGoogleObject(ctx context.Context, o *pass.GoogleObject) error {
	var expires int64
	if !o.ExpiresAt.IsZero() {
		expires = o.ExpiresAt.UnixMilli()
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO google_objects (tenant, serial_number, `+googleObjectColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (tenant, serial_number) DO UPDATE SET object_id = excluded.object_id, class_id = excluded.class_id,
			version = excluded.version, state = excluded.state, shown = excluded.shown, notified = excluded.notified,
			expires_at = excluded.expires_at, updated_at = excluded.updated_at, object_hash = excluded.object_hash
			WHERE google_objects.version <= excluded.version`,
			o.Tenant, o.Serial, o.ObjectID, o.ClassID, o.Version, o.State, o.Shown, encodeTimes(o.Notified), expires,
			o.UpdatedAt.UnixMilli(), o.ObjectHash)
		if err != nil {
			return fmt.Errorf("storage: google object of %s: %w", o.Serial, err)
		}
		return nil
	})
}

// AdvanceGoogleObjects moves records to their versions in one
// transaction, where the store holds an earlier version: their version,
// what they show, their expiry and their time. Their notifications are
// left as stored (a sync may have counted one meanwhile), and so is a
// record a sync moved as far already.
func (s *DB) AdvanceGoogleObjects(ctx context.Context, os []*pass.GoogleObject) error {
	if len(os) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, o := range os {
			var expires int64
			if !o.ExpiresAt.IsZero() {
				expires = o.ExpiresAt.UnixMilli()
			}
			_, err := tx.ExecContext(ctx, `UPDATE google_objects SET version = $3, shown = $4, expires_at = $5, updated_at = $6
				WHERE tenant = $1 AND serial_number = $2 AND version < $3`,
				o.Tenant, o.Serial, o.Version, o.Shown, expires, o.UpdatedAt.UnixMilli())
			if err != nil {
				return fmt.Errorf("storage: google object of %s: %w", o.Serial, err)
			}
		}
		return nil
	})
}

// GoogleClass returns the record of a class, or an error wrapping
// pass.ErrNotFound.
func (s *DB) GoogleClass(ctx context.Context, tenant, classID string) (*pass.GoogleClass, error) {
	c := pass.GoogleClass{Tenant: tenant, ClassID: classID}
	var notified string
	var updated int64
	err := s.rdb.QueryRowContext(ctx, `SELECT content_hash, shown, notified, notice_id, updated_at FROM google_classes
		WHERE tenant = $1 AND class_id = $2`, tenant, classID).Scan(&c.Hash, &c.Shown, &notified, &c.NoticeID, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("storage: google class %s: %w", classID, pass.ErrNotFound)
	}
	if err == nil {
		c.Notified, err = decodeTimes(notified)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: google class %s: %w", classID, err)
	}
	c.UpdatedAt = time.UnixMilli(updated).UTC()
	return &c, nil
}

// PutGoogleClass creates or replaces the record of a class.
func (s *DB) PutGoogleClass(ctx context.Context, c *pass.GoogleClass) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO google_classes (tenant, class_id, content_hash, shown, notified, notice_id, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant, class_id) DO UPDATE SET content_hash = excluded.content_hash,
			shown = excluded.shown, notified = excluded.notified, notice_id = excluded.notice_id, updated_at = excluded.updated_at`,
			c.Tenant, c.ClassID, c.Hash, c.Shown, encodeTimes(c.Notified), c.NoticeID, c.UpdatedAt.UnixMilli())
		if err != nil {
			return fmt.Errorf("storage: google class %s: %w", c.ClassID, err)
		}
		return nil
	})
}

// GoogleMaxObjectNotifications returns the largest number of notifying
// messages one object of the class had since since.
func (s *DB) GoogleMaxObjectNotifications(ctx context.Context, tenant, classID string, since time.Time) (int, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT notified FROM google_objects WHERE tenant = $1 AND class_id = $2
		AND notified <> '[]'`, tenant, classID)
	if err != nil {
		return 0, fmt.Errorf("storage: google class %s notifications: %w", classID, err)
	}
	defer rows.Close()
	worst := 0
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return 0, fmt.Errorf("storage: google class %s notifications: %w", classID, err)
		}
		ts, err := decodeTimes(raw)
		if err != nil {
			return 0, fmt.Errorf("storage: google class %s notifications: %w", classID, err)
		}
		n := 0
		for _, t := range ts {
			if t.After(since) {
				n++
			}
		}
		worst = max(worst, n)
	}
	return worst, rows.Err()
}

// GoogleRowsOfPerformance returns a page of a performance's passes that
// have a Google Wallet object, with the object's record, in serial order.
func (s *DB) GoogleRowsOfPerformance(ctx context.Context, tenant string, performanceID int64, after string, limit int) ([]pass.GoogleRow, error) {
	cols := "p." + strings.ReplaceAll(strings.Join(strings.Fields(passColumns), " "), ", ", ", p.")
	gcols := "g." + strings.ReplaceAll(googleObjectColumns, ", ", ", g.")
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+cols+`, `+gcols+` FROM passes p
		JOIN google_objects g ON g.tenant = p.tenant AND g.serial_number = p.serial_number
		WHERE p.tenant = $1 AND p.performance_id = $2 AND p.serial_number > $3 ORDER BY p.serial_number LIMIT $4`,
		tenant, performanceID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: google objects of performance %d: %w", performanceID, err)
	}
	defer rows.Close()
	var out []pass.GoogleRow
	for rows.Next() {
		var row pass.GoogleRow
		var d googleObjectDest
		p, err := scanPass(withExtra{rows, d.dest(&row.Object)})
		if err == nil {
			err = d.fill(&row.Object)
		}
		if err != nil {
			return nil, fmt.Errorf("storage: google objects of performance %d: %w", performanceID, err)
		}
		row.Pass = *p
		row.Object.Tenant, row.Object.Serial = p.Tenant, p.SerialNumber
		out = append(out, row)
	}
	return out, rows.Err()
}

// withExtra scans a row whose first columns are those the caller asks
// for and whose last are extra.
type withExtra struct {
	r     scanner
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.r.Scan(append(dest, w.extra...)...) }

// GoogleExpiring returns up to limit objects shown as ACTIVE whose expiry
// is not after now.
func (s *DB) GoogleExpiring(ctx context.Context, now time.Time, limit int) ([]pass.GoogleArgs, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT tenant, serial_number FROM google_objects
		WHERE state = 'ACTIVE' AND expires_at > 0 AND expires_at <= $1 ORDER BY expires_at LIMIT $2`, now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("storage: expiring google objects: %w", err)
	}
	defer rows.Close()
	var out []pass.GoogleArgs
	for rows.Next() {
		var r pass.GoogleArgs
		if err := rows.Scan(&r.Tenant, &r.Serial); err != nil {
			return nil, fmt.Errorf("storage: expiring google objects: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RecordGoogleCallback stores a Google Wallet callback once per nonce and
// adds a google-saved or google-deleted entry to the timeline of the
// order whose pass has the object. fresh is false for a replay.
func (s *DB) RecordGoogleCallback(ctx context.Context, c pass.GoogleCallback) (fresh bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO google_callbacks (tenant, nonce, object_id, class_id, event_type, received_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, nonce) DO NOTHING`,
			c.Tenant, c.Nonce, c.ObjectID, c.ClassID, c.EventType, c.ReceivedAt.UnixMilli())
		if err != nil {
			return fmt.Errorf("storage: google callback: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		fresh = true
		var secret, serial, passTypeID string
		var fileID int64
		err = tx.QueryRowContext(ctx, `SELECT p.secret_token, p.file_id, p.serial_number, p.pass_type_id FROM google_objects g
			JOIN passes p ON p.tenant = g.tenant AND p.serial_number = g.serial_number
			WHERE g.tenant = $1 AND g.object_id = $2`, c.Tenant, c.ObjectID).Scan(&secret, &fileID, &serial, &passTypeID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // not an object of ours (any more): kept, counted, in no timeline
		}
		if err != nil {
			return fmt.Errorf("storage: google callback: %w", err)
		}
		kind, typ := "google-saved", pass.EventPassInstalled
		if c.EventType == pass.GoogleDeleted {
			kind, typ = "google-deleted", pass.EventPassUninstalled
		}
		if c.Announce {
			ev := pass.InstallEvent(c.Tenant, serial, passTypeID, typ, "google", c.ReceivedAt)
			if _, err := s.enqueueTx(ctx, tx, pass.TaskOf(ev, ""), c.ReceivedAt); err != nil {
				return fmt.Errorf("storage: google callback: announcement: %w", err)
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO order_timeline (id, tenant, secret_token, file_id, at, kind, correlation_id, detail)
			VALUES ($1, $2, $3, $4, $5, $6, '', $7)`, newID(), c.Tenant, secret, fileID, c.ReceivedAt.UnixMilli(), kind,
			"serial="+serial+" object="+c.ObjectID)
		if err != nil {
			return fmt.Errorf("storage: google callback: timeline: %w", err)
		}
		return nil
	})
	return fresh, err
}

// GoogleWalletCounts counts a tenant's Google Wallet callbacks, and the
// objects whose last callback was a save.
func (s *DB) GoogleWalletCounts(ctx context.Context, tenant string) (pass.GoogleWalletCounts, error) {
	var c pass.GoogleWalletCounts
	err := s.rdb.QueryRowContext(ctx, `SELECT
			COUNT(CASE WHEN event_type = 'save' THEN 1 END), COUNT(CASE WHEN event_type = 'del' THEN 1 END)
		FROM google_callbacks WHERE tenant = $1`, tenant).Scan(&c.Saves, &c.Deletes)
	if err != nil {
		return c, fmt.Errorf("storage: google counts: %w", err)
	}
	// The last callback of each object (by time, then nonce) says whether
	// it is in a wallet.
	err = s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM google_callbacks c
		WHERE c.tenant = $1 AND c.event_type = 'save' AND NOT EXISTS (SELECT 1 FROM google_callbacks d
			WHERE d.tenant = c.tenant AND d.object_id = c.object_id
			AND (d.received_at > c.received_at OR (d.received_at = c.received_at AND d.nonce > c.nonce)))`, tenant).Scan(&c.InWallets)
	if err != nil {
		return c, fmt.Errorf("storage: google counts: %w", err)
	}
	return c, nil
}
