package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/storage"
)

// TestManyRowsPerStatement: the writes that put many rows in one
// statement (versions, webhook messages, the push log, timeline entries)
// and mark many messages delivered in one store every row, across full
// statements and a shorter last one, in order, with each row's values.
func TestManyRowsPerStatement(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const n = 123 // two full statements of 50 rows and one of 23
		at := time.UnixMilli(1_800_000_000_000).UTC()

		var ws []pass.PassWrite
		for i := range n {
			p := newPass(fmt.Sprintf("serial-%04d", i), int64(5000+i))
			if err := db.CreatePass(ctx, p, nil); err != nil {
				t.Fatal(err)
			}
			next := *p
			next.Version++
			next.UpdateTag++
			next.ContentHash = fmt.Sprintf("hash-%d", i)
			next.Content = []byte(fmt.Sprintf("content of %d", i))
			next.UpdatedAt = at
			ws = append(ws, pass.PassWrite{Pass: &next})
		}
		if err := db.UpdatePasses(ctx, ws, nil); err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, 49, 50, 99, 100, n - 1} {
			serial := fmt.Sprintf("serial-%04d", i)
			c, err := db.VersionContent(ctx, "demo", serial, 2)
			if err != nil || string(c) != fmt.Sprintf("content of %d", i) {
				t.Errorf("version 2 of %s: %q %v", serial, c, err)
			}
			vs, _ := db.ListVersions(ctx, "demo", serial)
			if len(vs) != 2 || vs[1].ContentHash != fmt.Sprintf("hash-%d", i) || !vs[1].UpdatedAt.Equal(at) {
				t.Errorf("versions of %s: %+v", serial, vs)
			}
		}

		sub := pass.Subscription{Tenant: "demo", ID: "wh_1", Endpoint: "https://crm.example.com/h", Events: []string{"*"},
			Enabled: true, Secret: "whsec_x", CreatedAt: at, UpdatedAt: at}
		if err := db.CreateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		var msgs []pass.OutboundMessage
		for i := range n {
			msgs = append(msgs, pass.OutboundMessage{Tenant: "demo", SubscriptionID: "wh_1", ID: fmt.Sprintf("msg_%04d", i),
				Stream: fmt.Sprintf("s%04d", i), Type: "pass.updated", Payload: []byte(fmt.Sprintf(`{"i":%d}`, i)), CreatedAt: at})
		}
		for range 2 { // the second time adds nothing
			if err := db.AddMessages(ctx, msgs, nil); err != nil {
				t.Fatal(err)
			}
		}
		pending, err := db.PendingMessages(ctx, "demo", "wh_1", "", 1000, time.Now())
		if err != nil || len(pending) != n {
			t.Fatalf("pending: %d %v", len(pending), err)
		}
		for i, m := range pending {
			if m.ID != msgs[i].ID || string(m.Payload) != string(msgs[i].Payload) || m.State != "pending" {
				t.Fatalf("message %d: %+v", i, m)
			}
		}
		// Delivered with three answers, in runs: 60 × 200, 3 × 202, then 204 (a run
		// cut at 50 ids, another by each change of answer).
		var done []pass.DeliveredMessage
		for i, m := range pending[:n-3] {
			status := 200
			switch {
			case i >= 60 && i < 63:
				status = 202
			case i >= 63:
				status = 204
			}
			done = append(done, pass.DeliveredMessage{Message: m, Status: status})
		}
		if err := db.MessagesDelivered(ctx, done, at); err != nil {
			t.Fatal(err)
		}
		left, _ := db.PendingMessages(ctx, "demo", "wh_1", "", 1000, time.Now())
		if len(left) != 3 || left[0].ID != msgs[n-3].ID {
			t.Errorf("still pending: %+v", left)
		}
		log, _ := db.Messages(ctx, "demo", "wh_1", 1000)
		byID := map[string]pass.OutboundMessage{}
		for _, m := range log {
			byID[m.ID] = m
		}
		for i, d := range done {
			m := byID[d.Message.ID]
			if m.State != "delivered" || m.LastStatus != d.Status || m.Attempts != 1 || !m.DeliveredAt.Equal(at) {
				t.Fatalf("message %d after delivery: %+v, want status %d", i, m, d.Status)
			}
		}

		var recs []pass.PushRecord
		for i := range n {
			recs = append(recs, pass.PushRecord{Tenant: "demo", Serial: "serial-0001", Device: fmt.Sprintf("dev%04d", i),
				At: at.Add(time.Duration(i) * time.Millisecond), Reason: fmt.Sprintf("r%d", i)})
		}
		if err := db.LogPushes(ctx, recs); err != nil {
			t.Fatal(err)
		}
		pushes, _ := db.PushLog(ctx, "demo", "serial-0001", 1000)
		if len(pushes) != n || pushes[0].Device != recs[n-1].Device || pushes[n-1].Reason != "r0" {
			t.Errorf("push log: %d records, first %+v", len(pushes), pushes[0])
		}

		var entries []pass.TimelineEntry
		for i := range n {
			entries = append(entries, pass.TimelineEntry{Tenant: "demo", SecretToken: "order-1", At: at.Add(time.Duration(i) * time.Millisecond),
				Kind: "pass-version", Detail: fmt.Sprintf("entry %d", i)})
		}
		if err := db.AddTimeline(ctx, entries...); err != nil {
			t.Fatal(err)
		}
		tl, _ := db.Timeline(ctx, "demo", "order-1", 0)
		if len(tl) != n || tl[0].Detail != "entry 0" || tl[n-1].Detail != fmt.Sprintf("entry %d", n-1) {
			t.Errorf("timeline: %d entries", len(tl))
		}
	})
}
