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

// TestSubscriptionsAndMessages: subscriptions per tenant, messages stored
// once (a fan-out run again adds nothing), pending in id order per stream,
// delivered or failed, and gone with their subscription.
func TestSubscriptionsAndMessages(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.UnixMilli(1_800_000_000_000).UTC()
		sub := pass.Subscription{Tenant: "demo", ID: "wh_1", Endpoint: "https://crm.example.com/h", Events: []string{"*"},
			Enabled: true, Secret: "whsec_x", CreatedAt: now, UpdatedAt: now}
		if err := db.CreateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		if subs, _ := db.Subscriptions(ctx, "other"); len(subs) != 0 {
			t.Errorf("another tenant sees %v", subs)
		}
		sub.Enabled, sub.Events = false, []string{"pass.voided"}
		if err := db.UpdateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Subscription(ctx, "demo", "wh_1"); err != nil || got.Enabled || got.Events[0] != "pass.voided" || got.Secret != "whsec_x" {
			t.Errorf("updated: %+v %v", got, err)
		}
		msg := func(id, stream string) pass.OutboundMessage {
			return pass.OutboundMessage{Tenant: "demo", SubscriptionID: "wh_1", ID: id, Stream: stream, Type: "pass.updated",
				Payload: []byte(`{"n":"` + id + `"}`), CreatedAt: now}
		}
		batch := []pass.OutboundMessage{msg("msg_2", "s1"), msg("msg_1", "s1"), msg("msg_3", "s2")}
		for range 2 { // a fan-out task run twice
			if err := db.AddMessages(ctx, batch, nil); err != nil {
				t.Fatal(err)
			}
		}
		pending, err := db.PendingMessages(ctx, "demo", "wh_1", "s1", 100, now)
		if err != nil || len(pending) != 2 || pending[0].ID != "msg_1" || string(pending[1].Payload) != `{"n":"msg_2"}` {
			t.Fatalf("pending: %+v %v", pending, err)
		}
		if _, waiting, err := db.NextStreamWait(ctx, "demo", "wh_1"); waiting || err != nil {
			t.Errorf("a stream waits before any failure (%v)", err)
		}
		retry := now.Add(time.Minute)
		if err := db.MessageFailed(ctx, pending[0], pass.MessageFailure{Status: 503, Cause: "HTTP 503", RetryAt: retry}); err != nil {
			t.Fatal(err)
		}
		// The failing stream waits alone until its retry; the others go on.
		if all, _ := db.PendingMessages(ctx, "demo", "wh_1", "", 100, now); len(all) != 1 || all[0].ID != "msg_3" {
			t.Errorf("while s1 waits: %+v", all)
		}
		if p, _ := db.PendingMessages(ctx, "demo", "wh_1", "s1", 100, now); len(p) != 0 {
			t.Errorf("s1 while it waits: %+v", p)
		}
		if at, waiting, err := db.NextStreamWait(ctx, "demo", "wh_1"); !waiting || !at.Equal(retry) || err != nil {
			t.Errorf("next wait %v %v %v, want %v", at, waiting, err, retry)
		}
		// Every stream of the subscription, by stream then id, a page at a time.
		if all, _ := db.PendingMessages(ctx, "demo", "wh_1", "", 100, retry); len(all) != 3 || all[0].ID != "msg_1" || all[2].ID != "msg_3" {
			t.Errorf("every stream: %+v", all)
		}
		if page, _ := db.PendingMessages(ctx, "demo", "wh_1", "", 2, retry); len(page) != 2 || page[1].ID != "msg_2" {
			t.Errorf("a page of 2: %+v", page)
		}
		if err := db.MessagesDelivered(ctx, []pass.DeliveredMessage{{Message: pending[0], Status: 204}}, now); err != nil {
			t.Fatal(err)
		}
		// A failure reported late (a run that lost its lease) changes
		// nothing of a delivered message, and starts no wait.
		if err := db.MessageFailed(ctx, pending[0], pass.MessageFailure{Status: 500, Cause: "late", RetryAt: retry.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if at, _, _ := db.NextStreamWait(ctx, "demo", "wh_1"); !at.Equal(retry) {
			t.Errorf("a late failure of a delivered message moved the wait to %v", at)
		}
		if err := db.EndStreamWaits(ctx, "demo", "wh_1", []string{"s1"}); err != nil {
			t.Fatal(err)
		}
		if p, _ := db.PendingMessages(ctx, "demo", "wh_1", "s1", 100, now); len(p) != 1 || p[0].ID != "msg_2" {
			t.Errorf("after delivery: %+v", p)
		}
		if _, waiting, _ := db.NextStreamWait(ctx, "demo", "wh_1"); waiting {
			t.Error("s1 still waits after its wait ended")
		}
		// Given up: failed for good, and the stream goes on at once.
		if err := db.MessageFailed(ctx, pending[1], pass.MessageFailure{Status: 500, Cause: "HTTP 500", RetryAt: retry}); err != nil {
			t.Fatal(err)
		}
		if err := db.MessageFailed(ctx, pending[1], pass.MessageFailure{Status: 500, Cause: "HTTP 500", GiveUp: true}); err != nil {
			t.Fatal(err)
		}
		if p, _ := db.PendingMessages(ctx, "demo", "wh_1", "", 100, now); len(p) != 1 || p[0].ID != "msg_3" {
			t.Errorf("after giving up msg_2: %+v", p)
		}
		if _, waiting, _ := db.NextStreamWait(ctx, "demo", "wh_1"); waiting {
			t.Error("giving up left s1 waiting")
		}
		if n, err := db.ReplayMessages(ctx, "demo", "wh_1", "msg_2", time.Time{}); n != 1 || err != nil {
			t.Errorf("replay of the given-up message: %d %v", n, err)
		}
		if p, _ := db.PendingMessages(ctx, "demo", "wh_1", "s1", 100, now); len(p) != 1 || p[0].ID != "msg_2" {
			t.Errorf("after the replay: %+v", p)
		}
		log, _ := db.Messages(ctx, "demo", "wh_1", 10)
		if len(log) != 3 || log[2].ID != "msg_1" || log[2].State != "delivered" || log[2].Attempts != 2 || log[2].LastStatus != 204 {
			t.Errorf("log: %+v", log)
		}
		// Enabled again: its delivery task is queued with the change, and
		// its waits end; a new description later keeps a new wait.
		sub.Enabled = true
		if err := db.UpdateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		tasks, err := db.ListTasks(ctx, pass.TaskPending, 10)
		if err != nil || len(tasks) != 1 || tasks[0].Kind != pass.TaskWebhookDelivery {
			t.Errorf("after enabling: tasks %+v (%v), want its delivery", tasks, err)
		}
		if err := db.MessageFailed(ctx, msg("msg_3", "s2"), pass.MessageFailure{Status: 503, Cause: "x", RetryAt: retry}); err != nil {
			t.Fatal(err)
		}
		sub.Description = "CRM"
		if err := db.UpdateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		if _, waiting, _ := db.NextStreamWait(ctx, "demo", "wh_1"); !waiting {
			t.Error("a new description ended the waits")
		}
		// The endpoint that answered 410 is no longer the subscription's:
		// it is not disabled; at that endpoint it is.
		if off, err := db.DisableSubscription(ctx, "demo", "wh_1", "https://old.example.com/h", now); off || err != nil {
			t.Errorf("disabled for another endpoint: %v %v", off, err)
		}
		if off, err := db.DisableSubscription(ctx, "demo", "wh_1", sub.Endpoint, now); !off || err != nil {
			t.Errorf("not disabled for its endpoint: %v %v", off, err)
		}
		if err := db.DeleteSubscription(ctx, "demo", "wh_1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Subscription(ctx, "demo", "wh_1"); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("after delete: %v", err)
		}
		if log, _ := db.Messages(ctx, "demo", "wh_1", 10); len(log) != 0 {
			t.Errorf("messages left: %d", len(log))
		}
	})
}

