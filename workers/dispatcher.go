package workers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"

	"walletpass/pass"
)

// Handler runs one task. Its error decides what happens next: nil
// completes it; an error of kind pass.KindInvalid kills it at once (it can
// never succeed); anything else is retried with backoff, honouring a
// *pass.RetryAfterError, until MaxAttempts.
//
// Its context ends early in two cases. When Stop gives up waiting for it
// (after DrainTimeout), an error it returns is no failure: the task is
// released, due again at once, this attempt not counted. When the run
// loses the task's lease (the cause is ErrLeaseLost), the task belongs to
// whichever worker claims it next, and nothing of this run is recorded.
type Handler func(ctx context.Context, t pass.Task) error

// ErrLeaseLost is the cause (context.Cause) of a task's context when its
// run no longer holds the task's lease: another worker claimed the task,
// or no renewal succeeded before the lease ended.
var ErrLeaseLost = errors.New("workers: lease lost")

// errStopped is the cause of the running tasks' contexts when Stop cancels
// them.
var errStopped = errors.New("workers: dispatcher stopped")

// Queue is what the dispatcher needs of the task store. Extend, Complete,
// Fail and Release return an error of kind pass.KindConflict when the
// task's lease was lost.
type Queue interface {
	Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]pass.Task, error)
	NextDue(ctx context.Context) (time.Time, bool, error)
	Extend(ctx context.Context, t pass.Task, until time.Time) error
	Complete(ctx context.Context, t pass.Task, now, rerunAt time.Time) error
	Fail(ctx context.Context, t pass.Task, cause string, retryAt time.Time, dead bool, now time.Time) error
	// Release makes a claimed task pending again, due at now, without
	// counting the attempt its claim counted: the dispatcher cut the run
	// short, the task did not fail.
	Release(ctx context.Context, t pass.Task, now time.Time) error
	// Defer makes a claimed task pending again, due at at (at soon when
	// events merged into it while it ran), its attempts back to none: the
	// task did not fail, it has more to do later (pass.DeferError).
	Defer(ctx context.Context, t pass.Task, at, soon, now time.Time) error
}

// Maintenance is what the reconciliation and retention jobs need.
type Maintenance interface {
	RecentOrders(ctx context.Context, since time.Time, limit int) ([]pass.OrderRef, error)
	Enqueue(ctx context.Context, t pass.NewTask, now time.Time) (pass.Enqueued, error)
	PurgeBefore(ctx context.Context, cutoff time.Time) (int64, error)
}

// Config tunes the dispatcher. Zero values take the defaults.
type Config struct {
	// Workers is how many tasks run at once; default 16. Tasks mostly wait
	// (SecuTix, APNs, fsync of pass files), so this is more than the cores.
	Workers int
	// Lease is how long a claim lasts before another worker may take the
	// task (its worker died); a running task renews it every Lease/3.
	// Default 30 s.
	Lease       time.Duration
	MaxAttempts int           // then the task is dead; default 8
	BaseBackoff time.Duration // first retry delay (full jitter below it); default 1 s
	MaxBackoff  time.Duration // cap; default 5 min
	Tick        time.Duration // the gocron dispatcher job's period; default 1 s
	// Reconcile re-syncs orders whose passes changed within ReconcileWindow;
	// default every 15 min over 24 h; negative disables.
	Reconcile       time.Duration
	ReconcileWindow time.Duration
	// Retention purges finished tasks, events and timeline entries older
	// than RetentionAge every RetentionEvery; defaults 30 days, hourly.
	RetentionAge   time.Duration
	RetentionEvery time.Duration
	// DrainTimeout bounds how long Stop waits for running tasks; default
	// 30 s. Then it cancels them, and releases their tasks for the next
	// start (or another instance) without counting the attempt.
	DrainTimeout time.Duration
	// RerunDelay is how long a task waits before its follow-up run when
	// events arrived while it ran, so that the rest of a burst joins that
	// one run; default 500 ms. The first run of a task is never delayed.
	RerunDelay time.Duration
	// Jobs are more periodic jobs (such as expiring Google Wallet passes),
	// each run at most once at a time.
	Jobs []Job
	// Elector, when set, makes reconciliation, retention and Jobs run on
	// one instance at a time (the leader); the dispatch tick runs on every
	// instance.
	Elector gocron.Elector
	// Listen, when set, calls wake whenever another instance enqueues a
	// task, until ctx ends (PostgreSQL LISTEN/NOTIFY).
	Listen func(ctx context.Context, wake func()) error
	// Kinds overrides MaxAttempts, MaxBackoff and RerunDelay for some
	// kinds (the outbound webhooks' deliveries keep trying for days, and
	// follow each other closely).
	Kinds map[string]KindPolicy
	// OnAttempt, when set, hears of every finished attempt: the task's
	// tenant and kind, its result (done, retry or dead) and how long the
	// handler ran.
	OnAttempt func(tenant, kind, result string, d time.Duration)
	// OnJob, when set, hears of every finished run of a periodic job
	// (reconciliation, retention and Jobs): the job's name and its result,
	// JobSuccess or JobError. A run that Stop cut short is neither: it is
	// not reported.
	OnJob func(job, result string)
	// OnLeader, when set, hears whether this instance runs the periodic
	// jobs. Without an Elector it hears true at Start. With one, it hears
	// the Elector's answer once at Start and then at every answer gocron
	// asks for before a periodic job's run (so a change is heard within
	// the shortest job's period). It hears false at Stop.
	OnLeader func(leading bool)
}

