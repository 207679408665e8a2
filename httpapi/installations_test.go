package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"walletpass/httpapi"
	"walletpass/pass"
	"walletpass/storage"
)

// TestUnknownOrderLookupsPerClient: one client registering the app for
// made-up orders gets its own few SecuTix lookups, then 429, and leaves
// the tenant's budget to another client's buyer.
func TestUnknownOrderLookupsPerClient(t *testing.T) {
	t.Parallel()
	db, err := storage.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	lookups := 0
	h := httpapi.New(httpapi.Deps{Passes: db, Clock: func() time.Time { return now }, // moved by the test only between requests
		App:     httpapi.AppDeps{Installations: db, Notices: &pass.AppNoticeService{Store: db, Queue: db}},
		Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo"}},
		Tickets: httpapi.TicketsAPI{Orders: syncerFunc(func() (pass.SyncResult, error) {
			lookups++
			return pass.SyncResult{}, pass.Errorf(pass.KindNotFound, "no such order")
		})}})
	post := func(client, token string) int {
		body := `{"orderSecretToken":"` + token + `","fcmToken":"fcm-` + token + `","platform":"ios","locale":"fr"}`
		req := httptest.NewRequest(http.MethodPost, "/api/demo/customers/devices", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = client + ":5555"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	codes := map[int]int{}
	for i := range httpapi.UnknownOrderBurst {
		codes[post("198.51.100.7", "madeUpOrderToken"+string(rune('A'+i)))]++
	}
	if codes[http.StatusNotFound] != httpapi.UnknownOrderClientBurst || lookups != httpapi.UnknownOrderClientBurst {
		t.Errorf("one client's %d made-up orders: %v, %d lookups; want %d looked up, the rest 429", httpapi.UnknownOrderBurst, codes,
			lookups, httpapi.UnknownOrderClientBurst)
	}
	if code := post("203.0.113.9", "aBuyersRealOrderToken"); code != http.StatusNotFound || lookups != httpapi.UnknownOrderClientBurst+1 {
		t.Errorf("another client's lookup: %d after %d lookups, want it looked up (404 here)", code, lookups)
	}
	// An IPv6 client is its /64: new addresses in it share its share.
	now = now.Add(time.Hour) // the tenant's budget full again
	before := lookups
	codes = map[int]int{}
	for i := range httpapi.UnknownOrderClientBurst + 2 {
		codes[post(fmt.Sprintf("[2001:db8:7::%x]", i+1), "v6MadeUpOrderToken"+string(rune('A'+i)))]++
	}
	if lookups-before != httpapi.UnknownOrderClientBurst || codes[http.StatusTooManyRequests] != 2 {
		t.Errorf("one /64's made-up orders: %v, %d lookups; want %d looked up, the rest 429", codes, lookups-before, httpapi.UnknownOrderClientBurst)
	}
}
