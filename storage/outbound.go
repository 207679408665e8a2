package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"walletpass/pass"
)

const subscriptionColumns = `tenant, id, endpoint, events, enabled, description, secret, created_at, updated_at,
	previous_secret, previous_until, paused_until`

func scanSubscription(r scanner) (*pass.Subscription, error) {
	var s pass.Subscription
	var events string
	var created, updated, until, paused int64
	if err := r.Scan(&s.Tenant, &s.ID, &s.Endpoint, &events, &s.Enabled, &s.Description, &s.Secret, &created, &updated,
		&s.PreviousSecret, &until, &paused); err != nil {
		return nil, err
	}
	if paused != 0 {
		s.PausedUntil = time.UnixMilli(paused).UTC()
	}
	s.Events = strings.Fields(events)
	s.CreatedAt, s.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	if until != 0 {
		s.PreviousUntil = time.UnixMilli(until).UTC()
	}
	return &s, nil
}

// RotateSecret gives a subscription a new signing secret; the one it
// replaces keeps signing beside it until previousUntil (not at all when
// that is not after at). It returns the subscription as rotated; an error
// wrapping pass.ErrNotFound when the tenant has no such subscription.
func (s *DB) RotateSecret(ctx context.Context, tenant, id, secret string, previousUntil, at time.Time) (*pass.Subscription, error) {
	until := previousUntil.UnixMilli()
	if !previousUntil.After(at) {
		until = 0
	}
	var sub *pass.Subscription
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_subscriptions SET previous_secret = CASE WHEN CAST($4 AS BIGINT) = 0 THEN '' ELSE secret END,
			previous_until = CAST($4 AS BIGINT), secret = $3, updated_at = $5 WHERE tenant = $1 AND id = $2`,
			tenant, id, secret, until, at.UnixMilli())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("subscription %s: %w", id, pass.ErrNotFound)
		}
		sub, err = scanSubscription(tx.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM webhook_subscriptions
			WHERE tenant = $1 AND id = $2`, tenant, id))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: rotate secret: %w", err)
	}
	return sub, nil
}

// CreateSubscription stores a new webhook subscription.
func (s *DB) CreateSubscription(ctx context.Context, sub pass.Subscription) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_subscriptions (`+subscriptionColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', 0, 0)`,
			sub.Tenant, sub.ID, sub.Endpoint, strings.Join(sub.Events, " "), sub.Enabled, sub.Description, sub.Secret,
			sub.CreatedAt.UnixMilli(), sub.UpdatedAt.UnixMilli())
		if err != nil {
			return fmt.Errorf("storage: subscription: %w", err)
		}
		return nil
	})
}

// UpdateSubscription stores sub's endpoint, events, enabled and
// description; an error wrapping pass.ErrNotFound when the tenant has no
// such subscription. A subscription enabled again, or given another
// endpoint, gets its delivery task in the same transaction, its streams'
// waits and its pause ended, so that what it is owed goes out now. With
// sub.WasUpdatedAt set, a subscription changed since is left as it is: a
// KindConflict error.
func (s *DB) UpdateSubscription(ctx context.Context, sub pass.Subscription) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var wasEnabled bool
		var endpoint string
		var updated int64
		err := tx.QueryRowContext(ctx, `SELECT enabled, endpoint, updated_at FROM webhook_subscriptions WHERE tenant = $1 AND id = $2`,
			sub.Tenant, sub.ID).Scan(&wasEnabled, &endpoint, &updated)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("storage: subscription %s: %w", sub.ID, pass.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("storage: subscription: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE webhook_subscriptions SET endpoint = $3, events = $4, enabled = $5, description = $6,
			updated_at = $7 WHERE tenant = $1 AND id = $2 AND (CAST($8 AS BIGINT) = 0 OR updated_at = CAST($8 AS BIGINT))`,
			sub.Tenant, sub.ID, sub.Endpoint, strings.Join(sub.Events, " "), sub.Enabled, sub.Description, sub.UpdatedAt.UnixMilli(),
			unixMilliOrZero(sub.WasUpdatedAt))
		if err != nil {
			return fmt.Errorf("storage: subscription: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return pass.Errorf(pass.KindConflict, "subscription %s changed meanwhile (at %d, read at %d)", sub.ID, updated,
				unixMilliOrZero(sub.WasUpdatedAt))
		}
		if !sub.Enabled || (wasEnabled && endpoint == sub.Endpoint) {
			return nil // a new description or events: the waits stand
		}
		// Enabled again, or at another endpoint: what it is owed goes out
		// now, its streams' waits and its pause ended.
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_stream_waits WHERE tenant = $1 AND subscription_id = $2`,
			sub.Tenant, sub.ID); err != nil {
			return fmt.Errorf("storage: subscription: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_subscriptions SET paused_until = 0 WHERE tenant = $1 AND id = $2`,
			sub.Tenant, sub.ID); err != nil {
			return fmt.Errorf("storage: subscription: %w", err)
		}
		t := pass.TaskOf(pass.DeliveryArgs{Tenant: sub.Tenant, Subscription: sub.ID}, "")
		t.MinGap = pass.DeliveryGap
		_, err = s.enqueueTx(ctx, tx, t, time.Now())
		return err
	})
}

