package pass_test

import (
	"context"
	"testing"

	"walletpass/pass"
)

func TestPriority(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if got := pass.PriorityOf(ctx); got != pass.PriorityWebhook {
		t.Errorf("got %s without a priority, want webhook", got)
	}
	for _, tc := range []struct {
		name string
		p    pass.Priority
	}{
		{"background", pass.PriorityBackground},
		{"webhook", pass.PriorityWebhook},
		{"buyer", pass.PriorityBuyer},
		{"priority(7)", pass.Priority(7)},
	} {
		if got := pass.PriorityOf(pass.WithPriority(ctx, tc.p)); got != tc.p {
			t.Errorf("got %s back, want %s", got, tc.p)
		}
		if got := tc.p.String(); got != tc.name {
			t.Errorf("got %q, want %q", got, tc.name)
		}
	}
	if !(pass.PriorityBackground < pass.PriorityWebhook && pass.PriorityWebhook < pass.PriorityBuyer) {
		t.Error("the priorities are not in the order background < webhook < buyer")
	}
	var zero pass.Priority
	if zero != pass.PriorityWebhook {
		t.Errorf("got zero Priority %s, want webhook", zero)
	}
}
