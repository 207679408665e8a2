package workers

import (
	"context"
	"encoding/json"

	"walletpass/pass"
)

// Worker runs the tasks of one kind, whose arguments are T (River's
// Worker[T]): the domain's services implement it (pass.Syncer,
// pass.PushService, pass.AppNoticeService, the Google Wallet syncer).
// correlationID is the newest of the events merged into the task.
type Worker[T pass.TaskArgs] interface {
	Work(ctx context.Context, args T, correlationID string) error
}

// Registration is the handler of one kind of task (see Handle).
type Registration struct {
	Kind    string
	Handler Handler
}

// Handle returns the registration of w for the kind of T: its handler
// decodes a task's payload as T, checks it (T.Validate, and that it names
// the task's tenant) and runs w, with pass.PriorityBackground in its
// context when only reconciliation asked for the task. A payload that does not decode or check
// kills the task at once (an error of kind pass.KindInvalid).
func Handle[T pass.TaskArgs](w Worker[T]) Registration {
	var zero T
	return Registration{Kind: zero.Kind(), Handler: func(ctx context.Context, t pass.Task) error {
		var args T
		if err := json.Unmarshal(t.Payload, &args); err != nil {
			return pass.Wrap(pass.KindInvalid, err, t.Kind+" task: malformed payload")
		}
		if err := args.Validate(); err != nil {
			return pass.Wrap(pass.KindInvalid, err, t.Kind+" task")
		}
		if args.TaskTenant() != t.Tenant {
			return pass.Errorf(pass.KindInvalid, "%s task: tenant %q in the payload of a task of tenant %q", t.Kind, args.TaskTenant(), t.Tenant)
		}
		corr := ""
		if n := len(t.CorrelationIDs); n > 0 {
			corr = t.CorrelationIDs[n-1]
		}
		if onlyReconcile(t.CorrelationIDs) {
			// Nobody waits for it: its calls to SecuTix give way to the
			// webhooks' and the buyers'.
			ctx = pass.WithPriority(ctx, pass.PriorityBackground)
		}
		return w.Work(pass.WithAttempt(ctx, t.Attempts), args, corr)
	}}
}

// onlyReconcile says whether a task was enqueued by reconciliation alone:
// no webhook was merged into it.
func onlyReconcile(ids []string) bool {
	for _, id := range ids {
		if id != reconcileCorrelationID {
			return false
		}
	}
	return len(ids) > 0
}

// Handlers collects registrations into the map New takes:
//
//	workers.Handlers(workers.Handle[pass.OrderRef](syncer), workers.Handle[pass.PushArgs](pushes))
func Handlers(regs ...Registration) map[string]Handler {
	m := make(map[string]Handler, len(regs))
	for _, r := range regs {
		m[r.Kind] = r.Handler
	}
	return m
}

// WorkFunc is a function that works one kind of task, for a service with
// more than one kind (see Handle).
type WorkFunc[T pass.TaskArgs] func(ctx context.Context, args T, correlationID string) error

// Work implements Worker.
func (f WorkFunc[T]) Work(ctx context.Context, args T, correlationID string) error {
	return f(ctx, args, correlationID)
}
