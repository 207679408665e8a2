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
	PushConfigError              // our credentials or topic are wrong: keep the registration, tell the operator
)

// Pusher sends the empty pass-update push to one device of a tenant.
type Pusher interface {
	PushPass(ctx context.Context, tenant, deviceToken, passTypeID string) (PushOutcome, string, error)
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
	var errs []error
	var reached []string
	for _, d := range devices {
		outcome, reason, err := s.Pusher.PushPass(ctx, r.Tenant, d.PushToken, r.PassTypeID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if outcome == PushDelivered {
			reached = append(reached, d.LibraryID)
		}
		switch outcome {
		case PushUnregistered:
			if _, err := s.Devices.ForgetPushToken(ctx, r.Tenant, d.PushToken); err != nil {
				errs = append(errs, err)
			}
		case PushRetry:
			retry++
		case PushConfigError:
			if _, seen := s.reported.LoadOrStore(r.Tenant+"\x00"+reason, true); !seen && s.Log != nil {
				s.Log.ErrorContext(ctx, "APNs refuses our pushes: check the tenant's certificate or key and pass type",
					slog.String("tenant", r.Tenant), slog.String("reason", reason))
			}
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
		return &RetryAfterError{After: time.Second, Err: Errorf(KindUnavailable, "push: %d of %d devices to retry", retry, len(devices))}
	}
	return nil
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