// DisableSubscription disables the subscription if its endpoint is still
// endpoint (the one that answered 410 Gone), and reports whether it did.
func (s *DB) DisableSubscription(ctx context.Context, tenant, id, endpoint string, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE webhook_subscriptions SET enabled = false, updated_at = $4
		WHERE tenant = $1 AND id = $2 AND endpoint = $3 AND enabled`, tenant, id, endpoint, at.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("storage: subscription: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// PauseSubscription keeps the delivery runs of a subscription from its
// endpoint until until (a later pause stands), if it is still as sub was
// read: the same endpoint, not updated since (a PATCH, an enabling, a
// replay ended the pause meanwhile).
func (s *DB) PauseSubscription(ctx context.Context, sub pass.Subscription, until time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE webhook_subscriptions SET paused_until = $3
		WHERE tenant = $1 AND id = $2 AND paused_until < $3 AND endpoint = $4 AND updated_at = $5 AND enabled`,
		sub.Tenant, sub.ID, until.UnixMilli(), sub.Endpoint, sub.UpdatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("storage: pause subscription: %w", err)
	}
	return nil
}

// DeleteSubscription removes a subscription and the messages it was owed.
func (s *DB) DeleteSubscription(ctx context.Context, tenant, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_subscriptions WHERE tenant = $1 AND id = $2`, tenant, id)
		if err != nil {
			return fmt.Errorf("storage: subscription: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("storage: subscription %s: %w", id, pass.ErrNotFound)
		}
		for _, table := range []string{"webhook_messages", "webhook_stream_waits"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE tenant = $1 AND subscription_id = $2`, tenant, id); err != nil {
				return fmt.Errorf("storage: subscription: %w", err)
			}
		}
		return nil
	})
}

// Subscriptions lists a tenant's subscriptions, oldest first.
func (s *DB) Subscriptions(ctx context.Context, tenant string) ([]pass.Subscription, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM webhook_subscriptions WHERE tenant = $1 ORDER BY created_at, id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("storage: subscriptions: %w", err)
	}
	defer rows.Close()
	var out []pass.Subscription
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, fmt.Errorf("storage: subscriptions: %w", err)
		}
		out = append(out, *sub)
	}
	return out, rows.Err()
}

