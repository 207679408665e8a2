package pass

import (
	"context"
	"time"
)

// WebhookRecorder stores a webhook and its task atomically.
type WebhookRecorder interface {
	// RecordWebhook stores the event and its ticket hint and enqueues (or
	// merges into) the task, in one transaction.
	RecordWebhook(ctx context.Context, ev WebhookEvent, t NewTask, now time.Time) (Enqueued, error)
}

// Inbox takes SecuTix's change notifications. A webhook is a hint: it
// names an order to fetch again, and carries only the ticket states
// SecuTix's API may not show (a scan at the gate).
type Inbox struct {
	Queue WebhookRecorder
	Clock Clock
}

// Receive records ev with the sync of its order (by secret token when the
// webhook gives one, else by order id), in one transaction: once it
// returns, the webhook cannot be lost. Errors come from the store.
func (in *Inbox) Receive(ctx context.Context, ev WebhookEvent) (Enqueued, error) {
	now := in.Clock.Now()
	ev.ReceivedAt = now
	ref := OrderRef{Tenant: ev.Tenant, SecretToken: ev.SecretToken, Details: ev.Details}
	if ref.SecretToken == "" {
		ref.OrderID = ev.OrderID
	}
	return in.Queue.RecordWebhook(ctx, ev, TaskOf(ref, ev.CorrelationID), now)
}