// The results OnJob hears.
const (
	JobSuccess = "success"
	JobError   = "error"
)

// KindPolicy is how long the tasks of one kind are retried, and how soon
// a follow-up run comes (zero fields: the Config's).
type KindPolicy struct {
	MaxAttempts int
	MaxBackoff  time.Duration
	RerunDelay  time.Duration
}

// Job is a periodic job.
type Job struct {
	Name  string
	Every time.Duration
	// Run does the work; its context ends after Every, or when Stop is
	// called.
	Run func(ctx context.Context) error
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	def(&c.Lease, 30*time.Second)
	def(&c.BaseBackoff, time.Second)
	def(&c.MaxBackoff, 5*time.Minute)
	def(&c.Tick, time.Second)
	def(&c.Reconcile, 15*time.Minute)
	def(&c.ReconcileWindow, 24*time.Hour)
	def(&c.RetentionAge, 30*24*time.Hour)
	def(&c.RetentionEvery, time.Hour)
	def(&c.DrainTimeout, 30*time.Second)
	def(&c.RerunDelay, 500*time.Millisecond)
}

// Dispatcher owns the scheduler, the dispatch loop and the worker pool.
type Dispatcher struct {
	cfg      Config
	q        Queue
	maint    Maintenance
	handlers map[string]Handler
	log      *slog.Logger
	now      func() time.Time

	wake    chan struct{}
	sched   gocron.Scheduler
	singles gocron.Scheduler        // jobs run by one instance at a time
	cancel  context.CancelFunc      // stops claiming
	kill    context.CancelCauseFunc // cancels running tasks after DrainTimeout
	loop    sync.WaitGroup
	running sync.WaitGroup
	slots   chan struct{}

	// jobStopTimeout, when set, replaces gocron's 10 s wait for the
	// periodic jobs at Stop (tests).
	jobStopTimeout time.Duration
	jobsMu         sync.Mutex
	jobsRunning    map[string]int // the periodic jobs running now, by name
}

// New returns a dispatcher; Start runs it.
func New(cfg Config, q Queue, maint Maintenance, handlers map[string]Handler, log *slog.Logger) *Dispatcher {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{cfg: cfg, q: q, maint: maint, handlers: handlers, log: log, now: time.Now,
		wake: make(chan struct{}, 1), slots: make(chan struct{}, cfg.Workers)}
}

