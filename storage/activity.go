package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"walletpass/pass"
)

// What the console shows of a pass's life beyond its versions (pushes,
// wallets, outbound messages, app notices) and the usage counts.

// LogPushes records pushes (pass.PushJournal), in one transaction.
func (s *DB) LogPushes(ctx context.Context, recs []pass.PushRecord) error {
	if len(recs) == 0 {
		return nil
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		err := s.insertRows(ctx, tx, `INSERT INTO push_log (tenant, serial_number, device_library_id, at, outcome, reason)`, "",
			6, len(recs), rowsPerInsert, func(args []any, i int) []any {
				r := recs[i]
				return append(args, r.Tenant, r.Serial, r.Device, r.At.UnixMilli(), r.Outcome.String(), r.Reason)
			})
		if err != nil {
			return fmt.Errorf("storage: push log: %w", err)
		}
		return nil
	})
}

var _ pass.PushJournal = (*DB)(nil)

// PushLog returns a pass's pushes, newest first, at most limit.
func (s *DB) PushLog(ctx context.Context, tenant, serial string, limit int) ([]pass.PushRecord, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT device_library_id, at, outcome, reason FROM push_log
		WHERE tenant = $1 AND serial_number = $2 ORDER BY at DESC LIMIT $3`, tenant, serial, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: push log: %w", err)
	}
	defer rows.Close()
	var out []pass.PushRecord
	for rows.Next() {
		r := pass.PushRecord{Tenant: tenant, Serial: serial}
		var at int64
		var outcome string
		if err := rows.Scan(&r.Device, &at, &outcome, &r.Reason); err != nil {
			return nil, fmt.Errorf("storage: push log: %w", err)
		}
		r.At = time.UnixMilli(at).UTC()
		for o := pass.PushDelivered; o <= pass.PushConfigError; o++ {
			if o.String() == outcome {
				r.Outcome = o
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// WalletHistory returns when a pass was added to and removed from each
// wallet, oldest first, at most limit.
func (s *DB) WalletHistory(ctx context.Context, tenant, serial string, limit int) ([]pass.WalletEvent, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT wallet, event, at FROM (
		SELECT 'apple' AS wallet, event, at FROM wallet_events WHERE tenant = $1 AND serial_number = $2
		UNION ALL
		SELECT 'google', CASE c.event_type WHEN $3 THEN $4 ELSE $5 END, c.received_at FROM google_callbacks c
			JOIN google_objects o ON o.tenant = c.tenant AND o.object_id = c.object_id
			WHERE o.tenant = $1 AND o.serial_number = $2
		) h ORDER BY at LIMIT $6`, tenant, serial, pass.GoogleDeleted, pass.WalletRemoved, pass.WalletAdded, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: wallet history: %w", err)
	}
	defer rows.Close()
	var out []pass.WalletEvent
	for rows.Next() {
		var e pass.WalletEvent
		var at int64
		if err := rows.Scan(&e.Wallet, &e.Event, &at); err != nil {
			return nil, fmt.Errorf("storage: wallet history: %w", err)
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// StreamMessages returns the outbound webhook messages of a stream (a
// pass) for every subscription of the tenant, newest first, at most limit.
func (s *DB) StreamMessages(ctx context.Context, tenant, stream string, limit int) ([]pass.OutboundMessage, error) {
	return s.messages(ctx, `WHERE tenant = $1 AND subscription_id IN (SELECT id FROM webhook_subscriptions WHERE tenant = $1)
		AND stream = $2 ORDER BY id DESC LIMIT $3`, tenant, stream, limit)
}

// AppNoticesSent returns the app notices sent for an order, oldest first.
func (s *DB) AppNoticesSent(ctx context.Context, tenant, secretToken string) ([]pass.AppNoticeSent, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT event, fcm_token, sent_at FROM app_notices_sent
		WHERE tenant = $1 AND secret_token = $2 ORDER BY sent_at, event`, tenant, secretToken)
	if err != nil {
		return nil, fmt.Errorf("storage: app notices: %w", err)
	}
	defer rows.Close()
	var out []pass.AppNoticeSent
	for rows.Next() {
		var n pass.AppNoticeSent
		var at int64
		if err := rows.Scan(&n.Event, &n.FCMToken, &at); err != nil {
			return nil, fmt.Errorf("storage: app notices: %w", err)
		}
		n.At = time.UnixMilli(at).UTC()
		out = append(out, n)
	}
	return out, rows.Err()
}

// msPerDay buckets a time in milliseconds into its UTC day.
const msPerDay = 24 * 60 * 60 * 1000

// UsagePerformances returns a tenant's performances that have passes, the
// latest to end first, at most limit, each with its passes issued
// (Total.Issued); the rest is PerformanceUsage's.
func (s *DB) UsagePerformances(ctx context.Context, tenant string, limit int) ([]pass.PerformanceUsage, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT performance_id, COUNT(*) FROM passes
		WHERE tenant = $1 GROUP BY performance_id ORDER BY MAX(event_end) DESC, performance_id LIMIT $2`, tenant, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: usage: %w", err)
	}
	defer rows.Close()
	var out []pass.PerformanceUsage
	for rows.Next() {
		var u pass.PerformanceUsage
		if err := rows.Scan(&u.PerformanceID, &u.Total.Issued); err != nil {
			return nil, fmt.Errorf("storage: usage: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// PerformanceUsage names a performance's event and counts, per UTC day,
// its passes issued, added to and removed from each wallet, and tickets
// scanned (a pass's first version that shows it used). It returns an error of kind
// NotFound when the performance has no passes.
func (s *DB) PerformanceUsage(ctx context.Context, tenant string, performanceID int64) (pass.PerformanceUsage, error) {
	u := pass.PerformanceUsage{PerformanceID: performanceID}
	days := map[int64]*pass.UsagePoint{}
	count := func(what string, q string, args ...any) error {
		rows, err := s.rdb.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("storage: usage %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			var day int64
			var kind string
			var n int
			if err := rows.Scan(&day, &kind, &n); err != nil {
				return fmt.Errorf("storage: usage %s: %w", what, err)
			}
			pt := days[day]
			if pt == nil {
				pt = &pass.UsagePoint{Day: time.UnixMilli(day * msPerDay).UTC()}
				days[day] = pt
			}
			for _, p := range []*pass.UsagePoint{pt, &u.Total} {
				switch kind {
				case "issued":
					p.Issued += n
				case "scanned":
					p.Scanned += n
				case "apple-" + pass.WalletAdded:
					p.AppleAdded += n
				case "apple-" + pass.WalletRemoved:
					p.AppleRemoved += n
				case "google-" + pass.GoogleSaved:
					p.GoogleAdded += n
				case "google-" + pass.GoogleDeleted:
					p.GoogleRemoved += n
				}
			}
		}
		return rows.Err()
	}
	of := `p.tenant = $1 AND p.performance_id = $2`
	if err := count("issued", `SELECT p.created_at / $3, 'issued', COUNT(*) FROM passes p WHERE `+of+`
		GROUP BY p.created_at / $3`, tenant, performanceID, msPerDay); err != nil {
		return u, err
	}
	if u.Total.Issued == 0 {
		return u, pass.Errorf(pass.KindNotFound, "performance %d has no passes", performanceID)
	}
	// The event's name and start, from one of its passes.
	var serial string
	if err := s.rdb.QueryRowContext(ctx, `SELECT MIN(serial_number) FROM passes WHERE tenant = $1 AND performance_id = $2`,
		tenant, performanceID).Scan(&serial); err != nil {
		return u, fmt.Errorf("storage: usage: %w", err)
	}
	p, err := s.GetPass(ctx, tenant, serial)
	if err != nil {
		return u, err
	}
	u.Event, u.Start = p.Ticket.Event.Name, p.Ticket.Event.Start
	if err := count("apple", `SELECT e.at / $3, 'apple-' || e.event, COUNT(*) FROM wallet_events e
		JOIN passes p ON p.tenant = e.tenant AND p.serial_number = e.serial_number WHERE `+of+`
		GROUP BY e.at / $3, e.event`, tenant, performanceID, msPerDay); err != nil {
		return u, err
	}
	if err := count("google", `SELECT c.received_at / $3, 'google-' || c.event_type, COUNT(*) FROM google_callbacks c
		JOIN google_objects o ON o.tenant = c.tenant AND o.object_id = c.object_id
		JOIN passes p ON p.tenant = o.tenant AND p.serial_number = o.serial_number WHERE `+of+`
		GROUP BY c.received_at / $3, c.event_type`, tenant, performanceID, msPerDay); err != nil {
		return u, err
	}
	if err := count("scanned", `SELECT d, 'scanned', COUNT(*) FROM (SELECT MIN(v.created_at) / $3 AS d FROM pass_versions v
		JOIN passes p ON p.tenant = v.tenant AND p.serial_number = v.serial_number WHERE `+of+` AND v.status = $4
		GROUP BY v.serial_number) f GROUP BY d`, tenant, performanceID, msPerDay, string(pass.StatusUsed)); err != nil {
		return u, err
	}
	for _, pt := range days {
		u.Days = append(u.Days, *pt)
	}
	slices.SortFunc(u.Days, func(a, b pass.UsagePoint) int { return a.Day.Compare(b.Day) })
	return u, nil
}

// SubscriptionHealth returns, for each of a tenant's subscriptions that
// has messages, how their delivery goes.
func (s *DB) SubscriptionHealth(ctx context.Context, tenant string) ([]pass.SubscriptionHealth, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT subscription_id,
		SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END),
		SUM(CASE WHEN state = 'pending' AND attempts > 0 THEN 1 ELSE 0 END),
		SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END),
		SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END),
		MIN(CASE WHEN state = 'pending' THEN created_at END)
		FROM webhook_messages WHERE tenant = $1 GROUP BY subscription_id ORDER BY subscription_id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("storage: subscription health: %w", err)
	}
	var out []pass.SubscriptionHealth
	for rows.Next() {
		var h pass.SubscriptionHealth
		var oldest sql.NullInt64
		if err := rows.Scan(&h.SubscriptionID, &h.Pending, &h.Failing, &h.Delivered, &h.GivenUp, &oldest); err != nil {
			rows.Close()
			return nil, fmt.Errorf("storage: subscription health: %w", err)
		}
		if oldest.Valid {
			h.OldestPending = time.UnixMilli(oldest.Int64).UTC()
		}
		out = append(out, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: subscription health: %w", err)
	}
	for i := range out {
		if out[i].Failing == 0 {
			continue
		}
		err := s.rdb.QueryRowContext(ctx, `SELECT last_status, last_error FROM webhook_messages
			WHERE tenant = $1 AND subscription_id = $2 AND state = 'pending' AND attempts > 0 ORDER BY id DESC LIMIT 1`,
			tenant, out[i].SubscriptionID).Scan(&out[i].LastStatus, &out[i].LastError)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("storage: subscription health: %w", err)
		}
	}
	return out, nil
}
