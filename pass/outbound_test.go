package pass_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"walletpass/pass"
)

// fanoutStore is the part of pass.OutboundStore a fan-out uses.
type fanoutStore struct {
	pass.OutboundStore
	subs   []pass.Subscription
	msgs   []pass.OutboundMessage
	tasks  []pass.NewTask
	active []pass.ActiveFanout
	// askedStream and askedBefore are what ActiveFanouts was asked for.
	askedStream, askedBefore []string
	// stored are the events with messages already.
	stored map[string]bool
}

func (f *fanoutStore) StoredMessages(_ context.Context, _ string, subs, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = f.stored[id] && len(subs) > 0
	}
	return out, nil
}

func (f *fanoutStore) ActiveFanouts(_ context.Context, _, stream, before string) ([]pass.ActiveFanout, error) {
	f.askedStream, f.askedBefore = append(f.askedStream, stream), append(f.askedBefore, before)
	return f.active, nil
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

// TestFanoutWaitsItsTurn: an event whose pass has an earlier event's
// fan-out still owed (waiting for its retry, or running) is not stored
// yet: its fan-out comes back when the earlier one is due (a second from
// now at the soonest), without counting an attempt; the fan-outs of other
// passes, and later ones of its pass, do not hold it back. A batch waits
// so too, for any of its passes. An event-wide change's batch with an
// earlier event of the pass is waited for, unless its key names a later
// id than the fan-out's own (two batches whose events cross: the later
// goes second, and the earlier does not wait for it). An earlier event
// already stored holds nothing back; a batch stores the events of its
// passes that do not wait, and hands the rest to a batch of their own in
// its place; without a subscription nothing waits.
func TestFanoutWaitsItsTurn(t *testing.T) {
	now := time.Date(2027, 1, 5, 20, 0, 0, 0, time.UTC)
	ev := pass.EventArgs{Tenant: "demo", ID: "msg_0002", Type: pass.EventPassUpdated, Stream: "s1", At: now, Data: []byte(`{}`)}
	for _, tc := range []struct {
		name   string
		active []pass.ActiveFanout
		until  time.Time // zero: stored now
		stored []string  // the events stored already
	}{
		{"none owed", nil, time.Time{}, nil},
		{"itself running", []pass.ActiveFanout{{Stream: "s1", ID: "msg_0002", Due: now}}, time.Time{}, nil},
		{"another pass's", []pass.ActiveFanout{{Stream: "s2", ID: "msg_0001", Due: now.Add(time.Hour)}}, time.Time{}, nil},
		{"a later one of the pass", []pass.ActiveFanout{{Stream: "s1", ID: "msg_0003", Due: now}}, time.Time{}, nil},
		{"an earlier one running", []pass.ActiveFanout{{Stream: "s1", ID: "msg_0001", Due: now.Add(-time.Second)}}, now.Add(pass.FanoutTurn), nil},
		{"an earlier one waiting for its retry", []pass.ActiveFanout{{Stream: "s1", ID: "msg_0001", Due: now.Add(time.Minute)}}, now.Add(time.Minute), nil},
		{"an earlier event-wide batch with the pass", []pass.ActiveFanout{{Stream: "s1", ID: "msg_0001", Order: "msg_00015", Due: now.Add(time.Minute)}},
			now.Add(time.Minute), nil},
		{"an event-wide batch placed later", []pass.ActiveFanout{{Stream: "s1", ID: "msg_0001", Order: "msg_0003", Due: now.Add(time.Minute)}},
			time.Time{}, nil},
		{"an earlier one stored already", []pass.ActiveFanout{{Stream: "s1", ID: "msg_0001", Order: "msg_00015", Due: now.Add(time.Minute)}},
			time.Time{}, []string{"msg_0001"}},
	} {
		for _, batch := range []bool{false, true} {
			st := &fanoutStore{subs: []pass.Subscription{{Tenant: "demo", ID: "all", Events: []string{"*"}, Enabled: true}}, active: tc.active,
				stored: map[string]bool{}}
			for _, id := range tc.stored {
				st.stored[id] = true
			}
			f := &pass.Fanout{Store: st, Clock: func() time.Time { return now }}
			var err error
			if batch {
				other := ev
				other.Stream, other.ID = "s9", "msg_0000"
				err = f.WorkBatch(context.Background(), pass.EventBatchArgs{Tenant: "demo", Events: []pass.EventArgs{other, ev}}, "")
			} else {
				err = f.Work(context.Background(), ev, "")
			}
			if want := map[bool]string{false: "s1", true: ""}[batch]; len(st.askedStream) != 1 || st.askedStream[0] != want {
				t.Errorf("%s (batch %v): asked for the fan-outs of %q, want %q", tc.name, batch, st.askedStream, want)
			}
			if len(st.askedBefore) != 1 || st.askedBefore[0] != ev.ID {
				t.Errorf("%s (batch %v): asked for the fan-outs before %q, want %q (the latest event)", tc.name, batch, st.askedBefore, ev.ID)
			}
			var de *pass.DeferError
			var streams []string
			for _, m := range st.msgs {
				streams = append(streams, m.Stream)
			}
			var rest []pass.NewTask
			for _, nt := range st.tasks {
				if nt.Kind == pass.TaskEventBatch {
					rest = append(rest, nt)
				}
			}
			switch want := map[bool][]string{false: {"s1"}, true: {"s9", "s1"}}[batch]; {
			case tc.until.IsZero() && (err != nil || !slices.Equal(streams, want) || len(rest) != 0):
				t.Errorf("%s (batch %v): %v, messages of %q, %d batches; want those of %q stored", tc.name, batch, err, streams, len(rest), want)
			case !tc.until.IsZero() && !batch && (!errors.As(err, &de) || !de.At.Equal(tc.until) || len(streams) != 0):
				t.Errorf("%s: %v, messages of %q; want none, deferred until %s", tc.name, err, streams, tc.until)
			case !tc.until.IsZero() && batch:
				var b pass.EventBatchArgs
				if err != nil || !slices.Equal(streams, []string{"s9"}) || len(rest) != 1 || rest[0].DedupKey != "events:"+ev.ID+"~" ||
					json.Unmarshal(rest[0].Payload, &b) != nil || len(b.Events) != 1 || b.Events[0].ID != ev.ID {
					t.Errorf("%s (batch): %v, messages of %q, batches %+v; want s9's stored and s1's event handed to a batch of its own at %q",
						tc.name, err, streams, rest, "events:"+ev.ID+"~")
				}
			}
		}
	}
	// The rest of a batch waits in its batch's place, not its events'.
	st0 := &fanoutStore{subs: []pass.Subscription{{Tenant: "demo", ID: "all", Events: []string{"*"}, Enabled: true}}}
	if err := (&pass.Fanout{Store: st0, Clock: func() time.Time { return now }}).WorkBatch(context.Background(),
		pass.EventBatchArgs{Tenant: "demo", Events: []pass.EventArgs{ev}, Place: "msg_0007~"}, ""); err != nil ||
		!slices.Equal(st0.askedBefore, []string{"msg_0007~"}) {
		t.Errorf("the rest of a batch: %v, asked for the fan-outs before %q; want its place msg_0007~", err, st0.askedBefore)
	}
	// Without a subscription, nothing is stored and nothing waits.
	st := &fanoutStore{active: []pass.ActiveFanout{{Stream: "s1", ID: "msg_0001", Due: now.Add(time.Minute)}}}
	if err := (&pass.Fanout{Store: st, Clock: func() time.Time { return now }}).Work(context.Background(), ev, ""); err != nil || len(st.msgs) != 0 {
		t.Errorf("without a subscription: %v, %d messages; want neither", err, len(st.msgs))
	}
}

// TestFanoutKey: a fan-out's key names its pass and event, and reads
// back; so does a batch of one pass's events (a scan and its version),
// with its last event; a batch of several passes' names none.
func TestFanoutKey(t *testing.T) {
	ev := pass.EventArgs{Tenant: "demo", ID: "msg_00000186aa000000ab12cd34ef56", Stream: "0af3c2d1e4b5a6978877665544332211"}
	stream, id, ok := pass.ParseFanoutKey(ev.DedupKey())
	if !ok || stream != ev.Stream || id != ev.ID {
		t.Errorf("ParseFanoutKey(%q) = %q, %q, %v", ev.DedupKey(), stream, id, ok)
	}
	scanned := ev
	scanned.ID = "msg_00000186aa000000aa00000000000"
	one := pass.EventBatchArgs{Tenant: "demo", Events: []pass.EventArgs{scanned, ev}}
	if stream, id, ok := pass.ParseFanoutKey(one.DedupKey()); !ok || stream != ev.Stream || id != ev.ID {
		t.Errorf("a one-pass batch's key %q reads %q, %q, %v; want its pass and last event", one.DedupKey(), stream, id, ok)
	}
	other := scanned
	other.Stream = "ffff"
	// An event-wide change's events are made on several cores: the last
	// of its batch is not always the latest.
	several := pass.EventBatchArgs{Tenant: "demo", Events: []pass.EventArgs{ev, other}}
	if _, _, ok := pass.ParseFanoutKey(several.DedupKey()); ok {
		t.Errorf("a batch of several passes' key %q reads as one pass's", several.DedupKey())
	}
	if order, ok := pass.ParseBatchKey(several.DedupKey()); !ok || order != ev.ID {
		t.Errorf("ParseBatchKey(%q) = %q, %v; want its latest event %q", several.DedupKey(), order, ok, ev.ID)
	}
	for _, key := range []string{ev.DedupKey(), one.DedupKey(), "events:", "event:msg_1", "delivery:sub:"} {
		if _, ok := pass.ParseBatchKey(key); ok {
			t.Errorf("ParseBatchKey(%q) read a batch of several passes", key)
		}
	}
	// The rest of a batch keeps its place, one pass's events or several.
	typed := ev
	typed.Type = pass.EventPassUpdated
	rest := pass.EventBatchArgs{Tenant: "demo", Events: []pass.EventArgs{typed}, Place: ev.ID + "~"}
	if order, ok := pass.ParseBatchKey(rest.DedupKey()); !ok || order != ev.ID+"~" || rest.Validate() != nil {
		t.Errorf("the rest of a batch: key %q reads %q, %v (valid: %v)", rest.DedupKey(), order, ok, rest.Validate())
	}
	for _, place := range []string{"msg_0", ev.ID + ":x"} {
		if err := (pass.EventBatchArgs{Tenant: "demo", Events: []pass.EventArgs{typed}, Place: place}).Validate(); err == nil {
			t.Errorf("a batch placed at %q, before its event or with a ':', is valid", place)
		}
	}
	for _, key := range []string{"event:msg_1", "event::msg_1", "event:s1:", "events:msg_1", "delivery:sub:"} {
		if _, _, ok := pass.ParseFanoutKey(key); ok {
			t.Errorf("ParseFanoutKey(%q) read a fan-out", key)
		}
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

// TestEventName: a subscription's event names are read in walletpass's
// spelling and in the replaced product's (Pass:Created, any ASCII case),
// kept in walletpass's; a family's wildcard takes that family's events
// only; a name no event answers to is refused.
func TestEventName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"*": "*", "pass.created": "pass.created", "Pass:Created": "pass.created", "PASS:UPDATED": "pass.updated",
		"pass:voided": "pass.voided", "Ticket.Scanned": "ticket.scanned", "Pass:Installed": "pass.installed",
		"pass.uninstalled": "pass.uninstalled", "Pass:*": "pass.*", "ticket.*": "ticket.*",
	} {
		if got, ok := pass.EventName(name); !ok || got != want {
			t.Errorf("EventName(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, name := range []string{"", "pass", "pass.", ".created", "pass.eaten", "Customer:*", "Redirect:Redirected",
		"pass.created.x", "Pass:Created:x", "pass:*:*", "*.*", ".*", "**", "pass..created", "pass created",
		"TIC\u212aET.SCANNED", "pass." + strings.Repeat("c", pass.MaxEventName)} {
		if got, ok := pass.EventName(name); ok {
			t.Errorf("EventName(%q) = %q, accepted; want it refused", name, got)
		}
	}
	sub := pass.Subscription{Events: []string{"pass.*"}}
	for _, typ := range pass.OutboundEvents {
		if got, want := sub.Wants(typ), strings.HasPrefix(typ, "pass."); got != want {
			t.Errorf("pass.* wants %s: %v, want %v", typ, got, want)
		}
	}
	if (pass.Subscription{Events: []string{"ticket.*"}}).Wants(pass.EventPassCreated) {
		t.Error("ticket.* wants pass.created")
	}
}
