package storage

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"walletpass/pass"
)

// Register records a device's registration for a pass and its push token,
// in one transaction; created is false when the registration existed (its
// time is then now's: the 410 rule of ForgetPushToken compares with the
// last registration).
func (s *DB) Register(ctx context.Context, tenant string, d pass.Device, passTypeID, serial string, now time.Time, follow ...pass.NewTask) (bool, error) {
	created := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Counted and inserted under the pass's lock: two registrations at
		// once would otherwise both see room (see lockInTx).
		if err := s.lockInTx(ctx, tx, "registrations\x00"+tenant+"\x00"+passTypeID+"\x00"+serial); err != nil {
			return fmt.Errorf("storage: lock the pass's registrations: %w", err)
		}
		var total, mine int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(CASE WHEN device_library_id = $4 THEN 1 END) FROM registrations
			WHERE tenant = $1 AND pass_type_id = $2 AND serial_number = $3`, tenant, passTypeID, serial, d.LibraryID).Scan(&total, &mine); err != nil {
			return fmt.Errorf("storage: registrations of the pass: %w", err)
		}
		if mine == 0 && total >= pass.MaxDevicesPerPass {
			return pass.Errorf(pass.KindForbidden, "the pass is registered on %d devices already, the most it may be", total)
		}
		ms := now.UnixMilli()
		_, err := tx.ExecContext(ctx, `INSERT INTO devices (tenant, device_library_id, push_token, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4)
			ON CONFLICT (tenant, device_library_id) DO UPDATE SET push_token = excluded.push_token, updated_at = excluded.updated_at`,
			tenant, d.LibraryID, d.PushToken, ms)
		if err != nil {
			return fmt.Errorf("storage: device: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO registrations (tenant, device_library_id, pass_type_id, serial_number, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, tenant, d.LibraryID, passTypeID, serial, ms)
		if err != nil {
			return fmt.Errorf("storage: registration: %w", err)
		}
		n, _ := res.RowsAffected()
		created = n == 1
		if created {
			if err := s.enqueueAll(ctx, tx, follow, now); err != nil {
				return err
			}
			return walletEvent(ctx, tx, tenant, serial, pass.WalletAdded, ms)
		}
		// Registered again: its time is now's, so that a 410 whose
		// timestamp is older does not forget it (ForgetPushToken).
		if _, err := tx.ExecContext(ctx, `UPDATE registrations SET created_at = $5 WHERE tenant = $1 AND device_library_id = $2
			AND pass_type_id = $3 AND serial_number = $4 AND created_at < $5`, tenant, d.LibraryID, passTypeID, serial, ms); err != nil {
			return fmt.Errorf("storage: registration: %w", err)
		}
		return nil
	})
	return created, err
}

// enqueueAll writes tasks in tx.
func (s *DB) enqueueAll(ctx context.Context, tx *sql.Tx, tasks []pass.NewTask, now time.Time) error {
	for _, t := range tasks {
		if _, err := s.enqueueTx(ctx, tx, t, now); err != nil {
			return fmt.Errorf("storage: %s task: %w", t.Kind, err)
		}
	}
	return nil
}

// walletEvent records that an Apple Wallet added or removed a pass.
func walletEvent(ctx context.Context, tx *sql.Tx, tenant, serial, event string, ms int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO wallet_events (tenant, serial_number, wallet, event, at)
		VALUES ($1, $2, 'apple', $3, $4)`, tenant, serial, event, ms); err != nil {
		return fmt.Errorf("storage: wallet event: %w", err)
	}
	return nil
}