// Wake makes the dispatcher look for due tasks now (after an enqueue). It
// never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Start starts the gocron jobs and the dispatch loop.
func (d *Dispatcher) Start() error {
	var opts []gocron.SchedulerOption
	if d.jobStopTimeout > 0 {
		opts = append(opts, gocron.WithStopTimeout(d.jobStopTimeout))
	}
	s, err := gocron.NewScheduler(opts...)
	if err != nil {
		return fmt.Errorf("workers: scheduler: %w", err)
	}
	single := gocron.WithSingletonMode(gocron.LimitModeReschedule)
	if _, err := s.NewJob(gocron.DurationJob(d.cfg.Tick), gocron.NewTask(d.Wake), gocron.WithName("dispatch"), single); err != nil {
		return fmt.Errorf("workers: dispatch job: %w", err)
	}
	d.sched = s
	// The jobs that must run once across instances get their own scheduler,
	// with the elector.
	d.singles = s
	elector := d.cfg.Elector
	if elector != nil && d.cfg.OnLeader != nil {
		elector = &reportingElector{Elector: elector, report: d.cfg.OnLeader}
	}
	if elector != nil {
		if d.singles, err = gocron.NewScheduler(append(opts, gocron.WithDistributedElector(elector))...); err != nil {
			return fmt.Errorf("workers: scheduler: %w", err)
		}
	}
	if err := d.addSingletonJobs(d.singles, single); err != nil {
		return err
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	taskCtx, kill := context.WithCancelCause(context.Background())
	d.cancel, d.kill = cancel, kill
	d.loop.Add(1)
	go d.run(loopCtx, taskCtx)
	switch {
	case d.cfg.OnLeader == nil:
	case elector == nil:
		d.cfg.OnLeader(true) // every instance runs the periodic jobs
	default:
		// Ask once now, so that whether this instance leads is known
		// before the first job is due (gocron asks only then).
		d.loop.Add(1)
		go func() {
			defer d.loop.Done()
			ctx, cancel := context.WithTimeout(loopCtx, 10*time.Second)
			defer cancel()
			_ = elector.IsLeader(ctx) // reportingElector reports the answer
		}()
	}
	if d.cfg.Listen != nil {
		d.loop.Add(1)
		go func() {
			defer d.loop.Done()
			if err := d.cfg.Listen(loopCtx, d.Wake); err != nil && loopCtx.Err() == nil {
				d.log.Error("listen for tasks", slog.Any("error", err))
			}
		}()
	}
	s.Start()
	if d.singles != s {
		d.singles.Start()
	}
	d.Wake()
	return nil
}

// addSingletonJobs adds reconciliation, retention and the extra jobs.
// Each runs with the context gocron gives a task function whose first
// parameter is a context.Context, which it cancels at Shutdown: Stop tells
// a running job to stop rather than wait for it to finish.
func (d *Dispatcher) addSingletonJobs(s gocron.Scheduler, single gocron.JobOption) error {
	for _, j := range d.periodicJobs() {
		task := func(ctx context.Context) {
			d.jobRunning(j.name, 1)
			defer d.jobRunning(j.name, -1)
			d.runJob(ctx, j)
		}
		if _, err := s.NewJob(gocron.DurationJob(j.every), gocron.NewTask(task), gocron.WithName(j.name), single); err != nil {
			return fmt.Errorf("workers: %s job: %w", j.name, err)
		}
	}
	return nil
}

// periodicJob is a periodic job as Start schedules it.
type periodicJob struct {
	name  string
	every time.Duration
	run   func(ctx context.Context) error
}

// periodicJobs are the jobs Start schedules to run on one instance at a
// time: reconciliation and retention unless disabled, then Config.Jobs,
// each of which gets Every to run.
func (d *Dispatcher) periodicJobs() []periodicJob {
	var jobs []periodicJob
	if d.maint != nil && d.cfg.Reconcile > 0 {
		jobs = append(jobs, periodicJob{name: "reconcile", every: d.cfg.Reconcile, run: d.reconcile})
	}
	if d.maint != nil && d.cfg.RetentionEvery > 0 {
		jobs = append(jobs, periodicJob{name: "retention", every: d.cfg.RetentionEvery, run: d.retention})
	}
	for _, j := range d.cfg.Jobs {
		jobs = append(jobs, periodicJob{name: j.Name, every: j.Every, run: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, j.Every)
			defer cancel()
			return j.Run(ctx)
		}})
	}
	return jobs
}

// JobNames returns the names of the periodic jobs Start schedules, in the
// order it schedules them.
func (d *Dispatcher) JobNames() []string {
	var names []string
	for _, j := range d.periodicJobs() {
		names = append(names, j.name)
	}
	return names
}

// runJob runs j once, logs its failure and reports its result to OnJob.
// A run whose context Stop cancelled was cut short rather than failed: it
// is logged at info level and not reported.
func (d *Dispatcher) runJob(ctx context.Context, j periodicJob) {
	err := j.run(ctx)
	switch {
	case err == nil:
		d.observeJob(j.name, JobSuccess)
	case ctx.Err() != nil:
		d.log.Info("periodic job stopped", slog.String("job", j.name), slog.Any("error", err))
	default:
		d.log.Error("periodic job", slog.String("job", j.name), slog.Any("error", err))
		d.observeJob(j.name, JobError)
	}
}