// Subscription returns one subscription, or an error wrapping
// pass.ErrNotFound.
func (s *DB) Subscription(ctx context.Context, tenant, id string) (*pass.Subscription, error) {
	sub, err := scanSubscription(s.rdb.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM webhook_subscriptions
		WHERE tenant = $1 AND id = $2`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("storage: subscription %s: %w", id, pass.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: subscription: %w", err)
	}
	return sub, nil
}

// ActiveFanouts returns the events of the tenant's event-fanout and
// event-batch tasks pending or running, of stream only unless it is "",
// of the tasks whose keys name an id below before (any when it is ""). A
// single event's and one pass's batch's are read from their keys
// (pass.ParseFanoutKey), from the index of the active tasks; a batch of
// several passes' (pass.ParseBatchKey) from its arguments, only when its
// key is below before: a fan-out takes a moment unless the store failed
// it, so there are few.
func (s *DB) ActiveFanouts(ctx context.Context, tenant, stream, before string) ([]pass.ActiveFanout, error) {
	q := `SELECT id, dedup_key, next_attempt_at FROM tasks WHERE tenant = $1 AND kind IN ($2, $3) AND state IN ('pending', 'running')`
	args := []any{tenant, pass.TaskEventFanout, pass.TaskEventBatch}
	if stream != "" {
		single, batch := pass.FanoutKey(stream, ""), "events:"+stream+":"
		q += ` AND (substr(dedup_key, 1, $4) = $5 OR substr(dedup_key, 1, $6) = $7 OR (kind = $3 AND dedup_key NOT LIKE $8))`
		args = append(args, len(single), single, len(batch), batch, "events:%:%")
	}
	below := func(id string) bool { return before == "" || id < before }
	var out []pass.ActiveFanout
	var wides []wideBatch
	err := func() error {
		rows, err := s.rdb.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, key string
			var due int64
			if err := rows.Scan(&id, &key, &due); err != nil {
				return err
			}
			at := time.UnixMilli(due).UTC()
			if st, ev, ok := pass.ParseFanoutKey(key); ok && (stream == "" || st == stream) && below(ev) {
				out = append(out, pass.ActiveFanout{Stream: st, ID: ev, Due: at})
			} else if order, ok := pass.ParseBatchKey(key); ok && below(order) {
				wides = append(wides, wideBatch{id, order, at})
			}
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("storage: active fan-outs: %w", err)
	}
	evs, err := s.batchEventsOf(ctx, wides)
	if err != nil {
		return nil, fmt.Errorf("storage: active fan-outs: %w", err)
	}
	for _, w := range wides {
		for _, ev := range evs[w.id] {
			if stream == "" || ev.Stream == stream {
				out = append(out, pass.ActiveFanout{Stream: ev.Stream, ID: ev.ID, Order: w.order, Due: w.due})
			}
		}
	}
	return out, nil
}

// wideBatch is an event-wide batch's task still owed: its id, the id its
// key names and when it is due.
type wideBatch struct {
	id, order string
	due       time.Time
}

// batchEvent is an event of an event-wide batch, as ActiveFanouts reads
// it from the batch's arguments.
type batchEvent struct{ ID, Stream string }

// batchEvents remembers the events of the batches read, by task id: a
// task's arguments never change, so each is read and decoded once by
// each instance (a change of 10,000 passes has a hundred batches; a
// batch's fan-out may meet several).
type batchEvents struct {
	mu sync.Mutex
	m  map[string][]batchEvent
}

// maxBatchEvents bounds the batches remembered (forgotten all at once past
// it).
const maxBatchEvents = 512

// batchEventsOf returns the events of the batches, read in one query for
// those not remembered; a batch done meanwhile (no row) has none, and so
// has one whose arguments do not decode (its own run fails it).
func (s *DB) batchEventsOf(ctx context.Context, wides []wideBatch) (map[string][]batchEvent, error) {
	out := make(map[string][]batchEvent, len(wides))
	var missing []any
	s.batches.mu.Lock()
	for _, w := range wides {
		if evs, ok := s.batches.m[w.id]; ok {
			out[w.id] = evs
		} else {
			missing = append(missing, w.id)
		}
	}
	s.batches.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	read := map[string][]batchEvent{}
	for chunk := range slices.Chunk(missing, 500) {
		if err := s.readBatchEvents(ctx, chunk, read); err != nil {
			return nil, err
		}
	}
	maps.Copy(out, read)
	s.batches.mu.Lock()
	if s.batches.m == nil || len(s.batches.m)+len(read) > maxBatchEvents {
		s.batches.m = map[string][]batchEvent{}
	}
	maps.Copy(s.batches.m, read)
	s.batches.mu.Unlock()
	return out, nil
}

// readBatchEvents reads the events of the batches ids into read.
func (s *DB) readBatchEvents(ctx context.Context, ids []any, read map[string][]batchEvent) error {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, payload FROM tasks WHERE id IN (`+placeholders(1, len(ids))+`)`, ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, payload string
		if err := rows.Scan(&id, &payload); err != nil {
			return err
		}
		var b struct{ Events []batchEvent }
		if json.Unmarshal([]byte(payload), &b) != nil {
			continue
		}
		read[id] = b.Events
	}
	return rows.Err()
}