// Unregister removes a registration (and the device when it has none left).
func (s *DB) Unregister(ctx context.Context, tenant, device, passTypeID, serial string, follow ...pass.NewTask) (bool, error) {
	removed := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM registrations WHERE tenant = $1 AND device_library_id = $2
			AND pass_type_id = $3 AND serial_number = $4`, tenant, device, passTypeID, serial)
		if err != nil {
			return fmt.Errorf("storage: unregister: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			removed = true
			now := time.Now()
			if err := s.enqueueAll(ctx, tx, follow, now); err != nil {
				return err
			}
			if err := walletEvent(ctx, tx, tenant, serial, pass.WalletRemoved, now.UnixMilli()); err != nil {
				return err
			}
		}
		// The device's row is locked first, so that a registration
		// committed meanwhile (which writes the row) is seen by the
		// DELETE's own snapshot: PostgreSQL's would not see it otherwise,
		// and the registration would lose its device (no more pushes).
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET updated_at = updated_at WHERE tenant = $1 AND device_library_id = $2`,
			tenant, device); err != nil {
			return fmt.Errorf("storage: unregister: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE tenant = $1 AND device_library_id = $2
			AND NOT EXISTS (SELECT 1 FROM registrations r WHERE r.tenant = $1 AND r.device_library_id = $2)`, tenant, device); err != nil {
			return fmt.Errorf("storage: unregister: %w", err)
		}
		return nil
	})
	return removed, err
}

// UpdatedSerials returns the serials the device registered whose update
// tag is after since, and the largest tag among them.
func (s *DB) UpdatedSerials(ctx context.Context, tenant, device, passTypeID string, since int64) ([]string, int64, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT p.serial_number, p.update_tag FROM registrations r
		JOIN passes p ON p.tenant = r.tenant AND p.serial_number = r.serial_number AND p.pass_type_id = r.pass_type_id
		WHERE r.tenant = $1 AND r.device_library_id = $2 AND r.pass_type_id = $3 AND p.update_tag > $4
		ORDER BY p.serial_number`, tenant, device, passTypeID, since)
	if err != nil {
		return nil, 0, fmt.Errorf("storage: updated serials: %w", err)
	}
	defer rows.Close()
	var serials []string
	var last int64
	for rows.Next() {
		var serial string
		var tag int64
		if err := rows.Scan(&serial, &tag); err != nil {
			return nil, 0, fmt.Errorf("storage: updated serials: %w", err)
		}
		serials = append(serials, serial)
		last = max(last, tag)
	}
	return serials, last, rows.Err()
}