// TestMessageQueryPlans: the deliveries read the index of the messages
// still owed, and marking one delivered finds it by its primary key, in
// both stores, and in PostgreSQL also with the generic plan it caches for
// a prepared statement on tables it has no statistics of yet (a new
// database's first burst). With an index over every message, that plan
// walked every message of the subscription to mark one delivered.
func TestMessageQueryPlans(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d testDB) {
		pk := "webhook_messages_pkey"
		if d.name == "sqlite" {
			pk = "sqlite_autoindex_webhook_messages_1"
		}
		checkPlans(t, d, []planCase{
			{"pending messages", storage.PendingMessagesSQL, []any{"demo", "wh_1", 100, 1}, "webhook_messages_pending", ""},
			{"pending messages of a stream", storage.PendingStreamSQL, []any{"demo", "wh_1", "s1", 100, 1}, "webhook_messages_pending", ""},
			{"mark delivered", storage.MarkDeliveredSQL(1), []any{"demo", "wh_1", 204, 1, "msg_1"}, pk, "webhook_messages_pending"},
			{"mark several delivered", storage.MarkDeliveredSQL(3), []any{"demo", "wh_1", 204, 1, "msg_1", "msg_2", "msg_3"}, pk,
				"webhook_messages_pending"},
		})
	})
}

