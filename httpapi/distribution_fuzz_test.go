package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
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
// installations, template images, previews): never a 5xx; an
// installation is stored only when the answer says so; a signed link (a
// pass's or an order's download, a Google save link) is served (200, or
// 302 to Google's save page) only when its signature verifies with the
// fixture's signer, and Google is asked for a save page exactly when the
// answer is that 302; a refused link answers a page (text/html) only to a
// client whose Accept names text/html, else a problem+json.
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
	// per-client and per-link limits are full again for every input and
	// never stand between the fuzzer and the handlers.
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
	saver := &recordingSaver{}
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{Preview: httpapi.PreviewDeps{Enabled: true, Packager: fx.Registry}, Passes: db,
		Files: fx.Files(f, bl, db),
		Apple: httpapi.AppleDeps{Devices: db, Timeline: db},
		App:   httpapi.AppDeps{Installations: db, Notices: &pass.AppNoticeService{Store: db}},
		Links: httpapi.LinkDeps{Signer: links}, Clock: clock, Google: httpapi.GoogleDeps{Save: saver},
		TemplateFile: func(tpl, file string) ([]byte, bool) {
			if tpl == "default" && (file == "icon.png" || file == "google-logo.png") {
				return []byte("\x89PNG fake"), true
			}
			return nil, false
		},
		Tenants: []httpapi.TenantInfo{{ID: "demo", Name: "Demo", DefaultTemplate: "default", PublicBaseURL: "https://passes.example.com", Google: true}}}))
	f.Cleanup(srv.Close)
	far := now.AddDate(1000, 0, 0) // nearly nine million hours of inputs
	good := httpapi.PassLink("", links, "demo", p.SerialNumber, far)
	bundle := httpapi.BundleLink("", links, "demo", "fuzzOrderSecret123", far)
	googleOrder := httpapi.GoogleSaveLink("", links, "demo", "fuzzOrderSecret123", far)
	googleTicket := httpapi.GoogleTicketSaveLink("", links, "demo", p.SerialNumber, far)
	// A ticket's save link of the older form, which signs the order's
	// secret and the serial.
	googleOld := "/api/demo/google/save/fuzzOrderSecret123/" + p.SerialNumber + "?exp=" + strconv.FormatInt(far.Unix(), 10) +
		"&sig=" + links.Sign(httpapi.PurposeGoogleSave, "demo", "fuzzOrderSecret123/"+p.SerialNumber, far)
	expired := httpapi.BundleLink("", links, "demo", "fuzzOrderSecret123", now.Add(-time.Hour))
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
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
	// stored, the links' signatures and the save pages asked of Google,
	// and returns the status and the Content-Type (0 and "" when no
	// request went out).
	try := func(t testing.TB, m uint8, path, body, ua, lang, accept string) (int, string) {
		t.Helper()
		elapsed.Add(int64(time.Hour))
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n#") || len(path) > 4096 {
			return 0, ""
		}
		before := installations(t)
		saves := saver.count()
		req, err := http.NewRequest(methods[int(m)%len(methods)], srv.URL+path, strings.NewReader(body))
		if err != nil {
			return 0, ""
		}
		for k, v := range map[string]string{"User-Agent": ua, "Accept-Language": lang, "Accept": accept} {
			if v != "" && httpguts.ValidHeaderFieldValue(v) {
				req.Header.Set(k, v)
			}
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		st, ct := resp.StatusCode, resp.Header.Get("Content-Type")
		if st >= 500 {
			t.Fatalf("%s %s: %d", req.Method, path, st)
		}
		after := installations(t)
		if len(after) > len(before) && st != http.StatusCreated {
			t.Fatalf("%s %s stored an installation but answered %d", req.Method, path, st)
		}
		if len(after) < len(before) && st != http.StatusNoContent {
			t.Fatalf("%s %s removed an installation but answered %d", req.Method, path, st)
		}
		link, signed := signedLink(req)
		served := signed && (st == http.StatusOK || st == http.StatusFound)
		if served && links.Verify(link.purpose, link.tenant, link.subject, req.URL.Query().Get("exp"), req.URL.Query().Get("sig"), clock()) != nil {
			t.Fatalf("%s %s: %d for a link whose signature does not verify (%+v)", req.Method, path, st, link)
		}
		asked := saver.count() - saves
		toGoogle := st == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), "https://pay.google.com/gp/v/save/")
		if asked != 0 && !(asked == 1 && toGoogle && strings.HasPrefix(link.purpose, "google-")) {
			t.Fatalf("%s %s: Google was asked %d save pages, and the answer was %d to %q", req.Method, path, asked, st, resp.Header.Get("Location"))
		}
		if st == http.StatusFound && strings.HasPrefix(link.purpose, "google-") && asked != 1 {
			t.Fatalf("%s %s: 302 to %q without a save page from Google", req.Method, path, resp.Header.Get("Location"))
		}
		if signed && (st == http.StatusUnauthorized || st == http.StatusGone) {
			html := strings.HasPrefix(ct, "text/html")
			if html && !strings.Contains(strings.ToLower(accept), "text/html") || !html && ct != httpapi.ContentTypeProblem {
				t.Fatalf("%s %s with Accept %q: %d %q", req.Method, path, accept, st, ct)
			}
		}
		return st, ct
	}
	seeds := []struct {
		m                            uint8
		path, body, ua, lang, accept string
		status                       int    // of a seed that must succeed or fail so; 0 for the others
		ctype                        string // the start of its Content-Type, when it matters
		installations                int    // stored after it
	}{
		{0, "/demo/orders/fuzzOrderSecret123", "", "Mozilla/5.0 (iPhone)", "fr", browser, http.StatusOK, "text/html", 0},
		{0, good, "", "", "", "", http.StatusOK, pass.ContentTypePkpass, 0},
		{0, bundle, "", "", "", "", http.StatusOK, pass.ContentTypePkpasses, 0},
		{0, googleOrder, "", "", "", "", http.StatusFound, "", 0},
		{0, googleTicket, "", "", "", browser, http.StatusFound, "", 0},
		{0, googleOld, "", "", "", "", http.StatusFound, "", 0},
		{0, "/api/demo/orders/fuzzOrderSecret123/tickets.pkpasses?exp=1&sig=x", "", "", "de", browser, http.StatusUnauthorized, "text/html", 0},
		{0, "/api/demo/orders/fuzzOrderSecret123/tickets.pkpasses?exp=1&sig=x", "", "", "", "text/html", http.StatusUnauthorized, httpapi.ContentTypeProblem, 0},
		{0, expired, "", "", "fr-CH", browser, http.StatusGone, "text/html", 0},
		{0, "/api/demo/google/save/fuzzOrderSecret123/" + p.SerialNumber + "?exp=9999999999&sig=AAAA", "", "", "", "", http.StatusUnauthorized, httpapi.ContentTypeProblem, 0},
		{0, "/api/demo/google/images/default/icon.png", "", "", "", "", http.StatusOK, "image/png", 0},
		{0, "/api/demo/preview/default?kind=concert", "", "", "", "", http.StatusOK, pass.ContentTypePkpass, 0},
		{0, "/api/demo/preview/default?kind=season&format=html&lang=de", "", "", "", "", http.StatusOK, "text/html", 0},
		{1, "/api/demo/customers/devices", `{"orderSecretToken":"fuzzOrderSecret123","fcmToken":"t1","platform":"ios","locale":"de"}`, "", "", "", http.StatusCreated, "", 1},
		{2, "/api/demo/customers/devices", `{"orderSecretToken":"fuzzOrderSecret123","fcmToken":"t1"}`, "", "", "", http.StatusNoContent, "", 0},
		{0, "/demo/orders/%00", "", "Android", "de;q=x, *", "", 0, "", 0},
	}
	// The seeds that should succeed do (in this order: the installation
	// is stored, then removed), and the refused links answer a browser
	// with a page, so the checks above are not vacuous.
	for _, sd := range seeds {
		f.Add(sd.m, sd.path, sd.body, sd.ua, sd.lang, sd.accept)
		st, ct := try(f, sd.m, sd.path, sd.body, sd.ua, sd.lang, sd.accept)
		if sd.status != 0 && (st != sd.status || !strings.HasPrefix(ct, sd.ctype)) {
			f.Fatalf("%s %s: %d %q, want %d %q", methods[sd.m], sd.path, st, ct, sd.status, sd.ctype)
		}
		if n := len(installations(f)); n != sd.installations {
			f.Fatalf("%s %s: %d installations stored, want %d", methods[sd.m], sd.path, n, sd.installations)
		}
	}
	f.Fuzz(func(t *testing.T, m uint8, path, body, ua, lang, accept string) {
		try(t, m, path, body, ua, lang, accept)
	})
}

