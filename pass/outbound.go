package pass

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The events an organiser can subscribe to (Subscription.Events; "*" for
// all).
const (
	EventPassCreated   = "pass.created"
	EventPassUpdated   = "pass.updated"
	EventPassVoided    = "pass.voided"
	EventTicketScanned = "ticket.scanned"
	// EventPassInstalled and EventPassUninstalled: a device registered
	// for the pass's updates or unregistered (Apple Wallet), or Google's
	// save or delete callback; data.wallet says which.
	EventPassInstalled   = "pass.installed"
	EventPassUninstalled = "pass.uninstalled"
)

// OutboundEvents are the event types a subscription may name.
var OutboundEvents = []string{EventPassCreated, EventPassUpdated, EventPassVoided, EventTicketScanned, EventPassInstalled,
	EventPassUninstalled}

// Subscription is an organiser's webhook endpoint.
type Subscription struct {
	Tenant      string
	ID          string
	Endpoint    string
	Events      []string
	Enabled     bool
	Description string
	Secret      string // whsec_…: shown once, at creation
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Wants reports whether the subscription takes events of type typ.
func (s Subscription) Wants(typ string) bool {
	for _, e := range s.Events {
		if e == "*" || e == typ {
			return true
		}
	}
	return false
}

// OutboundMessage is one event owed to one subscription. Messages of one
// stream (a pass) are delivered in the order of their ids.
type OutboundMessage struct {
	Tenant, SubscriptionID, ID, Stream, Type string
	Payload                                  []byte
	State                                    string // pending, delivered
	Attempts, LastStatus                     int
	LastError                                string
	CreatedAt, DeliveredAt                   time.Time
}

// EventArgs are an event to announce: an event-fanout task (one per event,
// never merged) makes a message of it for each subscription that wants it.
type EventArgs struct {
	Tenant string          `json:"tenant"`
	ID     string          `json:"id"` // the message id: msg_ + time-ordered unique
	Type   string          `json:"type"`
	Stream string          `json:"stream"` // the pass's serial
	At     time.Time       `json:"at"`
	Data   json.RawMessage `json:"data"`
}

// TaskEventFanout is the kind of EventArgs' task.
const TaskEventFanout = "event-fanout"

func (EventArgs) Kind() string         { return TaskEventFanout }
func (a EventArgs) TaskTenant() string { return a.Tenant }
func (a EventArgs) DedupKey() string   { return "event:" + a.ID }
func (a EventArgs) Validate() error {
	if a.Tenant == "" || a.ID == "" || a.Stream == "" || a.Type == "" {
		return Errorf(KindInvalid, "event: tenant, id, stream and type are required")
	}
	return nil
}

// DeliveryArgs name the messages to deliver: one subscription's stream.
type DeliveryArgs struct {
	Tenant       string `json:"tenant"`
	Subscription string `json:"subscription"`
	Stream       string `json:"stream"`
}

// TaskWebhookDelivery is the kind of DeliveryArgs' task.
const TaskWebhookDelivery = "webhook-delivery"

func (DeliveryArgs) Kind() string         { return TaskWebhookDelivery }
func (a DeliveryArgs) TaskTenant() string { return a.Tenant }
func (a DeliveryArgs) DedupKey() string   { return "delivery:" + a.Subscription + ":" + a.Stream }
func (a DeliveryArgs) Validate() error {
	if a.Tenant == "" || a.Subscription == "" || a.Stream == "" {
		return Errorf(KindInvalid, "delivery: tenant, subscription and stream are required")
	}
	return nil
}

// OutboundStore keeps subscriptions and their messages.
type OutboundStore interface {
	Subscriptions(ctx context.Context, tenant string) ([]Subscription, error)
	Subscription(ctx context.Context, tenant, id string) (*Subscription, error)
	// AddMessages stores the messages (a message already stored is left as
	// it is) and the delivery tasks of their streams, in one transaction.
	AddMessages(ctx context.Context, msgs []OutboundMessage, tasks []NewTask) error
	PendingMessages(ctx context.Context, tenant, subscription, stream string) ([]OutboundMessage, error)
	MessageDelivered(ctx context.Context, m OutboundMessage, status int, at time.Time) error
	MessageFailed(ctx context.Context, m OutboundMessage, status int, cause string) error
}

// WebhookSender posts one message to a subscription's endpoint; status is
// the endpoint's answer (0 when none came).
type WebhookSender interface {
	Send(ctx context.Context, sub Subscription, m OutboundMessage) (status int, err error)
}

// Fanout makes an event's messages (the event-fanout worker).
type Fanout struct {
	Store OutboundStore
	Clock Clock
	// InstallStatus, when it wants the tenant, gets an install-status
	// task for each pass.installed and pass.uninstalled.
	InstallStatus *InstallStatus
}

// Work stores a message of the event for every enabled subscription that
// wants it, with the delivery of its stream.
func (f *Fanout) Work(ctx context.Context, ev EventArgs, correlationID string) error {
	subs, err := f.Store.Subscriptions(ctx, ev.Tenant)
	if err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{"type": ev.Type, "timestamp": ev.At.UTC().Format(time.RFC3339Nano), "data": ev.Data})
	if err != nil {
		return Wrap(KindInvalid, err, "event payload")
	}
	var msgs []OutboundMessage
	var tasks []NewTask
	for _, s := range subs {
		if !s.Enabled || !s.Wants(ev.Type) {
			continue
		}
		msgs = append(msgs, OutboundMessage{Tenant: ev.Tenant, SubscriptionID: s.ID, ID: ev.ID, Stream: ev.Stream, Type: ev.Type,
			Payload: body, State: "pending", CreatedAt: ev.At})
		tasks = append(tasks, TaskOf(DeliveryArgs{Tenant: ev.Tenant, Subscription: s.ID, Stream: ev.Stream}, correlationID))
	}
	if (ev.Type == EventPassInstalled || ev.Type == EventPassUninstalled) && f.InstallStatus.Wants(ev.Tenant) {
		tasks = append(tasks, TaskOf(InstallStatusArgs{Tenant: ev.Tenant, Serial: ev.Stream}, correlationID))
	}
	if len(msgs) == 0 && len(tasks) == 0 {
		return nil
	}
	return f.Store.AddMessages(ctx, msgs, tasks)
}

// Deliverer delivers a stream's messages in order (the webhook-delivery
// worker): it stops at the first failure and returns it, so the task is
// retried and nothing later overtakes it.
type Deliverer struct {
	Store  OutboundStore
	Sender WebhookSender
	Clock  Clock
}

// Work delivers the pending messages of one subscription's stream.
func (d *Deliverer) Work(ctx context.Context, a DeliveryArgs, _ string) error {
	sub, err := d.Store.Subscription(ctx, a.Tenant, a.Subscription)
	if err != nil {
		if KindOf(err) == KindNotFound {
			return nil // deleted: its messages went with it
		}
		return err
	}
	if !sub.Enabled {
		return nil // kept pending; enabling it again delivers them
	}
	msgs, err := d.Store.PendingMessages(ctx, a.Tenant, a.Subscription, a.Stream)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		status, err := d.Sender.Send(ctx, *sub, m)
		if err == nil && status >= 200 && status < 300 {
			if err := d.Store.MessageDelivered(ctx, m, status, d.Clock.Now()); err != nil {
				return err
			}
			continue
		}
		cause := "HTTP " + strconv.Itoa(status)
		if err != nil {
			cause = err.Error()
		}
		if ferr := d.Store.MessageFailed(ctx, m, status, cause); ferr != nil {
			return ferr
		}
		return Errorf(KindUnavailable, "webhook %s to subscription %s: %s", m.ID, sub.ID, strings.TrimSpace(cause))
	}
	return nil
}
