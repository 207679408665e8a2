package secutix_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	fakesecutix "walletpass/fake/secutix"
	"walletpass/pass"
	"walletpass/secutix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	tenant   = "demo"
	operator = "CSANDBOX_WALLET"
	partner  = "walletpass"
	secret   = "s3cret-sandbox-credential"
)

// fixedNow is the sandbox clock: 14:00:45 in Zurich, 15 s before the next
// minute, so quota windows and demo dates are predictable.
var fixedNow = time.Date(2026, 5, 1, 12, 0, 45, 0, time.UTC)

type bundle struct {
	sb  *fakesecutix.Sandbox
	srv *httptest.Server
	cl  *secutix.Client
	cfg secutix.Config
}

// setup starts a sandbox behind httptest and a client for it. The edit
// functions adjust the two configs before use.
func setup(t *testing.T, editSandbox func(*fakesecutix.Config), editClient func(*secutix.Config)) *bundle {
	t.Helper()
	scfg := fakesecutix.Config{
		Tenant: tenant, Institution: "CSANDBOX", Operator: operator, Partner: partner, Secret: secret,
		QuotaPerMinute: 100000, Now: func() time.Time { return fixedNow },
		CatalogInterval: -1, // the clock stands still: let the catalogue be read again at once
	}
	if editSandbox != nil {
		editSandbox(&scfg)
	}
	sb, err := fakesecutix.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/sandbox/", sb.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); sb.Close() })
	b := &bundle{sb: sb, srv: srv}
	b.cfg = secutix.Config{
		Tenant: tenant, BaseURL: srv.URL + "/sandbox/secutix", Operator: operator, Partner: partner, Secret: secret,
		HTTPClient: srv.Client(), RequestsPerMinute: 100000, InProgressDelay: time.Millisecond,
		CatalogInterval: -1, SetupCheckInterval: -1,
		Clock: func() time.Time { return fixedNow }, // the sandbox's clock: forged JWTs are fresh for it
	}
	if editClient != nil {
		editClient(&b.cfg)
	}
	b.cl = b.client(t, b.cfg)
	return b
}