// TestStaleStatistics: a message table analysed while empty (as one
// purged of its delivered messages is) and then given a burst of messages
// is analysed again by FirstStatistics; a table that grew by less than ten
// times its analysed size is left to autovacuum. Before, PostgreSQL's
// generic plan marked messages delivered through the primary key on the
// tenant and subscription alone, the ids a filter over every message of
// the subscription; after, the ids are in the index condition.
func TestStaleStatistics(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d testDB) {
		if d.name != "postgres" {
			return // SQLite needs no statistics for these plans (TestMessageQueryPlans)
		}
		ctx := context.Background()
		db := d.handle(t)
		raw := d.raw(t)
		if _, err := raw.ExecContext(ctx, `ANALYZE webhook_messages`); err != nil {
			t.Fatal(err)
		}
		add := func(from, n int) {
			t.Helper()
			var msgs []pass.OutboundMessage
			for i := from; i < from+n; i++ {
				msgs = append(msgs, pass.OutboundMessage{Tenant: "demo", SubscriptionID: "wh_1", ID: fmt.Sprintf("msg_%06d", i),
					Stream: fmt.Sprintf("s%d", i%100), Type: "pass.updated", Payload: []byte(`{}`), CreatedAt: time.UnixMilli(int64(i))})
			}
			if err := db.AddMessages(ctx, msgs, nil); err != nil {
				t.Fatal(err)
			}
		}
		// analysed waits until the server has counted the writes (within
		// seconds) and FirstStatistics analysed webhook_messages, or fails.
		analysed := func() bool {
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				tables, err := db.FirstStatistics(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if slices.Contains(tables, "webhook_messages") {
					return true
				}
			}
			return false
		}
		markDelivered := planCase{"mark delivered", storage.MarkDeliveredSQL(3),
			[]any{"demo", "wh_1", 204, 1, "msg_000001", "msg_000002", "msg_000003"}, "webhook_messages_pkey", "Filter"}
		add(0, 3000)
		if !analysed() {
			t.Fatal("3,000 messages written into a table analysed empty: not analysed again")
		}
		checkPlans(t, d, []planCase{markDelivered})
		add(3000, 600) // a fifth of its size: autovacuum's
		time.Sleep(2 * time.Second)
		if tables, err := db.FirstStatistics(ctx); err != nil || slices.Contains(tables, "webhook_messages") {
			t.Errorf("after 600 more messages: analysed %v, %v; want the table left to autovacuum", tables, err)
		}
	})
}

// planCase is a statement whose plan must read index and not notIndex
// (when not empty).
type planCase struct {
	name, sql       string
	args            []any
	index, notIndex string
}

