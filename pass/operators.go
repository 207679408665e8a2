package pass

import (
	"context"
	"time"
)

// QueueCount is how many tasks of a tenant and kind are in a state, and
// when the oldest of them is due (the operator console's queue view).
type QueueCount struct {
	Tenant, Kind string
	State        TaskState
	Count        int
	OldestDue    time.Time
}

// AuditEntry is one thing an operator did in the console: who (the
// identity provider's subject and name), when, to which tenant, what
// action, on what (an order's file id, a task id), and the outcome.
type AuditEntry struct {
	At     time.Time
	Actor  string
	Tenant string // "" for an action on no single tenant
	Action string // login, logout, resync, repush, retry-task, discard-task, …
	Target string
	Detail string
}

// The wallet events: a pass added to or removed from a wallet.
const (
	WalletAdded   = "added"
	WalletRemoved = "removed"
)

// PushRecord is one push sent for a pass to a device, and what the push
// service answered.
type PushRecord struct {
	Tenant, Serial, Device string
	At                     time.Time
	Outcome                PushOutcome
	Reason                 string // the push service's reason, if any
}

// PushJournal records the pushes sent (for the operator console); a
// failure to record is logged, the push stands.
type PushJournal interface {
	LogPushes(ctx context.Context, recs []PushRecord) error
}

// UsagePoint is what happened to the passes of a performance on one day
// (UTC): passes issued, added to and removed from each wallet, and
// tickets scanned.
type UsagePoint struct {
	Day                                 time.Time
	Issued, AppleAdded, AppleRemoved    int
	GoogleAdded, GoogleRemoved, Scanned int
}

// PerformanceUsage is a performance's usage: the totals and the days.
type PerformanceUsage struct {
	PerformanceID int64
	Event         string
	Start         time.Time
	Total         UsagePoint // Day is zero
	Days          []UsagePoint
}

// WalletEvent is a pass added to or removed from a wallet ("apple" or
// "google"; Event is WalletAdded or WalletRemoved).
type WalletEvent struct {
	Wallet, Event string
	At            time.Time
}

// AppNoticeSent is an app notice sent to one installation of the
// organiser's app.
type AppNoticeSent struct {
	Event, FCMToken string
	At              time.Time
}

// Field is one thing a pass version shows or says, by a stable key (see
// apple.PassFields).
type Field struct{ Key, Value string }

// FieldChange is one difference between two versions' fields.
type FieldChange struct {
	Key, Before, After string
	Added, Removed     bool
}

// SubscriptionHealth is how a webhook subscription's deliveries go: the
// messages waiting, those of them that failed at least once, those given
// up on (failed for DeliveryGiveUp), the oldest waiting, and the last
// failure's answer.
type SubscriptionHealth struct {
	SubscriptionID   string
	Pending, Failing int
	Delivered        int
	GivenUp          int
	OldestPending    time.Time
	LastStatus       int
	LastError        string
}
