package workers_test

import (
	"context"
	"encoding/json"
	"testing"

	"walletpass/pass"
	"walletpass/workers"
)

// priorityWorker records the priority each task ran with.
type priorityWorker struct{ got pass.Priority }

func (w *priorityWorker) Work(ctx context.Context, _ pass.OrderRef, _ string) error {
	w.got = pass.PriorityOf(ctx)
	return nil
}

// TestReconciliationRunsInTheBackground: a task only reconciliation asked
// for runs with the background priority; one a webhook asked for too runs
// with the default.
func TestReconciliationRunsInTheBackground(t *testing.T) {
	t.Parallel()
	payload, err := json.Marshal(pass.OrderRef{Tenant: "demo", SecretToken: "s"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ids  []string
		want pass.Priority
	}{
		{"reconciliation", []string{"reconcile"}, pass.PriorityBackground},
		{"reconciliation twice", []string{"reconcile", "reconcile"}, pass.PriorityBackground},
		{"a webhook merged in", []string{"reconcile", "c-1"}, pass.PriorityWebhook},
		{"a webhook", []string{"c-1"}, pass.PriorityWebhook},
		{"no correlation id", nil, pass.PriorityWebhook},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := &priorityWorker{}
			reg := workers.Handle[pass.OrderRef](w)
			task := pass.Task{Kind: reg.Kind, Tenant: "demo", Payload: payload, CorrelationIDs: tc.ids}
			if err := reg.Handler(context.Background(), task); err != nil {
				t.Fatal(err)
			}
			if w.got != tc.want {
				t.Errorf("got priority %s, want %s", w.got, tc.want)
			}
		})
	}
}