// checkPlans checks each case's plan on a migrated database without
// statistics: SQLite's EXPLAIN QUERY PLAN, and on PostgreSQL the generic
// plan of the prepared statement (the one a connection caches).
func checkPlans(t *testing.T, d testDB, cases []planCase) {
	t.Helper()
	ctx := context.Background()
	d.handle(t) // migrated
	conn, err := d.raw(t).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if d.name == "postgres" {
		if _, err := conn.ExecContext(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
			t.Fatal(err)
		}
	}
	for i, q := range cases {
		var plan []string
		var rows *sql.Rows
		if d.name == "postgres" {
			stmt := fmt.Sprintf("q%d", i)
			if _, err := conn.ExecContext(ctx, "PREPARE "+stmt+" AS "+q.sql); err != nil {
				t.Fatal(err)
			}
			params := make([]string, len(q.args)) // EXECUTE takes values, not parameters
			for j, a := range q.args {
				params[j] = fmt.Sprint(a)
				if s, ok := a.(string); ok {
					params[j] = "'" + s + "'"
				}
			}
			rows, err = conn.QueryContext(ctx, "EXPLAIN EXECUTE "+stmt+"("+strings.Join(params, ", ")+")")
		} else {
			rows, err = conn.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.sql, q.args...)
		}
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for j := range vals {
				ptrs[j] = &vals[j]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, fmt.Sprint(vals[len(vals)-1]))
		}
		rows.Close()
		text := strings.Join(plan, "\n")
		if !strings.Contains(text, q.index) || (q.notIndex != "" && strings.Contains(text, q.notIndex)) {
			t.Errorf("%s: the plan does not read %s only:\n%s", q.name, q.index, text)
		}
	}
}

// TestRotateSecret: a rotation keeps the replaced secret beside the new
// one until the overlap ends; an overlap of none drops it; another
// tenant's subscription is not found.
func TestRotateSecret(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.UnixMilli(1_800_000_000_000).UTC()
		sub := pass.Subscription{Tenant: "demo", ID: "wh_1", Endpoint: "https://crm.example.com/h", Events: []string{"*"},
			Enabled: true, Secret: "whsec_a", CreatedAt: now, UpdatedAt: now}
		if err := db.CreateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		got, err := db.RotateSecret(ctx, "demo", "wh_1", "whsec_b", now.Add(time.Hour), now)
		if err != nil || got.Secret != "whsec_b" || got.PreviousSecret != "whsec_a" || !got.PreviousUntil.Equal(now.Add(time.Hour)) {
			t.Fatalf("rotated: %+v %v", got, err)
		}
		if s := got.Secrets(now.Add(time.Minute)); len(s) != 2 {
			t.Errorf("secrets during the overlap: %d", len(s))
		}
		if s := got.Secrets(now.Add(time.Hour)); len(s) != 1 || s[0] != "whsec_b" {
			t.Errorf("secrets after the overlap: %v", s)
		}
		if read, _ := db.Subscription(ctx, "demo", "wh_1"); read == nil || read.PreviousSecret != "whsec_a" {
			t.Errorf("read back: %+v", read)
		}
		got, err = db.RotateSecret(ctx, "demo", "wh_1", "whsec_c", now, now)
		if err != nil || got.Secret != "whsec_c" || got.PreviousSecret != "" || len(got.Secrets(now)) != 1 {
			t.Errorf("rotated at once: %+v %v", got, err)
		}
		if _, err := db.RotateSecret(ctx, "other", "wh_1", "whsec_d", now, now); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("another tenant's: %v", err)
		}
	})
}

