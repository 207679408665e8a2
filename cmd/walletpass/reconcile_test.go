package main

import (
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"testing"

	fakesecutix "walletpass/fake/secutix"
	"walletpass/pass"
)

// orderThenNoWebhooks starts a system, makes an order of n tickets and
// waits for its passes and its follow-ups; the webhooks of what follows
// are lost (the sandbox sends none).
func orderThenNoWebhooks(t *testing.T, n int) (*system, order) {
	t.Helper()
	s := startSystem(t, "")
	o := s.createOrder(map[string]any{"count": n})
	s.waitPasses(o.Secret, fmt.Sprint(n, " passes"), func(ps []pass.Pass) bool { return len(pass.ValidPerTicket(ps)) == n })
	s.idle()
	s.app.Sandbox.SetWebhookURL("")
	return s, o
}

// TestReconcileFindsMissedChanges: webhooks lost (the sandbox sends none
// after the order) and SecuTix cancels one ticket; one reconciliation run lists the performance's tickets (one call for
// three tickets) and syncs the order, which voids the cancelled ticket's
// pass. A second run finds nothing to do.
func TestReconcileFindsMissedChanges(t *testing.T) {
	t.Parallel()
	s, o := orderThenNoWebhooks(t, 3)
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

// TestOrdersSyncCommand: a holder's name corrected in SecuTix without a
// webhook (as V1 and V2 send none for a change that closes no order) is
// not a state the reconciliation compares; `walletpass orders sync` brings
// it to the pass.
func TestOrdersSyncCommand(t *testing.T) {
	t.Parallel()
	s, o := orderThenNoWebhooks(t, 1)
	if _, err := s.app.Sandbox.Modify(o.FileID, o.Tickets[0].TicketID, fakesecutix.Change{
		Holder: &fakesecutix.Holder{FirstName: "Ada", LastName: "Lovelace"}}); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.app.Reconciler.RunReport(t.Context()); err != nil || rep.Syncs != 0 {
		t.Errorf("reconciliation: %+v %v; want no sync (the states agree)", rep, err)
	}
	var out, errOut syncBuffer
	err := Run(t.Context(), []string{"orders", "sync", "-file", strconv.FormatInt(o.FileID, 10)}, &out, &errOut, testEnv(s.dataDir, nil))
	if err != nil || !strings.Contains(out.String(), fmt.Sprintf("queued a sync of file %d with", o.FileID)) {
		t.Fatalf("orders sync: %v %s %s", err, out.String(), errOut.String())
	}
	// Keyed as the order's webhooks key theirs, so that it merges with one
	// still waiting.
	if m := regexp.MustCompile(`\(task (\S+), `).FindStringSubmatch(out.String()); m == nil {
		t.Errorf("no task id in %q", out.String())
	} else if task, err := s.db.GetTask(t.Context(), m[1]); err != nil || task.DedupKey != (pass.OrderRef{Tenant: "demo", SecretToken: o.Secret}).DedupKey() {
		t.Errorf("the queued task: %+v %v; want it keyed by the order's secret", task, err)
	}
	s.waitPasses(o.Secret, "the corrected name", func(ps []pass.Pass) bool {
		vs := pass.ValidPerTicket(ps)
		return len(vs) == 1 && vs[0].Ticket.HolderName == "Ada Lovelace"
	})
	for _, args := range [][]string{{"orders", "sync"}, {"orders", "sync", "-file", "0"}, {"orders", "sync", "-file", "5", "-secret", "x"},
		{"orders", "sync", "-secret", "x", "-file", "-1"}} {
		var out, errOut syncBuffer
		if err := Run(t.Context(), args, &out, &errOut, testEnv(s.dataDir, nil)); exitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
}

// TestPerformancesSyncAll: `walletpass performances sync -all` queues the
// rewrite of every performance with passes (after a certificate's
// renewal, it signs them all again), each once; -id and -all together,
// or neither, is a usage error.
func TestPerformancesSyncAll(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	concert := s.createOrder(map[string]any{"demo": "concert"})
	sports := s.createOrder(map[string]any{"demo": "sports"})
	pc := s.waitPasses(concert.Secret, "the concert's passes", func(ps []pass.Pass) bool { return len(ps) == len(concert.Tickets) })
	ps := s.waitPasses(sports.Secret, "the match's passes", func(ps []pass.Pass) bool { return len(ps) == len(sports.Tickets) })
	if pc[0].Ticket.Event.PerformanceID == ps[0].Ticket.Event.PerformanceID {
		t.Fatalf("both orders are of performance %d", pc[0].Ticket.Event.PerformanceID)
	}
	s.idle()
	var out, errOut syncBuffer
	if err := Run(t.Context(), []string{"performances", "sync", "-all"}, &out, &errOut, testEnv(s.dataDir, nil)); err != nil ||
		!strings.Contains(out.String(), "queued the rewrite of 2 performance(s)") {
		t.Fatalf("performances sync -all: %v %s %s", err, out.String(), errOut.String())
	}
	s.idle()
	done, err := s.db.ListTasks(t.Context(), pass.TaskDone, 1000)
	if err != nil {
		t.Fatal(err)
	}
	rewritten := map[string]int{}
	for _, tk := range done {
		if tk.Kind == pass.TaskPerformanceSync {
			rewritten[tk.DedupKey]++
		}
	}
	want := map[string]int{}
	for _, p := range []pass.Pass{pc[0], ps[0]} {
		want[pass.PerformanceArgs{Tenant: "demo", PerformanceID: p.Ticket.Event.PerformanceID}.DedupKey()] = 1
	}
	if !maps.Equal(rewritten, want) {
		t.Errorf("rewrites done %v, want each performance's once %v", rewritten, want)
	}
	for _, args := range [][]string{{"performances", "sync"}, {"performances", "sync", "-all", "-id", "5"}, {"performances", "sync", "-id", "-5"}} {
		var out, errOut syncBuffer
		if err := Run(t.Context(), args, &out, &errOut, testEnv(s.dataDir, nil)); exitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
}
