package pass

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// TaskNotifyCustomer is the kind of the task that tells the organiser's app
// about an order's tickets.
const TaskNotifyCustomer = "notify-customer"

// The notices the organiser's app gets.
const (
	NoticeReady     = "ready"     // the order's tickets exist: once per order and device
	NoticeChanged   = "changed"   // a ticket changed (seat, time, holder, barcode)
	NoticeCancelled = "cancelled" // a ticket was cancelled or refunded
)

// CustomerDevice is an app installation registered for an order's notices.
type CustomerDevice struct {
	Tenant      string
	SecretToken string
	FCMToken    string
	Platform    string // ios, android or web
	Locale      string
	CreatedAt   time.Time
}

// CustomerStore keeps the app installations and the notices they had.
type CustomerStore interface {
	// RegisterCustomerDevice records d; created is false when it was there.
	RegisterCustomerDevice(ctx context.Context, d CustomerDevice) (created bool, err error)
	// UnregisterCustomerDevice removes a registration; removing one that
	// does not exist is not an error.
	UnregisterCustomerDevice(ctx context.Context, tenant, secretToken, fcmToken string) error
	// CustomerDevices returns the devices registered for an order.
	CustomerDevices(ctx context.Context, tenant, secretToken string) ([]CustomerDevice, error)
	// ForgetFCMToken removes every registration of a token FCM said is gone.
	ForgetFCMToken(ctx context.Context, tenant, fcmToken string) (int64, error)
	// NoticeSent reports whether the device had the order's notice.
	NoticeSent(ctx context.Context, tenant, secretToken, event, fcmToken string) (bool, error)
	// MarkNoticeSent records that the device had the order's notice.
	MarkNoticeSent(ctx context.Context, tenant, secretToken, event, fcmToken string, at time.Time) error
}

// NoticeRef names an order's notice to send.
type NoticeRef struct {
	Tenant      string `json:"tenant"`
	SecretToken string `json:"secretToken"`
	FileID      int64  `json:"fileId,omitempty"`
	Event       string `json:"event"`
	EventName   string `json:"eventName,omitempty"` // what the tickets are for, for the message
}

// NoticeTask is the task that sends r; notices of one kind for one order
// close together coalesce.
func NoticeTask(r NoticeRef, correlationID string) NewTask {
	payload, _ := json.Marshal(r) // strings and an int always marshal
	return NewTask{Tenant: r.Tenant, Kind: TaskNotifyCustomer, DedupKey: "notice:" + r.SecretToken + ":" + r.Event,
		Payload: payload, CorrelationID: correlationID, MinGap: SyncCoalesceWindow}
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

// CustomerService sends notices to the organiser's app.
type CustomerService struct {
	Store    CustomerStore
	Notifier AppNotifier
	// PageURL returns the order page's address, sent along as data.
	PageURL func(tenant, secretToken string) string
	Now     func() time.Time
}

// Notify sends the notice r names to every app installation registered
// for the order, in the installation's language. "Ready" reaches each
// installation once. Gone tokens are forgotten; when some installation
// should be retried it returns an error of kind KindUnavailable (the task
// queue retries, no sooner than the longest Retry-After the notifier
// passed on as a *RetryAfterError; a retried "ready" skips the
// installations reached).
func (s *CustomerService) Notify(ctx context.Context, r NoticeRef) error {
	devices, err := s.Store.CustomerDevices(ctx, r.Tenant, r.SecretToken)
	if err != nil {
		return err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	retry := 0
	after := time.Second // the wait before a retry: FCM's Retry-After if longer
	for _, d := range devices {
		if r.Event == NoticeReady {
			sent, err := s.Store.NoticeSent(ctx, r.Tenant, r.SecretToken, r.Event, d.FCMToken)
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
		outcome, _, err := s.Notifier.NotifyApp(ctx, r.Tenant, d.FCMToken, n)
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
			if r.Event == NoticeReady {
				if err := s.Store.MarkNoticeSent(ctx, r.Tenant, r.SecretToken, r.Event, d.FCMToken, now()); err != nil {
					return err
				}
			}
		case PushUnregistered:
			if _, err := s.Store.ForgetFCMToken(ctx, r.Tenant, d.FCMToken); err != nil {
				return err
			}
		case PushRetry:
			retry++
		}
	}
	if retry > 0 {
		return &RetryAfterError{After: after, Err: Errorf(KindUnavailable, "app notice: %d of %d installations to retry", retry, len(devices))}
	}
	return nil
}

var noticeWords = map[string]map[string][2]string{
	"en": {NoticeReady: {"Your tickets are ready", "Add them to your wallet: %s"},
		NoticeChanged: {"Your ticket changed", "See what is new: %s"}, NoticeCancelled: {"Ticket cancelled", "A ticket of your order was cancelled: %s"}},
	"fr": {NoticeReady: {"Vos billets sont prêts", "Ajoutez-les à votre wallet : %s"},
		NoticeChanged: {"Votre billet a changé", "Voyez ce qui est nouveau : %s"}, NoticeCancelled: {"Billet annulé", "Un billet de votre commande a été annulé : %s"}},
	"de": {NoticeReady: {"Ihre Tickets sind bereit", "Fügen Sie sie Ihrer Wallet hinzu: %s"},
		NoticeChanged: {"Ihr Ticket hat sich geändert", "Sehen Sie, was neu ist: %s"}, NoticeCancelled: {"Ticket storniert", "Ein Ticket Ihrer Bestellung wurde storniert: %s"}},
}

func noticeText(r NoticeRef, locale string) AppNotice {
	words, ok := noticeWords[Language(locale)]
	if !ok {
		words = noticeWords["en"]
	}
	w := words[r.Event]
	event := r.EventName
	if event == "" {
		event = "—"
	}
	data := map[string]string{"notice": r.Event}
	if r.FileID != 0 {
		data["fileId"] = strconv.FormatInt(r.FileID, 10)
	}
	return AppNotice{Title: w[0], Body: fmt.Sprintf(w[1], event), Data: data}
}