// signedLinkRoutes are the routes of signed links, as their path reads
// (unescaped), each with what its signature covers.
var signedLinkRoutes = []struct {
	re      *regexp.Regexp
	purpose string
	subject func(m []string) string
}{
	{regexp.MustCompile(`^/api/([^/]+)/passes/([^/]+)\.pkpass$`), httpapi.PurposePassDownload, func(m []string) string { return m[2] }},
	{regexp.MustCompile(`^/api/([^/]+)/orders/([^/]+)/tickets\.pkpasses$`), httpapi.PurposeBundleDownload, func(m []string) string { return m[2] }},
	{regexp.MustCompile(`^/api/([^/]+)/google/save/([^/]+)$`), httpapi.PurposeGoogleSave, func(m []string) string { return m[2] }},
	{regexp.MustCompile(`^/api/([^/]+)/google/save/([^/]+)/([^/]+)$`), httpapi.PurposeGoogleSave, func(m []string) string { return m[2] + "/" + m[3] }},
	{regexp.MustCompile(`^/api/([^/]+)/google/pass/([^/]+)$`), httpapi.PurposeGoogleSavePass, func(m []string) string { return m[2] }},
}

// linkRef is what a signed link's signature covers.
type linkRef struct{ purpose, tenant, subject string }

// signedLink returns what the signature of req's link covers, and
// whether req is a GET of a signed link at all.
func signedLink(req *http.Request) (linkRef, bool) {
	if req.Method != http.MethodGet {
		return linkRef{}, false
	}
	for _, r := range signedLinkRoutes {
		if m := r.re.FindStringSubmatch(req.URL.Path); m != nil {
			return linkRef{purpose: r.purpose, tenant: m[1], subject: r.subject(m)}, true
		}
	}
	return linkRef{}, false
}