// TestPauseSubscription: a pause is read back with the subscription, a
// shorter one leaves a longer one standing, and re-enabling the
// subscription or a replay ends it.
func TestPauseSubscription(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.UnixMilli(1_800_000_000_000).UTC()
		sub := pass.Subscription{Tenant: "demo", ID: "wh_1", Endpoint: "https://crm.example.com/h", Events: []string{"*"},
			Enabled: true, Secret: "whsec_a", CreatedAt: now, UpdatedAt: now}
		if err := db.CreateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		read := func() pass.Subscription {
			t.Helper()
			got, err := db.Subscription(ctx, "demo", "wh_1")
			if err != nil {
				t.Fatal(err)
			}
			return *got
		}
		if p := read().PausedUntil; !p.IsZero() {
			t.Errorf("a new subscription is paused until %v", p)
		}
		asRead := read()
		for _, until := range []time.Time{now.Add(10 * time.Minute), now.Add(time.Minute)} {
			if err := db.PauseSubscription(ctx, asRead, until); err != nil {
				t.Fatal(err)
			}
		}
		if p := read().PausedUntil; !p.Equal(now.Add(10 * time.Minute)) {
			t.Errorf("paused until %v, want the longer pause, %v", p, now.Add(10*time.Minute))
		}
		other := asRead
		other.Tenant = "other"
		if err := db.PauseSubscription(ctx, other, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if p := read().PausedUntil; !p.Equal(now.Add(10 * time.Minute)) {
			t.Errorf("another tenant's pause moved it to %v", p)
		}
		// A new description leaves the pause; disabled and enabled again
		// ends it, and a run that read it before cannot pause it again.
		sub.Description, sub.UpdatedAt = "CRM", now.Add(time.Second)
		if err := db.UpdateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		if p := read().PausedUntil; p.IsZero() {
			t.Error("a new description ended the pause")
		}
		sub.Enabled, sub.UpdatedAt = false, now.Add(2*time.Second)
		if err := db.UpdateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		sub.Enabled, sub.UpdatedAt = true, now.Add(3*time.Second)
		if err := db.UpdateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		if p := read().PausedUntil; !p.IsZero() {
			t.Errorf("enabled again, still paused until %v", p)
		}
		if err := db.PauseSubscription(ctx, asRead, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if p := read().PausedUntil; !p.IsZero() {
			t.Errorf("a run that read the subscription before it was enabled again paused it until %v", p)
		}
		// A replay ends it, and a run under way does not pause it again.
		asRead = read()
		if err := db.PauseSubscription(ctx, asRead, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		msg := pass.OutboundMessage{Tenant: "demo", SubscriptionID: "wh_1", ID: "msg_1", Stream: "s1", Type: "pass.updated",
			Payload: []byte(`{}`), CreatedAt: now}
		if err := db.AddMessages(ctx, []pass.OutboundMessage{msg}, nil); err != nil {
			t.Fatal(err)
		}
		if n, err := db.ReplayMessages(ctx, "demo", "wh_1", "msg_1", time.Time{}); n != 1 || err != nil {
			t.Fatalf("replay: %d, %v", n, err)
		}
		if p := read().PausedUntil; !p.IsZero() {
			t.Errorf("replayed, still paused until %v", p)
		}
		if err := db.PauseSubscription(ctx, asRead, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if p := read().PausedUntil; !p.IsZero() {
			t.Errorf("a run that read the subscription before the replay paused it until %v", p)
		}
	})
}

// TestUpdateSubscriptionAsRead: an update of a subscription as it was
// read applies while nobody changed it, and is a conflict after a 410
// Gone disabled it meanwhile, which it leaves disabled.
func TestUpdateSubscriptionAsRead(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.UnixMilli(1_800_000_000_000).UTC()
		sub := pass.Subscription{Tenant: "demo", ID: "wh_1", Endpoint: "https://crm.example.com/h", Events: []string{"*"},
			Enabled: true, Secret: "whsec_a", CreatedAt: now, UpdatedAt: now}
		if err := db.CreateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		read, err := db.Subscription(ctx, "demo", "wh_1")
		if err != nil {
			t.Fatal(err)
		}
		if off, err := db.DisableSubscription(ctx, "demo", "wh_1", sub.Endpoint, now.Add(time.Second)); !off || err != nil {
			t.Fatalf("disable: %v %v", off, err)
		}
		read.Description = "CRM"
		read.WasUpdatedAt, read.UpdatedAt = read.UpdatedAt, now.Add(2*time.Second)
		if err := db.UpdateSubscription(ctx, *read); pass.KindOf(err) != pass.KindConflict {
			t.Errorf("update of the subscription as read before the disable: %v, want a conflict", err)
		}
		again, err := db.Subscription(ctx, "demo", "wh_1")
		if err != nil || again.Enabled || again.Description != "" {
			t.Fatalf("after the refused update: %+v %v", again, err)
		}
		again.Description = "CRM"
		again.WasUpdatedAt, again.UpdatedAt = again.UpdatedAt, now.Add(3*time.Second)
		if err := db.UpdateSubscription(ctx, *again); err != nil {
			t.Errorf("update of the subscription as it is: %v", err)
		}
		if got, _ := db.Subscription(ctx, "demo", "wh_1"); got == nil || got.Enabled || got.Description != "CRM" {
			t.Errorf("after the update: %+v", got)
		}
	})
}

