package main

import (
	"testing"

	"walletpass/pass"
)

// TestReconcileFindsMissedChanges: webhooks lost (the sandbox sends none
// after the order) and SecuTix cancels one ticket; one reconciliation run lists the performance's tickets (one call for
// three tickets) and syncs the order, which voids the cancelled ticket's
// pass. A second run finds nothing to do.
func TestReconcileFindsMissedChanges(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	o := s.createOrder(map[string]any{"count": 3})
	s.waitPasses(o.Secret, "three passes", func(ps []pass.Pass) bool { return len(pass.ValidPerTicket(ps)) == 3 })
	s.idle()
	s.app.Sandbox.SetWebhookURL("") // the webhooks of what follows are lost
	if _, err := s.app.Sandbox.Cancel(o.FileID, o.Tickets[0].TicketID); err != nil {
		t.Fatal(err)
	}
	before := s.app.Sandbox.Calls("listTicketsByCriteria")
	rep, err := s.app.Reconciler.RunReport(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Performances != 1 || rep.Tickets != 3 || rep.Syncs != 1 {
		t.Errorf("report %+v, want 1 performance, 3 tickets, 1 sync", rep)
	}
	if n := s.app.Sandbox.Calls("listTicketsByCriteria") - before; n != 1 {
		t.Errorf("%d listTicketsByCriteria calls, want 1", n)
	}
	s.waitPasses(o.Secret, "the cancelled ticket's pass voided", func(ps []pass.Pass) bool {
		for _, p := range pass.LatestPerTicket(ps) {
			if p.MovementID == o.Tickets[0].MovementID {
				return p.Status == pass.StatusVoided
			}
		}
		return false
	})
	s.idle()
	for status, want := range map[pass.Status]int{"": 3, pass.StatusActive: 2, pass.StatusVoided: 1} {
		if n, err := s.db.CountPasses(t.Context(), "demo", status); err != nil || n != want {
			t.Errorf("CountPasses(%q) = %d %v, want %d", status, n, err, want)
		}
	}
	if rep, err := s.app.Reconciler.RunReport(t.Context()); err != nil || rep.Syncs != 0 {
		t.Errorf("second run: %+v %v, want no sync", rep, err)
	}

	// An operator voids a ticket SecuTix still calls valid: the next run
	// syncs its order once, which keeps the void; the runs after it leave
	// that disagreement alone.
	if _, err := s.app.Inbox.VoidTicket(t.Context(), "demo", o.Secret, o.Tickets[1].TicketID, "operator"); err != nil {
		t.Fatal(err)
	}
	s.waitPasses(o.Secret, "the voided ticket", func(ps []pass.Pass) bool {
		p := byMovement(ps, o.Tickets[1].MovementID, 0)
		return p != nil && p.Status == pass.StatusVoided
	})
	s.idle()
	for i, want := range []int{1, 0, 0} {
		rep, err := s.app.Reconciler.RunReport(t.Context())
		if err != nil || rep.Syncs != want {
			t.Errorf("run %d after the operator's void: %+v %v, want %d syncs", i+1, rep, err, want)
		}
		s.idle()
	}
	if p := byMovement(s.passes(o.Secret), o.Tickets[1].MovementID, 0); p.Status != pass.StatusVoided {
		t.Errorf("the operator's void after reconciliation: %s", p.Status)
	}
}
