package pass

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// TaskPushPass is the kind of the task that tells a pass's devices it
// changed.
const TaskPushPass = "push-pass"

// PushOutcome is what a push service (APNs, FCM) said about one device or
// installation; the adapters return it as it is. The zero value is not an
// outcome: a send always sets one.
type PushOutcome int

// The push outcomes.
const (
	PushDelivered    PushOutcome = iota + 1
	PushUnregistered             // the device is gone: forget its registrations
	PushRetry                    // try again later (rate limit, server error, network)
	PushConfigError              // our credentials or topic are wrong: keep the registration, tell the operator, try again later
)

// PushResult is what the push service said of one push.
type PushResult struct {
	Outcome PushOutcome
	Reason  string // the push service's reason, when it gave one
	// GoneSince, for PushUnregistered, is when the push service last knew
	// the token valid (APNs' 410 timestamp); zero when it did not say. A
	// registration made after it is a new one and stays.
	GoneSince time.Time
	// RetryAfter, for PushRetry, is how long the push service asks us to
	// wait (a minute after a 429); zero for the queue's own back-off.
	RetryAfter time.Duration
}

// Pusher sends the empty pass-update push to one device of a tenant.
type Pusher interface {
	PushPass(ctx context.Context, tenant, deviceToken, passTypeID string) (PushResult, error)
}

// PushArgs names the pass a push-pass task is for.
type PushArgs struct {
	Tenant     string `json:"tenant"`
	PassTypeID string `json:"passTypeId"`
	Serial     string `json:"serial"`
}

// Kind implements TaskArgs.
func (PushArgs) Kind() string { return TaskPushPass }

// TaskTenant implements TaskArgs.
func (a PushArgs) TaskTenant() string { return a.Tenant }

// DedupKey implements TaskArgs: changes of one pass close together
// coalesce into one push per device.
func (a PushArgs) DedupKey() string { return "pass:" + a.PassTypeID + ":" + a.Serial }

// Validate implements TaskArgs.
func (a PushArgs) Validate() error {
	if a.Tenant == "" || a.Serial == "" || a.PassTypeID == "" {
		return Errorf(KindInvalid, "push-pass: tenant, pass type and serial are required")
	}
	return nil
}

// PushService pushes a pass's registered devices.
type PushService struct {
	Devices DeviceStore
	Pusher  Pusher
	Log     *slog.Logger
	// Journal, when set, records every push and its answer.
	Journal PushJournal

	reported sync.Map // tenant -> reason: configuration errors logged once
}

