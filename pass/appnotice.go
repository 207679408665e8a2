package pass

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// TaskAppNotice is the kind of the task that sends an app notice: it tells
// the organiser's app about an order's tickets.
const TaskAppNotice = "app-notice"

// The app notices (the events the organiser's app hears of).
const (
	NoticeReady     = "ready"     // the order's tickets exist: once per order and device
	NoticeChanged   = "changed"   // a ticket changed (seat, time, holder, barcode)
	NoticeCancelled = "cancelled" // a ticket was cancelled or refunded
	// NoticeTransferred: a ticket of the order went to someone else; the
	// order's app hears that much and nothing of the new holder.
	NoticeTransferred = "transferred"
)

// AppInstallation is an installation of the organiser's app (an FCM
// registration token) registered for an order's app notices.
type AppInstallation struct {
	Tenant      string
	SecretToken string
	FCMToken    string
	Platform    string // ios, android or web
	Locale      string
	CreatedAt   time.Time
}

// MaxInstallationsPerOrder bounds the app installations registered for
// one order (its tenant and secret token). An honest order's are its
// holders' phones and tablets, a family's at most a dozen, and the tokens
// of reinstalls not yet forgotten (FCM says a token is gone at the next
// notice): three times MaxDevicesPerPass leaves them room. It stops whoever
// holds the order's secret from registering tokens without end, from
// as many client addresses as it likes: each one is an FCM call in every
// later notice of the order.
const MaxInstallationsPerOrder = 30

// InstallationStore keeps the app installations and the notices they had.
type InstallationStore interface {
	// RegisterInstallation records i; created is false when it was there
	// (then its platform and locale are updated, even when the order has
	// MaxInstallationsPerOrder). A new installation of an order that has
	// MaxInstallationsPerOrder already is refused with an error of kind
	// KindConflict, in the insert's transaction: registrations at once
	// from several instances never go past it. The follow tasks are
	// queued in the same transaction when the installation is new.
	RegisterInstallation(ctx context.Context, i AppInstallation, follow ...NewTask) (created bool, err error)
	// UnregisterInstallation removes a registration; removing one that
	// does not exist is not an error.
	UnregisterInstallation(ctx context.Context, tenant, secretToken, fcmToken string) error
	// Installations returns the installations registered for an order.
	Installations(ctx context.Context, tenant, secretToken string) ([]AppInstallation, error)
	// ForgetFCMToken removes every registration of a token FCM said is gone.
	ForgetFCMToken(ctx context.Context, tenant, fcmToken string) (int64, error)
	// NoticeSent reports whether the installation had the order's notice.
	NoticeSent(ctx context.Context, tenant, secretToken, event, fcmToken string) (bool, error)
	// MarkNoticeSent records that the installation had the order's notice.
	MarkNoticeSent(ctx context.Context, tenant, secretToken, event, fcmToken string, at time.Time) error
}

// AppNoticeArgs names an order's app notice to send: the arguments of an
// app-notice task.
type AppNoticeArgs struct {
	Tenant      string `json:"tenant"`
	SecretToken string `json:"secretToken"`
	FileID      int64  `json:"fileId,omitempty"`
	Event       string `json:"event"`
	EventName   string `json:"eventName,omitempty"` // what the tickets are for, for the message
	// ID tells this notice from another of its kind for the order (the
	// pass version that called for it): a retried notice skips the
	// installations that had it. "Ready" needs none: it is sent once.
	ID string `json:"id,omitempty"`
}

// Kind implements TaskArgs.
func (AppNoticeArgs) Kind() string { return TaskAppNotice }

// TaskTenant implements TaskArgs.
func (a AppNoticeArgs) TaskTenant() string { return a.Tenant }

// DedupKey implements TaskArgs: notices of one kind for one order close
// together coalesce.
func (a AppNoticeArgs) DedupKey() string { return "notice:" + a.SecretToken + ":" + a.Event }

