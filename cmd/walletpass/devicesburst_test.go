package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"walletpass/httpapi"
	"walletpass/pass"
)

// TestUnknownOrderBurst: 70 concurrent app registrations with made-up
// order tokens from one client. The client is rate-limited (429 with
// Retry-After), the tenant spends at most its small budget of SecuTix
// lookups on orders it does not know, nothing is written for them (no
// timeline rows), the same answer goes to a DELETE of an unknown order as
// of a known one, and a real order made during the burst gets its passes
// (the time, with and without the burst, is logged).
func TestUnknownOrderBurst(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	ready := func() time.Duration {
		start := time.Now()
		o := s.createOrder(map[string]any{"count": 2})
		s.waitPasses(o.Secret, "a real order's passes", func(ps []pass.Pass) bool { return len(pass.ValidPerTicket(ps)) == 2 })
		return time.Since(start)
	}
	quiet := ready()
	s.idle()

	post := func(method, token string) *http.Response {
		body, _ := json.Marshal(map[string]string{"orderSecretToken": token, "fcmToken": "fcm-" + token, "platform": "ios", "locale": "fr"})
		req, _ := http.NewRequest(method, s.base+"/api/demo/customers/devices", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// Unknown or not: a DELETE answers the same (before the burst, while
	// the client's limit allows).
	o := s.createOrder(map[string]any{"count": 1})
	s.waitPasses(o.Secret, "a pass", func(ps []pass.Pass) bool { return len(ps) == 1 })
	if a, b := post(http.MethodDelete, o.Secret).StatusCode, post(http.MethodDelete, rand.Text()).StatusCode; a != b || a != http.StatusNoContent {
		t.Errorf("DELETE of a known order %d, of an unknown one %d: want the same 204", a, b)
	}
	s.idle()

	lookupsBefore := s.app.Sandbox.Calls("getFileDetailsFromOrderSecretId")
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		tokens   []string
		wg       sync.WaitGroup
	)
	burstStart, burstEnd := time.Now(), time.Time{}
	for range 70 {
		tok := rand.Text() // 26 characters, as an order secret looks
		tokens = append(tokens, tok)
		wg.Go(func() {
			resp := post(http.MethodPost, tok)
			mu.Lock()
			statuses[resp.StatusCode]++
			if now := time.Now(); now.After(burstEnd) {
				burstEnd = now
			}
			mu.Unlock()
			if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		})
	}
	busy := ready()
	wg.Wait()
	// The budget refills one lookup every UnknownOrderEvery: on a slow
	// machine the burst lasts long enough for some.
	burst := burstEnd.Sub(burstStart)
	budget := httpapi.UnknownOrderBurst + int(burst/httpapi.UnknownOrderEvery)
	// A 404 is a made-up order SecuTix was asked about; a 429 asked
	// nothing. The real order costs one or two calls (a follow-up run).
	calls := s.app.Sandbox.Calls("getFileDetailsFromOrderSecretId") - lookupsBefore
	t.Logf("statuses %v; SecuTix calls during the burst %d; a real order's passes ready in %s quiet, %s during the burst",
		statuses, calls, quiet.Round(time.Millisecond), busy.Round(time.Millisecond))
	if statuses[http.StatusTooManyRequests] == 0 || statuses[http.StatusCreated] != 0 || statuses[http.StatusOK] != 0 {
		t.Errorf("statuses %v: want 429s and 404s, no registration", statuses)
	}
	if lookups := statuses[http.StatusNotFound]; lookups > budget || calls > lookups+2 {
		t.Errorf("%d lookups of made-up orders (%d SecuTix calls in all), want at most the tenant's budget (%d, with what refilled in %s)",
			lookups, calls, budget, burst.Round(time.Millisecond))
	}
	for _, tok := range tokens {
		if tl, err := s.db.Timeline(t.Context(), "demo", tok, 0); err != nil || len(tl) != 0 {
			t.Fatalf("made-up order %s…: %d timeline rows (%v), want none", tok[:4], len(tl), err)
		}
	}
}