func (b *bundle) client(t *testing.T, cfg secutix.Config) *secutix.Client {
	t.Helper()
	cl, err := secutix.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func (b *bundle) create(t *testing.T, req fakesecutix.OrderRequest) fakesecutix.CreatedOrder {
	t.Helper()
	c, err := b.sb.CreateOrder(req)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantKind fails unless err has kind k.
func wantKind(t *testing.T, err error, k pass.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want kind %s", k)
	}
	if got := pass.KindOf(err); got != k {
		t.Fatalf("got kind %s (%v), want %s", got, err, k)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := secutix.New(secutix.Config{RequestsPerMinute: -1, InProgressDelay: -1, DefaultEventKind: "circus",
		SeasonTickets: map[string][]string{"ABO-NOTHING": nil, "ABO-BLANK": {""}}})
	wantKind(t, err, pass.KindInvalid)
	for _, want := range []string{"Tenant", "BaseURL", "Operator", "Partner", "Secret", "RequestsPerMinute", "InProgressDelay", "circus",
		`SeasonTickets: "ABO-NOTHING"`, `SeasonTickets: "ABO-BLANK"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to list %s", err, want)
		}
	}
	_, err = secutix.New(secutix.Config{Tenant: "t", BaseURL: "mosa.ws.secutix.com", Operator: "o", Partner: "p", Secret: "s"})
	if err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("got %v, want a BaseURL error", err)
	}
	if _, err := secutix.New(secutix.Config{Tenant: "t", BaseURL: "https://mosa.ws.secutix.com/", Operator: "MOSA_B2C", Partner: "p", Secret: "s"}); err != nil {
		t.Errorf("got %v for a valid config", err)
	}
	// jwt mode (the default) needs an institution: given, or named by the
	// operator login; token mode does not.
	_, err = secutix.New(secutix.Config{Tenant: "t", BaseURL: "https://mosa.ws.secutix.com", Operator: "o", Partner: "p", Secret: "s"})
	if err == nil || !strings.Contains(err.Error(), "Institution") {
		t.Errorf("got %v, want an Institution error", err)
	}
	for _, c := range []secutix.Config{
		{Tenant: "t", BaseURL: "https://mosa.ws.secutix.com", Operator: "o", Partner: "p", Secret: "s", Institution: "MOSA"},
		{Tenant: "t", BaseURL: "https://mosa.ws.secutix.com", Operator: "o", Partner: "p", Secret: "s", Auth: secutix.AuthToken},
	} {
		if _, err := secutix.New(c); err != nil {
			t.Errorf("got %v for %+v", err, c)
		}
	}
	if _, err := secutix.New(secutix.Config{Tenant: "t", BaseURL: "https://m.ws.secutix.com", Operator: "M_X", Partner: "p", Secret: "s", Auth: "basic"}); err == nil || !strings.Contains(err.Error(), "Auth") {
		t.Errorf("got %v, want an Auth error", err)
	}
	if got := secutix.InstitutionOf("cmosa_hello"); got != "CMOSA" {
		t.Errorf("InstitutionOf = %q", got)
	}
}

// tokenMode makes a client authenticate at /v1/auth.
func tokenMode(c *secutix.Config) { c.Auth = secutix.AuthToken }

func TestAuthIsCachedAndShared(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, tokenMode)
	c := b.create(t, fakesecutix.OrderRequest{})
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			if _, err := b.cl.OrderByFileID(ctx, tenant, c.FileID); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	for range 3 {
		if _, err := b.cl.OrderBySecret(ctx, tenant, c.OrderSecretToken); err != nil {
			t.Fatal(err)
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := b.sb.Calls("auth"); got != 1 {
		t.Errorf("got %d auth calls for 13 fetches, want 1", got)
	}
}

func TestReauthenticatesOnceOn401(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, tokenMode)
	c := b.create(t, fakesecutix.OrderRequest{})
	ctx := t.Context()
	if _, err := b.cl.OrderByFileID(ctx, tenant, c.FileID); err != nil {
		t.Fatal(err)
	}
	b.sb.ExpireTokens()
	if _, err := b.cl.OrderByFileID(ctx, tenant, c.FileID); err != nil {
		t.Fatalf("got %v after the token was revoked, want a re-authentication", err)
	}
	if a, f := b.sb.Calls("auth"), b.sb.Calls("getFileDetails"); a != 2 || f != 3 {
		t.Errorf("got %d auth and %d getFileDetails calls, want 2 and 3", a, f)
	}

	// A second 401 in a row is not retried again.
	b.sb.FailNext(http.StatusUnauthorized, 3)
	_, err := b.cl.OrderByFileID(ctx, tenant, c.FileID)
	wantKind(t, err, pass.KindUnauthorized)
	if f := b.sb.Calls("getFileDetails"); f != 4 {
		t.Errorf("got %d getFileDetails calls, want 4 (no retry loop)", f)
	}
}

// TestTokenExchangeElsewhere: secutix.authPath points the token exchange
// at another module's path, whose answer carries the token under data; a
// path that is not plain segments is refused.
func TestTokenExchangeElsewhere(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/tnco/backend-apis/v1/auth":
			w.Write([]byte(`{"data":{"token":"nested-token"}}`))
		case strings.HasSuffix(r.URL.Path, "/auth"):
			w.WriteHeader(http.StatusNotFound)
		default:
			w.Write([]byte(`{"statusCode":"success"}`))
		}
	}))
	t.Cleanup(srv.Close)
	cfg := secutix.Config{Tenant: tenant, BaseURL: srv.URL, Operator: operator, Partner: partner, Secret: secret,
		HTTPClient: srv.Client(), Auth: secutix.AuthToken, AuthPath: "/tnco/backend-apis/v1/auth"}
	cl, err := secutix.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.SetExternalReference(t.Context(), tenant, 10000702652, "WALLET", "APPLE"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "/tnco/backend-apis/v1/auth " || !strings.HasSuffix(seen[1], " Bearer nested-token") {
		t.Errorf("requests %q; want the exchange at the configured path, then the call with its token", seen)
	}
	for _, bad := range []string{"tnco/v1/auth", "/tnco/../auth", "/tnco/v1/auth?x=1", "/", "/tnco//auth", "/a b"} {
		cfg.AuthPath = bad
		if _, err := secutix.New(cfg); err == nil || !strings.Contains(err.Error(), "AuthPath") {
			t.Errorf("AuthPath %q: %v, want it refused", bad, err)
		}
	}
}

func TestBadCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, func(c *secutix.Config) { c.Secret = "wrong-secret-value"; c.Auth = secutix.AuthToken })
	_, err := b.cl.OrderByFileID(t.Context(), tenant, 1)
	wantKind(t, err, pass.KindUnauthorized)
	if !pass.IsUpstream(err) {
		t.Errorf("%v is not marked as SecuTix's refusal (pass.Upstream): a caller would hear 401", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-value") {
		t.Errorf("got %q, which shows the secret", err)
	}
	if got := b.sb.Calls("getFileDetails"); got != 0 {
		t.Errorf("got %d API calls without a token, want 0", got)
	}
}

// TestJWTMode: the default mode forges a fresh HS256 JWT for every request
// (no /v1/auth call), with the claims SecuTix documents; the sandbox
// refuses a JWT with a wrong secret, institution, operator, partner, a
// stale iat or a lifetime over 30 s, and the client tries once more, then
// reports KindUnauthorized without showing the JWT.
func TestJWTMode(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	c := b.create(t, fakesecutix.OrderRequest{})
	for range 3 {
		if _, err := b.cl.OrderByFileID(t.Context(), tenant, c.FileID); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.sb.Calls("auth"); got != 0 {
		t.Errorf("got %d /v1/auth calls in jwt mode, want 0", got)
	}
	tests := []struct {
		name string
		edit func(*secutix.Config)
	}{
		{"wrong secret", func(c *secutix.Config) { c.Secret = "wrong-secret-value" }},
		{"other institution", func(c *secutix.Config) { c.Institution = "MOSA" }},
		{"other operator", func(c *secutix.Config) { c.Operator = "CSANDBOX_OTHER" }},
		{"other partner", func(c *secutix.Config) { c.Partner = "someone" }},
		{"stale clock", func(c *secutix.Config) { c.Clock = func() time.Time { return fixedNow.Add(-time.Minute) } }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := b.cfg
			tt.edit(&cfg)
			before := b.sb.Calls("getFileDetails")
			_, err := b.client(t, cfg).OrderByFileID(t.Context(), tenant, c.FileID)
			wantKind(t, err, pass.KindUnauthorized)
			if !pass.IsUpstream(err) {
				t.Errorf("%v is not marked as SecuTix's refusal (pass.Upstream)", err)
			}
			if n := b.sb.Calls("getFileDetails") - before; n != 2 {
				t.Errorf("got %d calls, want 2 (one retry with a new JWT)", n)
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Errorf("the error shows the JWT: %v", err)
			}
		})
	}
}

func TestInProgress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		times     int
		wantErr   bool
		wantCalls int
	}{
		{"once then success", 1, false, 2},
		{"forever", 100, true, 4}, // 1 + InProgressRetries (3)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil, func(c *secutix.Config) { c.InProgressRetries = 3 })
			c := b.create(t, fakesecutix.OrderRequest{})
			b.sb.SetInProgress(tc.times)
			o, err := b.cl.OrderBySecret(t.Context(), tenant, c.OrderSecretToken)
			if tc.wantErr {
				wantKind(t, err, pass.KindUnavailable)
			} else if err != nil || o.FileID != c.FileID {
				t.Fatalf("got %v, %v; want file %d", o, err, c.FileID)
			}
			if got := b.sb.Calls("getFileDetailsFromOrderSecretId"); got != tc.wantCalls {
				t.Errorf("got %d calls, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestOverloadAndOutages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     fakesecutix.FaultRequest
		quota     int
		calls     int // calls made before the one that fails
		wantKind  pass.Kind
		wantAfter time.Duration // 0: not a RetryAfterError
	}{
		{name: "509 injected", fault: fakesecutix.FaultRequest{Status: ptr(509)}, wantKind: pass.KindUnavailable, wantAfter: 5 * time.Second},
		{name: "429 with Retry-After 9", fault: fakesecutix.FaultRequest{Status: ptr(429), RetryAfter: ptr(9)}, wantKind: pass.KindUnavailable, wantAfter: 9 * time.Second},
		// SecuTix's quota answer carries no Retry-After: the client backs
		// off by DefaultRetryAfter on its own.
		// (The first order also costs the catalogue service three calls:
		// the POS config, the setup stamp and the catalogue.)
		{name: "509 over quota", quota: 3, calls: 3, wantKind: pass.KindUnavailable, wantAfter: secutix.DefaultRetryAfter},
		{name: "503", fault: fakesecutix.FaultRequest{Status: ptr(503)}, wantKind: pass.KindUnavailable},
		{name: "500", fault: fakesecutix.FaultRequest{Status: ptr(500)}, wantKind: pass.KindUnavailable},
		{name: "400", fault: fakesecutix.FaultRequest{Status: ptr(400)}, wantKind: pass.KindUnavailable}, // SIMULATED_FAULT envelope
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *fakesecutix.Config) {
				if tc.quota > 0 {
					c.QuotaPerMinute = tc.quota
				}
			}, func(c *secutix.Config) { c.SetupCheckInterval = 0 })
			ctx := t.Context()
			c := b.create(t, fakesecutix.OrderRequest{})
			for range tc.calls {
				if _, err := b.cl.OrderByFileID(ctx, tenant, c.FileID); err != nil {
					t.Fatal(err)
				}
			}
			if tc.calls == 0 { // get a token first, so the fault hits getFileDetails
				if _, err := b.cl.OrderBySecret(ctx, tenant, c.OrderSecretToken); err != nil {
					t.Fatal(err)
				}
			}
			if tc.fault.Status != nil {
				if _, err := b.sb.SetFaults(tc.fault); err != nil {
					t.Fatal(err)
				}
			}
			_, err := b.cl.OrderByFileID(ctx, tenant, c.FileID)
			wantKind(t, err, tc.wantKind)
			var ra *pass.RetryAfterError
			switch {
			case tc.wantAfter == 0 && errors.As(err, &ra):
				t.Errorf("got a RetryAfterError (%v), want a plain error", err)
			case tc.wantAfter != 0 && !errors.As(err, &ra):
				t.Errorf("got %v, want a *pass.RetryAfterError", err)
			case tc.wantAfter != 0 && ra.After != tc.wantAfter:
				t.Errorf("got After %s, want %s", ra.After, tc.wantAfter)
			}
			if got := b.sb.Calls("getFileDetails"); got != tc.calls+1 {
				t.Errorf("got %d getFileDetails calls, want %d: the client must not retry", got, tc.calls+1)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	ctx := t.Context()
	const unknownSecret = "Zz9-unknown-secret-token"
	for name, call := range map[string]func() error{
		"secret": func() error { _, err := b.cl.OrderBySecret(ctx, tenant, unknownSecret); return err },
		"file":   func() error { _, err := b.cl.OrderByFileID(ctx, tenant, 12345); return err },
		"order":  func() error { _, err := b.cl.OrderByOrderID(ctx, tenant, 12345); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			wantKind(t, err, pass.KindNotFound)
			if !errors.Is(err, pass.ErrNotFound) {
				t.Errorf("got %v, want it to wrap pass.ErrNotFound", err)
			}
			if strings.Contains(err.Error(), unknownSecret) {
				t.Errorf("got %q, which shows the secret", err)
			}
		})
	}
}

func TestInvalidArguments(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	ctx := t.Context()
	_, err := b.cl.OrderByFileID(ctx, "other-tenant", 1)
	wantKind(t, err, pass.KindInvalid)
	_, err = b.cl.OrderByFileID(ctx, tenant, 0)
	wantKind(t, err, pass.KindInvalid)
	_, err = b.cl.OrderByOrderID(ctx, tenant, -1)
	wantKind(t, err, pass.KindInvalid)
	_, err = b.cl.OrderBySecret(ctx, tenant, " ")
	wantKind(t, err, pass.KindInvalid)
	if pass.IsUpstream(err) {
		t.Errorf("%v, a refusal of the caller's argument, is marked as SecuTix's", err)
	}
	if n := b.sb.Calls("auth"); n != 0 {
		t.Errorf("got %d calls for invalid arguments, want 0", n)
	}
}

func TestResponseTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, func(c *secutix.Config) { c.MaxResponseBytes = 2048 })
	c := b.create(t, fakesecutix.OrderRequest{Count: 10})
	_, err := b.cl.OrderByFileID(t.Context(), tenant, c.FileID)
	if !errors.Is(err, secutix.ErrResponseTooLarge) || !pass.IsUpstream(err) {
		t.Fatalf("got %v (upstream %v), want ErrResponseTooLarge, SecuTix's (an HTTP caller hears 502)", err, pass.IsUpstream(err))
	}
	if !strings.Contains(err.Error(), "2048") || !strings.Contains(err.Error(), "secutix.maxResponseMiB") {
		t.Errorf("got %q, want the limit and its setting in the message", err)
	}
	// The catalogue has a cap of its own, named in its refusal.
	small := setup(t, nil, func(c *secutix.Config) { c.CatalogMaxBytes = 64 })
	c = small.create(t, fakesecutix.OrderRequest{})
	_, err = small.cl.OrderByFileID(t.Context(), tenant, c.FileID)
	if !errors.Is(err, secutix.ErrResponseTooLarge) || !strings.Contains(err.Error(), "secutix.catalogMaxResponseMiB") {
		t.Errorf("a catalogue over its cap: %v", err)
	}
}

// TestQuotaHoldsCallsBack shows that with a limit of N per minute the
// (N+1)th call to a service waits for the window: with a deadline before
// the window frees it fails at once, without reaching SecuTix, and
// another method of the same service is held back too.
func TestQuotaHoldsCallsBack(t *testing.T) {
	t.Parallel()
	// (With a larger limit, calls are spaced once half the window is used:
	// quota_test.go checks that.)
	for _, rpm := range []int{1} {
		t.Run(fmt.Sprintf("%d per minute", rpm), func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil, func(c *secutix.Config) {
				// The first order also reads the POS config, the setup
				// stamp and the catalogue: let the catalogue service be.
				c.Quota = orderServiceOnly{secutix.NewLocalQuota(rpm, 61*time.Second, nil)}
				c.SetupCheckInterval = 0
			})
			c := b.create(t, fakesecutix.OrderRequest{})
			for i := range rpm {
				if _, err := b.cl.OrderByFileID(t.Context(), tenant, c.FileID); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			_, err := b.cl.OrderByFileID(ctx, tenant, c.FileID)
			wantKind(t, err, pass.KindUnavailable)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("got %v, want it to wrap context.DeadlineExceeded", err)
			}
			if ctx.Err() != nil {
				t.Error("the call waited for its deadline; want it to fail at once")
			}
			if got := b.sb.Calls("getFileDetails"); got != rpm {
				t.Errorf("got %d calls reaching SecuTix, want %d", got, rpm)
			}
			// The quota is per service, as SecuTix's: another method of
			// the order service waits too.
			if _, err := b.cl.OrderBySecret(ctx, tenant, c.OrderSecretToken); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("another method of the service: got %v, want it held back", err)
			}
		})
	}
}

// TestOverQuotaPausesTheService: after SecuTix's 509 the client sends
// nothing more to the service until the time it was told (or
// DefaultRetryAfter): a call with an earlier deadline fails at once
// without reaching SecuTix.
func TestOverQuotaPausesTheService(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	c := b.create(t, fakesecutix.OrderRequest{})
	if _, err := b.sb.SetFaults(fakesecutix.FaultRequest{Status: ptr(509), RetryAfter: ptr(60)}); err != nil {
		t.Fatal(err)
	}
	_, err := b.cl.OrderByFileID(t.Context(), tenant, c.FileID)
	var ra *pass.RetryAfterError
	if !errors.As(err, &ra) || ra.After != time.Minute {
		t.Fatalf("got %v, want a *pass.RetryAfterError of 1m", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err = b.cl.OrderBySecret(ctx, tenant, c.OrderSecretToken)
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		t.Errorf("got %v, want an at-once failure wrapping context.DeadlineExceeded", err)
	}
	if got := b.sb.Calls("getFileDetails") + b.sb.Calls("getFileDetailsFromOrderSecretId"); got != 1 {
		t.Errorf("got %d calls reaching SecuTix, want only the one answered 509", got)
	}
}

// recordingQuota is a Quota that lets every call go and records what it
// was asked.
type recordingQuota struct {
	mu     sync.Mutex
	takes  []string // key and priority
	pauses []string // key
	until  time.Time
}

func (q *recordingQuota) Take(_ context.Context, key string, prio pass.Priority) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.takes = append(q.takes, key+" "+prio.String())
	return nil
}

func (q *recordingQuota) Pause(_ context.Context, key string, until time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pauses = append(q.pauses, key)
	q.until = until
	return nil
}

// TestClientTakesFromItsQuota: every request takes from Config.Quota,
// keyed by institution and service, at the context's priority; a 509
// pauses the service's key.
func TestClientTakesFromItsQuota(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		sandbox   func(*fakesecutix.Config)
		client    func(*secutix.Config)
		wantTakes []string
	}{
		// The first order also reads the POS config, the setup stamp and
		// the catalogue (the catalogue service).
		{"jwt", nil, nil, []string{"CSANDBOX/externalOrderService buyer", "CSANDBOX/catalogService buyer",
			"CSANDBOX/catalogService buyer", "CSANDBOX/catalogService buyer", "CSANDBOX/externalOrderService buyer"}},
		{"token", nil, func(c *secutix.Config) { c.Auth = secutix.AuthToken },
			[]string{"CSANDBOX/externalOrderService buyer", "CSANDBOX/auth buyer", "CSANDBOX/catalogService buyer",
				"CSANDBOX/catalogService buyer", "CSANDBOX/catalogService buyer", "CSANDBOX/externalOrderService buyer"}},
		// An operator login that names no institution: the API root
		// stands for it.
		{"token without an institution", func(c *fakesecutix.Config) { c.Operator = "wallet" },
			func(c *secutix.Config) { c.Auth, c.Operator = secutix.AuthToken, "wallet" },
			[]string{"{base}/externalOrderService buyer", "{base}/auth buyer", "{base}/catalogService buyer",
				"{base}/catalogService buyer", "{base}/catalogService buyer", "{base}/externalOrderService buyer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := &recordingQuota{}
			b := setup(t, tc.sandbox, func(c *secutix.Config) {
				c.Quota = q
				if tc.client != nil {
					tc.client(c)
				}
			})
			c := b.create(t, fakesecutix.OrderRequest{})
			ctx := pass.WithPriority(t.Context(), pass.PriorityBuyer)
			if _, err := b.cl.OrderByFileID(ctx, tenant, c.FileID); err != nil {
				t.Fatal(err)
			}
			if _, err := b.sb.SetFaults(fakesecutix.FaultRequest{Status: ptr(509), RetryAfter: ptr(7)}); err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			if _, err := b.cl.OrderByFileID(ctx, tenant, c.FileID); err == nil {
				t.Fatal("got no error, want the 509")
			}
			want := make([]string, len(tc.wantTakes))
			for i, w := range tc.wantTakes {
				want[i] = strings.ReplaceAll(w, "{base}", b.cfg.BaseURL)
			}
			if diff := cmp.Diff(want, q.takes); diff != "" {
				t.Errorf("takes (-want +got):\n%s", diff)
			}
			wantPause := strings.Fields(want[0])[0]
			if len(q.pauses) != 1 || q.pauses[0] != wantPause {
				t.Errorf("got pauses %v, want [%s]", q.pauses, wantPause)
			}
			if q.until.Before(before.Add(7*time.Second)) || q.until.After(time.Now().Add(7*time.Second)) {
				t.Errorf("paused until %s, want 7 s after the answer", q.until)
			}
		})
	}
}

// TestOrderByOrderID: a sale order is read alone (one call); a refund
// order is read with its file, so the sale it cancels is seen (two).
func TestOrderByOrderID(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	c := b.create(t, fakesecutix.OrderRequest{})
	fetches := func() int {
		return b.sb.Calls("getOrderDetails") + b.sb.Calls("getFileDetails") + b.sb.Calls("getFileDetailsFromOrderSecretId")
	}
	o, err := b.cl.OrderByOrderID(t.Context(), tenant, c.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	if got := fetches(); got != 1 || o.FileID != c.FileID || len(o.Tickets) != 2 {
		t.Errorf("sale: %d fetches, order %+v; want 1 and the two tickets", got, o)
	}
	if _, err := b.sb.Refund(c.FileID, c.Tickets[1].TicketID); err != nil {
		t.Fatal(err)
	}
	f, _ := b.sb.Order(c.FileID)
	refundID := f.OrderDetailsDatas[1].OrderID
	o, err = b.cl.OrderByOrderID(t.Context(), tenant, refundID)
	if err != nil {
		t.Fatal(err)
	}
	if got := fetches(); got != 3 {
		t.Errorf("refund: %d fetches in all, want 3", got)
	}
	if o.FileID != c.FileID || o.OrderID != c.OrderID || len(o.Tickets) != 2 || o.Tickets[1].State != pass.TicketCancelled {
		t.Errorf("got %+v, want the whole file with the refunded ticket cancelled", o)
	}
}

func TestClientsDispatch(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	c := b.create(t, fakesecutix.OrderRequest{})
	var src pass.OrderSource = secutix.Clients{tenant: b.cl}
	ctx := t.Context()
	if o, err := src.OrderByFileID(ctx, tenant, c.FileID); err != nil || o.Tenant != tenant {
		t.Fatalf("got %v, %v", o, err)
	}
	if _, err := src.OrderBySecret(ctx, tenant, c.OrderSecretToken); err != nil {
		t.Fatal(err)
	}
	if _, err := src.OrderByOrderID(ctx, tenant, c.OrderID); err != nil {
		t.Fatal(err)
	}
	for _, call := range []func() error{
		func() error { _, err := src.OrderByFileID(ctx, "nope", c.FileID); return err },
		func() error { _, err := src.OrderBySecret(ctx, "nope", c.OrderSecretToken); return err },
		func() error { _, err := src.OrderByOrderID(ctx, "nope", c.OrderID); return err },
	} {
		err := call()
		wantKind(t, err, pass.KindNotFound)
		if !errors.Is(err, secutix.ErrUnknownTenant) || errors.Is(err, pass.ErrNotFound) {
			t.Errorf("got %v, want ErrUnknownTenant and not pass.ErrNotFound", err)
		}
	}
}

// memCatalogs is an in-memory secutix.CatalogStore.
type memCatalogs struct {
	mu        sync.Mutex
	body      []byte
	stamp     string
	at, tried time.Time
}

func (m *memCatalogs) ClaimCatalogFetch(_ context.Context, _ string, now time.Time, iv time.Duration) (bool, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.tried.IsZero() && now.Sub(m.tried) < iv {
		return false, m.tried, nil
	}
	m.tried = now
	return true, time.Time{}, nil
}

func (m *memCatalogs) SaveCatalog(_ context.Context, _ string, body []byte, stamp string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.body, m.stamp, m.at = body, stamp, at
	return nil
}

func (m *memCatalogs) LoadCatalog(context.Context, string) ([]byte, string, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.body == nil {
		return nil, "", time.Time{}, pass.ErrNotFound
	}
	return m.body, m.stamp, m.at, nil
}

func (m *memCatalogs) CatalogFetchedAt(context.Context, string) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.body == nil {
		return time.Time{}, pass.ErrNotFound
	}
	return m.at, nil
}

// TestCatalogMovedElsewhere: another instance read the catalogue after a
// performance moved; an instance whose own copy is older maps the next
// order with the new time within a second of its clock, not when its own
// check of SecuTix's setup comes due (a minute): with the old time, it
// would put the moved performance back on the passes the other instance
// rewrote.
func TestCatalogMovedElsewhere(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	clock := func() time.Time { return fixedNow.Add(time.Duration(now.Load())) }
	b := setup(t, func(c *fakesecutix.Config) { c.Now = clock }, func(c *secutix.Config) { c.Clock = clock })
	store := &memCatalogs{}
	instance := func(setupCheck time.Duration) *secutix.Client {
		cfg := b.cfg
		cfg.Catalogs, cfg.CatalogInterval, cfg.SetupCheckInterval = store, setupCheck, setupCheck
		return b.client(t, cfg)
	}
	// a asks SecuTix whether the setup changed at every order; the
	// other's check is an hour away.
	a, other := instance(-1), instance(time.Hour)
	o := b.create(t, fakesecutix.OrderRequest{})
	ctx := t.Context()
	var before pass.Event
	for _, cl := range []*secutix.Client{a, other} {
		got, err := cl.OrderByFileID(ctx, tenant, o.FileID)
		if err != nil {
			t.Fatal(err)
		}
		before = got.Tickets[0].Event
	}
	moved := before.Start.Add(48 * time.Hour)
	if err := b.sb.Reschedule(before.PerformanceID, moved, time.Time{}); err != nil {
		t.Fatal(err)
	}
	now.Store(int64(secutix.StoreCheckInterval))
	got, err := a.OrderByFileID(ctx, tenant, o.FileID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Tickets[0].Event.Start.Equal(moved) {
		t.Fatalf("the instance that read the catalogue again maps the start %s, want %s", got.Tickets[0].Event.Start, moved)
	}
	got, err = other.OrderByFileID(ctx, tenant, o.FileID)
	if err != nil {
		t.Fatal(err)
	}
	if start := got.Tickets[0].Event.Start; !start.Equal(moved) {
		t.Errorf("the other instance maps the start %s, want the moved %s", start, moved)
	}
}

// TestCatalogIsShared: SecuTix lets an institution read its catalogue
// once per 10 minutes. Three clients (three instances) sharing a store
// read it once between them, and a sandbox enforcing the limit refuses
// nothing; an order of a performance the stored catalogue lacks waits
// for the interval (a RetryAfterError) rather than call too soon.
func TestCatalogIsShared(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *fakesecutix.Config) { c.CatalogInterval = 10 * time.Minute }, func(c *secutix.Config) {
		c.CatalogInterval, c.SetupCheckInterval = 0, 0
	})
	store := &memCatalogs{}
	cfg := b.cfg
	cfg.CatalogInterval, cfg.SetupCheckInterval, cfg.Catalogs = 0, 0, store
	first := b.create(t, fakesecutix.OrderRequest{})
	var clients []*secutix.Client
	for range 3 {
		cl := b.client(t, cfg)
		clients = append(clients, cl)
		if _, err := cl.OrderByFileID(t.Context(), tenant, first.FileID); err != nil {
			t.Fatal(err)
		}
	}
	fetches := 0
	for _, cl := range clients {
		fetches += cl.CatalogFetches()
	}
	if fetches != 1 || b.sb.Calls("getCatalogDetailed") != 1 {
		t.Errorf("%d catalogue reads (%d reached the sandbox), want 1", fetches, b.sb.Calls("getCatalogDetailed"))
	}
	other := b.create(t, fakesecutix.OrderRequest{Tickets: []fakesecutix.TicketSpec{{Event: &fakesecutix.EventSpec{Name: "Encore", Start: "2026-09-01T20:00:00+02:00"}}}})
	_, err := clients[1].OrderByFileID(t.Context(), tenant, other.FileID)
	var ra *pass.RetryAfterError
	if !errors.As(err, &ra) || ra.After <= 0 || ra.After > 10*time.Minute {
		t.Errorf("a new performance within the interval: %v, want a RetryAfterError", err)
	}
	if n := b.sb.Calls("getCatalogDetailed"); n != 1 {
		t.Errorf("%d catalogue reads reached the sandbox, want still 1", n)
	}
}

// orderServiceOnly applies a quota to the order service only.
type orderServiceOnly struct{ secutix.Quota }

func (q orderServiceOnly) Take(ctx context.Context, key string, prio pass.Priority) error {
	if !strings.HasSuffix(key, "/"+secutix.ServiceOrders) {
		return nil
	}
	return q.Quota.Take(ctx, key, prio)
}

// TestJWTMillis: with JWTMillis the forged JWT's iat and exp are
// milliseconds, 30,000 apart, and the sandbox (which reads both units)
// accepts it.
func TestJWTMillis(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	c := b.create(t, fakesecutix.OrderRequest{})
	var (
		mu   sync.Mutex
		seen []string
	)
	cfg := b.cfg
	cfg.JWTMillis = true
	next := b.cfg.HTTPClient.Transport
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		seen = append(seen, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		mu.Unlock()
		return next.RoundTrip(r)
	})}
	if _, err := b.client(t, cfg).OrderByFileID(t.Context(), tenant, c.FileID); err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 {
		t.Fatal("no request seen")
	}
	for _, tok := range seen {
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("not a JWT: %d parts", len(parts))
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var claims struct{ Iat, Exp int64 }
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		if claims.Iat != fixedNow.UnixMilli() || claims.Exp-claims.Iat != 30_000 {
			t.Errorf("iat %d exp %d, want %d and 30,000 ms later", claims.Iat, claims.Exp, fixedNow.UnixMilli())
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// wrappedSandbox is a sandbox whose catalogue changes no faster than it
// is asked, on a clock the test moves (now), served behind wrap, which
// sees every request first and may answer it itself (handled); and a
// client of it, configured further by cfg.
func wrappedSandbox(t *testing.T, now *atomic.Int64, wrap func(w http.ResponseWriter, r *http.Request) (handled bool),
	cfg func(*secutix.Config)) (*fakesecutix.Sandbox, *secutix.Client) {
	t.Helper()
	now.Store(fixedNow.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()).UTC() }
	sb, err := fakesecutix.New(fakesecutix.Config{Tenant: tenant, Institution: "CSANDBOX", Operator: operator, Partner: partner,
		Secret: secret, QuotaPerMinute: 100000, Now: clock, CatalogInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/sandbox/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !wrap(w, r) {
			sb.Handler().ServeHTTP(w, r)
		}
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); sb.Close() })
	c := secutix.Config{Tenant: tenant, BaseURL: srv.URL + "/sandbox/secutix", Operator: operator, Partner: partner,
		Secret: secret, HTTPClient: srv.Client(), RequestsPerMinute: 100000, InProgressDelay: time.Millisecond,
		CatalogInterval: -1, Clock: clock}
	if cfg != nil {
		cfg(&c)
	}
	cl, err := secutix.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return sb, cl
}

// TestCatalogRefreshBlocksNoOne: while one sync refreshes the catalogue
// from SecuTix (which may take minutes), another sync whose performance is
// cached maps its order at once instead of waiting behind it.
func TestCatalogRefreshBlocksNoOne(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	var blocking atomic.Bool
	entered, release := make(chan struct{}, 1), make(chan struct{})
	sb, cl := wrappedSandbox(t, &now, func(_ http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/getCatalogDetailed") && blocking.Load() {
			entered <- struct{}{}
			<-release
		}
		return false
	}, nil)
	o, err := sb.CreateOrder(fakesecutix.OrderRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := cl.OrderByFileID(ctx, tenant, o.FileID); err != nil {
		t.Fatal(err)
	}
	now.Add(int64(2 * time.Hour)) // the catalogue is stale: the next sync reads it again
	blocking.Store(true)
	refreshed := make(chan error, 1)
	go func() {
		_, err := cl.OrderByFileID(ctx, tenant, o.FileID)
		refreshed <- err
	}()
	<-entered // the refresh waits for SecuTix, which answers once the other sync is done
	beside := make(chan error, 1)
	go func() {
		_, err := cl.OrderByFileID(ctx, tenant, o.FileID)
		beside <- err
	}()
	select {
	case err := <-beside:
		if err != nil {
			t.Errorf("a sync beside the refresh: %v, want the order from the cached catalogue", err)
		}
	case <-time.After(30 * time.Second): // far beyond a sync's time: it waits for the refresh
		t.Error("a sync beside the refresh waited for it")
	}
	close(release)
	if err := <-refreshed; err != nil {
		t.Errorf("the refreshing sync: %v", err)
	}
}

// TestCatalogueWithoutCatalogData: a catalogue answer that holds no
// catalogue at all (null) is not taken as one that dropped every
// performance: the cached catalogue stands, orders still map, and the
// stored copy that other instances read is not replaced by the null.
func TestCatalogueWithoutCatalogData(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	var empty atomic.Bool
	store := &memCatalogs{}
	sb, cl := wrappedSandbox(t, &now, func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/getCatalogDetailed") && empty.Load() {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`null`))
			return true
		}
		return false
	}, func(c *secutix.Config) { c.Catalogs = store })
	o, err := sb.CreateOrder(fakesecutix.OrderRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := cl.OrderByFileID(ctx, tenant, o.FileID); err != nil {
		t.Fatal(err)
	}
	now.Add(int64(2 * time.Hour)) // stale: the next sync reads the catalogue again
	empty.Store(true)
	defer func() {
		if stored, _, _, err := store.LoadCatalog(ctx, ""); err != nil || !strings.Contains(string(stored), "catalogData") {
			t.Errorf("the stored catalogue after a null answer: %.80s (%v)", stored, err)
		}
	}()
	got, err := cl.OrderByFileID(ctx, tenant, o.FileID)
	if err != nil || len(got.Tickets) == 0 {
		t.Fatalf("after a catalogue answer of null: %v, %d tickets; want the order mapped from the cached catalogue", err, len(got.Tickets))
	}
}