// Validate implements TaskArgs.
func (a AppNoticeArgs) Validate() error {
	switch {
	case a.Tenant == "" || a.SecretToken == "":
		return Errorf(KindInvalid, "app-notice: tenant and order are required")
	case a.Event != NoticeReady && a.Event != NoticeChanged && a.Event != NoticeCancelled && a.Event != NoticeTransferred:
		return Errorf(KindInvalid, "app-notice: unknown notice %q", a.Event)
	}
	return nil
}

// AppNotice is a notification for the organiser's app.
type AppNotice struct {
	Title, Body string
	Data        map[string]string
}

// AppNotifier sends a notification to one app installation. With outcome
// PushRetry, an error that is a *RetryAfterError says how long to wait.
type AppNotifier interface {
	NotifyApp(ctx context.Context, tenant, fcmToken string, n AppNotice) (PushOutcome, string, error)
}

// AppNoticeService sends app notices to the organiser's app.
type AppNoticeService struct {
	Store    InstallationStore
	Notifier AppNotifier
	// PageURL returns the order page's address, sent along as data.
	PageURL  func(tenant, secretToken string) string
	Policies Policies
	Clock    Clock
	// Log hears of notices refused for the tenant's configuration.
	Log *slog.Logger

	reached sync.Map // tenant -> time.Time: when a notice of its last reached an installation
}

// SenderProof is how long a notice delivered to one of a tenant's
// installations proves its Firebase project right: a sender mismatch of
// another installation within it is that installation's (see Notify).
const SenderProof = time.Hour

// Register records an installation of the organiser's app for the order's
// app notices and, when it is new, queues "tickets ready" for it (sent
// once per installation) when the tenant has app notices. fileID and eventName describe the order for the
// message. created is false when the installation was registered already.
func (s *AppNoticeService) Register(ctx context.Context, i AppInstallation, fileID int64, eventName, correlationID string) (created bool, err error) {
	i.CreatedAt = s.Clock.Now()
	var follow []NewTask
	if s.Policies.For(i.Tenant).AppNotices {
		// In the installation's transaction: a registration stored
		// without its notice would never get one (registered again, it is
		// not new).
		a := AppNoticeArgs{Tenant: i.Tenant, SecretToken: i.SecretToken, FileID: fileID, Event: NoticeReady, EventName: eventName}
		follow = append(follow, TaskOf(a, correlationID))
	}
	return s.Store.RegisterInstallation(ctx, i, follow...)
}

// ReasonSenderMismatch is the reason an AppNotifier gives, with
// PushConfigError, for a token the tenant's Firebase project may not send
// to (FCM's SENDER_ID_MISMATCH): the tenant's project is the wrong one, or
// the token is an installation of another app.
const ReasonSenderMismatch = "SENDER_ID_MISMATCH"

