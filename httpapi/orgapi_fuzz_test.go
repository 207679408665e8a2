package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"walletpass/auth"
	"walletpass/pass"
)

// fakeScanner answers every scan valid and counts them.
type fakeScanner struct {
	mu    sync.Mutex
	calls int
}

func (f *fakeScanner) Scan(_ context.Context, req pass.ScanRequest) (pass.ScanResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return pass.ScanResult{ScanID: req.ScanID, Result: pass.ScanValid}, nil
}

// fakeSubscriptions keeps subscriptions in memory.
type fakeSubscriptions struct {
	mu   sync.Mutex
	subs map[string]pass.Subscription
}

func (f *fakeSubscriptions) Subscriptions(context.Context, string) ([]pass.Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []pass.Subscription
	for _, s := range f.subs {
		out = append(out, s)
	}
	return out, nil
}

func (f *fakeSubscriptions) Subscription(_ context.Context, _, id string) (*pass.Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.subs[id]
	if !ok {
		return nil, pass.ErrNotFound
	}
	return &s, nil
}

func (f *fakeSubscriptions) CreateSubscription(_ context.Context, s pass.Subscription) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[s.ID] = s
	return nil
}

func (f *fakeSubscriptions) UpdateSubscription(_ context.Context, s pass.Subscription) error {
	return f.CreateSubscription(context.Background(), s)
}

func (f *fakeSubscriptions) RotateSecret(_ context.Context, _, id, secret string, until, at time.Time) (*pass.Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.subs[id]
	if !ok {
		return nil, pass.ErrNotFound
	}
	s.PreviousSecret, s.PreviousUntil, s.Secret, s.UpdatedAt = s.Secret, until, secret, at
	f.subs[id] = s
	return &s, nil
}

func (f *fakeSubscriptions) DeleteSubscription(_ context.Context, _, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, id)
	return nil
}

// fakeNotices keeps notices in memory.
type fakeNotices struct {
	mu  sync.Mutex
	all []pass.Notice
}

func (f *fakeNotices) AddNotice(_ context.Context, n pass.Notice, _ pass.NewTask) (pass.Notice, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.all {
		if o.ID == n.ID && o.PerformanceID == n.PerformanceID {
			return o, false, nil
		}
	}
	f.all = append(f.all, n)
	return n, true, nil
}

func (f *fakeNotices) LatestNotice(context.Context, string, int64) (*pass.Notice, error) {
	return nil, pass.ErrNotFound
}

// fakeEraser records the erasures asked for.
type fakeEraser struct {
	mu   sync.Mutex
	reqs []pass.ErasureRequest
}

func (f *fakeEraser) Erase(_ context.Context, r pass.ErasureRequest) (pass.ErasureReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
	return pass.ErasureReport{}, nil
}

