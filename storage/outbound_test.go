package storage_test

import (
	"context"
	"errors"
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
		pending, err := db.PendingMessages(ctx, "demo", "wh_1", "s1", 100)
		if err != nil || len(pending) != 2 || pending[0].ID != "msg_1" || string(pending[1].Payload) != `{"n":"msg_2"}` {
			t.Fatalf("pending: %+v %v", pending, err)
		}
		if err := db.MessageFailed(ctx, pending[0], 503, "HTTP 503"); err != nil {
			t.Fatal(err)
		}
		// Every stream of the subscription, by stream then id, a page at a time.
		if all, _ := db.PendingMessages(ctx, "demo", "wh_1", "", 100); len(all) != 3 || all[0].ID != "msg_1" || all[2].ID != "msg_3" {
			t.Errorf("every stream: %+v", all)
		}
		if page, _ := db.PendingMessages(ctx, "demo", "wh_1", "", 2); len(page) != 2 || page[1].ID != "msg_2" {
			t.Errorf("a page of 2: %+v", page)
		}
		if err := db.MessagesDelivered(ctx, []pass.DeliveredMessage{{Message: pending[0], Status: 204}}, now); err != nil {
			t.Fatal(err)
		}
		if p, _ := db.PendingMessages(ctx, "demo", "wh_1", "s1", 100); len(p) != 1 || p[0].ID != "msg_2" {
			t.Errorf("after delivery: %+v", p)
		}
		log, _ := db.Messages(ctx, "demo", "wh_1", 10)
		if len(log) != 3 || log[2].ID != "msg_1" || log[2].State != "delivered" || log[2].Attempts != 2 || log[2].LastStatus != 204 {
			t.Errorf("log: %+v", log)
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
