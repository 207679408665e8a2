package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"walletpass/auth"
	"walletpass/httpapi"
	"walletpass/pass"
)

// TestTicketsURLEveryOrderOfTheFile: getTicketsUrl lists the tickets of
// every order of the file (a second order's tickets are stored under
// their own order's secret), each with its links; the order-wide links
// are the main order's.
func TestTicketsURLEveryOrderOfTheFile(t *testing.T) {
	b := setupWS(t)
	ctx := context.Background()
	first := b.tk
	second := first
	second.MovementID, second.TicketID, second.Barcode, second.OrderSecretToken = first.MovementID+1, first.TicketID+1, "SECOND-1", "second-order-secret"
	// The second order is for a performance months away: the links
	// (signed for an hour here) work until the day after it.
	second.Event.Start = time.Now().Add(200 * 24 * time.Hour).Truncate(time.Second)
	second.Event.End = second.Event.Start.Add(3 * time.Hour)
	if _, _, err := b.svc.Apply(ctx, second, "default"); err != nil {
		t.Fatal(err)
	}
	key, _ := auth.NewAPIKey()
	order := &pass.Order{Tenant: "demo", FileID: first.FileID, SecretToken: first.OrderSecretToken, Tickets: []pass.Ticket{first, second}}
	h := httpapi.New(httpapi.Deps{
		Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}},
		Passes:  b.db,
		Links:   httpapi.LinkDeps{Signer: httpapi.LinkSigner{Key: []byte("0123456789abcdef0123456789abcdef")}, TTL: time.Hour},
		Tickets: httpapi.TicketsAPI{
			APIKey: func(_ context.Context, hash string) (httpapi.APIKeyInfo, error) {
				if hash != auth.HashAPIKey(key) {
					return httpapi.APIKeyInfo{}, pass.ErrNotFound
				}
				return httpapi.APIKeyInfo{Tenant: "demo"}, nil
			},
			Orders: syncerFunc(func() (pass.SyncResult, error) { return pass.SyncResult{Order: order}, nil }),
		},
	})
	req := httptest.NewRequest(http.MethodGet, "/api/demo/external/secutix/orders/getTicketsUrl/"+strconv.FormatInt(first.FileID, 10), nil)
	req.Header.Set("X-API-Key", key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var tr httpapi.TicketsResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if len(tr.Tickets) != 2 || tr.Tickets[0].ApplePassURL == "" || tr.Tickets[1].ApplePassURL == "" || tr.AppleBundle == "" {
		t.Errorf("getTicketsUrl of a file of two orders: %s; want both tickets with their links and the main order's bundle", rec.Body)
	}
	if want := second.Event.End.Add(24 * time.Hour); tr.LinksExpireAt.Before(want) || tr.LinksExpireAt.After(want.Add(time.Second)) {
		t.Errorf("links expire at %s, want a day after the last event ends (%s)", tr.LinksExpireAt, want)
	}
}

// TestRequestDeadline: a request whose work outlasts the request deadline
// (SecuTix's quota, a catalogue read), or is sure to (the quota says so
// at once), is answered a 503 problem with Retry-After, not cut at the
// server's write timeout, and is no error of walletpass's to log.
func TestRequestDeadline(t *testing.T) {
	t.Parallel()
	key, _ := auth.NewAPIKey()
	for _, c := range []struct {
		name   string
		waits  bool
		within time.Duration
		cause  error // of the syncer that does not wait
	}{{"the work outlasts it", true, 50 * time.Millisecond, nil}, {"the quota says it would", false, 0, pass.ErrPastDeadline},
		{"a call's own timeout", false, 0, context.DeadlineExceeded}} {
		var logs bytes.Buffer
		h := httpapi.New(httpapi.Deps{
			Tenants:         []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}},
			RequestDeadline: c.within,
			Log:             slog.New(slog.NewJSONHandler(&logs, nil)),
			Tickets: httpapi.TicketsAPI{
				APIKey: func(context.Context, string) (httpapi.APIKeyInfo, error) {
					return httpapi.APIKeyInfo{Tenant: "demo"}, nil
				},
				Orders: deadlineSyncer{waits: c.waits, cause: c.cause},
			},
		})
		req := httptest.NewRequest(http.MethodGet, "/api/demo/external/secutix/orders/getTicketsUrl/12345", nil)
		req.Header.Set("X-API-Key", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if c.cause == context.DeadlineExceeded {
			// SecuTix not answering in time is a failure, logged with
			// its cause, not the request's deadline.
			if strings.Contains(rec.Body.String(), "longer than walletpass gives") || !strings.Contains(logs.String(), "request failed") {
				t.Errorf("%s: %d %s, logs %s; want a failure, logged", c.name, rec.Code, rec.Body, logs.String())
			}
			continue
		}
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
			rec.Header().Get("Content-Type") != httpapi.ContentTypeProblem || !strings.Contains(rec.Body.String(), "try again") {
			t.Errorf("%s: %d %s %s, want a 503 problem with Retry-After", c.name, rec.Code, rec.Header(), rec.Body)
		}
		if strings.Contains(logs.String(), "request failed") {
			t.Errorf("%s: logged as a failure: %s", c.name, logs.String())
		}
	}
}

// deadlineSyncer waits for its context to end, as a sync behind
// SecuTix's quota would, or fails at once with cause (the quota saying
// its next call comes after the deadline, or a call's own timeout).
type deadlineSyncer struct {
	waits bool
	cause error
}

func (s deadlineSyncer) SyncOrder(ctx context.Context, _ pass.OrderRef, _ string) (pass.SyncResult, error) {
	if s.waits {
		<-ctx.Done()
		return pass.SyncResult{}, fmt.Errorf("secutix: wait for the quota: %w", ctx.Err())
	}
	return pass.SyncResult{}, fmt.Errorf("secutix: getFile: %w", s.cause)
}
