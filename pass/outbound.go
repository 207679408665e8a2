package pass

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	Secret      string // whsec_…: shown once, at creation or rotation
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// PreviousSecret, after a rotation, signs beside Secret until
	// PreviousUntil.
	PreviousSecret string
	PreviousUntil  time.Time
	// PausedUntil: the endpoint asked to be left alone (a 429 or 503 with
	// Retry-After) or was found down; no delivery run sends to it before.
	PausedUntil time.Time
	// WasUpdatedAt, when set, is the UpdatedAt this copy was read with:
	// an update applies only if the subscription is still as read.
	WasUpdatedAt time.Time
}

// Secrets returns the secrets that sign a delivery at now: the current
// one, and the previous one until its rotation's overlap ends.
func (s Subscription) Secrets(now time.Time) []string {
	if s.PreviousSecret != "" && now.Before(s.PreviousUntil) {
		return []string{s.Secret, s.PreviousSecret}
	}
	return []string{s.Secret}
}

// Wants reports whether the subscription takes events of type typ.
func (s Subscription) Wants(typ string) bool {
	for _, e := range s.Events {
		if e == "*" || e == typ {
			return true
		}
		if family, ok := strings.CutSuffix(e, "*"); ok && strings.HasPrefix(typ, family) {
			return true
		}
	}
	return false
}

// MaxEventName is the longest event name a subscription may give.
const MaxEventName = 64

// EventName reads name as an event a subscription names: one of
// OutboundEvents, a family's wildcard (pass.*, ticket.*) or "*". It is
// also read as the product walletpass replaces writes its event names,
// Pass:Created or pass:created, in any ASCII case, so that an
// integration moves over as it is. It returns the name as walletpass
// writes it, or ok false for a name no event of walletpass's answers to.
func EventName(name string) (canonical string, ok bool) {
	if name == "*" {
		return name, true
	}
	if len(name) > MaxEventName {
		return "", false
	}
	for _, r := range name {
		if r >= 0x80 { // strings.ToLower would fold the Kelvin sign to k
			return "", false
		}
	}
	family, event, found := strings.Cut(strings.ToLower(name), ":")
	if !found {
		family, event, found = strings.Cut(strings.ToLower(name), ".")
	}
	if !found || family == "" || event == "" {
		return "", false
	}
	canonical = family + "." + event
	if event == "*" {
		return canonical, slices.ContainsFunc(OutboundEvents, func(e string) bool { return strings.HasPrefix(e, family+".") })
	}
	return canonical, slices.Contains(OutboundEvents, canonical)
}

