package secutix_test

import (
	"testing"

	fakesecutix "walletpass/fake/secutix"
	"walletpass/pass"
	"walletpass/secutix"
)

// TestTicketStates: listTicketsByCriteria pages through a performance's
// tickets (one call per page, the last one short) and maps their states;
// the tickets of another performance of the same product are left out.
func TestTicketStates(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, func(c *secutix.Config) { c.TicketPageSize = 2 })
	c := b.create(t, fakesecutix.OrderRequest{Count: 5})
	other := b.create(t, fakesecutix.OrderRequest{Tickets: []fakesecutix.TicketSpec{{
		Event: &fakesecutix.EventSpec{Start: "2026-09-01T20:00:00+02:00"}}}})
	if _, err := b.sb.Cancel(c.FileID, c.Tickets[1].TicketID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sb.Validate(c.FileID, c.Tickets[2].TicketID); err != nil {
		t.Fatal(err)
	}
	o, err := b.cl.OrderByFileID(t.Context(), tenant, c.FileID)
	if err != nil {
		t.Fatal(err)
	}
	perf := o.Tickets[0].Event.PerformanceID
	got, err := b.cl.TicketStates(t.Context(), tenant, perf)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]pass.TicketState{}
	for i, tk := range c.Tickets {
		want[tk.TicketID] = pass.TicketValid
		switch i {
		case 1:
			want[tk.TicketID] = pass.TicketCancelled
		case 2:
			want[tk.TicketID] = pass.TicketUsed
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d tickets %+v, want %d (not the other performance's %d)", len(got), got, len(want), other.Tickets[0].TicketID)
	}
	for _, g := range got {
		if want[g.TicketID] != g.State || g.PerformanceID != perf {
			t.Errorf("ticket %d: %s, want %s", g.TicketID, g.State, want[g.TicketID])
		}
	}
	// Six tickets of the product, two a page: three full pages and an
	// empty last one.
	if n := b.sb.Calls("listTicketsByCriteria"); n != 4 {
		t.Errorf("%d calls, want 4", n)
	}
	if _, err := b.cl.TicketStates(t.Context(), tenant, 999); pass.KindOf(err) != pass.KindNotFound {
		t.Errorf("unknown performance: %v, want not found", err)
	}
}