// Notify sends the notice r names to every app installation registered
// for the order, in the installation's language. "Ready" reaches each
// installation once. Gone tokens are forgotten; when some installation
// should be retried it returns an error of kind KindUnavailable (the task
// queue retries, no sooner than the longest Retry-After the notifier
// passed on as a *RetryAfterError; a retried "ready" skips the
// installations reached).
//
// A refusal for the tenant's configuration is retried after ConfigRetry
// and logged, but for a sender mismatch (ReasonSenderMismatch) when this
// service had a notice of the tenant delivered, in this round or within
// SenderProof: the tenant's project is the right one, so the token is an
// installation of another app, which this tenant can never reach. It is
// forgotten as a gone one is, and the notice is not retried for it.
func (s *AppNoticeService) Notify(ctx context.Context, r AppNoticeArgs) error {
	devices, err := s.Store.Installations(ctx, r.Tenant, r.SecretToken)
	if err != nil {
		return err
	}
	retry := 0
	var refused []error     // messages FCM refuses: retrying cannot help
	var mismatched []string // tokens of a sender mismatch, judged once every installation was tried
	after := time.Second    // the wait before a retry: FCM's Retry-After if longer
	// What records a delivery: "ready" once per installation, another
	// notice by its id (one without an id is not recorded).
	key := r.Event
	if r.Event != NoticeReady && r.ID != "" {
		key += ":" + r.ID
	}
	recorded := r.Event == NoticeReady || r.ID != ""
	for _, d := range devices {
		if recorded {
			sent, err := s.Store.NoticeSent(ctx, r.Tenant, r.SecretToken, key, d.FCMToken)
			if err != nil {
				return err
			}
			if sent {
				continue
			}
		}
		n := noticeText(r, d.Locale)
		if s.PageURL != nil {
			n.Data["orderPage"] = s.PageURL(r.Tenant, r.SecretToken)
		}
		outcome, reason, err := s.Notifier.NotifyApp(ctx, r.Tenant, d.FCMToken, n)
		if KindOf(err) == KindInvalid {
			refused = append(refused, err)
			continue
		}
		if err != nil {
			var ra *RetryAfterError
			if errors.As(err, &ra) {
				after = max(after, ra.After)
			}
			retry++
			continue
		}
		switch outcome {
		case PushDelivered:
			s.reached.Store(r.Tenant, s.Clock.Now())
			if recorded {
				if err := s.Store.MarkNoticeSent(ctx, r.Tenant, r.SecretToken, key, d.FCMToken, s.Clock.Now()); err != nil {
					return err
				}
			}
		case PushUnregistered:
			if _, err := s.Store.ForgetFCMToken(ctx, r.Tenant, d.FCMToken); err != nil {
				return err
			}
		case PushRetry:
			retry++
		case PushConfigError:
			if reason == ReasonSenderMismatch {
				mismatched = append(mismatched, d.FCMToken) // judged below
			} else {
				s.configRefused(ctx, r.Tenant, reason)
				retry++
				after = max(after, ConfigRetry)
			}
		}
	}
	for _, tok := range mismatched {
		if !s.senderProven(r.Tenant) {
			// Nothing of the tenant's reached: its project may be the
			// wrong one.
			s.configRefused(ctx, r.Tenant, ReasonSenderMismatch)
			retry++
			after = max(after, ConfigRetry)
			continue
		}
		if _, err := s.Store.ForgetFCMToken(ctx, r.Tenant, tok); err != nil {
			return err
		}
		if s.Log != nil {
			s.Log.InfoContext(ctx, "app installation of another app forgotten", slog.String("tenant", r.Tenant),
				slog.String("reason", ReasonSenderMismatch))
		}
	}
	if retry > 0 {
		return &RetryAfterError{After: after, Err: Errorf(KindUnavailable, "app notice: %d of %d installations to retry", retry, len(devices))}
	}
	return errors.Join(refused...)
}

// senderProven reports whether a notice of the tenant reached one of its
// installations within SenderProof.
func (s *AppNoticeService) senderProven(tenant string) bool {
	at, ok := s.reached.Load(tenant)
	return ok && s.Clock.Now().Sub(at.(time.Time)) < SenderProof
}

// configRefused logs a notice refused for the tenant's configuration:
// retried once it may be fixed, rather than lost without a word.
func (s *AppNoticeService) configRefused(ctx context.Context, tenant, reason string) {
	if s.Log != nil {
		s.Log.WarnContext(ctx, "app notice refused for the configuration", slog.String("tenant", tenant), slog.String("reason", reason))
	}
}

// Work runs an app-notice task (see workers.Worker).
func (s *AppNoticeService) Work(ctx context.Context, a AppNoticeArgs, _ string) error {
	return s.Notify(ctx, a)
}

// maxNoticeEvent is the longest event name (characters) a notice shows.
const maxNoticeEvent = 200

func noticeText(r AppNoticeArgs, locale string) AppNotice {
	w := WordsFor(locale).Notices[r.Event]
	event := r.EventName
	if event == "" {
		event = "—"
	}
	if rs := []rune(event); len(rs) > maxNoticeEvent {
		// FCM refuses a message of more than 4 KB: a long name is cut.
		event = string(rs[:maxNoticeEvent-1]) + "…"
	}
	data := map[string]string{"notice": r.Event}
	if r.FileID != 0 {
		data["fileId"] = strconv.FormatInt(r.FileID, 10)
	}
	return AppNotice{Title: w[0], Body: fmt.Sprintf(w[1], event), Data: data}
}
