package pass

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"time"
)

// Reconciliation finds the passes a missed webhook left wrong. SecuTix
// lists the tickets of a performance with their states (paged, a few
// calls for thousands of tickets); every pass whose state differs from
// its ticket's gets its order synced, at background priority. It covers
// every performance that has passes and has not ended (plus Window), not
// only the orders that changed lately.

// CorrelationReconcile is the correlation id of the syncs reconciliation
// enqueues.
const CorrelationReconcile = "reconcile"

// TicketStatus is one ticket as SecuTix lists it.
type TicketStatus struct {
	TicketID      int64
	PerformanceID int64
	State         TicketState // "" when SecuTix's state is one walletpass does not know
}

// TicketLister lists the tickets of a performance (SecuTix's
// listTicketsByCriteria).
type TicketLister interface {
	TicketStates(ctx context.Context, tenant string, performanceID int64) ([]TicketStatus, error)
}

// ReconcileRow is a pass as reconciliation compares it.
type ReconcileRow struct {
	PerformanceID, TicketID, FileID int64
	SecretToken                     string
	Status                          Status
}

// ReconcileReader lists the passes of the performances still running.
type ReconcileReader interface {
	// ReconcilePasses returns the passes of tenant with a performance
	// whose last event ends (Ticket.LastEnd: a season ticket's last
	// match) after endAfter.
	ReconcilePasses(ctx context.Context, tenant string, endAfter time.Time) ([]ReconcileRow, error)
	// PerformancesEndingAfter returns the performances, in id order, that
	// tenant has passes of whose event ends after endAfter.
	PerformancesEndingAfter(ctx context.Context, tenant string, endAfter time.Time) ([]int64, error)
}

// DefaultCatalogueWindow is how long after its end a performance is still
// compared with the catalogue by default.
const DefaultCatalogueWindow = 30 * 24 * time.Hour

// Reconciler compares passes with SecuTix's ticket lists.
type Reconciler struct {
	Tickets TicketLister
	Passes  ReconcileReader
	Queue   Enqueuer
	Tenants []string
	// Window keeps a performance in reconciliation after its end; 0 means
	// a day.
	Window time.Duration
	// CatalogueWindow keeps a performance in the catalogue comparison
	// (Performances) after its end, when longer than Window; 0 means
	// DefaultCatalogueWindow. A performance postponed after its date (a
	// show rained out, its new date set days later) moves its passes.
	CatalogueWindow time.Duration
	Clock           Clock
	Log             *slog.Logger
	// Performances, when set, also compares each running performance with
	// the catalogue and rewrites the passes of those that changed (a
	// performance moved in SecuTix's back office sends no order webhook).
	Performances *PerformanceSyncer

	// asked remembers each disagreement this reconciler already had
	// synced: when the sync leaves it as it was, it is walletpass's
	// choice (an operator's void, a season ticket kept valid after an
	// entry), not news from SecuTix, and it is not synced at every run.
	mu    sync.Mutex
	asked map[string]string
}

// askOnce reports whether the disagreement of a pass (what SecuTix says,
// what the pass shows) was not handed to a sync before, and notes it in
// now, the disagreements of this run.
func (r *Reconciler) askOnce(tenant string, row ReconcileRow, st TicketState, now map[string]bool) bool {
	key := tenant + "\x00" + strconv.FormatInt(row.TicketID, 10)
	seen := string(st) + "/" + string(row.Status)
	now[key] = true
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.asked == nil {
		r.asked = map[string]string{}
	}
	if r.asked[key] == seen {
		return false
	}
	r.asked[key] = seen
	return true
}

// forgetSettled drops the disagreements that this run no longer saw.
func (r *Reconciler) forgetSettled(now map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	maps.DeleteFunc(r.asked, func(k, _ string) bool { return !now[k] })
}

// ReconcileReport says what one run did.
type ReconcileReport struct {
	Performances, Tickets, Syncs int
	// Rewrites is how many performances changed in the catalogue (each
	// gets a performance-sync).
	Rewrites int
}

