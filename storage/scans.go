package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"walletpass/pass"
)

// backfillBarcodes fills passes.barcode from the stored ticket of the
// passes stored before the column (migration 00013). Each instance may do
// it at start; the updates are the same.
func (s *DB) backfillBarcodes(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT tenant, serial_number, ticket_json FROM passes
		WHERE barcode = '' AND ticket_json LIKE '%"barcode":"_%'`)
	if err != nil {
		return fmt.Errorf("storage: barcodes: %w", err)
	}
	type fill struct{ tenant, serial, barcode string }
	var fills []fill
	for rows.Next() {
		var f fill
		var tj string
		if err := rows.Scan(&f.tenant, &f.serial, &tj); err != nil {
			rows.Close()
			return fmt.Errorf("storage: barcodes: %w", err)
		}
		var t struct {
			Barcode string `json:"barcode"`
		}
		if json.Unmarshal([]byte(tj), &t) == nil && t.Barcode != "" {
			f.barcode = t.Barcode
			fills = append(fills, f)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storage: barcodes: %w", err)
	}
	for _, f := range fills {
		if _, err := s.db.ExecContext(ctx, `UPDATE passes SET barcode = $3 WHERE tenant = $1 AND serial_number = $2 AND barcode = ''`,
			f.tenant, f.serial, f.barcode); err != nil {
			return fmt.Errorf("storage: barcodes: %w", err)
		}
	}
	return nil
}

// PassByBarcode returns the pass whose ticket has this barcode: the
// current holder's when a transfer kept it (an active pass first, then the
// latest holder), or an error wrapping pass.ErrNotFound.
func (s *DB) PassByBarcode(ctx context.Context, tenant, barcode string) (*pass.Pass, error) {
	row := s.rdb.QueryRowContext(ctx, `SELECT `+passColumns+` FROM passes WHERE tenant = $1 AND barcode = $2
		ORDER BY CASE WHEN status = 'active' THEN 0 ELSE 1 END, holder_generation DESC LIMIT 1`, tenant, barcode)
	p, err := scanPass(row)
	if err != nil {
		return nil, fmt.Errorf("storage: pass by barcode: %w", err)
	}
	return p, nil
}

// RecordScan stores sc unless a scan with its id exists; it returns the
// stored scan and whether it is sc (false: the earlier one, whose answer
// the caller repeats).
func (s *DB) RecordScan(ctx context.Context, sc pass.ScanRecord) (pass.ScanRecord, bool, error) {
	var stored pass.ScanRecord
	fresh := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var found bool
		var err error
		if stored, found, err = storedScan(ctx, tx, sc); found || err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO scans (tenant, scan_id, serial_number, result, re_entry, scanned_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			sc.Tenant, sc.ScanID, sc.Serial, sc.Result, sc.ReEntry, sc.At.UnixMilli()); err != nil {
			return err
		}
		stored, fresh = sc, true
		return nil
	})
	if err != nil {
		if isUniqueViolation(err) { // another instance stored it meanwhile
			return s.RecordScan(ctx, sc)
		}
		return pass.ScanRecord{}, false, fmt.Errorf("storage: scan: %w", err)
	}
	return stored, fresh, nil
}

// storedScan is the scan stored under sc's id, if there is one.
func storedScan(ctx context.Context, tx *sql.Tx, sc pass.ScanRecord) (pass.ScanRecord, bool, error) {
	stored := pass.ScanRecord{Tenant: sc.Tenant, ScanID: sc.ScanID}
	var at int64
	err := tx.QueryRowContext(ctx, `SELECT serial_number, result, re_entry, scanned_at FROM scans WHERE tenant = $1 AND scan_id = $2`,
		sc.Tenant, sc.ScanID).Scan(&stored.Serial, &stored.Result, &stored.ReEntry, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return pass.ScanRecord{}, false, nil
	}
	if err != nil {
		return pass.ScanRecord{}, false, err
	}
	stored.At = time.UnixMilli(at).UTC()
	return stored, true, nil
}

// sqlClaimHint writes a ticket's used mark unless it holds a used mark
// made at or after $6 (an entry to the same occasion): it changes no row
// then. On PostgreSQL a concurrent claim waits for this one's row and
// sees it, so two claims of one occasion cannot both win.
const sqlClaimHint = `INSERT INTO ticket_hints (tenant, secret_token, ref, state, last_update, source)
	VALUES ($1, $2, $3, $4, $5, $7)
	ON CONFLICT (tenant, secret_token, ref) DO UPDATE SET state = excluded.state, last_update = excluded.last_update,
		source = excluded.source
	WHERE NOT (UPPER(ticket_hints.state) IN ('VALIDATED', 'CONTROLLED', 'USED') AND ticket_hints.last_update >= $6)`

// AdmitScan writes a gate's admission of a ticket in one transaction (see
// pass.Admission): a scan id stored before gets its stored answer and
// nothing is written (false); otherwise the used mark is claimed, and the
// scan is recorded valid with the mark's webhook event, its order's sync
// and the announcement, or, when another scan holds the mark for the
// occasion, recorded already_used with nothing else.
func (s *DB) AdmitScan(ctx context.Context, a pass.Admission, now time.Time) (pass.ScanRecord, bool, error) {
	return s.admitScan(ctx, a, now, true)
}

func (s *DB) admitScan(ctx context.Context, a pass.Admission, now time.Time, again bool) (pass.ScanRecord, bool, error) {
	sc := a.Scan
	if a.Mark.ID == "" {
		a.Mark.ID = newID()
	}
	var stored pass.ScanRecord
	fresh := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if sc.ScanID != "" {
			var found bool
			var err error
			if stored, found, err = storedScan(ctx, tx, sc); found || err != nil {
				return err
			}
		}
		var since int64
		switch {
		case a.ReEntry:
			since = math.MaxInt64 // no mark is made after it: a re-entry takes the mark whatever holds it
		case a.Since.IsZero():
			since = math.MinInt64 // any used mark holds a ticket of one event
		default:
			since = a.Since.UnixMilli()
		}
		res, err := tx.ExecContext(ctx, sqlClaimHint, a.Mark.Tenant, a.Mark.SecretToken, a.Ref, a.Mark.State,
			a.Mark.LastUpdate.UnixMilli(), since, a.Mark.Source)
		if err != nil {
			return err
		}
		won := sc
		n, _ := res.RowsAffected()
		if n == 0 && a.Again {
			// Another scan took the ticket at the same moment: a tenant
			// that admits a ticket again lets this one in as a re-entry.
			if res, err = tx.ExecContext(ctx, sqlClaimHint, a.Mark.Tenant, a.Mark.SecretToken, a.Ref, a.Mark.State,
				a.Mark.LastUpdate.UnixMilli(), int64(math.MaxInt64), a.Mark.Source); err != nil {
				return err
			}
			n, _ = res.RowsAffected()
			won.ReEntry = true
		}
		if n == 0 {
			won.Result, won.ReEntry = pass.ScanAlreadyUsed, false
		} else {
			if _, err := s.recordTx(ctx, tx, a.Mark, a.Sync, now); err != nil {
				return err
			}
			if a.Announce != nil {
				if _, err := s.enqueueTx(ctx, tx, *a.Announce, now); err != nil {
					return err
				}
			}
		}
		if sc.ScanID != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO scans (tenant, scan_id, serial_number, result, re_entry, scanned_at) VALUES ($1, $2, $3, $4, $5, $6)`,
				won.Tenant, won.ScanID, won.Serial, won.Result, won.ReEntry, won.At.UnixMilli()); err != nil {
				return err
			}
		}
		stored, fresh = won, true
		return nil
	})
	if err != nil {
		if again && sc.ScanID != "" && isUniqueViolation(err) { // the same scan id stored by another instance meanwhile
			return s.admitScan(ctx, a, now, false)
		}
		return pass.ScanRecord{}, false, fmt.Errorf("storage: admit scan: %w", err)
	}
	return stored, fresh, nil
}
