package pass_test

import (
	"context"
	"encoding/json"
	"strings"
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

// A pass's announcement carries its identifiers and, for a scan, the
// scan's id (never holder data), the keys sorted as a map of them marshals.
func TestPassEventData(t *testing.T) {
	p := &pass.Pass{Tenant: "demo", SerialNumber: "s<1>", PassTypeID: "pass.x.y", Version: 3, Status: pass.StatusUsed, FileID: 7,
		OrderID: 8, TicketID: 9, MovementID: 10, HolderGeneration: 1,
		Ticket: pass.Ticket{HolderName: "Ada Lovelace", HolderEmail: "ada@example.org", Event: pass.Event{PerformanceID: 42}}}
	want := func(perf bool, scanID string) string {
		m := map[string]any{"serialNumber": p.SerialNumber, "passTypeIdentifier": p.PassTypeID, "version": p.Version,
			"status": p.Status, "fileId": p.FileID, "orderId": p.OrderID, "ticketId": p.TicketID, "movementId": p.MovementID,
			"holderGeneration": p.HolderGeneration}
		if perf {
			m["performanceId"] = p.Ticket.Event.PerformanceID
		}
		if scanID != "" {
			m["scanId"] = scanID
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	at := time.Date(2027, 1, 5, 20, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, scanID string
		perf         int64
	}{{"with performance", "", 42}, {"without performance", "", 0}, {"a scan", "scan-1", 42}} {
		p.Ticket.Event.PerformanceID = tc.perf
		ev := pass.PassEvent(p, pass.EventPassUpdated, at, tc.scanID)
		if got, w := string(ev.Data), want(tc.perf != 0, tc.scanID); got != w {
			t.Errorf("%s: data %s, want %s", tc.name, got, w)
		}
		if strings.Contains(string(ev.Data), "Ada") || strings.Contains(string(ev.Data), "example.org") {
			t.Errorf("%s: holder data in %s", tc.name, ev.Data)
		}
		if ev.Stream != p.SerialNumber || ev.Type != pass.EventPassUpdated || !ev.At.Equal(at) || !strings.HasPrefix(ev.ID, "msg_") {
			t.Errorf("%s: event %+v", tc.name, ev)
		}
	}
}
