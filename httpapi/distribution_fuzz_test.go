package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"

	"walletpass/httpapi"
	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/apple/appletest"
	"walletpass/storage"
	"walletpass/storage/blob"
)

// FuzzDistribution sends arbitrary paths, queries, bodies and headers to
// the buyer-facing routes (order page, downloads, save links, app
// installations): never a 5xx, and an installation is stored only when the
// answer says so.
func FuzzDistribution(f *testing.F) {
	fx := appletest.Setup(f)
	dir := f.TempDir()
	db, err := storage.OpenSQLite(context.Background(), filepath.Join(dir, "d.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	bl, err := blob.NewDir(filepath.Join(dir, "blobs"))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	// Each input comes an hour after the one before, so that the
	// per-client limits are full again for every input and never stand
	// between the fuzzer and the handlers.
	var elapsed atomic.Int64
	clock := func() time.Time { return now.Add(time.Duration(elapsed.Load())) }
	svc := &pass.Service{Passes: db, Packager: fx.Registry, Clock: func() time.Time { return now }}
	tk := apple.SampleTicket(pass.EventConcert)
	tk.OrderSecretToken = "fuzzOrderSecret123"
	p, _, err := svc.Apply(context.Background(), tk, "default")
	if err != nil {
		f.Fatal(err)
	}
	links := httpapi.LinkSigner{Key: []byte("0123456789abcdef0123456789abcdef")}
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{Preview: httpapi.PreviewDeps{Packager: fx.Registry}, Passes: db, Files: fx.Files(f, bl, db),
		Apple: httpapi.AppleDeps{Devices: db, Timeline: db},
		App:   httpapi.AppDeps{Installations: db, Notices: &pass.AppNoticeService{Store: db, Queue: db}},
		Links: httpapi.LinkDeps{Signer: links}, Clock: clock,
		Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo", DefaultTemplate: "default", PublicBaseURL: "https://passes.example.com", Google: true}}}))
	f.Cleanup(srv.Close)
	good := httpapi.PassLink("", links, "demo", p.SerialNumber, now.AddDate(1000, 0, 0)) // nearly nine million hours of inputs
	methods := []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodHead}
	installations := func(t testing.TB) []pass.AppInstallation {
		t.Helper()
		ins, err := db.Installations(context.Background(), "demo", "fuzzOrderSecret123")
		if err != nil {
			t.Fatal(err)
		}
		return ins
	}
	// try sends one request, checks the answer against the installations
	// stored, and returns the status (0 when no request went out).
	try := func(t testing.TB, m uint8, path, body, ua, lang string) int {
		t.Helper()
		elapsed.Add(int64(time.Hour))
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n#") || len(path) > 4096 {
			return 0
		}
		before := installations(t)
		req, err := http.NewRequest(methods[int(m)%len(methods)], srv.URL+path, strings.NewReader(body))
		if err != nil {
			return 0
		}
		for k, v := range map[string]string{"User-Agent": ua, "Accept-Language": lang} {
			if v != "" && httpguts.ValidHeaderFieldValue(v) {
				req.Header.Set(k, v)
			}
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s: %d", req.Method, path, resp.StatusCode)
		}
		after := installations(t)
		if len(after) > len(before) && resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s %s stored an installation but answered %d", req.Method, path, resp.StatusCode)
		}
		if len(after) < len(before) && resp.StatusCode != http.StatusNoContent {
			t.Fatalf("%s %s removed an installation but answered %d", req.Method, path, resp.StatusCode)
		}
		return resp.StatusCode
	}
	seeds := []struct {
		m                    uint8
		path, body, ua, lang string
		status               int // of a seed that must succeed; 0 for the others
		installations        int // stored after it
	}{
		{0, "/demo/orders/fuzzOrderSecret123", "", "Mozilla/5.0 (iPhone)", "fr", http.StatusOK, 0},
		{0, good, "", "", "", http.StatusOK, 0},
		{0, "/api/demo/orders/fuzzOrderSecret123/tickets.pkpasses?exp=1&sig=x", "", "", "", 0, 0},
		{0, "/api/demo/google/save/fuzzOrderSecret123/" + p.SerialNumber + "?exp=9999999999&sig=AAAA", "", "", "", 0, 0},
		{1, "/api/demo/customers/devices", `{"orderSecretToken":"fuzzOrderSecret123","fcmToken":"t1","platform":"ios","locale":"de"}`, "", "", http.StatusCreated, 1},
		{2, "/api/demo/customers/devices", `{"orderSecretToken":"fuzzOrderSecret123","fcmToken":"t1"}`, "", "", http.StatusNoContent, 0},
		{0, "/demo/orders/%00", "", "Android", "de;q=x, *", 0, 0},
	}
	// The seeds that should succeed do (in this order: the installation
	// is stored, then removed), so the checks above are not vacuous.
	for _, sd := range seeds {
		f.Add(sd.m, sd.path, sd.body, sd.ua, sd.lang)
		st := try(f, sd.m, sd.path, sd.body, sd.ua, sd.lang)
		if sd.status != 0 && st != sd.status {
			f.Fatalf("%s %s: %d, want %d", methods[sd.m], sd.path, st, sd.status)
		}
		if n := len(installations(f)); n != sd.installations {
			f.Fatalf("%s %s: %d installations stored, want %d", methods[sd.m], sd.path, n, sd.installations)
		}
	}
	f.Fuzz(func(t *testing.T, m uint8, path, body, ua, lang string) {
		try(t, m, path, body, ua, lang)
	})
}
