package storage

import (
	"context"
	"fmt"
	"strings"

	"walletpass/pass"
)

// passesWithInstalls is the tenant's passes, filtered by file, order,
// performance, movement, ticket, status ($1 … $7) and template ($9), each
// with its Apple registrations and its Google object's state and last
// callback. An id of 0 (PassQuery's zero value) is no filter: whoever takes
// an id from outside refuses 0 (the passes API does), else it would
// select every pass. Integer parameters are cast
// so that PostgreSQL reads them as BIGINT (SecuTix ids pass 2^31).
const passesWithInstalls = `SELECT p.*,
	(SELECT COUNT(*) FROM registrations r WHERE r.tenant = p.tenant AND r.pass_type_id = p.pass_type_id
		AND r.serial_number = p.serial_number) AS apple_devices,
	COALESCE((SELECT g.state FROM google_objects g WHERE g.tenant = p.tenant AND g.serial_number = p.serial_number), '') AS google_state,
	COALESCE((SELECT g.object_id FROM google_objects g WHERE g.tenant = p.tenant AND g.serial_number = p.serial_number), '') AS google_object,
	COALESCE((SELECT c.event_type FROM google_callbacks c JOIN google_objects g2 ON g2.tenant = c.tenant AND g2.object_id = c.object_id
		WHERE g2.tenant = p.tenant AND g2.serial_number = p.serial_number
		ORDER BY c.received_at DESC, c.nonce DESC LIMIT 1), '') AS google_last
	FROM passes p WHERE p.tenant = $1
		AND (CAST($2 AS BIGINT) = 0 OR p.file_id = CAST($2 AS BIGINT))
		AND (CAST($3 AS BIGINT) = 0 OR p.order_id = CAST($3 AS BIGINT))
		AND (CAST($4 AS BIGINT) = 0 OR p.performance_id = CAST($4 AS BIGINT))
		AND (CAST($5 AS BIGINT) = 0 OR p.movement_id = CAST($5 AS BIGINT))
		AND (CAST($6 AS BIGINT) = 0 OR p.ticket_id = CAST($6 AS BIGINT))
		AND ($7 = '' OR p.status = $7)
		AND ($9 = '' OR p.template = $9)`

// installedFilter keeps the rows of passesWithInstalls installed as $8 says.
const installedFilter = `($8 = ''
	OR ($8 = 'apple' AND x.apple_devices > 0)
	OR ($8 = 'google' AND x.google_last = 'save')
	OR ($8 = 'wallet' AND (x.apple_devices > 0 OR x.google_last = 'save'))
	OR ($8 = 'none' AND x.apple_devices = 0 AND x.google_last <> 'save'))`

// ListPasses returns a page of the passes q selects, in q.Sort's order
// (oldest first when it has none; ties by serial number), with where each
// is installed, and how many q selects in all; an id of 0 in q selects
// any. It returns an error of kind KindInvalid for a negative id, an
// unknown Installed or an unknown sort key.
func (s *DB) ListPasses(ctx context.Context, q pass.PassQuery) ([]pass.PassListing, int, error) {
	switch q.Installed {
	case "", "apple", "google", "wallet", "none":
	default:
		return nil, 0, pass.Errorf(pass.KindInvalid, "installed must be apple, google, wallet or none")
	}
	if min(q.FileID, q.OrderID, q.PerformanceID, q.MovementID, q.TicketID) < 0 {
		return nil, 0, pass.Errorf(pass.KindInvalid, "an id filter is negative")
	}
	if q.Limit <= 0 || q.Limit > pass.MaxPageSize {
		q.Limit = pass.MaxPageSize
	}
	order, err := passOrder(q.Sort)
	if err != nil {
		return nil, 0, err
	}
	args := []any{q.Tenant, q.FileID, q.OrderID, q.PerformanceID, q.MovementID, q.TicketID, string(q.Status), q.Installed, q.Template}
	var total int
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+passesWithInstalls+`) x WHERE `+installedFilter, args...).
		Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("storage: list passes: %w", err)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+prefixed("x.", passColumns)+`, x.apple_devices, x.google_state, x.google_object, x.google_last
		FROM (`+passesWithInstalls+`) x WHERE `+installedFilter+` ORDER BY `+order+` LIMIT $10 OFFSET $11`,
		append(args, q.Limit, max(q.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("storage: list passes: %w", err)
	}
	defer rows.Close()
	var out []pass.PassListing
	for rows.Next() {
		var l pass.PassListing
		var last string
		p, err := scanPass(rowWith{rows, []any{&l.Installs.AppleDevices, &l.Installs.GoogleState, &l.Installs.GoogleObjectID, &last}})
		if err != nil {
			return nil, 0, fmt.Errorf("storage: list passes: %w", err)
		}
		l.Pass, l.Installs.GoogleSaved = *p, last == "save"
		out = append(out, l)
	}
	return out, total, rows.Err()
}

// passOrder is the ORDER BY of a passes listing sorted by keys: each
// key's column, then the serial number (in the last key's direction), so
// that a page follows the one before it.
func passOrder(keys []pass.PassSort) (string, error) {
	if len(keys) == 0 {
		keys = []pass.PassSort{{By: pass.SortCreated}}
	}
	var b strings.Builder
	dir := ""
	for _, k := range keys {
		switch k.By {
		case pass.SortCreated:
			b.WriteString("x.created_at")
		case pass.SortUpdated:
			b.WriteString("x.updated_at")
		default:
			return "", pass.Errorf(pass.KindInvalid, "passes cannot be sorted by %q", k.By)
		}
		dir = ""
		if k.Desc {
			dir = " DESC"
		}
		b.WriteString(dir + ", ")
	}
	return b.String() + "x.serial_number" + dir, nil
}

// PassInstalls says where one pass is installed.
func (s *DB) PassInstalls(ctx context.Context, tenant, serial string) (pass.Installs, error) {
	var in pass.Installs
	var last string
	err := s.rdb.QueryRowContext(ctx, `SELECT x.apple_devices, x.google_state, x.google_object, x.google_last FROM (`+
		passesWithInstalls+` AND p.serial_number = $8) x`, tenant, 0, 0, 0, 0, 0, "", serial, "").Scan(&in.AppleDevices, &in.GoogleState, &in.GoogleObjectID, &last)
	if err != nil {
		return in, fmt.Errorf("storage: installs of %s: %w", serial, err)
	}
	in.GoogleSaved = last == "save"
	return in, nil
}

// rowWith scans a row whose first columns are scanPass's and then more.
type rowWith struct {
	r    scanner
	more []any
}

func (w rowWith) Scan(dest ...any) error { return w.r.Scan(append(dest, w.more...)...) }

// prefixed qualifies each column of a comma-separated list.
func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