// StoredMessages returns which of the events ids have a message for one
// of the subscriptions subs (read by the primary key: a tenant's
// subscriptions are few).
func (s *DB) StoredMessages(ctx context.Context, tenant string, subs, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(subs) == 0 || len(ids) == 0 {
		return out, nil
	}
	args := []any{tenant}
	for _, v := range subs {
		args = append(args, v)
	}
	for _, v := range ids {
		args = append(args, v)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT DISTINCT id FROM webhook_messages WHERE tenant = $1
		AND subscription_id IN (`+placeholders(2, len(subs))+`) AND id IN (`+placeholders(2+len(subs), len(ids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("storage: stored messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("storage: stored messages: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// AddMessages stores messages (one already stored is left as it is) and
// their streams' delivery tasks in one transaction.
func (s *DB) AddMessages(ctx context.Context, msgs []pass.OutboundMessage, tasks []pass.NewTask) error {
	now := time.Now()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		err := s.insertRows(ctx, tx, `INSERT INTO webhook_messages (tenant, subscription_id, id, stream, event_type, payload, state, created_at)`,
			` ON CONFLICT (tenant, subscription_id, id) DO NOTHING`, 8, len(msgs), rowsPerInsert, func(args []any, i int) []any {
				m := msgs[i]
				return append(args, m.Tenant, m.SubscriptionID, m.ID, m.Stream, m.Type, string(m.Payload), "pending", m.CreatedAt.UnixMilli())
			})
		if err != nil {
			return fmt.Errorf("storage: webhook messages: %w", err)
		}
		for _, t := range tasks {
			if _, err := s.enqueueTx(ctx, tx, t, now); err != nil {
				return fmt.Errorf("storage: webhook delivery: %w", err)
			}
		}
		return nil
	})
}

const messageColumns = `tenant, subscription_id, id, stream, event_type, payload, state, attempts, last_status, last_error, created_at, delivered_at`

func scanMessage(r scanner) (pass.OutboundMessage, error) {
	var m pass.OutboundMessage
	var payload string
	var created, delivered int64
	err := r.Scan(&m.Tenant, &m.SubscriptionID, &m.ID, &m.Stream, &m.Type, &payload, &m.State, &m.Attempts, &m.LastStatus,
		&m.LastError, &created, &delivered)
	m.Payload = []byte(payload)
	m.CreatedAt = time.UnixMilli(created).UTC()
	if delivered != 0 {
		m.DeliveredAt = time.UnixMilli(delivered).UTC()
	}
	return m, err
}

// PendingMessages returns a subscription's undelivered messages of one
// stream (every stream when stream is ""), by stream then id, at most
// limit, leaving out the streams that wait for a retry after now.
func (s *DB) PendingMessages(ctx context.Context, tenant, subscription, stream string, limit int, now time.Time) ([]pass.OutboundMessage, error) {
	if stream == "" {
		return s.messages(ctx, pendingMessagesWhere, tenant, subscription, limit, now.UnixMilli())
	}
	return s.messages(ctx, pendingStreamWhere, tenant, subscription, stream, limit, now.UnixMilli())
}

// The deliveries' reads: both read the partial index
// webhook_messages_pending, which holds only the messages still owed, and
// look each stream up in webhook_stream_waits (a few rows: the failing
// streams).
const (
	pendingMessagesWhere = `WHERE tenant = $1 AND subscription_id = $2 AND state = 'pending' AND NOT EXISTS (
		SELECT 1 FROM webhook_stream_waits w WHERE w.tenant = $1 AND w.subscription_id = $2
			AND w.stream = webhook_messages.stream AND w.retry_at > $4) ORDER BY stream, id LIMIT $3`
	pendingStreamWhere = `WHERE tenant = $1 AND subscription_id = $2 AND stream = $3 AND state = 'pending' AND NOT EXISTS (
		SELECT 1 FROM webhook_stream_waits w WHERE w.tenant = $1 AND w.subscription_id = $2
			AND w.stream = $3 AND w.retry_at > $5) ORDER BY id LIMIT $4`
)

// NextStreamWait returns when the earliest waiting stream of a
// subscription that still has messages owed may be tried again; false
// when none waits.
func (s *DB) NextStreamWait(ctx context.Context, tenant, subscription string) (time.Time, bool, error) {
	var next sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, `SELECT MIN(w.retry_at) FROM webhook_stream_waits w WHERE w.tenant = $1 AND w.subscription_id = $2
		AND EXISTS (SELECT 1 FROM webhook_messages m WHERE m.tenant = $1 AND m.subscription_id = $2 AND m.stream = w.stream
			AND m.state = 'pending')`, tenant, subscription).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("storage: stream waits: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(next.Int64).UTC(), true, nil
}

// Messages returns a subscription's messages, newest first (the delivery
// log), at most limit.
func (s *DB) Messages(ctx context.Context, tenant, subscription string, limit int) ([]pass.OutboundMessage, error) {
	return s.messages(ctx, `WHERE tenant = $1 AND subscription_id = $2 ORDER BY id DESC LIMIT $3`, tenant, subscription, limit)
}

func (s *DB) messages(ctx context.Context, where string, args ...any) ([]pass.OutboundMessage, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+messageColumns+` FROM webhook_messages `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("storage: webhook messages: %w", err)
	}
	defer rows.Close()
	var out []pass.OutboundMessage
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("storage: webhook messages: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MessagesDelivered marks messages delivered, in one transaction.
func (s *DB) MessagesDelivered(ctx context.Context, ms []pass.DeliveredMessage, at time.Time) error {
	if len(ms) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		// One statement for the messages of a subscription with the same
		// answer (all of a delivery run's, as a rule), rowsPerInsert ids at most.
		for start := 0; start < len(ms); {
			first := ms[start].Message
			args := []any{first.Tenant, first.SubscriptionID, ms[start].Status, at.UnixMilli()}
			end := start
			for end < len(ms) && end-start < rowsPerInsert {
				m := ms[end].Message
				if m.Tenant != first.Tenant || m.SubscriptionID != first.SubscriptionID || ms[end].Status != ms[start].Status {
					break
				}
				args = append(args, m.ID)
				end++
			}
			if _, err := s.stmts.exec(ctx, tx, markDeliveredSQL(end-start), args...); err != nil {
				return fmt.Errorf("storage: webhook messages: %w", err)
			}
			start = end
		}
		return nil
	})
}

// EndStreamWaits ends the waits of the subscription's streams (which
// delivered their failing message), when it has any (as a rule it has
// none, and this is one read).
func (s *DB) EndStreamWaits(ctx context.Context, tenant, subscription string, streams []string) error {
	if len(streams) == 0 {
		return nil
	}
	var waiting bool
	if err := s.rdb.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM webhook_stream_waits WHERE tenant = $1 AND subscription_id = $2)`,
		tenant, subscription).Scan(&waiting); err != nil {
		return fmt.Errorf("storage: webhook streams: %w", err)
	}
	if !waiting {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(streams); start += rowsPerInsert {
			batch := streams[start:min(start+rowsPerInsert, len(streams))]
			args := []any{tenant, subscription}
			for _, st := range batch {
				args = append(args, st)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_stream_waits WHERE tenant = $1 AND subscription_id = $2
				AND stream IN (`+placeholders(3, len(batch))+`)`, args...); err != nil {
				return fmt.Errorf("storage: webhook streams: %w", err)
			}
		}
		return nil
	})
}

// markDeliveredSQL marks n messages of one subscription delivered with
// one status ($3) at one time ($4), found by their primary key ($5…).
func markDeliveredSQL(n int) string {
	return `UPDATE webhook_messages SET state = 'delivered', attempts = attempts + 1, last_status = $3, last_error = '',
		delivered_at = $4 WHERE tenant = $1 AND subscription_id = $2 AND id IN (` + placeholders(5, n) + `)`
}

// MessageFailed records a failed attempt of a message: its stream waits
// until f.RetryAt, or, when f.GiveUp, the message is failed for good (kept
// in the log; a replay sends it again) and its stream goes on.
func (s *DB) MessageFailed(ctx context.Context, m pass.OutboundMessage, f pass.MessageFailure) error {
	cause := fitText(f.Cause, 500)
	state := "pending"
	if f.GiveUp {
		state = "failed"
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Only a pending message: a run that lost its lease reports late,
		// and what another run delivered stays delivered.
		res, err := tx.ExecContext(ctx, `UPDATE webhook_messages SET attempts = attempts + 1, last_status = $4, last_error = $5, state = $6
			WHERE tenant = $1 AND subscription_id = $2 AND id = $3 AND state = 'pending'`, m.Tenant, m.SubscriptionID, m.ID, f.Status, cause, state)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		if f.GiveUp {
			_, err := tx.ExecContext(ctx, `DELETE FROM webhook_stream_waits WHERE tenant = $1 AND subscription_id = $2 AND stream = $3`,
				m.Tenant, m.SubscriptionID, m.Stream)
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_stream_waits (tenant, subscription_id, stream, retry_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant, subscription_id, stream) DO UPDATE SET retry_at = excluded.retry_at`,
			m.Tenant, m.SubscriptionID, m.Stream, f.RetryAt.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("storage: webhook message: %w", err)
	}
	return nil
}

var _ pass.OutboundStore = (*DB)(nil)

// ReplayMessages makes a subscription's messages created since since
// (or the one with id msgID) pending again, with the delivery task of the
// subscription; it returns how many it made pending.
func (s *DB) ReplayMessages(ctx context.Context, tenant, subscription, msgID string, since time.Time) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_messages SET state = 'pending', delivered_at = 0 WHERE tenant = $1 AND subscription_id = $2
			AND (($3 <> '' AND id = $3) OR ($3 = '' AND created_at >= $4))`, tenant, subscription, msgID, since.UnixMilli())
		if err != nil {
			return err
		}
		affected, _ := res.RowsAffected()
		if n = int(affected); n == 0 {
			return nil
		}
		// Replayed now: the replayed streams' waits end, and the
		// subscription's pause (an operator asks for it); its updated_at
		// moves, so that a run under way does not pause it again.
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_subscriptions SET paused_until = 0,
			updated_at = CASE WHEN updated_at < $3 THEN $3 ELSE updated_at + 1 END WHERE tenant = $1 AND id = $2`,
			tenant, subscription, time.Now().UnixMilli()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_stream_waits WHERE tenant = $1 AND subscription_id = $2
			AND stream IN (SELECT stream FROM webhook_messages WHERE tenant = $1 AND subscription_id = $2
				AND (($3 <> '' AND id = $3) OR ($3 = '' AND created_at >= $4)))`,
			tenant, subscription, msgID, since.UnixMilli()); err != nil {
			return err
		}
		_, err = s.enqueueTx(ctx, tx, pass.TaskOf(pass.DeliveryArgs{Tenant: tenant, Subscription: subscription}, ""), time.Now())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("storage: replay: %w", err)
	}
	return n, nil
}

// unixMilliOrZero is t in Unix milliseconds, 0 for the zero time.
func unixMilliOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
