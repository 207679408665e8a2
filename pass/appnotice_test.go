package pass_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"walletpass/pass"
)

// scriptedNotifier answers each token as told (with its reason, if it
// has one) and records what it sent.
type scriptedNotifier struct {
	mu      sync.Mutex
	answers map[string]func() (pass.PushOutcome, error)
	reasons map[string]string
	sent    map[string]int
}

func (n *scriptedNotifier) NotifyApp(_ context.Context, _, token string, _ pass.AppNotice) (pass.PushOutcome, string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent[token]++
	if f, ok := n.answers[token]; ok {
		out, err := f()
		return out, n.reasons[token], err
	}
	return pass.PushDelivered, "", nil
}

// A notice some installation must retry waits at least as long as the
// longest Retry-After FCM gave; the installations reached are not sent
// "ready" again.
func TestNotifyHonoursRetryAfter(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	for _, tok := range []string{"tok-ok", "tok-quota", "tok-busy"} {
		if _, err := b.db.RegisterInstallation(ctx, pass.AppInstallation{Tenant: "demo", SecretToken: "S3CRET", FCMToken: tok, Platform: "android", Locale: "en"}); err != nil {
			t.Fatal(err)
		}
	}
	retryIn := func(d time.Duration) func() (pass.PushOutcome, error) {
		return func() (pass.PushOutcome, error) {
			return pass.PushRetry, &pass.RetryAfterError{After: d, Err: pass.Errorf(pass.KindUnavailable, "over quota")}
		}
	}
	n := &scriptedNotifier{sent: map[string]int{}, answers: map[string]func() (pass.PushOutcome, error){
		"tok-quota": retryIn(90 * time.Second),
		"tok-busy":  retryIn(20 * time.Second),
	}}
	svc := &pass.AppNoticeService{Store: b.db, Notifier: n}
	ref := pass.AppNoticeArgs{Tenant: "demo", SecretToken: "S3CRET", Event: pass.NoticeReady}

	err := svc.Notify(ctx, ref)
	var ra *pass.RetryAfterError
	if !errors.As(err, &ra) || ra.After != 90*time.Second || pass.KindOf(err) != pass.KindUnavailable {
		t.Fatalf("Notify = %v; want an Unavailable error that waits 90 s (the longest Retry-After)", err)
	}
	// Without a Retry-After the wait is one second.
	n.answers = map[string]func() (pass.PushOutcome, error){"tok-quota": func() (pass.PushOutcome, error) { return pass.PushRetry, nil }}
	err = svc.Notify(ctx, ref)
	if !errors.As(err, &ra) || ra.After != time.Second {
		t.Fatalf("Notify = %v; want a retry in 1 s", err)
	}
	n.answers = nil
	if err := svc.Notify(ctx, ref); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"tok-ok": 1, "tok-busy": 2, "tok-quota": 3}
	for tok, c := range want {
		if n.sent[tok] != c {
			t.Errorf("%s was sent %d notices, want %d (%v)", tok, n.sent[tok], c, n.sent)
		}
	}
}

// TestNotifyRefusedAndMisconfigured: a notice FCM refuses as invalid is
// not retried (the task ends with the refusal, after the others were
// sent), one refused for the tenant's configuration is retried after
// ConfigRetry rather than dropped, and a long event name is cut to fit.
func TestNotifyRefusedAndMisconfigured(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	for _, tok := range []string{"tok-ok", "tok-bad"} {
		if _, err := b.db.RegisterInstallation(ctx, pass.AppInstallation{Tenant: "demo", SecretToken: "S3CRET", FCMToken: tok, Platform: "android", Locale: "en"}); err != nil {
			t.Fatal(err)
		}
	}
	var bodies []string
	n := &scriptedNotifier{sent: map[string]int{}, answers: map[string]func() (pass.PushOutcome, error){
		"tok-bad": func() (pass.PushOutcome, error) {
			return pass.PushRetry, pass.Errorf(pass.KindInvalid, "FCM refused the message")
		},
	}}
	svc := &pass.AppNoticeService{Store: b.db, Notifier: &bodyRecorder{next: n, bodies: &bodies}}
	ref := pass.AppNoticeArgs{Tenant: "demo", SecretToken: "S3CRET", Event: pass.NoticeChanged, EventName: strings.Repeat("é", 5000)}
	err := svc.Notify(ctx, ref)
	var ra *pass.RetryAfterError
	if pass.KindOf(err) != pass.KindInvalid || errors.As(err, &ra) || n.sent["tok-ok"] != 1 {
		t.Errorf("a refused message: %v (kind %v), %v sent; want the refusal, no retry, the other installation reached", err, pass.KindOf(err), n.sent)
	}
	for _, body := range bodies {
		if utf8.RuneCountInString(body) > 400 {
			t.Errorf("a notice body of %d characters", utf8.RuneCountInString(body))
		}
	}
	n.answers["tok-bad"] = func() (pass.PushOutcome, error) { return pass.PushConfigError, nil }
	if err := svc.Notify(ctx, ref); !errors.As(err, &ra) || ra.After != pass.ConfigRetry {
		t.Errorf("refused for the configuration: %v; want a retry after %s", err, pass.ConfigRetry)
	}
}