// Registered reports whether the device is registered for the pass.
func (s *DB) Registered(ctx context.Context, tenant, device, passTypeID, serial string) (bool, error) {
	var ok bool
	err := s.rdb.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM registrations WHERE tenant = $1 AND device_library_id = $2
		AND pass_type_id = $3 AND serial_number = $4)`, tenant, device, passTypeID, serial).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("storage: registration: %w", err)
	}
	return ok, nil
}

// DevicesForPass returns the devices registered for a pass.
func (s *DB) DevicesForPass(ctx context.Context, tenant, passTypeID, serial string) ([]pass.Device, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT d.device_library_id, d.push_token FROM registrations r
		JOIN devices d ON d.tenant = r.tenant AND d.device_library_id = r.device_library_id
		WHERE r.tenant = $1 AND r.pass_type_id = $2 AND r.serial_number = $3 ORDER BY d.device_library_id`,
		tenant, passTypeID, serial)
	if err != nil {
		return nil, fmt.Errorf("storage: devices of pass: %w", err)
	}
	defer rows.Close()
	var out []pass.Device
	for rows.Next() {
		var d pass.Device
		if err := rows.Scan(&d.LibraryID, &d.PushToken); err != nil {
			return nil, fmt.Errorf("storage: devices of pass: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DevicesToPush returns the devices registered for a pass whose last push
// was for an older version than the pass's current one, and the current
// version's update tag.
func (s *DB) DevicesToPush(ctx context.Context, tenant, passTypeID, serial string) ([]pass.Device, int64, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT d.device_library_id, d.push_token, p.update_tag FROM passes p
		JOIN registrations r ON r.tenant = p.tenant AND r.pass_type_id = p.pass_type_id AND r.serial_number = p.serial_number
		JOIN devices d ON d.tenant = r.tenant AND d.device_library_id = r.device_library_id
		WHERE p.tenant = $1 AND p.pass_type_id = $2 AND p.serial_number = $3 AND r.pushed_tag < p.update_tag
		ORDER BY d.device_library_id`, tenant, passTypeID, serial)
	if err != nil {
		return nil, 0, fmt.Errorf("storage: devices to push: %w", err)
	}
	defer rows.Close()
	var out []pass.Device
	var tag int64
	for rows.Next() {
		var d pass.Device
		if err := rows.Scan(&d.LibraryID, &d.PushToken, &tag); err != nil {
			return nil, 0, fmt.Errorf("storage: devices to push: %w", err)
		}
		out = append(out, d)
	}
	return out, tag, rows.Err()
}

// MarkPushed records that the devices were pushed for the version with
// update tag tag, in one transaction.
func (s *DB) MarkPushed(ctx context.Context, tenant, passTypeID, serial string, libraryIDs []string, tag int64) error {
	done := make([]pass.PendingPush, len(libraryIDs))
	for i, id := range libraryIDs {
		done[i] = pass.PendingPush{Device: pass.Device{LibraryID: id}, PassTypeID: passTypeID, Serial: serial, Tag: tag}
	}
	return s.MarkPushedMany(ctx, tenant, done)
}

// ForgetPushToken removes the registrations and devices of a push token.
func (s *DB) ForgetPushToken(ctx context.Context, tenant, pushToken string, since time.Time) (int64, error) {
	// Registrations made before since: every one when since is zero.
	// APNs's timestamp reaches us in whole seconds, so a registration of
	// that second counts as before it: a device that registers again
	// after its token went usually has a new token anyway.
	before := int64(math.MaxInt64)
	if !since.IsZero() {
		before = since.Truncate(time.Second).Add(time.Second).UnixMilli()
	}
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO wallet_events (tenant, serial_number, wallet, event, at)
			SELECT tenant, serial_number, 'apple', $3, $4 FROM registrations WHERE tenant = $1 AND created_at < $5 AND device_library_id IN
			(SELECT device_library_id FROM devices WHERE tenant = $1 AND push_token = $2)`,
			tenant, pushToken, pass.WalletRemoved, time.Now().UnixMilli(), before); err != nil {
			return fmt.Errorf("storage: forget push token: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM registrations WHERE tenant = $1 AND created_at < $3 AND device_library_id IN
			(SELECT device_library_id FROM devices WHERE tenant = $1 AND push_token = $2)`, tenant, pushToken, before)
		if err != nil {
			return fmt.Errorf("storage: forget push token: %w", err)
		}
		n, _ = res.RowsAffected()
		// Locked first, as in Unregister.
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET updated_at = updated_at WHERE tenant = $1 AND push_token = $2`,
			tenant, pushToken); err != nil {
			return fmt.Errorf("storage: forget push token: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE tenant = $1 AND push_token = $2
			AND NOT EXISTS (SELECT 1 FROM registrations r WHERE r.tenant = devices.tenant AND r.device_library_id = devices.device_library_id)`,
			tenant, pushToken); err != nil {
			return fmt.Errorf("storage: forget push token: %w", err)
		}
		return nil
	})
	return n, err
}

var _ pass.DeviceStore = (*DB)(nil)

// BulkRegister registers devices dev000000… for every serial, in one
// transaction (load tests and benchmarks).
func (s *DB) BulkRegister(ctx context.Context, tenant, passTypeID string, devices int, serials []string, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		dev, err := tx.PrepareContext(ctx, `INSERT INTO devices (tenant, device_library_id, push_token, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer dev.Close()
		reg, err := tx.PrepareContext(ctx, `INSERT INTO registrations (tenant, device_library_id, pass_type_id, serial_number, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer reg.Close()
		for i := range devices {
			id := fmt.Sprintf("dev%06d", i)
			if _, err := dev.ExecContext(ctx, tenant, id, fmt.Sprintf("%064x", i), now.UnixMilli()); err != nil {
				return fmt.Errorf("storage: bulk register: %w", err)
			}
			for _, serial := range serials {
				if _, err := reg.ExecContext(ctx, tenant, id, passTypeID, serial, now.UnixMilli()); err != nil {
					return fmt.Errorf("storage: bulk register: %w", err)
				}
			}
		}
		return nil
	})
}

var _ pass.PerformancePushes = (*DB)(nil)

// PerformancePushes returns a page of the pending registrations of a
// performance's passes, by device library id and pass type.
func (s *DB) PerformancePushes(ctx context.Context, tenant string, performanceID int64, serials []string, after string, limit int) ([]pass.PendingPush, error) {
	args := []any{tenant, performanceID, after, limit}
	from := `FROM passes p
		JOIN registrations r ON r.tenant = p.tenant AND r.pass_type_id = p.pass_type_id AND r.serial_number = p.serial_number
		JOIN devices d ON d.tenant = r.tenant AND d.device_library_id = r.device_library_id
		WHERE p.tenant = $1 AND p.performance_id = $2 AND r.pushed_tag < p.update_tag AND d.device_library_id > $3`
	if len(serials) > 0 {
		// A batch's passes, found by their primary key: the join order is
		// fixed (CROSS JOIN, which SQLite keeps in the order written) and
		// the performance and paging terms are kept off the indexes, or
		// SQLite reads every registration of the tenant for each batch.
		from = `FROM passes p CROSS JOIN registrations r CROSS JOIN devices d
		WHERE r.tenant = p.tenant AND r.pass_type_id = p.pass_type_id AND r.serial_number = p.serial_number
			AND d.tenant = r.tenant AND d.device_library_id = r.device_library_id
			AND p.tenant = $1 AND p.performance_id + 0 = $2 AND r.pushed_tag < p.update_tag AND d.device_library_id || '' > $3
			AND p.serial_number IN (` + placeholders(len(args)+1, len(serials)) + `)`
		for _, sn := range serials {
			args = append(args, sn)
		}
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT d.device_library_id, d.push_token, p.pass_type_id, p.serial_number, p.update_tag
		`+from+`
		ORDER BY d.device_library_id, p.pass_type_id, p.serial_number LIMIT $4`, args...)
	if err != nil {
		return nil, fmt.Errorf("storage: pushes of performance: %w", err)
	}
	defer rows.Close()
	var out []pass.PendingPush
	for rows.Next() {
		var p pass.PendingPush
		if err := rows.Scan(&p.LibraryID, &p.PushToken, &p.PassTypeID, &p.Serial, &p.Tag); err != nil {
			return nil, fmt.Errorf("storage: pushes of performance: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// MarkPushedMany records the registrations as pushed, in one transaction.
func (s *DB) MarkPushedMany(ctx context.Context, tenant string, done []pass.PendingPush) error {
	if len(done) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.isPostgres() {
			return s.markPushedPostgres(ctx, tx, tenant, done)
		}
		for _, p := range done {
			if _, err := s.stmts.exec(ctx, tx, `UPDATE registrations SET pushed_tag = $1 WHERE tenant = $2 AND
				device_library_id = $3 AND pass_type_id = $4 AND serial_number = $5 AND pushed_tag < $1`,
				p.Tag, tenant, p.LibraryID, p.PassTypeID, p.Serial); err != nil {
				return fmt.Errorf("storage: mark pushed: %w", err)
			}
		}
		return nil
	})
}

// markPushedPostgres is MarkPushedMany's on PostgreSQL: rowsPerInsert
// registrations to an UPDATE, their keys and tags in arrays, each a round
// trip instead of one per registration. A registration named twice keeps
// the greater tag (an UPDATE changes a row once, with any one of the
// values that match it).
func (s *DB) markPushedPostgres(ctx context.Context, tx *sql.Tx, tenant string, done []pass.PendingPush) error {
	type key struct{ device, passType, serial string }
	tags := make(map[key]int64, len(done))
	var keys []key
	for _, p := range done {
		k := key{p.LibraryID, p.PassTypeID, p.Serial}
		if t, ok := tags[k]; !ok {
			keys = append(keys, k)
		} else if t >= p.Tag {
			continue
		}
		tags[k] = p.Tag
	}
	for start := 0; start < len(keys); start += rowsPerInsert {
		var devices, types, serials []string
		var batchTags []int64
		for _, k := range keys[start:min(start+rowsPerInsert, len(keys))] {
			devices, types, serials = append(devices, k.device), append(types, k.passType), append(serials, k.serial)
			batchTags = append(batchTags, tags[k])
		}
		if _, err := tx.ExecContext(ctx, markPushedPostgresSQL, tenant, devices, types, serials, batchTags); err != nil {
			return fmt.Errorf("storage: mark pushed: %w", err)
		}
	}
	return nil
}

// markPushedPostgresSQL sets the pushed tag of each registration of its
// arrays (one element a registration) whose tag is older.
const markPushedPostgresSQL = `UPDATE registrations AS r SET pushed_tag = v.tag
	FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) AS v(device_library_id, pass_type_id, serial_number, tag)
	WHERE r.tenant = $1 AND r.device_library_id = v.device_library_id AND r.pass_type_id = v.pass_type_id
		AND r.serial_number = v.serial_number AND r.pushed_tag < v.tag`
