package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"walletpass/pass"
)

// consoleUser signs in to the console through the development OpenID
// provider as the user at index (0: the admin, 1: the first tenant's
// operator, last: a user without a role) and returns a client that holds
// the session, and the last page.
func consoleUser(t *testing.T, s *system, index int) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.Contains(req.URL.Path, "/dev/oidc/authorize") {
			return http.ErrUseLastResponse // the login page: choose a user
		}
		return nil
	}}
	resp, err := c.Get(s.base + "/console/queue")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || !strings.HasSuffix(loc.Path, "/dev/oidc/authorize") {
		t.Fatalf("the console without a session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Errorf("authorization request without PKCE, nonce or state: %v", q)
	}
	q.Set("user", strconv.Itoa(index))
	resp, err = c.PostForm(loc.String(), q)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return c, string(body)
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post sends a form and reads the answer whole.
func post(c *http.Client, u string, form url.Values) (int, error) {
	resp, err := c.PostForm(u, form)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// csrfOf reads the CSRF token from a page's forms.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `name="csrf" value="`)
	if !ok {
		t.Fatal("no CSRF token on the page")
	}
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}

// TestConsoleOrderLife walks an order paid → modified → validated →
// cancelled and finds each step on the console's order page, found by
// each identifier; re-sync and re-push are queued and audited.
func TestConsoleOrderLife(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	admin, page := consoleUser(t, s, 0)
	if !strings.Contains(page, "Ada Admin") {
		t.Fatalf("after sign-in, the queue page does not name the operator:\n%s", page)
	}

	o := s.createOrder(map[string]any{"count": 2})
	s.waitPasses(o.Secret, "2 passes", func(ps []pass.Pass) bool { return len(ps) == 2 })
	orderURL := s.base + "/console/t/demo/orders/" + o.Secret
	// step waits (a few seconds at most) for the order page to show what
	// a step wrote: the timeline entries follow the pass by a moment.
	step := func(what string, want ...string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, body := get(t, admin, orderURL)
			var missing []string
			for _, w := range want {
				if st != 200 || !strings.Contains(body, w) {
					missing = append(missing, w)
				}
			}
			if len(missing) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: the order page (%d) lacks %q", what, st, missing)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// SecuTix's answer is on the timeline, masked.
	step("paid", "File id "+strconv.FormatInt(o.FileID, 10), "badge\">active", "pass-version", "SecuTix&#39;s answer, masked", "…(")
	first := *byMovement(s.passes(o.Secret), o.Tickets[0].MovementID, 0)
	_, body := get(t, admin, orderURL)
	_, answer, _ := strings.Cut(body, "<pre>")
	answer, _, _ = strings.Cut(answer, "</pre>")
	if first.Ticket.HolderName == "" || answer == "" {
		t.Fatalf("no holder name (%q) or no SecuTix answer on the page", first.Ticket.HolderName)
	}
	for _, part := range strings.Fields(first.Ticket.HolderName) {
		if len(part) > 2 && strings.Contains(answer, part) {
			t.Errorf("SecuTix's answer on the order page shows the holder's name (%q) unmasked", part)
		}
	}
	ph := s.phoneFor(t, first, "c4")
	ph.register()
	step("added to Apple Wallet", "<td data-label=\"Wallet\">apple</td><td data-label=\"What\">added</td>")

	s.action(o, o.Tickets[0].TicketID, "modify", map[string]any{})
	s.waitPasses(o.Secret, "the modified pass", func(ps []pass.Pass) bool {
		p := byMovement(ps, o.Tickets[0].MovementID, 0)
		return p != nil && p.Version == 2
	})
	// The new version, what changed from the first, and the push to the
	// phone with APNs's answer.
	// (The device library identifier, the secret of its list of passes,
	// is shown masked.)
	maskedDevice := ph.device[:4] + "…" + ph.device[len(ph.device)-4:]
	step("modified", "Version 2 · active", "Changes from the version before", `class="before"`,
		"<td data-label=\"Device\"><code>"+maskedDevice+"</code></td><td data-label=\"Answer\">delivered</td>")
	if _, body := get(t, admin, orderURL); strings.Contains(body, ph.device) {
		t.Errorf("the order page shows a device library identifier in full")
	}
	// Each version's front and back, framed by the page.
	resp, err := admin.Get(s.base + "/console/t/demo/passes/" + first.SerialNumber + "/versions/1/preview?lang=en")
	if err != nil {
		t.Fatal(err)
	}
	prev, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(prev), first.Ticket.Event.Name) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'self'") {
		t.Errorf("version preview: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	if st, _ := get(t, admin, s.base+"/console/t/demo/passes/"+first.SerialNumber+"/versions/9/preview"); st != 404 {
		t.Errorf("preview of a version that does not exist: %d", st)
	}

	s.action(o, o.Tickets[0].TicketID, "validate", nil)
	s.waitPasses(o.Secret, "the used pass", func(ps []pass.Pass) bool {
		p := byMovement(ps, o.Tickets[0].MovementID, 0)
		return p != nil && p.Status == pass.StatusUsed
	})
	step("validated", "badge\">used")

	s.action(o, o.Tickets[1].TicketID, "cancel", nil)
	s.waitPasses(o.Secret, "the voided pass", func(ps []pass.Pass) bool {
		p := byMovement(ps, o.Tickets[1].MovementID, 0)
		return p != nil && p.Status == pass.StatusVoided
	})
	step("cancelled", "badge\">voided", "· voided ·")

	// Found by each identifier.
	ps := s.passes(o.Secret)
	for _, q := range []string{strconv.FormatInt(o.FileID, 10), o.Secret, ps[0].SerialNumber, o.Tickets[0].Barcode} {
		st, body := get(t, admin, s.base+"/console/?q="+url.QueryEscape(q))
		if st != 200 || !strings.Contains(body, "/console/t/demo/orders/"+o.Secret) {
			t.Errorf("search %q: %d, no link to the order", q, st)
		}
	}
	if st, body := get(t, admin, s.base+"/console/?q=nothing-like-this"); st != 200 || strings.Contains(body, "/orders/") {
		t.Errorf("a search that matches nothing: %d", st)
	}

	// Actions, with the page's CSRF token; then in the audit log.
	_, body = get(t, admin, orderURL)
	tok := csrfOf(t, body)
	for _, action := range []string{"resync", "repush"} {
		resp, err := admin.PostForm(orderURL+"/"+action, url.Values{"csrf": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "Queued") {
			t.Errorf("%s: %d", action, resp.StatusCode)
		}
	}
	// Fresh links for the buyer: signed, shown once, audited.
	resp, err = admin.PostForm(orderURL+"/links", url.Values{"csrf": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "Fresh links for the buyer") || !strings.Contains(string(b), "/orders/"+o.Secret) ||
		!strings.Contains(string(b), "sig=") {
		t.Errorf("fresh links: %d\n%s", resp.StatusCode, b)
	}

	// Usage of the performance: the page with its chart, and the CSV.
	perf := first.Ticket.Event.PerformanceID
	if st, body := get(t, admin, s.base+"/console/t/demo/usage"); st != 200 || !strings.Contains(body, fmt.Sprintf("/usage/%d", perf)) {
		t.Errorf("usage page: %d", st)
	}
	if st, body := get(t, admin, fmt.Sprintf("%s/console/t/demo/usage/%d", s.base, perf)); st != 200 || !strings.Contains(body, "<svg") ||
		!strings.Contains(body, "<polyline") {
		t.Errorf("performance usage: %d", st)
	}
	_, csvBody := get(t, admin, fmt.Sprintf("%s/console/t/demo/usage/%d?format=csv", s.base, perf))
	lines := strings.Split(strings.TrimSpace(csvBody), "\n")
	if len(lines) < 3 || lines[0] != "day,issued,appleAdded,appleRemoved,googleAdded,googleRemoved,scanned" ||
		!strings.HasPrefix(lines[len(lines)-1], "total,") {
		t.Fatalf("usage CSV:\n%s", csvBody)
	}
	total := strings.Split(lines[len(lines)-1], ",")
	if n, _ := strconv.Atoi(total[1]); n < 2 || total[2] != "1" || total[6] != "1" {
		t.Errorf("usage totals %v: want at least 2 issued, 1 added to Apple Wallet, 1 scanned", total)
	}

	// The tenants page: certificates with their days, SecuTix, the queue.
	if st, body := get(t, admin, s.base+"/console/tenants"); st != 200 || !strings.Contains(body, "pass signing and APNs") ||
		!strings.Contains(body, "days left") || !strings.Contains(body, "Orders waiting to sync") {
		t.Errorf("tenants page: %d\n%s", st, body)
	}

	// An operator voids a ticket SecuTix still holds valid: the pass is
	// void, and stays so when the order syncs again.
	o2 := s.createOrder(map[string]any{})
	ps2 := s.waitPasses(o2.Secret, "the second order", func(ps []pass.Pass) bool { return len(ps) == len(o2.Tickets) })
	order2 := s.base + "/console/t/demo/orders/" + o2.Secret
	if st, _ := post(admin, order2+"/void", url.Values{"csrf": {tok}, "serial": {ps2[0].SerialNumber}}); st != 400 {
		t.Errorf("a void without confirmation: %d", st)
	}
	if st, _ := post(admin, order2+"/void", url.Values{"csrf": {tok}, "serial": {first.SerialNumber}, "confirm": {"yes"}}); st != 404 {
		t.Errorf("a void of another order's pass: %d", st)
	}
	if st, err := post(admin, order2+"/void", url.Values{"csrf": {tok}, "serial": {ps2[0].SerialNumber}, "confirm": {"yes"}, "reason": {"reported stolen"}}); err != nil || st != 200 {
		t.Fatalf("void: %d %v", st, err)
	}
	s.waitPasses(o2.Secret, "the voided pass", func(ps []pass.Pass) bool {
		p := byMovement(ps, o2.Tickets[0].MovementID, 0)
		return p != nil && p.Status == pass.StatusVoided
	})
	if st, err := post(admin, order2+"/resync", url.Values{"csrf": {tok}}); err != nil || st != 200 {
		t.Fatalf("resync: %d %v", st, err)
	}
	s.idle()
	if p := byMovement(s.passes(o2.Secret), o2.Tickets[0].MovementID, 0); p == nil || p.Status != pass.StatusVoided {
		t.Errorf("after a sync, the voided pass is %v", p)
	}

	// Looking someone up by e-mail is on record, the address is not.
	if st, _ := get(t, admin, s.base+"/console/?q="+url.QueryEscape("Someone.Else@Example.com")); st != 200 {
		t.Errorf("search by e-mail: %d", st)
	}
	if st, body := get(t, admin, s.base+"/console/audit"); st != 200 || !strings.Contains(body, ">void<") || !strings.Contains(body, ">links<") ||
		!strings.Contains(body, ">resync<") || !strings.Contains(body, ">view-order<") || !strings.Contains(body, ">search-holder<") || !strings.Contains(body, ">search<") ||
		strings.Contains(strings.ToLower(body), "someone.else@example.com") ||
		!strings.Contains(body, ">repush<") || !strings.Contains(body, ">login<") || !strings.Contains(body, "Ada Admin (dev-admin)") {
		t.Errorf("audit log (%d) lacks the sign-in or the actions:\n%s", st, body)
	}
}

// TestConsoleAuth: without a session, pages go to sign-in and forms are
// refused; a user without a role is refused; an operator of one tenant
// sees nothing of another's (pages, search, queue, actions); every form
// needs the session's CSRF token and a same-site origin; the cookies are
// HttpOnly, SameSite=Lax and limited to /console/.
func TestConsoleAuth(t *testing.T) {
	t.Parallel()
	s := startTwoTenants(t, "console-secret")
	defer s.stop()
	o := s.createOrder(map[string]any{"count": 1})
	s.waitPasses(o.Secret, "a pass", func(ps []pass.Pass) bool { return len(ps) == 1 })
	orderURL := s.base + "/console/t/demo/orders/" + o.Secret

	// No session.
	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := anon.Get(orderURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/login?next=") {
		t.Errorf("a page without a session: %d to %q", resp.StatusCode, loc)
	}
	if st, err := post(anon, orderURL+"/resync", url.Values{"csrf": {"x"}}); err != nil || st != http.StatusUnauthorized {
		t.Errorf("a form without a session: %v %v", st, err)
	}

	// The sign-in's cookies.
	jar, _ := cookiejar.New(nil)
	flagsSeen := 0
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		for _, sc := range req.Response.Header.Values("Set-Cookie") {
			if strings.HasPrefix(sc, "walletpass_console") {
				flagsSeen++
				if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") || !strings.Contains(sc, "Path=/console/") {
					t.Errorf("cookie flags: %s", sc)
				}
			}
		}
		if strings.Contains(req.URL.Path, "/dev/oidc/authorize") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err = c.Get(s.base + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	q.Set("user", "1") // the operator of demo
	if st, err := post(c, loc.String(), q); err != nil || st != 200 {
		t.Fatalf("sign-in as demo's operator: %v %v", st, err)
	}
	if flagsSeen < 2 {
		t.Errorf("%d console cookies set during the sign-in, want the sign-in's and the session's", flagsSeen)
	}
	if st, body := get(t, c, orderURL); st != 200 || !strings.Contains(body, o.Secret) {
		t.Errorf("demo's operator on demo's order: %d", st)
	}

	// The operator of other.
	other, _ := consoleUser(t, s, 2)
	if st, _ := get(t, other, orderURL); st != http.StatusNotFound {
		t.Errorf("other's operator on demo's order: %d, want 404", st)
	}
	if st, body := get(t, other, s.base+"/console/?q="+strconv.FormatInt(o.FileID, 10)); st != 200 || strings.Contains(body, o.Secret) {
		t.Errorf("other's operator finds demo's order: %d", st)
	}
	if st, _ := get(t, other, s.base+"/console/?q=x&tenant=demo"); st != http.StatusForbidden {
		t.Errorf("other's operator searching demo: %d, want 403", st)
	}
	if st, _ := get(t, other, s.base+"/console/queue?tenant=demo"); st != http.StatusForbidden {
		t.Errorf("other's operator on demo's queue: %d, want 403", st)
	}
	_, page := get(t, other, s.base+"/console/queue")
	otherTok := csrfOf(t, page)
	for _, action := range []string{"resync", "repush", "links", "void"} {
		form := url.Values{"csrf": {otherTok}, "serial": {s.passes(o.Secret)[0].SerialNumber}, "confirm": {"yes"}}
		if st, err := post(other, orderURL+"/"+action, form); err != nil || st != http.StatusNotFound {
			t.Errorf("other's operator: %s on demo's order: %v %v, want 404", action, st, err)
		}
	}
	demoPass := s.passes(o.Secret)[0]
	for _, path := range []string{"/console/t/demo/passes/" + demoPass.SerialNumber + "/versions/1/preview",
		"/console/t/demo/usage", fmt.Sprintf("/console/t/demo/usage/%d", demoPass.Ticket.Event.PerformanceID),
		fmt.Sprintf("/console/t/demo/usage/%d?format=csv", demoPass.Ticket.Event.PerformanceID)} {
		if st, _ := get(t, other, s.base+path); st != http.StatusNotFound {
			t.Errorf("other's operator on %s: %d, want 404", path, st)
		}
		if st, _ := get(t, c, s.base+path); st != http.StatusOK {
			t.Errorf("demo's operator on %s: %d, want 200", path, st)
		}
	}
	if st, body := get(t, other, s.base+"/console/tenants"); st != 200 || strings.Contains(body, `id="t-demo"`) || !strings.Contains(body, `id="t-other"`) {
		t.Errorf("other's operator's tenants page (%d) shows demo, or not other", st)
	}
	if p := s.passes(o.Secret)[0]; p.Status != pass.StatusActive {
		t.Errorf("demo's pass after other's attempts: %s", p.Status)
	}
	task, err := s.db.Enqueue(t.Context(), pass.TaskOf(pass.PushArgs{Tenant: "demo", PassTypeID: "pass.x", Serial: "s"}, "test"), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := post(other, s.base+"/console/queue/discard", url.Values{"csrf": {otherTok}, "id": {task.TaskID}}); err != nil || st != http.StatusNotFound {
		t.Errorf("other's operator discards demo's task: %v %v, want 404", st, err)
	}
	if _, err := s.db.GetTask(t.Context(), task.TaskID); err != nil {
		t.Errorf("demo's task after other's attempt: %v", err)
	}

	// CSRF.
	_, page = get(t, c, orderURL)
	tok := csrfOf(t, page)
	for name, form := range map[string]url.Values{"no token": {}, "another session's token": {"csrf": {otherTok}}} {
		if st, err := post(c, orderURL+"/resync", form); err != nil || st != http.StatusForbidden {
			t.Errorf("%s: %v %v, want 403", name, st, err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, orderURL+"/resync", strings.NewReader(url.Values{"csrf": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site form with the right token: %v, want 403", err)
	} else {
		resp.Body.Close()
	}
	// "Discard all" discards what the page showed, not a task queued
	// after it was shown.
	_, queuePage := get(t, c, s.base+"/console/queue?tenant=demo&state=pending")
	form := allForm(t, queuePage, "/console/queue/discard")
	if !slices.Contains(form["id"], task.TaskID) {
		t.Fatalf("the discard-all form lacks the task shown: %v", form)
	}
	later, err := s.db.Enqueue(t.Context(), pass.TaskOf(pass.PushArgs{Tenant: "demo", PassTypeID: "pass.x", Serial: "later"}, "test"), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := post(c, s.base+"/console/queue/discard", form); err != nil || st != 200 {
		t.Errorf("demo's operator discards all: %v %v", st, err)
	}
	if _, err := s.db.GetTask(t.Context(), task.TaskID); pass.KindOf(err) != pass.KindNotFound {
		t.Errorf("the discarded task: %v", err)
	}
	if _, err := s.db.GetTask(t.Context(), later.TaskID); err != nil {
		t.Errorf("the task queued after the page was shown: %v, want it kept", err)
	}

	// A user without a role.
	if _, body := consoleUser(t, s, 3); !strings.Contains(body, "no role") {
		t.Errorf("a user without a role is not refused:\n%s", body)
	}
}

// TestBrowserConsole: Chromium, sent to the console without a session,
// lands on the development sign-in; the pages a signed-in operator gets
// (search, order, queue, audit) are drawn by Chromium from the HTML and
// style sheet the console served, on a desktop and a phone. The
// screenshots are docs/console-*.png (written when
// WALLETPASS_UPDATE_SCREENSHOTS=1).
// TestBrowserConsoleSignIn: a real Chromium goes through the whole
// OpenID Connect sign-in (the console's sign-in cookie, the provider, the
// callback with PKCE, the session cookie) to the page it asked for, keeps
// the session for its next visit, and without a session lands on the
// sign-in. The development provider signs the hinted user in at once, so
// that no script is needed.
func TestBrowserConsoleSignIn(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	s := startSystem(t, "")
	defer s.stop()
	run := headless(t, browser, "--window-size=1100,900")
	if dom := run("--dump-dom", s.base+"/console/tenants"); !strings.Contains(dom, "Development login") || strings.Contains(dom, "days left") {
		t.Fatalf("without a session, Chromium does not land on the sign-in:\n%s", dom)
	}
	dom := run("--dump-dom", s.base+"/console/login?login_hint=dev-admin&next=%2Fconsole%2Ftenants")
	if !strings.Contains(dom, "Ada Admin") || !strings.Contains(dom, "days left") {
		t.Fatalf("after the sign-in, Chromium is not on the tenants page:\n%s", dom)
	}
	// The next visit, by another browser process on the same profile.
	if dom := run("--dump-dom", s.base+"/console/audit"); !strings.Contains(dom, "Ada Admin (dev-admin)") || !strings.Contains(dom, ">login<") {
		t.Errorf("the session is not kept for the next visit:\n%s", dom)
	}
	// Another profile, the operator of demo: a session of its own.
	other := headless(t, browser, "--window-size=390,844")
	if dom := other("--dump-dom", s.base+"/console/login?login_hint=dev-operator-demo&next=%2Fconsole%2Fqueue"); !strings.Contains(dom, "Operator of Demo") ||
		!strings.Contains(dom, "Queue") {
		t.Errorf("demo's operator's sign-in:\n%s", dom)
	}
}

// previewSrc finds the version previews an order page frames.
var previewSrc = regexp.MustCompile(`src="/console/t/[a-z0-9-]+/passes/[0-9a-f]{32}/versions/[0-9]+/preview\?lang=[a-z]+"`)

func TestBrowserConsole(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	s := startSystem(t, "")
	defer s.stop()
	outDir := screenshotDir(t)
	desktop := headless(t, browser, "--window-size=1100,900")
	phone := headless(t, browser, "--window-size=390,844")
	tall := headless(t, browser, "--window-size=1100,2400")

	dom := desktop("--dump-dom", s.base+"/console/")
	if !strings.Contains(dom, "Development login") || !strings.Contains(dom, "Ada Admin") {
		t.Errorf("Chromium without a session does not reach the sign-in:\n%s", dom)
	}
	desktop("--screenshot="+filepath.Join(outDir, "console-login.png"), s.base+"/console/")

	// An organiser's webhook endpoint that is down: the tenants page shows
	// its failures.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	req, _ := http.NewRequest("POST", s.base+"/api/demo/webhooks",
		strings.NewReader(`{"endpoint": "`+down.URL+`/hooks", "events": ["*"], "description": "CRM"}`))
	req.Header.Set("Authorization", s.bearer("demo", "webhooks:write"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("webhook subscription: %d", resp.StatusCode)
	}

	o := s.createOrder(map[string]any{"count": 3})
	ps := s.waitPasses(o.Secret, "3 passes", func(ps []pass.Pass) bool { return len(ps) == 3 })
	first := *byMovement(ps, o.Tickets[0].MovementID, 0)
	s.phoneFor(t, first, "d7").register()
	s.action(o, o.Tickets[0].TicketID, "modify", map[string]any{})
	s.action(o, o.Tickets[1].TicketID, "validate", nil)
	s.action(o, o.Tickets[2].TicketID, "cancel", nil)
	s.waitPasses(o.Secret, "the changes", func(ps []pass.Pass) bool {
		a, b, c := byMovement(ps, o.Tickets[0].MovementID, 0), byMovement(ps, o.Tickets[1].MovementID, 0), byMovement(ps, o.Tickets[2].MovementID, 0)
		return a != nil && b != nil && c != nil && a.Version == 2 && b.Status == pass.StatusUsed && c.Status == pass.StatusVoided
	})
	admin, _ := consoleUser(t, s, 0)
	_, page := get(t, admin, s.base+"/console/t/demo/orders/"+o.Secret)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(page, ">delivered<") && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond) // the push to the phone, logged
		_, page = get(t, admin, s.base+"/console/t/demo/orders/"+o.Secret)
	}
	post(admin, s.base+"/console/t/demo/orders/"+o.Secret+"/repush", url.Values{"csrf": {csrfOf(t, page)}})
	if _, err := s.db.Enqueue(t.Context(), pass.TaskOf(pass.OrderRef{Tenant: "demo", FileID: 999999}, "later"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	pages := t.TempDir()
	_, css := get(t, admin, s.base+"/console/style.css")
	if err := os.WriteFile(filepath.Join(pages, "style.css"), []byte(css), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		want       []string
		phone      bool
		tall       bool // the whole of a long page
	}{
		{"search", "/console/?q=" + strconv.FormatInt(o.FileID, 10), []string{"Find an order", "1 active, 1 used, 1 voided"}, false, false},
		{"order", "/console/t/demo/orders/" + o.Secret, []string{"Sync with SecuTix now", "Timeline", "pass-version"}, false, false},
		{"order-versions", "/console/t/demo/orders/" + o.Secret + "?lang=en", []string{"Changes from the version before", "Front and back", "delivered"},
			false, true},
		{"order-phone", "/console/t/demo/orders/" + o.Secret + "?lang=fr", []string{"Synchroniser avec SecuTix", "Chronologie"}, true, false},
		{"queue", "/console/queue?state=pending&lang=en", []string{"sync-order", "Retry all shown"}, false, false},
		{"audit", "/console/audit?lang=de", []string{"Audit-Protokoll", "repush", "Ada Admin (dev-admin)"}, false, false},
		{"tenants", "/console/tenants?lang=en", []string{"pass signing and APNs", "days left", "Orders waiting to sync", down.URL + "/…", "503"}, false, false},
		{"usage", "/console/t/demo/usage", []string{"Added to Apple Wallet", first.Ticket.Event.Name}, false, false},
		{"performance", fmt.Sprintf("/console/t/demo/usage/%d", first.Ticket.Event.PerformanceID), []string{"Running totals by day", "Download CSV"}, false, false},
		{"performance-phone", fmt.Sprintf("/console/t/demo/usage/%d?lang=de", first.Ticket.Event.PerformanceID), []string{"Laufende Summen pro Tag"}, true, false},
	} {
		st, body := get(t, admin, s.base+c.path)
		if st != 200 {
			t.Fatalf("%s: %d", c.name, st)
		}
		// The previews the page frames, saved beside it.
		body = previewSrc.ReplaceAllStringFunc(body, func(src string) string {
			path := strings.TrimSuffix(strings.TrimPrefix(src, `src="`), `"`)
			_, preview := get(t, admin, s.base+strings.ReplaceAll(path, "&amp;", "&"))
			name := "preview-" + strings.NewReplacer("/", "-", "?", "-", "=", "-").Replace(strings.TrimPrefix(path, "/console/t/demo/passes/")) + ".html"
			if err := os.WriteFile(filepath.Join(pages, name), []byte(preview), 0o600); err != nil {
				t.Fatal(err)
			}
			return `src="` + name + `"`
		})
		file := filepath.Join(pages, c.name+".html")
		if err := os.WriteFile(file, []byte(strings.ReplaceAll(body, `href="/console/style.css"`, `href="style.css"`)), 0o600); err != nil {
			t.Fatal(err)
		}
		run := desktop
		if c.phone {
			run = phone
		}
		dom := run("--dump-dom", "file://"+file)
		for _, w := range c.want {
			if !strings.Contains(dom, w) {
				t.Errorf("%s: Chromium's page lacks %q", c.name, w)
			}
		}
		if strings.Contains(dom, down.URL+"/hooks") {
			t.Errorf("%s: the page shows the webhook endpoint's path (it may carry the receiver's token)", c.name)
		}
		shot := filepath.Join(outDir, "console-"+c.name+".png")
		if c.tall {
			run = tall
		}
		run("--screenshot="+shot, "file://"+file)
		if st, err := os.Stat(shot); err != nil || st.Size() < 5000 {
			t.Errorf("screenshot %s: %v", shot, err)
		}
	}
}

// allForm is the form of a queue page's "all" button posting to action:
// its hidden fields.
func allForm(t *testing.T, page, action string) url.Values {
	t.Helper()
	re := regexp.MustCompile(`<form method="post" action="` + regexp.QuoteMeta(action) + `">(.*?)</form>`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form posting to %s", action)
	}
	form := url.Values{}
	for _, f := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(m[1], -1) {
		form.Add(f[1], html.UnescapeString(f[2]))
	}
	return form
}

// TestConsoleSignOutEndsTheSession: a session cookie copied before its
// operator signed out no longer opens the console; `walletpass console
// signout -subject` ends every session an operator has open.
func TestConsoleSignOutEndsTheSession(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	copyOf := func(c *http.Client) *http.Client {
		jar, _ := cookiejar.New(nil)
		u, _ := url.Parse(s.base + "/console/")
		jar.SetCookies(u, c.Jar.Cookies(u))
		return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	op, page := consoleUser(t, s, 1)
	copied := copyOf(op)
	if st, _ := get(t, copied, s.base+"/console/queue"); st != 200 {
		t.Fatalf("the copied cookie before sign-out: %d", st)
	}
	// Signing out also ends the provider's session: the browser goes
	// through its end-session endpoint and back to the console.
	resp, err := op.PostForm(s.base+"/console/logout", url.Values{"csrf": {csrfOf(t, page)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/console/signedout" {
		t.Fatalf("sign out: %d at %s, want the signed-out page after the provider's end-session endpoint", resp.StatusCode, resp.Request.URL)
	}
	if st, _ := get(t, copied, s.base+"/console/queue"); st != http.StatusSeeOther {
		t.Errorf("the copied cookie after sign-out: %d, want 303 to sign-in", st)
	}

	op, _ = consoleUser(t, s, 1)
	admin, _ := consoleUser(t, s, 0)
	var out syncBuffer
	if err := Run(context.Background(), []string{"console", "signout", "-subject", "dev-operator-demo"}, &out, io.Discard,
		testEnv(s.dataDir, nil)); err != nil {
		t.Fatal(err)
	}
	if st, _ := get(t, copyOf(op), s.base+"/console/queue"); st != http.StatusSeeOther {
		t.Errorf("the operator's session after console signout: %d, want 303 to sign-in", st)
	}
	if st, _ := get(t, copyOf(admin), s.base+"/console/queue"); st != 200 {
		t.Errorf("another operator's session after console signout: %d, want 200", st)
	}
	if again, _ := consoleUser(t, s, 1); again == nil {
		t.Error("the operator cannot sign in again")
	}
}