// bodyRecorder records the body of every notice before passing it on.
type bodyRecorder struct {
	next   pass.AppNotifier
	bodies *[]string
}

func (r *bodyRecorder) NotifyApp(ctx context.Context, tenant, token string, n pass.AppNotice) (pass.PushOutcome, string, error) {
	*r.bodies = append(*r.bodies, n.Body)
	return r.next.NotifyApp(ctx, tenant, token, n)
}

// TestNotifyRetrySkipsTheReached: a "changed" notice retried for one
// installation is not sent again to those that had it; the next change
// (another id) reaches every installation again.
func TestNotifyRetrySkipsTheReached(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	for _, tok := range []string{"tok-ok", "tok-busy"} {
		if _, err := b.db.RegisterInstallation(ctx, pass.AppInstallation{Tenant: "demo", SecretToken: "S3CRET", FCMToken: tok, Platform: "android", Locale: "en"}); err != nil {
			t.Fatal(err)
		}
	}
	n := &scriptedNotifier{sent: map[string]int{}, answers: map[string]func() (pass.PushOutcome, error){
		"tok-busy": func() (pass.PushOutcome, error) { return pass.PushRetry, nil },
	}}
	svc := &pass.AppNoticeService{Store: b.db, Notifier: n}
	ref := pass.AppNoticeArgs{Tenant: "demo", SecretToken: "S3CRET", Event: pass.NoticeChanged, ID: "serial.2"}
	if err := svc.Notify(ctx, ref); err == nil {
		t.Fatal("the busy installation is not retried")
	}
	n.answers = nil
	if err := svc.Notify(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if n.sent["tok-ok"] != 1 || n.sent["tok-busy"] != 2 {
		t.Errorf("after the retry: %v; want tok-ok once, tok-busy twice", n.sent)
	}
	ref.ID = "serial.3"
	if err := svc.Notify(ctx, ref); err != nil || n.sent["tok-ok"] != 2 || n.sent["tok-busy"] != 3 {
		t.Errorf("the next change: %v, %v; want it sent to both", err, n.sent)
	}
}

// TestNotifyForgetsAnotherAppsToken: a token FCM refuses as another
// sender's (an installation of another app) while the tenant's notices
// reach its other installations is forgotten, not retried and not logged
// as the tenant's configuration; with no delivery of the tenant's to go
// by, or for another refusal of the configuration, the notice is retried.
func TestNotifyForgetsAnotherAppsToken(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	register := func(order string, toks ...string) {
		t.Helper()
		for _, tok := range toks {
			if _, err := b.db.RegisterInstallation(ctx, pass.AppInstallation{Tenant: "demo", SecretToken: order, FCMToken: tok, Platform: "android", Locale: "en"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tokens := func(order string) []string {
		t.Helper()
		ins, err := b.db.Installations(ctx, "demo", order)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, i := range ins {
			out = append(out, i.FCMToken)
		}
		slices.Sort(out)
		return out
	}
	mismatch := func() (pass.PushOutcome, error) { return pass.PushConfigError, nil }
	n := &scriptedNotifier{sent: map[string]int{},
		answers: map[string]func() (pass.PushOutcome, error){"tok-other": mismatch, "tok-other2": mismatch, "tok-apns": mismatch},
		reasons: map[string]string{"tok-other": pass.ReasonSenderMismatch, "tok-other2": pass.ReasonSenderMismatch, "tok-apns": "THIRD_PARTY_AUTH_ERROR"}}
	var logs bytes.Buffer
	newService := func() *pass.AppNoticeService {
		return &pass.AppNoticeService{Store: b.db, Notifier: n, Clock: func() time.Time { return now },
			Log: slog.New(slog.NewTextHandler(&logs, nil))}
	}
	const configWarning = "refused for the configuration"

	// Another app's token beside one of the tenant's: forgotten (in every
	// order of the tenant), the notice done.
	register("S3CRET", "tok-ok", "tok-other")
	register("ORDER2", "tok-other")
	svc := newService()
	if err := svc.Notify(ctx, pass.AppNoticeArgs{Tenant: "demo", SecretToken: "S3CRET", Event: pass.NoticeChanged, ID: "serial.2"}); err != nil {
		t.Errorf("a notice that reached the tenant's installation: %v; want it done", err)
	}
	if got := tokens("S3CRET"); !slices.Equal(got, []string{"tok-ok"}) {
		t.Errorf("installations left: %v; want tok-ok alone", got)
	}
	if got := tokens("ORDER2"); len(got) != 0 {
		t.Errorf("the other app's token in another order: %v; want it forgotten", got)
	}
	if strings.Contains(logs.String(), configWarning) {
		t.Errorf("another app's token logged as the tenant's configuration: %s", logs.String())
	}

	// "Ready" for a new installation, when the order's others had it
	// already: the tenant's delivery a moment ago is the proof.
	if err := svc.Notify(ctx, pass.AppNoticeArgs{Tenant: "demo", SecretToken: "S3CRET", Event: pass.NoticeReady}); err != nil {
		t.Fatal(err)
	}
	register("S3CRET", "tok-other2")
	now = now.Add(pass.SenderProof / 2)
	if err := svc.Notify(ctx, pass.AppNoticeArgs{Tenant: "demo", SecretToken: "S3CRET", Event: pass.NoticeReady}); err != nil || n.sent["tok-ok"] != 2 {
		t.Errorf("ready for another app's token: %v, tok-ok sent %d; want it done, tok-ok not sent again", err, n.sent["tok-ok"])
	}
	if got := tokens("S3CRET"); !slices.Equal(got, []string{"tok-ok"}) {
		t.Errorf("installations left: %v; want tok-ok alone", got)
	}

	// No delivery of the tenant's to go by (a new service, or the last
	// one too long ago): retried and logged, the token kept.
	var ra *pass.RetryAfterError
	for name, s := range map[string]*pass.AppNoticeService{"new": newService(), "stale": svc} {
		now = now.Add(pass.SenderProof)
		logs.Reset()
		register("ORDER3", "tok-other")
		if err := s.Notify(ctx, pass.AppNoticeArgs{Tenant: "demo", SecretToken: "ORDER3", Event: pass.NoticeCancelled}); !errors.As(err, &ra) || ra.After != pass.ConfigRetry {
			t.Errorf("%s: a sender mismatch alone: %v; want a retry after %s", name, err, pass.ConfigRetry)
		}
		if got := tokens("ORDER3"); !slices.Equal(got, []string{"tok-other"}) || !strings.Contains(logs.String(), configWarning) {
			t.Errorf("%s: a sender mismatch alone: installations %v, logs %q; want the token kept, a warning", name, got, logs.String())
		}
	}
	// Another refusal of the configuration, beside a delivery: retried.
	register("S3CRET", "tok-apns")
	if err := svc.Notify(ctx, pass.AppNoticeArgs{Tenant: "demo", SecretToken: "S3CRET", Event: pass.NoticeChanged, ID: "serial.3"}); !errors.As(err, &ra) || ra.After != pass.ConfigRetry {
		t.Errorf("another refusal of the configuration: %v; want a retry after %s", err, pass.ConfigRetry)
	}
	if got := tokens("S3CRET"); !slices.Equal(got, []string{"tok-apns", "tok-ok"}) {
		t.Errorf("installations left: %v; want tok-apns kept", got)
	}
}

// TestReadyNoticeRidesWithItsInstallation: a new installation's "tickets
// ready" notice is queued in the installation's own write, so that a
// failed write stores neither (and the app's next try is new again)
// rather than an installation never told; a tenant without app notices
// queues none.
func TestReadyNoticeRidesWithItsInstallation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	inst := pass.AppInstallation{Tenant: "demo", SecretToken: "S3CRET", FCMToken: "tok-1", Platform: "ios", Locale: "fr"}
	failing := &failingInstallations{InstallationStore: b.db}
	svc := &pass.AppNoticeService{Store: failing, Policies: pass.Policies{"demo": {AppNotices: true}}, Clock: time.Now}
	if created, err := svc.Register(ctx, inst, 7, "Concert", "corr"); err == nil || created {
		t.Fatalf("a failed write: created %v, %v", created, err)
	}
	if len(failing.follow) != 1 || failing.follow[0].Kind != pass.TaskAppNotice || !strings.Contains(string(failing.follow[0].Payload), `"ready"`) {
		t.Errorf("the write was given %+v; want the ready notice with the installation", failing.follow)
	}
	svc.Store = b.db
	if created, err := svc.Register(ctx, inst, 7, "Concert", "corr"); err != nil || !created {
		t.Fatalf("the app's next try: created %v, %v", created, err)
	}
	if n, err := b.db.CountTasks(ctx, "demo", pass.TaskAppNotice, pass.TaskPending); err != nil || n != 1 {
		t.Errorf("pending app notices: %d, %v; want the ready notice", n, err)
	}
	svc.Policies = nil
	inst.FCMToken = "tok-2"
	failing.follow = nil
	svc.Store = failing
	if _, err := svc.Register(ctx, inst, 7, "Concert", "corr"); err == nil || len(failing.follow) != 0 {
		t.Errorf("a tenant without app notices: %+v queued", failing.follow)
	}
}

// failingInstallations is an InstallationStore whose registrations fail,
// after noting the tasks they were to queue.
type failingInstallations struct {
	pass.InstallationStore
	follow []pass.NewTask
}

func (f *failingInstallations) RegisterInstallation(_ context.Context, _ pass.AppInstallation, follow ...pass.NewTask) (bool, error) {
	f.follow = append(f.follow, follow...)
	return false, errors.New("the database went away")
}
