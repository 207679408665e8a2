package pass

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// TaskState is where a task is in its life.
type TaskState string

// The task states.
const (
	TaskPending TaskState = "pending"
	TaskRunning TaskState = "running"
	TaskDone    TaskState = "done"
	TaskDead    TaskState = "dead" // failed the maximum number of times; kept for operators
)

// Task is one unit of durable background work.
type Task struct {
	ID             string
	Tenant         string
	Kind           string
	DedupKey       string
	Payload        []byte
	State          TaskState
	Attempts       int
	NextAttemptAt  time.Time
	LeaseToken     string
	LeaseUntil     time.Time
	Rerun          bool // an event arrived while it ran: run once more
	Merged         int  // how many events were merged into it
	LastError      string
	CorrelationIDs []string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	FinishedAt     time.Time
	// ReadAt, set by the worker when the run read its source (a sync's
	// order went out to SecuTix), lets Complete skip the follow-up run for
	// events merged before then (more than 200 ms before, for clock
	// skew): the run already saw them. Zero means every merge counts.
	ReadAt time.Time
}

// NewTask is a task to enqueue, as the store writes it. Make one with
// TaskOf from the task's arguments.
type NewTask struct {
	Tenant        string
	Kind          string
	DedupKey      string // tasks with the same key coalesce while pending
	Payload       []byte
	CorrelationID string
	// MinGap keeps a new task from starting sooner than this after the
	// previous run with the same key finished, so that a burst of events
	// costs at most two runs.
	MinGap time.Duration
}

// SyncCoalesceWindow is how close together two syncs of one order may run:
// the events of a burst shorter than this cost at most two SecuTix fetches.
const SyncCoalesceWindow = 500 * time.Millisecond

// Enqueued says what an enqueue did.
type Enqueued struct {
	TaskID string
	// How the event was taken: "created" a task, "merged" into a pending
	// one, or flagged a running one for a "rerun".
	How string
}

// WebhookEvent is a change notification as received.
type WebhookEvent struct {
	ID            string
	Tenant        string
	Source        string // "secutix-order" (listener), "secutix-v1", "secutix-v2"
	SecretToken   string
	OrderID       int64
	TicketID      int64
	MovementID    int64
	State         string          // as sent: PAID, CANCELLED, VALIDATED, MODIFIED or anything else
	Details       json.RawMessage // the order itself, when the webhook carries it (V2); not stored with the event
	LastUpdate    time.Time
	CorrelationID string
	ReceivedAt    time.Time
}

// TicketHint is a ticket state only a webhook carries (a scan at the gate),
// keyed by "t:<ticketId>" or "m:<movementId>" (or "v:<ticketId>" for an
// operator's void).
type TicketHint struct {
	Ref        string
	State      string
	LastUpdate time.Time
	// Source is the webhook source that left it (ScanSourceGate: a scan
	// walletpass's gate announced when it was made).
	Source string
}

// TimelineEntry is one thing that happened to an order.
type TimelineEntry struct {
	Tenant        string
	SecretToken   string
	FileID        int64
	At            time.Time
	Kind          string // webhook, sync-started, secutix-answer, sync-finished, pass-version, pass-voided, error, device-log, …
	CorrelationID string
	Detail        string
}

// TimelineSecuTixAnswer is the kind of the timeline entry that keeps
// SecuTix's answer to a sync, masked (Order.Answer).
const TimelineSecuTixAnswer = "secutix-answer"

// Timeline records what happens to orders.
type Timeline interface {
	// AddTimeline records the entries in one transaction.
	AddTimeline(ctx context.Context, entries ...TimelineEntry) error
}

// TaskSyncOrder is the kind of the task that syncs an order.
const TaskSyncOrder = "sync-order"

// OrderRef names an order to sync: by its secret token, or by SecuTix
// order id or file id when that is all a webhook gives. It is the
// arguments of a sync-order task.
type OrderRef struct {
	Tenant      string `json:"tenant"`
	SecretToken string `json:"secretToken,omitempty"`
	OrderID     int64  `json:"orderId,omitempty"`
	FileID      int64  `json:"fileId,omitempty"`
	// Details is the order as SecuTix sent it whole (its order webhook
	// V2: {"orderDetailsData": …}): when the order source can map it, no
	// fetch is needed. A later webhook of the same order replaces it.
	Details json.RawMessage `json:"details,omitempty"`
}

// MaxOrderDetails bounds OrderRef.Details.
const MaxOrderDetails = 1 << 20

// Kind implements TaskArgs.
func (OrderRef) Kind() string { return TaskSyncOrder }

// TaskTenant implements TaskArgs.
func (r OrderRef) TaskTenant() string { return r.Tenant }

// DedupKey is the key under which syncs of the same order coalesce.
func (r OrderRef) DedupKey() string {
	switch {
	case r.SecretToken != "":
		return "secret:" + r.SecretToken
	case r.FileID != 0:
		return "file:" + strconv.FormatInt(r.FileID, 10)
	default:
		return "order:" + strconv.FormatInt(r.OrderID, 10)
	}
}

// Validate implements TaskArgs: a tenant and one way to find the order.
func (r OrderRef) Validate() error {
	if r.Tenant == "" || (r.SecretToken == "" && r.FileID == 0 && r.OrderID == 0) {
		return Errorf(KindInvalid, "sync-order: the order reference is empty")
	}
	if len(r.Details) > MaxOrderDetails {
		return Errorf(KindTooLarge, "sync-order: the order details are larger than %d bytes", MaxOrderDetails)
	}
	return nil
}

// RedactKey shortens a dedup key for logs and listings: an order secret
// token is a capability (it opens the buyer's order page), so only its
// first characters are shown, in a sync's key ("secret:<token>") as in an
// app notice's ("notice:<token>:<event>").
func RedactKey(k string) string {
	if rest, ok := strings.CutPrefix(k, "secret:"); ok && len(rest) > 6 {
		return "secret:" + rest[:4] + "…"
	}
	if rest, ok := strings.CutPrefix(k, "notice:"); ok {
		token, event, _ := strings.Cut(rest, ":")
		if len(token) > 6 {
			token = token[:4] + "…"
		}
		return "notice:" + token + ":" + event
	}
	return k
}