func (d *Dispatcher) observeJob(job, result string) {
	if d.cfg.OnJob != nil {
		d.cfg.OnJob(job, result)
	}
}

// reportingElector is the Config's Elector, telling OnLeader each of its
// answers. The lock keeps the answers and what OnLeader hears in the same
// order when two jobs ask at once.
type reportingElector struct {
	gocron.Elector
	report func(leading bool)
	mu     sync.Mutex
}

func (e *reportingElector) IsLeader(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.Elector.IsLeader(ctx)
	e.report(err == nil)
	return err
}

// jobRunning counts a run of the periodic job name in (delta 1) or out
// (delta -1).
func (d *Dispatcher) jobRunning(name string, delta int) {
	d.jobsMu.Lock()
	defer d.jobsMu.Unlock()
	if d.jobsRunning == nil {
		d.jobsRunning = map[string]int{}
	}
	if d.jobsRunning[name] += delta; d.jobsRunning[name] <= 0 {
		delete(d.jobsRunning, name)
	}
}

// runningJobs returns the names of the periodic jobs running now.
func (d *Dispatcher) runningJobs() []string {
	d.jobsMu.Lock()
	defer d.jobsMu.Unlock()
	names := make([]string, 0, len(d.jobsRunning))
	for name := range d.jobsRunning {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Stop shuts the schedulers down (cancelling the running periodic jobs'
// contexts, and waiting up to 10 s for them), stops claiming, and waits up
// to DrainTimeout (or until ctx ends) for the running tasks; then it
// cancels them and releases their tasks, due again at once, their
// attempts not counted. A periodic job still running after it was told to
// stop is logged, not returned: Stop returns an error only when a
// scheduler fails to stop.
func (d *Dispatcher) Stop(ctx context.Context) error {
	if d.sched == nil {
		return nil
	}
	err := d.shutdown(d.sched)
	if d.singles != nil && d.singles != d.sched {
		if serr := d.shutdown(d.singles); err == nil {
			err = serr
		}
	}
	d.cancel()
	d.loop.Wait()
	if d.cfg.OnLeader != nil {
		d.cfg.OnLeader(false) // the schedulers are down: no periodic job runs here any more
	}
	done := make(chan struct{})
	go func() { d.running.Wait(); close(done) }()
	timer := time.NewTimer(d.cfg.DrainTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		d.kill(errStopped)
		<-done
	case <-ctx.Done():
		d.kill(errStopped)
		<-done
	}
	d.kill(errStopped)
	return err
}

// shutdown shuts s down. gocron reports ErrStopJobsTimedOut when a job is
// still running at the end of its wait: the job's context is cancelled
// already, so there is nothing more to do than say which job ignores it.
func (d *Dispatcher) shutdown(s gocron.Scheduler) error {
	err := s.Shutdown()
	if errors.Is(err, gocron.ErrStopJobsTimedOut) {
		d.log.Warn("periodic jobs still running after they were told to stop; no longer waiting for them",
			slog.Any("jobs", d.runningJobs()))
		return nil
	}
	if err != nil {
		return fmt.Errorf("workers: stop scheduler: %w", err)
	}
	return nil
}

func (d *Dispatcher) run(loopCtx, taskCtx context.Context) {
	defer d.loop.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-loopCtx.Done():
			return
		case <-d.wake:
		case <-timer.C:
		}
		d.dispatch(loopCtx, taskCtx)
		// Wake again when the next pending task is due, if that is before
		// the next tick: a delayed task runs on time, not a tick later.
		// With every worker busy there is nothing to do until one finishes
		// (and wakes the loop).
		if len(d.slots) == cap(d.slots) {
			continue
		}
		if next, ok, err := d.q.NextDue(loopCtx); err == nil && ok {
			if wait := time.Until(next); wait < d.cfg.Tick {
				timer.Reset(max(wait, 10*time.Millisecond))
			}
		}
	}
}

// dispatch claims as many due tasks as there are free workers and starts
// them; it repeats while it finds work and has room.
func (d *Dispatcher) dispatch(loopCtx, taskCtx context.Context) {
	for loopCtx.Err() == nil {
		free := cap(d.slots) - len(d.slots)
		if free == 0 {
			return // a finishing task wakes us
		}
		tasks, err := d.q.Claim(loopCtx, d.now(), d.cfg.Lease, free)
		if err != nil {
			if loopCtx.Err() == nil {
				d.log.Error("claim tasks", slog.Any("error", err))
			}
			return
		}
		if len(tasks) == 0 {
			return
		}
		for _, t := range tasks {
			d.slots <- struct{}{}
			d.running.Add(1)
			go func(t pass.Task) {
				defer func() {
					<-d.slots
					d.running.Done()
					d.Wake()
				}()
				d.runTask(taskCtx, t)
			}(t)
		}
	}
}

func (d *Dispatcher) runTask(ctx context.Context, t pass.Task) {
	log := d.log.With(slog.String("task", t.ID), slog.String("kind", t.Kind), slog.String("tenant", t.Tenant),
		slog.String("order", pass.RedactKey(t.DedupKey)), slog.Int("attempt", t.Attempts), slog.Any("correlationIds", t.CorrelationIDs))
	h, ok := d.handlers[t.Kind]
	var err error
	start := time.Now()
	maxAttempts, maxBackoff := d.cfg.MaxAttempts, d.cfg.MaxBackoff
	if kp, ok := d.cfg.Kinds[t.Kind]; ok {
		maxAttempts, maxBackoff = cmp.Or(kp.MaxAttempts, maxAttempts), cmp.Or(kp.MaxBackoff, maxBackoff)
	}
	if !ok {
		err = pass.Errorf(pass.KindInvalid, "no handler for task kind %q", t.Kind)
	} else {
		leaseCtx, cancel := context.WithCancelCause(ctx)
		stopRenew := d.renewLease(leaseCtx, t, cancel, log)
		runCtx, mark := pass.WithReadMark(pass.WithMaxAttempts(leaseCtx, maxAttempts))
		err = safeRun(runCtx, h, t, log)
		stopRenew()
		t.ReadAt = mark.At()
		lost := context.Cause(leaseCtx)
		cancel(nil)
		if errors.Is(lost, ErrLeaseLost) {
			// Another worker owns the task now (or will once the lease
			// ends): Complete and Fail would be refused, and this run's
			// result is not the task's.
			log.Warn("task run abandoned: lease lost", slog.Any("cause", lost), slog.Any("error", err))
			return
		}
	}
	now, took := d.now(), time.Since(start)
	if err != nil && ctx.Err() != nil {
		// Stop cancelled the run: the task did not fail, so it does not
		// lose an attempt, and the next start (or another instance) runs
		// it at once.
		if rerr := d.q.Release(context.WithoutCancel(ctx), t, now); rerr != nil {
			log.Warn("release task", slog.Any("error", rerr))
		} else {
			log.Info("task released at shutdown", slog.Any("error", err))
		}
		return
	}
	rerun := d.cfg.RerunDelay
	if kp, ok := d.cfg.Kinds[t.Kind]; ok && kp.RerunDelay > 0 {
		rerun = kp.RerunDelay
	}
	if err == nil {
		if cerr := d.q.Complete(context.WithoutCancel(ctx), t, now, now.Add(rerun)); cerr != nil {
			log.Warn("complete task", slog.Any("error", cerr))
		}
		d.observe(t, "done", took)
		return
	}
	if de, ok := errors.AsType[*pass.DeferError](err); ok {
		if derr := d.q.Defer(context.WithoutCancel(ctx), t, ceilMillisecond(de.At), now.Add(rerun), now); derr != nil {
			log.Warn("defer task", slog.Any("error", derr))
		} else {
			log.Info("task deferred", slog.Time("until", de.At), slog.String("why", de.Why))
		}
		d.observe(t, "deferred", took)
		return
	}
	dead := pass.KindOf(err) == pass.KindInvalid || t.Attempts >= maxAttempts
	retryAt := now.Add(Backoff(t.Attempts, d.cfg.BaseBackoff, maxBackoff))
	var ra *pass.RetryAfterError
	if errors.As(err, &ra) && now.Add(ra.After).After(retryAt) {
		retryAt = now.Add(ra.After)
	}
	retryAt = ceilMillisecond(retryAt)
	if ferr := d.q.Fail(context.WithoutCancel(ctx), t, err.Error(), retryAt, dead, now); ferr != nil {
		log.Warn("record task failure", slog.Any("error", ferr))
	}
	if dead {
		log.Error("task dead", slog.Any("error", err))
		d.observe(t, "dead", took)
	} else {
		log.Warn("task failed, will retry", slog.Any("error", err), slog.Time("retryAt", retryAt))
		d.observe(t, "retry", took)
	}
}

func (d *Dispatcher) observe(t pass.Task, result string, took time.Duration) {
	if d.cfg.OnAttempt != nil {
		d.cfg.OnAttempt(t.Tenant, t.Kind, result, took)
	}
}

// renewLease extends t's lease every Lease/3 until the returned function
// is called. When the lease is lost it calls lost with ErrLeaseLost, which
// cancels the run: when the store refuses a renewal as a conflict (another
// worker claimed the task), or when the lease ends before a renewal
// succeeds (another worker may claim the task from then on).
func (d *Dispatcher) renewLease(ctx context.Context, t pass.Task, lost context.CancelCauseFunc, log *slog.Logger) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		until := t.LeaseUntil // as claimed
		if until.IsZero() {
			until = d.now().Add(d.cfg.Lease)
		}
		expiry := time.NewTimer(until.Sub(d.now()))
		defer expiry.Stop()
		tick := time.NewTicker(d.cfg.Lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-expiry.C:
				lost(fmt.Errorf("%w: not renewed before it ended at %s", ErrLeaseLost, until.Format(time.RFC3339Nano)))
				return
			case <-tick.C:
				next := d.now().Add(d.cfg.Lease)
				// A renewal that hangs (the database cut off) must not
				// keep the expiry from being heard: it gives up when the
				// lease ends.
				ectx, cancel := context.WithDeadline(ctx, until)
				err := d.q.Extend(ectx, t, next)
				cancel()
				switch {
				case err == nil:
					until = next
					expiry.Reset(until.Sub(d.now()))
				case pass.KindOf(err) == pass.KindConflict:
					lost(fmt.Errorf("%w: %w", ErrLeaseLost, err))
					return
				case ctx.Err() == nil:
					log.Warn("renew lease", slog.Any("error", err), slog.Time("leaseUntil", until))
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// safeRun runs h, turning a panic into an error. The panic's stack goes to
// the log only: the error is stored as the task's last error, which
// operators list.
func safeRun(ctx context.Context, h Handler, t pass.Task, log *slog.Logger) (err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("task panicked", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return h(ctx, t)
}

// Backoff is exponential backoff with full jitter: a random delay in
// [0, min(maxDelay, base·2^(attempt-1))], at least 10 ms.
func Backoff(attempt int, base, maxDelay time.Duration) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	ceiling := maxDelay
	if attempt < 40 {
		if c := base << (attempt - 1); c > 0 && c < maxDelay {
			ceiling = c
		}
	}
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	if d < 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	return d
}

// reconcileCorrelationID is the correlation id of the tasks reconciliation
// enqueues.
const reconcileCorrelationID = "reconcile"

// reconcile enqueues a sync of every order whose passes changed within
// ReconcileWindow. It fails when it cannot list them, or when some of
// them could not be enqueued (each is logged).
func (d *Dispatcher) reconcile(ctx context.Context) error {
	now := d.now()
	refs, err := d.maint.RecentOrders(ctx, now.Add(-d.cfg.ReconcileWindow), 10000)
	if err != nil {
		return fmt.Errorf("reconcile: recent orders: %w", err)
	}
	failed, enqueued := 0, 0
	var last error
	for _, r := range refs {
		if _, err := d.maint.Enqueue(ctx, pass.TaskOf(r, reconcileCorrelationID), now); err != nil {
			d.log.Warn("reconcile enqueue", slog.String("tenant", r.Tenant), slog.Any("error", err))
			failed, last = failed+1, err
			continue
		}
		enqueued++
	}
	if enqueued > 0 {
		d.log.Info("reconcile", slog.Int("orders", enqueued))
		d.Wake()
	}
	if failed > 0 {
		return fmt.Errorf("reconcile: %d of %d orders not enqueued, the last: %w", failed, len(refs), last)
	}
	return nil
}

// retention purges what is older than RetentionAge.
func (d *Dispatcher) retention(ctx context.Context) error {
	n, err := d.maint.PurgeBefore(ctx, d.now().Add(-d.cfg.RetentionAge))
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	if n > 0 {
		d.log.Info("retention", slog.Int64("rows", n))
	}
	return nil
}

// ceilMillisecond rounds t up to the millisecond: the store keeps
// milliseconds, and a run must never come before the time asked for.
func ceilMillisecond(t time.Time) time.Time {
	if r := t.Truncate(time.Millisecond); r.Before(t) {
		return r.Add(time.Millisecond)
	}
	return t
}