// TestActiveFanouts: the events of the event-fanout and event-batch
// tasks pending or running are listed with their pass, id, place and due
// time (an event-wide change's batch's from its arguments), those of one
// pass or all, below a place or all; a finished one and other kinds of
// task are not, nor another tenant's.
func TestActiveFanouts(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		ev := func(tenant, stream, id string) pass.NewTask {
			return pass.TaskOf(pass.EventArgs{Tenant: tenant, ID: id, Type: pass.EventPassUpdated, Stream: stream, At: t0}, "")
		}
		scan := pass.TaskOf(pass.EventBatchArgs{Tenant: "demo", Events: []pass.EventArgs{
			{Tenant: "demo", ID: "msg_05", Type: pass.EventTicketScanned, Stream: "s3", At: t0},
			{Tenant: "demo", ID: "msg_06", Type: pass.EventPassUpdated, Stream: "s3", At: t0}}}, "")
		wide := pass.TaskOf(pass.EventBatchArgs{Tenant: "demo", Events: []pass.EventArgs{
			{Tenant: "demo", ID: "msg_07", Type: pass.EventPassUpdated, Stream: "s1", At: t0},
			{Tenant: "demo", ID: "msg_08", Type: pass.EventPassUpdated, Stream: "s2", At: t0}}}, "")
		for _, nt := range []pass.NewTask{ev("demo", "s1", "msg_01"), ev("demo", "s1", "msg_02"), ev("demo", "s2", "msg_03"),
			ev("other", "s1", "msg_04"), scan, wide, pass.TaskOf(pass.OrderRef{Tenant: "demo", FileID: 1}, "")} {
			if _, err := db.Enqueue(ctx, nt, t0); err != nil {
				t.Fatal(err)
			}
		}
		claimed, err := db.Claim(ctx, t0, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range claimed {
			if c.Kind == pass.TaskEventFanout && strings.HasSuffix(c.DedupKey, "msg_02") {
				if err := db.Complete(ctx, c, t0, t0); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, tc := range []struct {
			stream, before string
			want           []string
		}{
			{"", "", []string{"s1/msg_01", "s1/msg_07@msg_08", "s2/msg_03", "s2/msg_08@msg_08", "s3/msg_06"}},
			{"s1", "", []string{"s1/msg_01", "s1/msg_07@msg_08"}},
			{"s3", "", []string{"s3/msg_06"}},
			{"s4", "", nil},
			{"", "msg_08", []string{"s1/msg_01", "s2/msg_03", "s3/msg_06"}},
			{"s1", "msg_09", []string{"s1/msg_01", "s1/msg_07@msg_08"}},
			{"s1", "msg_01", nil},
			{"s3", "msg_06", nil},
		} {
			got, err := db.ActiveFanouts(ctx, "demo", tc.stream, tc.before)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, a := range got {
				k := a.Stream + "/" + a.ID
				if a.Order != "" {
					k += "@" + a.Order
				}
				keys = append(keys, k)
				if !a.Due.Equal(t0) {
					t.Errorf("%s/%s due %s, want %s", a.Stream, a.ID, a.Due, t0)
				}
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tc.want) {
				t.Errorf("active fan-outs of %q before %q: %q, want %q", tc.stream, tc.before, keys, tc.want)
			}
		}
	})
}

// TestStoredMessages: the events with a message for one of the given
// subscriptions are named, of the tenant only; an event-wide batch's
// events are read once and remembered, a done batch's not listed.
func TestStoredMessages(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		var msgs []pass.OutboundMessage
		for _, m := range []struct{ tenant, sub, id string }{{"demo", "a", "msg_1"}, {"demo", "a", "msg_2"}, {"demo", "b", "msg_3"},
			{"other", "a", "msg_4"}} {
			msgs = append(msgs, pass.OutboundMessage{Tenant: m.tenant, SubscriptionID: m.sub, ID: m.id, Stream: "s1", Type: pass.EventPassUpdated,
				Payload: []byte(`{}`), State: "pending", CreatedAt: t0})
		}
		if err := db.AddMessages(ctx, msgs, nil); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			subs, ids, want []string
		}{
			{[]string{"a"}, []string{"msg_1", "msg_3", "msg_4", "msg_9"}, []string{"msg_1"}},
			{[]string{"a", "b"}, []string{"msg_1", "msg_3"}, []string{"msg_1", "msg_3"}},
			{[]string{"c"}, []string{"msg_1"}, nil},
			{nil, []string{"msg_1"}, nil},
		} {
			got, err := db.StoredMessages(ctx, "demo", tc.subs, tc.ids)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for id, ok := range got {
				if ok {
					ids = append(ids, id)
				}
			}
			slices.Sort(ids)
			if !slices.Equal(ids, tc.want) {
				t.Errorf("stored of %q among %q: %q, want %q", tc.subs, tc.ids, ids, tc.want)
			}
		}
		// An event-wide batch: read, remembered (its task done, it is not
		// listed: the index of the active tasks says so first).
		wide := pass.TaskOf(pass.EventBatchArgs{Tenant: "demo", Events: []pass.EventArgs{
			{Tenant: "demo", ID: "msg_07", Type: pass.EventPassUpdated, Stream: "s1", At: t0},
			{Tenant: "demo", ID: "msg_08", Type: pass.EventPassUpdated, Stream: "s2", At: t0}}}, "")
		if _, err := db.Enqueue(ctx, wide, t0); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			got, err := db.ActiveFanouts(ctx, "demo", "s2", "")
			if err != nil || len(got) != 1 || got[0].ID != "msg_08" || got[0].Order != "msg_08" {
				t.Fatalf("the batch's events of s2: %+v %v", got, err)
			}
		}
		claimed, err := db.Claim(ctx, t0, time.Minute, 10)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claimed %d (%v)", len(claimed), err)
		}
		if err := db.Complete(ctx, claimed[0], t0, t0); err != nil {
			t.Fatal(err)
		}
		if got, err := db.ActiveFanouts(ctx, "demo", "", ""); err != nil || len(got) != 0 {
			t.Errorf("after the batch is done: %+v %v", got, err)
		}
		// The rest of a batch, of one pass, in its batch's place.
		rest := pass.TaskOf(pass.EventBatchArgs{Tenant: "demo", Place: "msg_09~", Events: []pass.EventArgs{
			{Tenant: "demo", ID: "msg_05", Type: pass.EventPassUpdated, Stream: "s5", At: t0}}}, "")
		if _, err := db.Enqueue(ctx, rest, t0); err != nil {
			t.Fatal(err)
		}
		for before, want := range map[string]int{"": 1, "msg_0A": 1, "msg_09~": 0, "msg_09": 0} {
			got, err := db.ActiveFanouts(ctx, "demo", "s5", before)
			if err != nil || len(got) != want || (want == 1 && (got[0].ID != "msg_05" || got[0].Order != "msg_09~")) {
				t.Errorf("the rest of a batch, before %q: %+v %v; want %d (msg_05 placed at msg_09~)", before, got, err, want)
			}
		}
	})
}
