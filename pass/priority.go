package pass

import (
	"context"
	"strconv"
)

// Priority says how much a call to an outside service is waited for. When
// a quota holds calls back (SecuTix allows 60 calls per minute per
// service), a call of higher priority goes before every waiting call of
// lower priority. The zero Priority is PriorityWebhook.
type Priority int

// The priorities, lowest first.
const (
	// PriorityBackground is work nobody waits for now: reconciliation,
	// install-status writes, and the app's lookup of an order walletpass
	// does not have yet (behind every other call: it may be a guess).
	PriorityBackground Priority = -1
	// PriorityWebhook is a sync that a webhook's task runs: the default.
	PriorityWebhook Priority = 0
	// PriorityBuyer is a call a buyer is waiting for (getTicketsUrl).
	PriorityBuyer Priority = 1
)

// String returns "background", "webhook", "buyer", or "priority(n)" for
// another value.
func (p Priority) String() string {
	switch p {
	case PriorityBackground:
		return "background"
	case PriorityWebhook:
		return "webhook"
	case PriorityBuyer:
		return "buyer"
	}
	return "priority(" + strconv.Itoa(int(p)) + ")"
}

type priorityKey struct{}

// WithPriority returns a copy of ctx whose calls to outside services have
// priority p.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityOf returns the priority WithPriority put in ctx, or
// PriorityWebhook.
func PriorityOf(ctx context.Context) Priority {
	if p, ok := ctx.Value(priorityKey{}).(Priority); ok {
		return p
	}
	return PriorityWebhook
}