// Run reconciles every tenant once. A tenant or performance that fails is
// logged and skipped; the error joins those failures.
func (r *Reconciler) Run(ctx context.Context) error {
	_, err := r.RunReport(ctx)
	return err
}

// RunReport is Run, with what it did.
func (r *Reconciler) RunReport(ctx context.Context) (ReconcileReport, error) {
	ctx = WithPriority(ctx, PriorityBackground)
	now := r.Clock.Now()
	window := r.Window
	if window == 0 {
		window = 24 * time.Hour
	}
	var rep ReconcileReport
	var errs []error
	disagree := map[string]bool{}
	defer r.forgetSettled(disagree)
	for _, tenant := range r.Tenants {
		rows, err := r.Passes.ReconcilePasses(ctx, tenant, now.Add(-window))
		if err != nil {
			errs = append(errs, fmt.Errorf("reconcile %s: %w", tenant, err))
			continue
		}
		byPerf := map[int64][]ReconcileRow{}
		var perfs []int64
		for _, row := range rows {
			if _, ok := byPerf[row.PerformanceID]; !ok {
				perfs = append(perfs, row.PerformanceID)
			}
			byPerf[row.PerformanceID] = append(byPerf[row.PerformanceID], row)
		}
		if r.Performances != nil {
			watch := perfs
			if cw := cmp.Or(r.CatalogueWindow, DefaultCatalogueWindow); cw > window {
				// The catalogue is compared for longer: it costs no call
				// to SecuTix while the performance is in the cached one.
				if watch, err = r.Passes.PerformancesEndingAfter(ctx, tenant, now.Add(-cw)); err != nil {
					errs = append(errs, fmt.Errorf("reconcile %s: %w", tenant, err))
					watch = perfs
				}
			}
			n, err := r.Performances.CatalogueWatch(ctx, tenant, watch)
			rep.Rewrites += n
			if err != nil {
				errs = append(errs, fmt.Errorf("reconcile %s: catalogue: %w", tenant, err))
			}
		}
		for _, perf := range perfs {
			list, err := r.Tickets.TicketStates(ctx, tenant, perf)
			if err != nil {
				errs = append(errs, fmt.Errorf("reconcile %s performance %d: %w", tenant, perf, err))
				continue
			}
			rep.Performances++
			rep.Tickets += len(list)
			states := make(map[int64]TicketState, len(list))
			for _, t := range list {
				if t.State != "" {
					states[t.TicketID] = t.State
				}
			}
			synced := map[string]bool{}
			for _, row := range byPerf[perf] {
				st, listed := states[row.TicketID]
				// Every disagreement is noted, those of an order already
				// synced in this run too: that sync covers them.
				if !listed || row.SecretToken == "" || !differs(st, row.Status) || !r.askOnce(tenant, row, st, disagree) || synced[row.SecretToken] {
					continue
				}
				synced[row.SecretToken] = true
				ref := OrderRef{Tenant: tenant, SecretToken: row.SecretToken}
				// The workers run a task that only reconciliation asked for
				// at background priority.
				if _, err := r.Queue.Enqueue(ctx, TaskOf(ref, CorrelationReconcile), now); err != nil {
					errs = append(errs, fmt.Errorf("reconcile %s: enqueue: %w", tenant, err))
					continue
				}
				rep.Syncs++
			}
		}
	}
	if r.Log != nil && (rep.Syncs > 0 || rep.Rewrites > 0 || len(errs) > 0) {
		r.Log.InfoContext(ctx, "reconcile", slog.Int("performances", rep.Performances), slog.Int("tickets", rep.Tickets),
			slog.Int("syncs", rep.Syncs), slog.Int("rewrites", rep.Rewrites), slog.Int("failures", len(errs)))
	}
	return rep, errors.Join(errs...)
}

// differs reports whether a pass's status disagrees with its ticket's
// state in SecuTix.
func differs(st TicketState, s Status) bool {
	switch st {
	case TicketCancelled:
		return s != StatusVoided
	case TicketUsed:
		return s == StatusActive
	case TicketValid:
		return s == StatusVoided
	}
	return false
}