// OutboundMessage is one event owed to one subscription. Messages of one
// stream (a pass) are delivered in the order of their ids.
type OutboundMessage struct {
	Tenant, SubscriptionID, ID, Stream, Type string
	Payload                                  []byte
	State                                    string // pending, delivered, failed (given up)
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
func (a EventArgs) DedupKey() string   { return FanoutKey(a.Stream, a.ID) }

// FanoutKey is the dedup key of an event-fanout task: "event:", the
// event's stream, ":" and its id, so that the fan-outs of one pass still
// owed can be told (ActiveFanouts). An event-batch of one pass's events
// has "events:", its stream, ":" and its latest event's id; one of
// several passes' has "events:" and its latest event's id
// (ParseBatchKey). The id a key names is the fan-out's place among the
// tenant's (ActiveFanout.Order).
func FanoutKey(stream, id string) string { return "event:" + stream + ":" + id }

// ParseFanoutKey reads the stream and (last) event id of an event-fanout
// or one-pass event-batch key; ok is false for another key (a task queued
// before keys named their stream, or a batch of several passes).
func ParseFanoutKey(key string) (stream, id string, ok bool) {
	rest, ok := strings.CutPrefix(key, "event:")
	if !ok {
		if rest, ok = strings.CutPrefix(key, "events:"); !ok {
			return "", "", false
		}
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 || i == len(rest)-1 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

// ParseBatchKey reads the latest event id of the key of an event-batch of
// several passes' events (an event-wide change's page); ok is false for
// another key.
func ParseBatchKey(key string) (order string, ok bool) {
	rest, ok := strings.CutPrefix(key, "events:")
	if !ok || rest == "" || strings.IndexByte(rest, ':') >= 0 {
		return "", false
	}
	return rest, true
}

// ActiveFanout is an event of an event-fanout or event-batch task still
// owed: its stream and id, the id its task's key names (Order: the
// task's place among the tenant's fan-outs; "" means ID), and when the
// task is due (in the past while it runs).
type ActiveFanout struct {
	Stream, ID, Order string
	Due               time.Time
}

// order is a's Order, or its ID when it has none.
func (a ActiveFanout) order() string {
	if a.Order != "" {
		return a.Order
	}
	return a.ID
}

func (a EventArgs) Validate() error {
	if a.Tenant == "" || a.ID == "" || a.Stream == "" || a.Type == "" {
		return Errorf(KindInvalid, "event: tenant, id, stream and type are required")
	}
	return nil
}

// EventBatchArgs are the announcements of an event-wide change's page of
// passes: one event-batch task instead of one event-fanout each.
type EventBatchArgs struct {
	Tenant string      `json:"tenant"`
	Events []EventArgs `json:"events"`
	// Place is the batch's place among the tenant's fan-outs when it is
	// not its latest event's id: the events of a batch whose other passes'
	// were stored keep their batch's place ("~" after it).
	Place string `json:"place,omitempty"`
}

// place is the batch's place among the tenant's fan-outs: Place, else its
// latest event's id.
func (a EventBatchArgs) place() string {
	if a.Place != "" {
		return a.Place
	}
	return latestID(a.Events)
}

// TaskEventBatch is the kind of EventBatchArgs' task.
const TaskEventBatch = "event-batch"

func (EventBatchArgs) Kind() string         { return TaskEventBatch }
func (a EventBatchArgs) TaskTenant() string { return a.Tenant }
func (a EventBatchArgs) DedupKey() string {
	if len(a.Events) == 0 {
		return "events:"
	}
	if a.Place != "" {
		return "events:" + a.Place // read as several passes' (ActiveFanouts reads its events)
	}
	if stream := a.stream(); stream != "" {
		// One pass's (a scan and its version): its key names the pass,
		// as a single event's does, so that its later events wait for it.
		return "events:" + stream + ":" + latestID(a.Events)
	}
	return "events:" + latestID(a.Events)
}

// latestID is the greatest (latest) id of evs: the place of their
// fan-out among the tenant's. The events of an event-wide change's page
// are made on several cores, so the last is not always the latest.
func latestID(evs []EventArgs) string {
	var id string
	for _, ev := range evs {
		id = max(id, ev.ID)
	}
	return id
}

// stream is the stream of every event of a, or "" when they are of
// several.
func (a EventBatchArgs) stream() string {
	for _, ev := range a.Events[1:] {
		if ev.Stream != a.Events[0].Stream {
			return ""
		}
	}
	return a.Events[0].Stream
}
func (a EventBatchArgs) Validate() error {
	if a.Tenant == "" || len(a.Events) == 0 {
		return Errorf(KindInvalid, "event-batch: tenant and events are required")
	}
	if a.Place != "" && (strings.ContainsRune(a.Place, ':') || a.Place < latestID(a.Events)) {
		return Errorf(KindInvalid, "event-batch: its place %q is before its events or has a ':'", a.Place)
	}
	for _, ev := range a.Events {
		if err := ev.Validate(); err != nil {
			return err
		}
		if ev.Tenant != a.Tenant {
			return Errorf(KindInvalid, "event-batch: an event of tenant %q in a batch of %q", ev.Tenant, a.Tenant)
		}
	}
	return nil
}

// DeliveryArgs name the messages to deliver: a subscription's, or one
// stream's of it (tasks queued before deliveries went by subscription).
type DeliveryArgs struct {
	Tenant       string `json:"tenant"`
	Subscription string `json:"subscription"`
	Stream       string `json:"stream,omitempty"`
}

// TaskWebhookDelivery is the kind of DeliveryArgs' task.
const TaskWebhookDelivery = "webhook-delivery"

// DeliveryGap is how soon a subscription's deliveries run again after a
// run (a new task, or the follow-up of messages that arrived while it
// ran): a burst of events is delivered a page at a time, and the last of
// it waits no longer than this, not a sync's SyncCoalesceWindow.
const DeliveryGap = 50 * time.Millisecond

func (DeliveryArgs) Kind() string         { return TaskWebhookDelivery }
func (a DeliveryArgs) TaskTenant() string { return a.Tenant }
func (a DeliveryArgs) DedupKey() string   { return "delivery:" + a.Subscription + ":" + a.Stream }
func (a DeliveryArgs) Validate() error {
	if a.Tenant == "" || a.Subscription == "" {
		return Errorf(KindInvalid, "delivery: tenant and subscription are required")
	}
	return nil
}

// OutboundStore keeps subscriptions and their messages.
type OutboundStore interface {
	Subscriptions(ctx context.Context, tenant string) ([]Subscription, error)
	Subscription(ctx context.Context, tenant, id string) (*Subscription, error)
	// ActiveFanouts returns the events of the tenant's event-fanout and
	// event-batch tasks pending or running: those of stream only, or all
	// of them when stream is "", of the tasks whose keys name an id below
	// before (FanoutKey). A batch of several passes' events is read from
	// its arguments.
	ActiveFanouts(ctx context.Context, tenant, stream, before string) ([]ActiveFanout, error)
	// StoredMessages returns which of the events ids have a message for
	// one of the subscriptions subs.
	StoredMessages(ctx context.Context, tenant string, subs, ids []string) (map[string]bool, error)
	// AddMessages stores the messages (a message already stored is left as
	// it is) and the delivery tasks of their streams, in one transaction.
	AddMessages(ctx context.Context, msgs []OutboundMessage, tasks []NewTask) error
	// PendingMessages returns the undelivered messages of a subscription's
	// stream (every stream when stream is ""), by stream then id, at most
	// limit, leaving out the streams that wait for a retry after now.
	PendingMessages(ctx context.Context, tenant, subscription, stream string, limit int, now time.Time) ([]OutboundMessage, error)
	// MessagesDelivered marks messages delivered, in one write.
	MessagesDelivered(ctx context.Context, ms []DeliveredMessage, at time.Time) error
	// EndStreamWaits ends the waits of the subscription's streams.
	EndStreamWaits(ctx context.Context, tenant, subscription string, streams []string) error
	// MessageFailed records a failed attempt: the message's stream waits
	// until f.RetryAt, or the message is failed for good (f.GiveUp).
	MessageFailed(ctx context.Context, m OutboundMessage, f MessageFailure) error
	// NextStreamWait is when the earliest waiting stream of the
	// subscription with messages owed may be tried again.
	NextStreamWait(ctx context.Context, tenant, subscription string) (time.Time, bool, error)
	// DisableSubscription disables the subscription if its endpoint is
	// still endpoint, and reports whether it did.
	DisableSubscription(ctx context.Context, tenant, id, endpoint string, at time.Time) (bool, error)
	// PauseSubscription keeps delivery runs from the subscription's
	// endpoint until until (a later pause stands), if the subscription is
	// still as sub was read (its endpoint and UpdatedAt): a PATCH, an
	// enabling or a replay meanwhile ended the pause for good.
	PauseSubscription(ctx context.Context, sub Subscription, until time.Time) error
}

// MessageFailure is a failed attempt to deliver a message.
type MessageFailure struct {
	Status  int
	Cause   string
	RetryAt time.Time
	GiveUp  bool
}

// DeliveredMessage is a message and the endpoint's answer to it.
type DeliveredMessage struct {
	Message OutboundMessage
	Status  int
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
	return f.fanout(ctx, ev.Tenant, []EventArgs{ev}, ev.ID, correlationID)
}

// WorkBatch is Work for an event-batch task's events, in one write.
func (f *Fanout) WorkBatch(ctx context.Context, b EventBatchArgs, correlationID string) error {
	return f.fanout(ctx, b.Tenant, b.Events, b.place(), correlationID)
}

// fanout stores the messages of evs, a fan-out whose place among the
// tenant's is place (latestID, or its batch's Place).
func (f *Fanout) fanout(ctx context.Context, tenant string, evs []EventArgs, place, correlationID string) error {
	subs, err := f.Store.Subscriptions(ctx, tenant)
	if err != nil {
		return err
	}
	held, err := f.waitTurn(ctx, tenant, evs, place, subs)
	if err != nil {
		return err
	}
	if held == nil {
		return f.store(ctx, tenant, evs, subs, correlationID, nil)
	}
	var ready, rest []EventArgs
	for _, ev := range evs {
		if held.streams[ev.Stream] {
			rest = append(rest, ev)
		} else {
			ready = append(ready, ev)
		}
	}
	if len(ready) == 0 {
		return &DeferError{At: held.until, Why: "an earlier event of one of its passes is not stored yet"}
	}
	// An event-wide change's batch: the events of the passes that do not
	// wait are stored now, and the others handed, in the same write, to a
	// batch of their own in this one's place, so that one pass's wait does
	// not hold back the others, nor is an event stored twice.
	t := TaskOf(EventBatchArgs{Tenant: tenant, Events: rest, Place: place + "~"}, correlationID)
	return f.store(ctx, tenant, ready, subs, correlationID, []NewTask{t})
}

// store makes the messages of evs for the subscriptions that want them,
// with their deliveries, and enqueues more with them.
func (f *Fanout) store(ctx context.Context, tenant string, evs []EventArgs, subs []Subscription, correlationID string, more []NewTask) error {
	var msgs []OutboundMessage
	var tasks []NewTask
	delivery := map[string]bool{}
	// A message is as old as its storing: its retries (DeliveryGiveUp)
	// count from it, even when a fan-out retried for days stores it late.
	stored := f.Clock.Now()
	for _, ev := range evs {
		body, err := json.Marshal(map[string]any{"type": ev.Type, "timestamp": ev.At.UTC().Format(time.RFC3339Nano), "data": ev.Data})
		if err != nil {
			return Wrap(KindInvalid, err, "event payload")
		}
		for _, s := range subs {
			if !s.Enabled || !s.Wants(ev.Type) {
				continue
			}
			msgs = append(msgs, OutboundMessage{Tenant: tenant, SubscriptionID: s.ID, ID: ev.ID, Stream: ev.Stream, Type: ev.Type,
				Payload: body, State: "pending", CreatedAt: stored})
			if !delivery[s.ID] {
				delivery[s.ID] = true
				t := TaskOf(DeliveryArgs{Tenant: tenant, Subscription: s.ID}, correlationID)
				t.MinGap = DeliveryGap
				tasks = append(tasks, t)
			}
		}
		if (ev.Type == EventPassInstalled || ev.Type == EventPassUninstalled) && f.InstallStatus.Wants(tenant) {
			tasks = append(tasks, TaskOf(InstallStatusArgs{Tenant: tenant, Serial: ev.Stream}, correlationID))
		}
	}
	tasks = append(tasks, more...)
	if len(msgs) == 0 && len(tasks) == 0 {
		return nil
	}
	return f.Store.AddMessages(ctx, msgs, tasks)
}

// FanoutTurn is how soon a fan-out that waits for an earlier one of its
// pass that is running comes back (one that waits for its retry: then).
const FanoutTurn = time.Second

// heldStreams are the passes of a fan-out whose events wait for an
// earlier one's, and until when.
type heldStreams struct {
	streams map[string]bool
	until   time.Time
}

// waitTurn says which of evs's passes have an earlier event whose fan-out
// is still owed (failed and waiting for its retry, or running) and not
// stored yet (nil when none): a pass's events are stored, and so
// delivered, in the order they happened, even when the fan-out of one
// fails for a while. Single events, a batch of one pass's events (a scan
// and its version) and an event-wide change's batch of several passes'
// all wait so for each other, pass by pass. A fan-out waits only for one
// whose key names an earlier id (its place, latestID), so that no two
// wait for each other: the events of two event-wide changes' batches
// made at once may cross (one has the earlier event of one pass, the
// other of another), and then the later batch goes second. An earlier
// event whose messages are stored (its batch's other passes wait) holds
// nothing back; without a subscription nothing is stored, and nothing
// waits. The wait lasts until the earlier fan-out's retry: the order of a
// pass's events is kept at the cost of their delay, as a failing
// delivery's stream keeps its order.
func (f *Fanout) waitTurn(ctx context.Context, tenant string, evs []EventArgs, place string, subs []Subscription) (*heldStreams, error) {
	var enabled []string
	for _, s := range subs {
		if s.Enabled {
			enabled = append(enabled, s.ID)
		}
	}
	if len(enabled) == 0 {
		return nil, nil
	}
	stream := EventBatchArgs{Events: evs}.stream() // one pass's events: only its fan-outs are read
	active, err := f.Store.ActiveFanouts(ctx, tenant, stream, place)
	if err != nil || len(active) == 0 {
		return nil, err
	}
	mine := make(map[string]string, len(evs)) // stream -> its latest event's id here
	for _, ev := range evs {
		mine[ev.Stream] = max(mine[ev.Stream], ev.ID)
	}
	var earlier []ActiveFanout
	var ids []string
	for _, a := range active {
		if id, ok := mine[a.Stream]; ok && a.ID < id && a.order() < place {
			earlier, ids = append(earlier, a), append(ids, a.ID)
		}
	}
	if len(earlier) == 0 {
		return nil, nil
	}
	stored, err := f.Store.StoredMessages(ctx, tenant, enabled, ids)
	if err != nil {
		return nil, err
	}
	now := f.Clock.Now()
	held := &heldStreams{streams: map[string]bool{}}
	for _, a := range earlier {
		if stored[a.ID] {
			continue
		}
		held.streams[a.Stream] = true
		at := a.Due
		if soon := now.Add(FanoutTurn); at.Before(soon) {
			at = soon
		}
		if at.After(held.until) {
			held.until = at
		}
	}
	if len(held.streams) == 0 {
		return nil, nil
	}
	return held, nil
}

// Deliverer delivers a subscription's messages (the webhook-delivery
// worker): every stream (a pass) in order, several streams at once. A
// stream stops at its first failure, so nothing later overtakes it, and
// waits for its retry alone (DeliveryBackoff): the subscription's other
// streams go on. The endpoint as a whole is spared too: a 429 or 503 with
// Retry-After (honoured up to MaxDeliveryBackoff), or a round of
// DeliveryStreams failures without a delivery (the endpoint is down),
// ends the run, and the task comes back when the first wait ends; the
// subscription is paused until then (Subscription.PausedUntil), so that
// the run a new event starts meanwhile sends nothing either. A
// message that still fails DeliveryGiveUp after it was stored is failed
// for good (the delivery log keeps it, a replay sends it again) and its
// stream goes on. An endpoint that answers 410 Gone disables its
// subscription (Standard Webhooks asks for it); the messages it was owed
// stay owed until the subscription is enabled again, and the events
// announced while it is disabled are not kept for it.
type Deliverer struct {
	Store  OutboundStore
	Sender WebhookSender
	Clock  Clock
	// Log records the subscriptions disabled by a 410 (nil: the default).
	Log *slog.Logger
	// PageSize is how many pending messages a round reads (0: 1,000).
	PageSize int
	// RunFor bounds a run (0: DeliveryRunFor): then it stops and comes
	// back at once, behind the tasks due before it, so that a slow
	// endpoint does not keep a worker from every other tenant's work.
	RunFor time.Duration
}

// DeliveryRunFor is how long a delivery run goes on before it makes way.
const DeliveryRunFor = 2 * time.Minute

// DeliveryStreams is how many streams of a subscription are delivered at
// once (so many requests to its endpoint).
const DeliveryStreams = 16

// The retries of a failing stream: a second after the first failure,
// doubling up to an hour, for DeliveryGiveUp after the message was stored
// (about a hundred attempts).
const (
	MinDeliveryBackoff = time.Second
	MaxDeliveryBackoff = time.Hour
	DeliveryGiveUp     = 96 * time.Hour
)

// DeliveryBackoff is how long a stream waits after its message's
// attempt-th failed attempt: MinDeliveryBackoff doubled each time, at
// most MaxDeliveryBackoff, the second half of it at random (so that the
// streams of one outage do not come back together).
func DeliveryBackoff(attempt int) time.Duration {
	d := MaxDeliveryBackoff
	if attempt < 20 {
		d = min(MinDeliveryBackoff<<max(attempt-1, 0), MaxDeliveryBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// errGone is a stream's answer when the endpoint said 410 Gone.
var errGone = errors.New("the endpoint answered 410 Gone")

// deliveryRun is what the streams of one run share.
type deliveryRun struct {
	stop      atomic.Bool // the endpoint asked to be left alone, or is down, or the run's time is up: send no more
	until     time.Time   // when the run's time is up
	timeUp    atomic.Bool
	mu        sync.Mutex
	throttled time.Time // the latest Retry-After's end
	down      bool      // a round of failures and no delivery
	delivered int
	failed    int
}

// Work delivers the pending messages of a subscription (or of one stream
// of it), a page at a time, until none is left but those of waiting
// streams, or the endpoint stops the run. When some stream waits, it
// answers a *DeferError for when the first wait ends (or the endpoint's
// Retry-After, when later). The subscription is read again before each
// page: a rotated secret, a new endpoint or a disabling takes effect
// within a page.
func (d *Deliverer) Work(ctx context.Context, a DeliveryArgs, _ string) error {
	page := cmp.Or(d.PageSize, 1000)
	run := &deliveryRun{until: d.Clock.Now().Add(cmp.Or(d.RunFor, DeliveryRunFor))}
	var firstFail error
	var last *Subscription // as the last page read it
	for {
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
		last = sub
		if sub.PausedUntil.After(d.Clock.Now()) {
			// Spared: a new event does not bring its endpoint a request
			// before the pause is over.
			return &DeferError{At: sub.PausedUntil, Why: "subscription " + a.Subscription + ": its endpoint is spared until " +
				sub.PausedUntil.Format(time.RFC3339)}
		}
		msgs, err := d.Store.PendingMessages(ctx, a.Tenant, a.Subscription, a.Stream, page, d.Clock.Now())
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			break
		}
		var streams [][]OutboundMessage
		for i, m := range msgs {
			if i == 0 || m.Stream != msgs[i-1].Stream {
				streams = append(streams, nil)
			}
			streams[len(streams)-1] = append(streams[len(streams)-1], m)
		}
		var (
			mu        sync.Mutex
			done      []DeliveredMessage
			recovered []string // streams that delivered and did not fail: their waits end
			fails     []error
			wg        sync.WaitGroup
			sem       = make(chan struct{}, DeliveryStreams)
		)
		for _, st := range streams {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if run.stop.Load() {
					return // not tried: no wait, no attempt
				}
				ok, err := d.deliverStream(ctx, sub, st, run)
				mu.Lock()
				defer mu.Unlock()
				done = append(done, ok...)
				switch {
				case err != nil:
					fails = append(fails, err)
				case len(ok) > 0:
					recovered = append(recovered, st[0].Stream)
				}
			}()
		}
		wg.Wait()
		if err := d.Store.MessagesDelivered(context.WithoutCancel(ctx), done, d.Clock.Now()); err != nil {
			return err
		}
		if err := d.Store.EndStreamWaits(context.WithoutCancel(ctx), a.Tenant, a.Subscription, recovered); err != nil {
			return err
		}
		gone := false
		for _, err := range fails {
			var se *streamError
			switch {
			case errors.Is(err, errGone):
				gone = true
			case !errors.As(err, &se):
				return err // the store, or the run cut short
			case firstFail == nil:
				firstFail = err
			}
		}
		if gone {
			return d.disable(ctx, sub)
		}
		if run.stop.Load() || len(msgs) < page {
			break
		}
	}
	now := d.Clock.Now()
	// The endpoint asked to be left alone, or is down: the subscription
	// pauses (until its Retry-After ends; when it is down, until its
	// first stream's wait ends), so that the runs a new event starts
	// meanwhile send it nothing.
	pause := func(until time.Time) error {
		if !until.After(now) || last == nil {
			return nil
		}
		return d.Store.PauseSubscription(context.WithoutCancel(ctx), *last, until)
	}
	if run.timeUp.Load() {
		// Made way for the others: back at once, behind what is due (or
		// when the endpoint asked, if it did).
		at := now
		if run.throttled.After(at) {
			at = run.throttled
		}
		if err := pause(run.throttled); err != nil {
			return err
		}
		return &DeferError{At: at, Why: "subscription " + a.Subscription + ": the run's time is up; it goes on"}
	}
	next, waiting, err := d.Store.NextStreamWait(ctx, a.Tenant, a.Subscription)
	if err != nil {
		return err
	}
	if !waiting && !run.stop.Load() {
		return nil
	}
	at := now.Add(MinDeliveryBackoff / 2) // never a tight loop
	if waiting && next.After(at) {
		at = next
	}
	if run.throttled.After(at) {
		at = run.throttled
	}
	if run.down || run.throttled.After(now) {
		if err := pause(at); err != nil {
			return err
		}
	}
	why := "streams of subscription " + a.Subscription + " wait for a retry"
	if firstFail != nil {
		why += "; " + firstFail.Error()
	}
	return &DeferError{At: at, Why: why}
}

// disable turns off a subscription whose endpoint answered 410 Gone, if
// that is still its endpoint (an organiser may have changed it meanwhile).
func (d *Deliverer) disable(ctx context.Context, sub *Subscription) error {
	off, err := d.Store.DisableSubscription(context.WithoutCancel(ctx), sub.Tenant, sub.ID, sub.Endpoint, d.Clock.Now())
	if err != nil || !off {
		return err
	}
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	log.Warn("webhook subscription disabled: its endpoint answered 410 Gone", slog.String("tenant", sub.Tenant),
		slog.String("subscription", sub.ID))
	return nil
}

// streamError is a message the endpoint did not take; its stream waits.
type streamError struct{ msg string }

func (e *streamError) Error() string { return e.msg }

// deliverStream sends a stream's messages in order until one fails, or
// the run stops; it returns those delivered and the failure: a
// *streamError (the stream now waits), errGone, or the store's error. A
// message failed for good lets the stream go on.
func (d *Deliverer) deliverStream(ctx context.Context, sub *Subscription, msgs []OutboundMessage, run *deliveryRun) ([]DeliveredMessage, error) {
	var done []DeliveredMessage
	for _, m := range msgs {
		if !d.Clock.Now().Before(run.until) {
			run.timeUp.Store(true)
			run.stop.Store(true)
		}
		if run.stop.Load() {
			return done, nil
		}
		status, err := d.Sender.Send(ctx, *sub, m)
		if err == nil && status >= 200 && status < 300 {
			done = append(done, DeliveredMessage{Message: m, Status: status})
			run.mu.Lock()
			run.delivered++
			run.mu.Unlock()
			continue
		}
		if ctx.Err() != nil {
			return done, ctx.Err() // cut short: not the endpoint's failure
		}
		now := d.Clock.Now()
		cause := "HTTP " + strconv.Itoa(status)
		if err != nil {
			cause = err.Error()
		}
		f := MessageFailure{Status: status, Cause: cause, RetryAt: now.Add(DeliveryBackoff(m.Attempts + 1))}
		run.mu.Lock()
		run.failed++
		if ra, ok := errors.AsType[*RetryAfterError](err); ok {
			// The endpoint asks to be left alone: this stream, and the run.
			until := now.Add(min(ra.After, MaxDeliveryBackoff))
			if until.After(f.RetryAt) {
				f.RetryAt = until
			}
			if until.After(run.throttled) {
				run.throttled = until
			}
			run.stop.Store(true)
		}
		if run.failed >= DeliveryStreams && run.delivered == 0 {
			run.down = true // a round of failures and no delivery: the endpoint is down
			run.stop.Store(true)
		}
		run.mu.Unlock()
		if status == 410 {
			f.Cause, f.RetryAt = "HTTP 410: the endpoint is gone; the subscription is disabled", now
		} else {
			f.GiveUp = now.Sub(m.CreatedAt) >= DeliveryGiveUp
		}
		if ferr := d.Store.MessageFailed(context.WithoutCancel(ctx), m, f); ferr != nil {
			return done, ferr
		}
		switch {
		case status == 410:
			return done, errGone
		case f.GiveUp:
			continue
		}
		return done, &streamError{msg: fmt.Sprintf("webhook %s: %s", m.ID, strings.TrimSpace(cause))}
	}
	return done, nil
}
