package pass_test

import (
	"context"
	"testing"
	"time"

	"walletpass/pass"
)

// fanoutStore is the part of pass.OutboundStore a fan-out uses.
type fanoutStore struct {
	pass.OutboundStore
	subs  []pass.Subscription
	msgs  []pass.OutboundMessage
	tasks []pass.NewTask
}

func (f *fanoutStore) Subscriptions(context.Context, string) ([]pass.Subscription, error) {
	return f.subs, nil
}

func (f *fanoutStore) AddMessages(_ context.Context, msgs []pass.OutboundMessage, tasks []pass.NewTask) error {
	f.msgs, f.tasks = append(f.msgs, msgs...), append(f.tasks, tasks...)
	return nil
}

// A batch of events makes a message for each subscription that wants
// each, and one delivery task per subscription, whose next run may follow
// the last within pass.DeliveryGap (not an order sync's coalescing window).
func TestFanoutBatch(t *testing.T) {
	st := &fanoutStore{subs: []pass.Subscription{
		{Tenant: "demo", ID: "all", Events: []string{"*"}, Enabled: true},
		{Tenant: "demo", ID: "scans", Events: []string{pass.EventTicketScanned}, Enabled: true},
		{Tenant: "demo", ID: "off", Events: []string{"*"}, Enabled: false},
	}}
	f := &pass.Fanout{Store: st}
	at := time.Date(2027, 1, 5, 20, 0, 0, 0, time.UTC)
	var evs []pass.EventArgs
	for _, serial := range []string{"s1", "s2", "s3"} {
		evs = append(evs, pass.EventArgs{Tenant: "demo", ID: "msg_" + serial, Type: pass.EventPassUpdated, Stream: serial, At: at,
			Data: []byte(`{"serialNumber":"` + serial + `"}`)})
	}
	if err := f.WorkBatch(context.Background(), pass.EventBatchArgs{Tenant: "demo", Events: evs}, "c1"); err != nil {
		t.Fatal(err)
	}
	if len(st.msgs) != 3 {
		t.Fatalf("%d messages, want 3 (only the subscription to every event wants pass.updated)", len(st.msgs))
	}
	for i, m := range st.msgs {
		if m.SubscriptionID != "all" || m.Stream != evs[i].Stream || m.State != "pending" {
			t.Errorf("message %d = %+v", i, m)
		}
	}
	if len(st.tasks) != 1 || st.tasks[0].Kind != pass.TaskWebhookDelivery || st.tasks[0].MinGap != pass.DeliveryGap {
		t.Fatalf("tasks = %+v, want one webhook delivery with MinGap %v", st.tasks, pass.DeliveryGap)
	}
}
