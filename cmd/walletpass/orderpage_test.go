package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"walletpass/httpapi"
	"walletpass/pass"
	"walletpass/pass/apple/appletest"
)

const (
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	uaAndroid = "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	uaDesktop = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

// orderLinks runs `walletpass orders links` for the system's order.
func (s *system) orderLinks(secret string) map[string]string {
	s.t.Helper()
	var out, errOut syncBuffer
	if err := Run(context.Background(), []string{"orders", "links", "-secret", secret}, &out, &errOut,
		testEnv(s.dataDir, map[string]string{"WALLETPASS_PUBLIC_BASE_URL": s.base})); err != nil {
		s.t.Fatalf("orders links: %v %s", err, errOut.String())
	}
	links := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		k, v, _ := strings.Cut(line, "\t")
		links[k] = v
	}
	return links
}

func fetch(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // no redirects followed
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// hrefs returns the href values of the links with the given class.
func hrefs(page, class string) []string {
	var out []string
	for _, part := range strings.Split(page, `class="`+class)[1:] {
		_, rest, ok := strings.Cut(part, `href="`)
		if !ok {
			continue
		}
		v, _, _ := strings.Cut(rest, `"`)
		out = append(out, strings.ReplaceAll(v, "&amp;", "&"))
	}
	return out
}

// TestOrderPageAndDownloads: the buyer's page shows each device its
// buttons; the signed downloads serve passes that verify, and refuse
// tampered or expired links.
func TestOrderPageAndDownloads(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	o := s.createOrder(map[string]any{"count": 3})
	s.waitPasses(o.Secret, "3 passes", func(ps []pass.Pass) bool { return len(ps) == 3 })
	s.action(o, o.Tickets[2].TicketID, "cancel", nil)
	s.waitPasses(o.Secret, "the cancellation", func(ps []pass.Pass) bool {
		p := byMovement(ps, o.Tickets[2].MovementID, 0)
		return p != nil && p.Status == pass.StatusVoided
	})
	links := s.orderLinks(o.Secret)
	page := links["order-page"]
	if page != s.base+"/demo/orders/"+o.Secret {
		t.Fatalf("order page link %q", page)
	}

	// iPhone: an Apple Wallet button per valid ticket and one for all.
	resp, body := fetch(t, page, map[string]string{"User-Agent": uaIPhone})
	html := string(body)
	if resp.StatusCode != 200 || resp.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(html, "Your tickets") {
		t.Fatalf("iPhone page: %d %v", resp.StatusCode, resp.Header)
	}
	one, all := hrefs(html, "button apple add-one"), hrefs(html, "button apple add-all")
	if len(one) != 2 || len(all) != 1 || strings.Count(html, `class="ticket"`) != 3 || !strings.Contains(html, "Cancelled") ||
		strings.Contains(html, "google") && strings.Contains(html, `class="button google"`) {
		t.Errorf("iPhone page: %d single, %d all buttons:\n%s", len(one), len(all), html)
	}
	// The download verifies.
	resp, data := fetch(t, one[0], nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != pass.ContentTypePkpass ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment; filename=") {
		t.Fatalf("download: %d %v", resp.StatusCode, resp.Header)
	}
	pj := appletest.Verify(t, data, filepath.Join(s.dataDir, "pki", "wwdr.pem"))
	if pj["serialNumber"] == nil {
		t.Errorf("pass.json: %v", pj)
	}
	// The bundle holds the two valid tickets.
	resp, data = fetch(t, all[0], nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != pass.ContentTypePkpasses {
		t.Fatalf("bundle: %d %v %s", resp.StatusCode, resp.Header, data)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(zr.File) != 2 {
		t.Fatalf("bundle: %v, %d files", err, len(zr.File))
	}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		appletest.Verify(t, b, filepath.Join(s.dataDir, "pki", "wwdr.pem"))
	}

	// Tampered and expired links are refused, with nothing served.
	tampered := strings.Replace(one[0], "sig=", "sig=A", 1)
	other := strings.Replace(one[0], byMovementSerial(s, o, 0), byMovementSerial(s, o, 1), 1)
	cfg, _ := loadConfig("", testEnv(s.dataDir, nil))
	signer, _ := linkSigner(cfg)
	expired := httpapi.PassLink(s.base, signer, "demo", byMovementSerial(s, o, 0), time.Now().Add(-time.Minute))
	for name, tc := range map[string]struct {
		url    string
		status int
	}{
		"tampered signature": {tampered, 401}, "another pass": {other, 401}, "expired": {expired, 410},
		"tampered bundle": {strings.Replace(all[0], "exp=", "exp=1", 1), 401},
	} {
		resp, body := fetch(t, tc.url, nil)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != httpapi.ContentTypeProblem {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}

	// A buyer's browser gets a page, in its language, for an expired link.
	resp, body = fetch(t, expired, map[string]string{"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", "Accept-Language": "de"})
	if resp.StatusCode != 410 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), "Dieser Link ist abgelaufen") || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("an expired link in a browser: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}

	// Android: one Google Wallet button for all tickets, no Apple buttons.
	_, body = fetch(t, page, map[string]string{"User-Agent": uaAndroid, "Accept-Language": "fr-CH, fr;q=0.9, en;q=0.5"})
	html = string(body)
	if g := hrefs(html, "button google"); len(g) != 1 || !strings.Contains(g[0], "/api/demo/google/save/"+o.Secret) ||
		len(hrefs(html, "button apple add-one")) != 0 || !strings.Contains(html, "Vos billets") || !strings.Contains(html, `lang="fr"`) {
		t.Errorf("Android page (fr):\n%s", html)
	}
	// Desktop: the QR code of the page.
	_, body = fetch(t, page, map[string]string{"User-Agent": uaDesktop, "Accept-Language": "de"})
	html = string(body)
	if !strings.Contains(html, "<svg") || !strings.Contains(html, "Ihre Tickets") || len(hrefs(html, "button apple add-one")) != 0 {
		t.Errorf("desktop page (de):\n%s", html)
	}
	// Unknown and malformed tokens: the same plain 404.
	for _, u := range []string{s.base + "/demo/orders/NoSuchOrderToken123", s.base + "/demo/orders/bad%20token", s.base + "/nobody/orders/" + o.Secret} {
		resp, body := fetch(t, u, nil)
		if resp.StatusCode != 404 || string(body) != "Not found\n" {
			t.Errorf("%s: %d %q", u, resp.StatusCode, body)
		}
	}
}

// TestOrderPageAtTheDoors: the buyers at a venue share its Wi-Fi's
// address: 60 views of real orders from one client are all served, with
// nosniff; unknown tokens from it are refused after a burst, while real
// orders' pages are still served; a page asked in a language walletpass does not
// speak comes in the order's; one link downloaded over and over is
// refused after a burst.
func TestOrderPageAtTheDoors(t *testing.T) {
	t.Parallel()
	s := startSystem(t, `server: {development: true}
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
    secutix: {locale: fr-CH}
`)
	defer s.stop()
	o := s.createOrder(map[string]any{"count": 2})
	s.waitPasses(o.Secret, "2 passes", func(ps []pass.Pass) bool { return len(ps) == 2 })
	page := s.orderLinks(o.Secret)["order-page"]
	for i := range 60 {
		resp, body := fetch(t, page, map[string]string{"User-Agent": uaIPhone, "Accept-Language": "it-CH, it;q=0.9"})
		if resp.StatusCode != 200 {
			t.Fatalf("view %d: %d", i+1, resp.StatusCode)
		}
		if i == 0 && (resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(string(body), `lang="fr"`) ||
			!strings.Contains(string(body), "Vos billets") || !strings.Contains(string(body), `aria-label="Ajouter à Apple Wallet: `) ||
			strings.Contains(string(body), `Apple Wallet: "`) || strings.Contains(string(body), `, "`)) {
			t.Errorf("the page (it asked, the order is fr): %v\n%s", resp.Header, body)
		}
	}
	refused := 0
	for range 20 {
		if resp, _ := fetch(t, s.base+"/demo/orders/NoSuchOrderToken123", nil); resp.StatusCode == 429 {
			refused++
		}
	}
	if resp, _ := fetch(t, page, nil); refused == 0 || resp.StatusCode != 200 {
		t.Errorf("after 20 guesses: %d refused, then a real order's page %d; want some refused, and the page served", refused, resp.StatusCode)
	}
	// One bundle link, downloaded in a loop.
	link := s.orderLinks(o.Secret)["apple-bundle"]
	if link == "" {
		t.Fatalf("no apple-bundle link in %v", s.orderLinks(o.Secret))
	}
	codes := map[int]int{}
	for range 15 {
		resp, _ := fetch(t, link, nil)
		codes[resp.StatusCode]++
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	// (One more may be served if the loop outlasts the 6 s a download
	// takes to come back.)
	if codes[200] < 10 || codes[200] > 11 || codes[200]+codes[429] != 15 {
		t.Errorf("15 downloads of one link: %v, want 10 served and the rest refused", codes)
	}
}

func byMovementSerial(s *system, o order, i int) string {
	return byMovement(s.passes(o.Secret), o.Tickets[i].MovementID, 0).SerialNumber
}

// TestBrowserOrderPage opens the order page in headless Chromium as an
// iPhone, an Android phone and a desktop browser, checks the buttons or
// the QR code in the rendered DOM and takes screenshots (kept in docs/
// when WALLETPASS_UPDATE_SCREENSHOTS=1).
func TestBrowserOrderPage(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	s := startSystem(t, "")
	defer s.stop()
	o := s.createOrder(map[string]any{"count": 2})
	s.waitPasses(o.Secret, "2 passes", func(ps []pass.Pass) bool { return len(ps) == 2 })
	page := s.orderLinks(o.Secret)["order-page"]
	outDir := screenshotDir(t)
	for _, tc := range []struct {
		name, ua, size string
		want, absent   []string
	}{
		{"iphone", uaIPhone, "390,844", []string{"add-one", "add-all", "Add to Apple Wallet"}, []string{"<svg", "button google"}},
		{"android", uaAndroid, "412,915", []string{"button google", "Add to Google Wallet"}, []string{"add-one", "<svg"}},
		{"desktop", uaDesktop, "1280,900", []string{"<svg", "Scan this code"}, []string{"add-one", "button google"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := headless(t, browser, "--user-agent="+tc.ua, "--window-size="+tc.size)
			dom := run("--dump-dom", page)
			for _, w := range tc.want {
				if !strings.Contains(dom, w) {
					t.Errorf("the rendered page lacks %q", w)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(dom, a) {
					t.Errorf("the rendered page has %q", a)
				}
			}
			shot := filepath.Join(outDir, "order-page-"+tc.name+".png")
			run("--screenshot="+shot, page)
			if st, err := os.Stat(shot); err != nil || st.Size() < 2000 {
				t.Errorf("screenshot %s: %v", shot, err)
			}
		})
	}
}

// TestBrowserPassPreviews renders every sample kind's pass (the default
// template, as `make run` signs it) as its front and back in Chromium,
// in English and one in French, and checks what a designer must see:
// the event, venue-local times, translated labels, the barcode's text.
// The screenshots are docs/template-<kind>.png (written when
// WALLETPASS_UPDATE_SCREENSHOTS=1).
func TestBrowserPassPreviews(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	s := startSystem(t, "")
	defer s.stop()
	outDir := screenshotDir(t)
	run := headless(t, browser, "--window-size=760,900")
	for _, c := range []struct {
		kind, lang string
		want       []string
		extra      string // more of the query, and the screenshot's name
	}{
		{"concert", "en", []string{"Nightfall Orchestra", "14 Mar 2027, 20:00", "Doors open", "Order number", "[QR]"}, ""},
		{"concert", "fr", []string{"Lieu", "Ouverture des portes", "Ce billet est valable pour une personne"}, ""},
		{"festival", "en", []string{"Line-up", "9 Jul 2027, 14:00"}, ""},
		{"sports", "en", []string{"Match", "Lausanne Lions"}, ""},
		{"theatre", "en", []string{"The Seagull", "2 Apr 2027, 19:30", "Row"}, ""},
		{"conference", "en", []string{"Swiss Data Days 2027", "18 May 2027, 09:00", "2-day delegate"}, ""},
		{"movie", "en", []string{"Cinéma Capitole", "22 Jan 2027, 21:00"}, ""},
		{"generic", "en", []string{"Impressionists of the Lake", "Timed entry"}, ""},
		{"season", "en", []string{"Upcoming events", "Lausanne Lions vs Bern Bears", "Sat 27 Feb 2027, 19:45"}, ""},
		// An NFC tenant's pass: the poster, its logos and artwork.
		{"concert", "en", []string{"Poster (iOS 18 and later)", "Nightfall Orchestra", "Sun 14 Mar 2027, 20:00", "Lakeside Arena · Grand Hall",
			"data:image/png;base64,"}, "nfc=1"},
	} {
		page := fmt.Sprintf("%s/api/demo/preview/default?kind=%s&format=html&lang=%s", s.base, c.kind, c.lang)
		if c.extra != "" {
			page += "&" + c.extra
		}
		dom := run("--dump-dom", page)
		for _, w := range c.want {
			if !strings.Contains(dom, w) {
				t.Errorf("%s (%s): the page lacks %q", c.kind, c.lang, w)
			}
		}
		if strings.Contains(dom, "UTC") {
			t.Errorf("%s: a date is not shown in the venue's time", c.kind)
		}
		if poster := strings.Contains(dom, "Poster (iOS 18"); poster != (c.extra == "nfc=1") {
			t.Errorf("%s %s: poster shown: %v", c.kind, c.extra, poster)
		}
		if c.extra == "nfc=1" && !strings.Contains(dom, `background-image:url('data:image/png;base64,`) {
			t.Errorf("the poster's artwork is not its background")
		}
		name := "template-" + c.kind + ".png"
		switch {
		case c.extra == "nfc=1":
			name = "template-" + c.kind + "-poster.png"
		case c.lang != "en":
			name = "template-" + c.kind + "-" + c.lang + ".png"
		}
		shot := filepath.Join(outDir, name)
		run("--screenshot="+shot, page)
		if st, err := os.Stat(shot); err != nil || st.Size() < 5000 {
			t.Errorf("screenshot %s: %v", shot, err)
		}
	}
}

// headless returns a function that runs headless Chromium with a profile
// of its own, the options given, and the arguments of each call (a page
// to dump or screenshot); it returns what Chromium printed.
// screenshotDir is where a browser test writes its screenshots: docs/
// with WALLETPASS_UPDATE_SCREENSHOTS=1, else a temporary directory.
func screenshotDir(t *testing.T) string {
	if os.Getenv("WALLETPASS_UPDATE_SCREENSHOTS") == "1" {
		return filepath.Join("..", "..", "docs")
	}
	return t.TempDir()
}

func headless(t *testing.T, browser string, options ...string) func(args ...string) string {
	home := t.TempDir()
	return func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		base := append([]string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
			"--user-data-dir=" + filepath.Join(home, "profile")}, options...)
		cmd := exec.CommandContext(ctx, browser, append(base, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.String()
	}
}

// TestLargeOrderGoogleLinks: Google's save token names every object it
// saves and has a length limit, so an order too large for one link gets a
// Google Wallet link per ticket instead, on the Android page and in
// getTicketsUrl, and each of those links opens.
func TestLargeOrderGoogleLinks(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	o := s.createOrder(map[string]any{"count": 20})
	s.waitPasses(o.Secret, "20 passes", func(ps []pass.Pass) bool { return len(ps) == 20 })

	_, body := fetch(t, s.orderLinks(o.Secret)["order-page"], map[string]string{"User-Agent": uaAndroid})
	html := string(body)
	one := hrefs(html, "button google add-one")
	if len(one) != 20 || strings.Contains(html, `class="button google"`) {
		t.Fatalf("Android page of 20 tickets: %d per-ticket Google buttons (want 20) and no button for all:\n%s", len(one), html)
	}
	if resp, body := fetch(t, one[19], nil); resp.StatusCode != http.StatusFound || strings.Contains(one[19], o.Secret) {
		t.Errorf("a per-ticket Google link %s: %d %s, want 302 and no order secret in it", one[19], resp.StatusCode, body)
	}

	env := testEnv(s.dataDir, map[string]string{"WALLETPASS_PUBLIC_BASE_URL": s.base})
	var out, errOut syncBuffer
	if err := Run(context.Background(), []string{"orders", "links", "-secret", o.Secret}, &out, &errOut, env); err != nil {
		t.Fatal(err, errOut.String())
	}
	kinds := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		k, _, _ := strings.Cut(line, "\t")
		kinds[k]++
	}
	if want := map[string]int{"order-page": 1, "apple-pass": 20, "google-save-ticket": 20}; !maps.Equal(kinds, want) {
		t.Errorf("orders links of 20 tickets: %v, want %v", kinds, want)
	}
	out = syncBuffer{}
	if err := Run(context.Background(), []string{"token", "-scope", "tickets:read"}, &out, &errOut, env); err != nil {
		t.Fatal(err, errOut.String())
	}
	ticketsURL := s.base + "/api/demo/external/secutix/orders/getTicketsUrl/" + strconv.FormatInt(o.FileID, 10)
	resp, body := fetch(t, ticketsURL, map[string]string{"Authorization": "Bearer " + strings.TrimSpace(out.String())})
	var tr httpapi.TicketsResponse
	if err := json.Unmarshal(body, &tr); err != nil || resp.StatusCode != 200 || len(tr.Tickets) != 20 {
		t.Fatalf("getTicketsUrl: %d %s", resp.StatusCode, body)
	}
	if tr.GoogleSaveURL != "" || slices.ContainsFunc(tr.Tickets, func(tk httpapi.TicketURLs) bool { return tk.GoogleSaveURL == "" }) {
		t.Errorf("getTicketsUrl of 20 tickets: googleSaveUrl %q, want none and one per ticket: %+v", tr.GoogleSaveURL, tr.Tickets)
	}

	// The console's fresh links: a link per ticket for each wallet, none
	// for all.
	admin, _ := consoleUser(t, s, 0)
	orderURL := s.base + "/console/t/demo/orders/" + o.Secret
	_, orderPage := get(t, admin, orderURL)
	resp, err := admin.PostForm(orderURL+"/links", url.Values{"csrf": {csrfOf(t, orderPage)}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n, g, all := strings.Count(string(page), "Apple Wallet, pass "), strings.Count(string(page), "Google Wallet, pass "),
		strings.Contains(string(page), "Wallet, all"); n != 40 || g != 40 || all {
		// each label appears twice: the text and the input's aria-label
		t.Errorf("the console's links for 20 tickets: %d Apple and %d Google per-ticket labels (want 40 each), one for all: %v", n, g, all)
	}
}
