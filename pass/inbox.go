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
	ev, sync := in.Prepare(ev)
	return in.Queue.RecordWebhook(ctx, ev, sync, ev.ReceivedAt)
}

// Prepare is what Receive records of ev: the event, received now, and
// the sync of its order (by secret token when the event gives one, else
// by order id).
func (in *Inbox) Prepare(ev WebhookEvent) (WebhookEvent, NewTask) {
	ev.ReceivedAt = in.Clock.Now()
	ref := OrderRef{Tenant: ev.Tenant, SecretToken: ev.SecretToken, Details: ev.Details}
	if ref.SecretToken == "" {
		ref.OrderID = ev.OrderID
	}
	return ev, TaskOf(ref, ev.CorrelationID)
}

// StateVoidedByOperator is the hint an operator's void leaves on a ticket
// (ref "v:<ticketId>"): every later sync shows the ticket cancelled,
// whatever SecuTix says of it.
const StateVoidedByOperator = "VOIDED"

// SourceConsole is the WebhookEvent source of an operator's action.
const SourceConsole = "console"

// VoidTicket records an operator's void of a ticket with the sync of its
// order, which voids the ticket's pass (pushed, announced and shown as
// every cancellation is).
func (in *Inbox) VoidTicket(ctx context.Context, tenant, secretToken string, ticketID int64, correlationID string) (Enqueued, error) {
	if secretToken == "" || ticketID == 0 {
		return Enqueued{}, Errorf(KindInvalid, "void: the order's secret token and the ticket id are required")
	}
	return in.Receive(ctx, WebhookEvent{Tenant: tenant, Source: SourceConsole, SecretToken: secretToken, TicketID: ticketID,
		State: StateVoidedByOperator, LastUpdate: in.Clock.Now(), CorrelationID: correlationID})
}