// PushPass sends one push to every device registered for the pass that
// has not had one for its current version. Gone devices are forgotten. If
// some device should be retried it records the devices reached and returns
// an error of kind KindUnavailable: the task queue retries, and the retry
// pushes only the devices not reached yet.
func (s *PushService) PushPass(ctx context.Context, r PushArgs) error {
	devices, tag, err := s.Devices.DevicesToPush(ctx, r.Tenant, r.PassTypeID, r.Serial)
	if err != nil {
		return err
	}
	retry := 0
	var wait time.Duration
	var errs []error
	var reached []string
	var recs []PushRecord
	defer func() { s.journal(ctx, recs) }()
	for _, d := range devices {
		res, err := s.Pusher.PushPass(ctx, r.Tenant, d.PushToken, r.PassTypeID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recs = append(recs, PushRecord{Tenant: r.Tenant, Serial: r.Serial, Device: d.LibraryID, At: time.Now(), Outcome: res.Outcome, Reason: res.Reason})
		if res.Outcome == PushDelivered {
			reached = append(reached, d.LibraryID)
		}
		again, after, err := s.settle(ctx, r.Tenant, d.PushToken, res)
		if err != nil {
			errs = append(errs, err)
		}
		if again {
			retry++
			wait = max(wait, after)
		}
	}
	if (len(errs) > 0 || retry > 0) && len(reached) > 0 {
		// Only a round that will be retried needs the record: a finished
		// round's task does not run again for this version.
		if err := s.Devices.MarkPushed(context.WithoutCancel(ctx), r.Tenant, r.PassTypeID, r.Serial, reached, tag); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if retry > 0 {
		return &RetryAfterError{After: max(wait, time.Second), Err: Errorf(KindUnavailable, "push: %d of %d devices to retry", retry, len(devices))}
	}
	return nil
}

// ConfigRetry is how long a push refused for our credentials or topic
// (the push service's RetryAfter for such a refusal) waits before it is
// tried again: long enough not to hammer APNs, short
// enough that a fixed configuration (or a provider token APNs found
// expired) reaches the devices; after the queue's attempts the task is
// dead, for the operator to retry once the configuration is fixed.
const ConfigRetry = time.Minute

// settle acts on what the push service said of a device other than a
// delivery: a gone device's registrations made before it went are
// forgotten, a configuration error is logged once per tenant and reason
// and, when the push service says a fixed configuration may change its
// answer (a RetryAfter), pushed again later like a retry; again reports
// that, and wait how long to wait at least.
func (s *PushService) settle(ctx context.Context, tenant, token string, res PushResult) (again bool, wait time.Duration, err error) {
	switch res.Outcome {
	case PushUnregistered:
		_, err = s.Devices.ForgetPushToken(ctx, tenant, token, res.GoneSince)
	case PushRetry:
		again, wait = true, res.RetryAfter
	case PushConfigError:
		if _, seen := s.reported.LoadOrStore(tenant+"\x00"+res.Reason, true); !seen && s.Log != nil {
			s.Log.ErrorContext(ctx, "APNs refuses our pushes: check the tenant's certificate or key and pass type",
				slog.String("tenant", tenant), slog.String("reason", res.Reason))
		}
		again, wait = res.RetryAfter > 0, res.RetryAfter // only what a fixed configuration may change
	}
	return again, wait, err
}

// journal records pushes, if there is a journal; a failure is logged.
func (s *PushService) journal(ctx context.Context, recs []PushRecord) {
	if s.Journal == nil || len(recs) == 0 {
		return
	}
	if err := s.Journal.LogPushes(context.WithoutCancel(ctx), recs); err != nil && s.Log != nil {
		s.Log.WarnContext(ctx, "push journal", slog.String("error", err.Error()))
	}
}

// Work runs a push-pass task (see workers.Worker).
func (s *PushService) Work(ctx context.Context, a PushArgs, _ string) error {
	return s.PushPass(ctx, a)
}

// String names the outcome: "delivered", "unregistered", "retry" or
// "config error".
func (o PushOutcome) String() string {
	switch o {
	case PushDelivered:
		return "delivered"
	case PushUnregistered:
		return "unregistered"
	case PushRetry:
		return "retry"
	case PushConfigError:
		return "config error"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// PendingPush is a registration whose device has not been pushed for its
// pass's current version.
type PendingPush struct {
	Device
	PassTypeID, Serial string
	Tag                int64 // the update tag of the pass's current version
}

// PerformancePushes finds and records the pushes an event-wide change owes.
type PerformancePushes interface {
	// PerformancePushes returns up to limit pending registrations of the
	// performance's passes (only those of serials, when given), ordered by
	// device library id then pass type, of the devices whose library id
	// sorts after after.
	PerformancePushes(ctx context.Context, tenant string, performanceID int64, serials []string, after string, limit int) ([]PendingPush, error)
	// MarkPushedMany records the registrations as pushed for their tags.
	MarkPushedMany(ctx context.Context, tenant string, done []PendingPush) error
}

// performancePushPage is how many registrations PushPerformance reads at
// a time; performancePushConcurrency how many pushes are in flight.
const (
	performancePushPage        = 500
	performancePushConcurrency = 16
)

// PushPerformance pushes every device holding a pass of the performance
// (of a.Serials, when given: a batch of an event-wide change) that changed
// since its last push: once per device and pass type (the device then asks
// for all its updated passes), however many of the performance's tickets
// it holds. Retries as PushPass.
func (s *PushService) PushPerformance(ctx context.Context, a PushPerformanceArgs) error {
	pp, ok := s.Devices.(PerformancePushes)
	if !ok {
		return Errorf(KindInvalid, "push-performance: the device store cannot list a performance's registrations")
	}
	after := ""
	var retry, total int
	var wait time.Duration
	var errs []error
	for {
		rows, err := pp.PerformancePushes(ctx, a.Tenant, a.PerformanceID, a.Serials, after, performancePushPage)
		if err != nil {
			return err
		}
		full := len(rows) == performancePushPage
		if full && rows[0].LibraryID != rows[len(rows)-1].LibraryID {
			// The last device may go on in the next page: read it whole there.
			last := rows[len(rows)-1].LibraryID
			for len(rows) > 0 && rows[len(rows)-1].LibraryID == last {
				rows = rows[:len(rows)-1]
			}
		}
		if len(rows) == 0 {
			break
		}
		// One push per device and pass type.
		type group struct {
			token, passType string
			rows            []PendingPush
		}
		var groups []*group
		for _, r := range rows {
			if n := len(groups); n > 0 && groups[n-1].token == r.PushToken && groups[n-1].passType == r.PassTypeID &&
				groups[n-1].rows[0].LibraryID == r.LibraryID {
				groups[n-1].rows = append(groups[n-1].rows, r)
				continue
			}
			groups = append(groups, &group{token: r.PushToken, passType: r.PassTypeID, rows: []PendingPush{r}})
		}
		results := make([]PushResult, len(groups))
		fails := make([]error, len(groups))
		var wg sync.WaitGroup
		sem := make(chan struct{}, performancePushConcurrency)
		for i, g := range groups {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				results[i], fails[i] = s.Pusher.PushPass(ctx, a.Tenant, g.token, g.passType)
			}()
		}
		wg.Wait()
		var done []PendingPush
		var recs []PushRecord
		now := time.Now()
		for i, g := range groups {
			total++
			if fails[i] != nil {
				errs = append(errs, fails[i])
				continue
			}
			for _, r := range g.rows {
				recs = append(recs, PushRecord{Tenant: a.Tenant, Serial: r.Serial, Device: r.LibraryID, At: now, Outcome: results[i].Outcome, Reason: results[i].Reason})
			}
			if results[i].Outcome == PushDelivered {
				done = append(done, g.rows...)
			}
			again, after, err := s.settle(ctx, a.Tenant, g.token, results[i])
			if err != nil {
				errs = append(errs, err)
			}
			if again {
				retry++
				wait = max(wait, after)
			}
		}
		s.journal(ctx, recs)
		if err := pp.MarkPushedMany(context.WithoutCancel(ctx), a.Tenant, done); err != nil {
			return err
		}
		after = rows[len(rows)-1].LibraryID
		if !full {
			break
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if retry > 0 {
		return &RetryAfterError{After: max(wait, time.Second), Err: Errorf(KindUnavailable, "push: %d of %d devices to retry", retry, total)}
	}
	return nil
}