// FuzzOrganiserBodies posts arbitrary bodies to the scans, webhook
// subscription, notification and erasure routes with valid credentials:
// never a 5xx; a scan reaches the gate, a subscription is stored, a notice
// is stored, and an erasure is asked for (with exactly what the body
// says), only when the body keeps the documented rules.
func FuzzOrganiserBodies(f *testing.F) {
	for _, s := range []string{`{"data":"123456","type":"qrcode"}`, `{"data":"12","type":"qrcode"}`, `{"data":"123","type":"x","scanId":"a b"}`, `{"data":"éé","type":"qrcode"}`,
		`{"endpoint":"https://crm.example.com/h","events":["*"]}`, `{"endpoint":"http://x","events":[]}`, `{"events":["pass.created"],"extra":1}`,
		`{"message":"Doors at 19:00"}`, `{"fileId":123}`, `{"email":"a@example.com"}`, `{"message":{"fr":"Portes","de-CH":"Tür"},"title":"T","id":"n-1"}`, `{"message":{"":"x"}}`,
		`null`, `[]`, "\x00"} {
		f.Add(s)
	}
	scanner := &fakeScanner{}
	subs := &fakeSubscriptions{subs: map[string]pass.Subscription{}}
	notices := &fakeNotices{}
	eraser := &fakeEraser{}
	key, _ := auth.NewAPIKey() // the credentials pass; the bodies are what is fuzzed
	srv := httptest.NewServer(New(Deps{
		Tenants: []TenantInfo{{ID: "demo", Name: "Demo"}},
		Scans:   scanner,
		Tickets: TicketsAPI{APIKey: func(context.Context, string) (APIKeyInfo, error) {
			return APIKeyInfo{Tenant: "demo", Scopes: []string{ScopeScans, ScopeWebhooksWrite, ScopePassesWrite, ScopeHoldersErase}}, nil
		}},
		Notices:  &pass.Announcer{Notices: notices, Locales: map[string]string{"demo": "fr-CH"}, Clock: time.Now},
		Erasures: eraser,
		Subscriptions: SubscriptionDeps{Store: subs, NewSecret: func() string { return "whsec_x" },
			CheckEndpoint: func(u string) error {
				if !strings.HasPrefix(u, "https://") {
					return pass.Errorf(pass.KindInvalid, "https only")
				}
				return nil
			}},
	}))
	f.Cleanup(srv.Close)
	post := func(t testing.TB, path, body string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// try posts body to the four routes, checks the answers against what
	// reached the fakes, and returns the status of each route.
	try := func(t testing.TB, body string) map[string]int {
		t.Helper()
		out := map[string]int{}
		scanner.mu.Lock()
		before := scanner.calls
		scanner.mu.Unlock()
		st := post(t, "/api/demo/scans", body)
		scanner.mu.Lock()
		scanned := scanner.calls > before
		scanner.mu.Unlock()
		var sb ScanBody
		validScan := json.Unmarshal([]byte(body), &sb) == nil && utf8.RuneCountInString(sb.Data) >= 3 && utf8.RuneCountInString(sb.Data) <= 2048 &&
			slices.Contains(scanTypes, sb.Type)
		switch {
		case st >= 500:
			t.Fatalf("scan: %d", st)
		case st == 200 && (!scanned || !validScan):
			t.Fatalf("scan: 200 for %q (reached the gate %v)", body, scanned)
		case st != 200 && scanned:
			t.Fatalf("scan: %d but the gate saw it", st)
		}
		out["scan"] = st

		subs.mu.Lock()
		n := len(subs.subs)
		subs.mu.Unlock()
		st = post(t, "/api/demo/webhooks", body)
		subs.mu.Lock()
		created := len(subs.subs) > n
		subs.mu.Unlock()
		var b subscriptionBody
		validSub := json.Unmarshal([]byte(body), &b) == nil && b.Endpoint != nil && strings.HasPrefix(*b.Endpoint, "https://") &&
			b.Events != nil && len(*b.Events) > 0
		switch {
		case st >= 500:
			t.Fatalf("subscription: %d", st)
		case st == 201 && (!created || !validSub):
			t.Fatalf("subscription: 201 for %q (stored %v)", body, created)
		case st != 201 && created:
			t.Fatalf("subscription: %d but stored", st)
		}
		out["subscription"] = st

		notices.mu.Lock()
		n = len(notices.all)
		notices.mu.Unlock()
		st = post(t, "/api/demo/performances/42/notifications", body)
		notices.mu.Lock()
		stored := notices.all[n:]
		notices.mu.Unlock()
		switch {
		case st >= 500:
			t.Fatalf("notice: %d", st)
		case st == 202 && len(stored) != 1:
			t.Fatalf("notice: 202 for %q, %d stored", body, len(stored))
		case st != 202 && len(stored) != 0:
			t.Fatalf("notice: %d but stored", st)
		}
		for _, nt := range stored {
			if err := nt.Validate(); err != nil || nt.PerformanceID != 42 || nt.Tenant != "demo" || nt.Body[""] != "" {
				t.Fatalf("stored an invalid notice %+v: %v", nt, err)
			}
		}
		out["notice"] = st

		eraser.mu.Lock()
		n = len(eraser.reqs)
		eraser.mu.Unlock()
		st = post(t, "/api/demo/erasures", body)
		eraser.mu.Lock()
		asked := eraser.reqs[n:]
		eraser.mu.Unlock()
		var eb ErasureBody
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		strict := json.Valid([]byte(body)) && dec.Decode(&eb) == nil // one JSON value, nothing after it
		switch {
		case st >= 500:
			t.Fatalf("erasure: %d", st)
		case st == 200 && (len(asked) != 1 || !strict):
			t.Fatalf("erasure: 200 for %q, %d asked", body, len(asked))
		case st != 200 && len(asked) != 0:
			t.Fatalf("erasure: %d but asked", st)
		}
		for _, r := range asked {
			if r.Tenant != "demo" || r.FileID != eb.FileID || r.Email != eb.Email {
				t.Fatalf("erasure of %q asked as %+v", body, r)
			}
		}
		out["erasure"] = st
		return out
	}
	// The credentials are taken and each route has a body it takes (else
	// every request could be a 401 or a 400 and the checks above would
	// hold vacuously).
	wants := []struct {
		body, route string
		status      int
	}{
		{`{"data":"123456","type":"qrcode"}`, "scan", http.StatusOK},
		{`{"data":"ééé","type":"qrcode"}`, "scan", http.StatusOK}, // three characters in six bytes
		{`{"endpoint":"https://crm.example.com/h","events":["*"]}`, "subscription", http.StatusCreated},
		{`{"message":"Doors at 19:00"}`, "notice", http.StatusAccepted},
		{`{"fileId":123}`, "erasure", http.StatusOK},
		{`{"email":"a@example.com"}`, "erasure", http.StatusOK},
	}
	for _, w := range wants {
		if got := try(f, w.body)[w.route]; got != w.status {
			f.Fatalf("%s of %s with the fuzz credentials: %d, want %d", w.route, w.body, got, w.status)
		}
	}
	f.Fuzz(func(t *testing.T, body string) {
		try(t, body)
	})
}
