package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/walletobjects/v1"

	fakegoogle "walletpass/fake/google"
	"walletpass/pass"
	"walletpass/pass/google"
)

// TestGoogleWalletLifecycle drives a 10-ticket sandbox order through the
// running service: the buyer opens the signed save link (objects inserted
// ACTIVE, a JWT under 1,800 characters that verifies with the service
// account), then SecuTix changes a seat (patched, with a message, other
// fields kept; a 429 on the way is retried), validates a ticket
// (COMPLETED) and cancels one (a message, then INACTIVE).
func TestGoogleWalletLifecycle(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	fake := s.app.Fakes.Google["demo"]
	tn := s.app.Google.syncer.Tenants["demo"]
	o := s.createOrder(map[string]any{"count": 10})
	s.waitPasses(o.Secret, "10 passes", func(ps []pass.Pass) bool { return len(ps) == 10 })
	s.idle()
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("%d calls to Google before the buyer asked", n)
	}

	// The buyer's link, as `walletpass orders links` prints it.
	var out, errOut syncBuffer
	if err := Run(context.Background(), []string{"orders", "links", "-secret", o.Secret}, &out, &errOut,
		testEnv(s.dataDir, map[string]string{"WALLETPASS_PUBLIC_BASE_URL": s.base})); err != nil {
		t.Fatalf("orders links: %v %s", err, errOut.String())
	}
	var link string
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "google-save\t"); ok {
			link = v
		}
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	jwt := loc[strings.LastIndex(loc, "/")+1:]
	if resp.StatusCode != http.StatusFound || len(jwt) > google.MaxSaveJWT {
		t.Fatalf("save link: %d, %d characters", resp.StatusCode, len(jwt))
	}
	t.Logf("save JWT for 10 tickets: %d characters", len(jwt))
	claims, err := fakegoogle.VerifySaveJWT(jwt, &tn.Account.Key.PublicKey)
	if err != nil || len(claims.Payload.EventTicketObjects) != 10 || claims.Iss != tn.Account.Email {
		t.Fatalf("claims %+v, %v", claims, err)
	}
	// Following the redirect lands on the (development) save page.
	page := getBody(t, link)
	if strings.Count(page, `class="state">ACTIVE<`) != 10 {
		t.Errorf("save page:\n%s", page)
	}

	ps := s.passes(o.Secret)
	objectOf := func(ticket int) string {
		return google.ObjectID(tn.Issuer.IssuerID, "demo", byMovement(ps, o.Tickets[ticket].MovementID, 0).SerialNumber)
	}
	waitObject := func(id, what string, cond func(*walletobjects.EventTicketObject) bool) *walletobjects.EventTicketObject {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			obj, ok := fake.EventTicketObject(id)
			if ok && cond(obj) {
				return obj
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: %+v", what, obj)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	before, _ := fake.EventTicketObject(objectOf(0))

	// A seat change, with one 429 from Google on the way.
	fake.FailNext(http.MethodPatch, "/walletobjects/v1/eventTicketObject", 429, 1)
	s.action(o, o.Tickets[0].TicketID, "modify", map[string]any{"seat": map[string]string{"area": "Balcon"}})
	obj := waitObject(objectOf(0), "the seat change", func(o *walletobjects.EventTicketObject) bool {
		return o.SeatInfo != nil && o.SeatInfo.Section != nil && o.SeatInfo.Section.DefaultValue.Value == "Balcon"
	})
	if obj.TicketHolderName != before.TicketHolderName || obj.Barcode.Value != before.Barcode.Value || obj.State != "ACTIVE" ||
		len(obj.Messages) != 1 || obj.Messages[0].MessageType != "TEXT_AND_NOTIFY" {
		t.Errorf("after the seat change: %+v (before %+v)", obj, before)
	}
	saw429 := false
	for _, r := range fake.Requests() {
		saw429 = saw429 || r.Status == http.StatusTooManyRequests
	}
	if !saw429 {
		t.Error("the programmed 429 was never met")
	}

	// Validated at the gate, then another ticket cancelled.
	s.action(o, o.Tickets[1].TicketID, "validate", nil)
	waitObject(objectOf(1), "COMPLETED", func(o *walletobjects.EventTicketObject) bool { return o.State == "COMPLETED" })
	s.action(o, o.Tickets[2].TicketID, "cancel", nil)
	obj = waitObject(objectOf(2), "INACTIVE", func(o *walletobjects.EventTicketObject) bool { return o.State == "INACTIVE" })
	if len(obj.Messages) != 1 || obj.Messages[0].MessageType != "TEXT_AND_NOTIFY" || obj.Barcode != nil {
		t.Errorf("after the cancellation: %+v", obj)
	}
	// A transfer: the previous holder's object goes INACTIVE; the new
	// holder's pass gets its own object when the new holder's own link is
	// opened, never through the seller's.
	s.action(o, o.Tickets[3].TicketID, "transfer", map[string]string{"firstName": "Noé", "lastName": "Martin"})
	waitObject(objectOf(3), "the old holder's object INACTIVE", func(o *walletobjects.EventTicketObject) bool { return o.State == "INACTIVE" })
	ps = s.waitPasses(o.Secret, "the new holder's pass", func(ps []pass.Pass) bool { return byMovement(ps, o.Tickets[3].MovementID, 1) != nil })
	newID := google.ObjectID(tn.Issuer.IssuerID, "demo", byMovement(ps, o.Tickets[3].MovementID, 1).SerialNumber)
	if _, ok := fake.EventTicketObject(newID); ok {
		t.Error("the new holder's object was inserted before anyone asked")
	}
	getBody(t, link) // the seller's order-wide link
	if _, ok := fake.EventTicketObject(newID); ok {
		t.Error("the seller's link inserted the new holder's object")
	}
	getBody(t, newHolderGoogleLink(t, s, o.FileID, o.Tickets[3].MovementID))
	if obj := waitObject(newID, "the new holder's object", func(o *walletobjects.EventTicketObject) bool { return o.State == "ACTIVE" }); obj.TicketHolderName != "Noé Martin" {
		t.Errorf("new holder's object: %+v", obj)
	}
	s.idle()
	// The fake accepted everything we sent (the 429 was programmed).
	for _, r := range fake.Requests() {
		if r.Status >= 400 && r.Status != http.StatusTooManyRequests {
			t.Errorf("the fake refused %s %s: %d %s", r.Method, r.Path, r.Status, r.Body)
		}
	}
	tl, _ := s.db.Timeline(context.Background(), "demo", o.Secret, 0)
	googleEntries := 0
	for _, e := range tl {
		if e.Kind == "google" {
			googleEntries++
		}
	}
	if googleEntries < 15 {
		t.Errorf("%d google entries in the order's timeline, want 11 inserts and 4 patches", googleEntries)
	}
}

// newHolderGoogleLink is the Google Wallet link of a ticket as the
// organiser's system gets it from getTicketsUrl (with a new API key).
func newHolderGoogleLink(t *testing.T, s *system, fileID, movementID int64) string {
	t.Helper()
	var out, errOut syncBuffer
	if err := Run(context.Background(), []string{"apikey", "create", "-name", "shop"}, &out, &errOut,
		testEnv(s.dataDir, map[string]string{"WALLETPASS_PUBLIC_BASE_URL": s.base})); err != nil {
		t.Fatal(err)
	}
	_, raw := fetch(t, fmt.Sprintf("%s/api/demo/external/secutix/orders/getTicketsUrl/%d", s.base, fileID),
		map[string]string{"X-API-Key": strings.TrimSpace(out.String())})
	var r struct {
		Tickets []struct {
			MovementID    int64  `json:"movementId"`
			State         string `json:"state"`
			GoogleSaveURL string `json:"googleSaveUrl"`
		}
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	for _, tk := range r.Tickets {
		if tk.MovementID == movementID && tk.GoogleSaveURL != "" {
			return tk.GoogleSaveURL
		}
	}
	t.Fatalf("getTicketsUrl gave no Google link for movement %d: %s", movementID, raw)
	return ""
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return fmt.Sprint(string(b))
}

// TestGoogleCallbacks: each class asks Google to call back; the
// development save page saves the objects as Google would, and Google's
// signed callbacks reach the service: recorded once per nonce (a replay
// is a 200 that changes nothing), in the order's timeline and in
// `walletpass google counts`; forged, tampered or foreign ones are refused
// and change nothing.
func TestGoogleCallbacks(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	ctx := context.Background()
	fake := s.app.Fakes.Google["demo"]
	tn := s.app.Google.syncer.Tenants["demo"]
	o := s.createOrder(map[string]any{"count": 2})
	ps := s.waitPasses(o.Secret, "2 passes", func(ps []pass.Pass) bool { return len(ps) == 2 })
	var out, errOut syncBuffer
	env := testEnv(s.dataDir, map[string]string{"WALLETPASS_PUBLIC_BASE_URL": s.base})
	if err := Run(ctx, []string{"orders", "links", "-secret", o.Secret}, &out, &errOut, env); err != nil {
		t.Fatalf("orders links: %v %s", err, errOut.String())
	}
	var link string
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "google-save\t"); ok {
			link = v
		}
	}
	page := getBody(t, link)
	if n := strings.Count(page, "callback answered 200"); n != 2 {
		t.Fatalf("save page: %d callbacks answered 200, want 2:\n%s", n, page)
	}
	objectID := google.ObjectID(tn.Issuer.IssuerID, "demo", ps[0].SerialNumber)
	obj, _ := fake.EventTicketObject(objectID)
	cls, _ := fake.EventTicketClass(obj.ClassId)
	if cls.CallbackOptions == nil || cls.CallbackOptions.Url != s.base+"/api/demo/google/callback" || !obj.HasUsers {
		t.Fatalf("class callback options %+v, object has users %v", cls.CallbackOptions, obj.HasUsers)
	}
	// The page again: already saved, no more callbacks.
	if page := getBody(t, link); strings.Contains(page, "callback answered") {
		t.Errorf("a second visit called back again:\n%s", page)
	}
	counts := func(want pass.GoogleWalletCounts) {
		t.Helper()
		got, err := s.db.GoogleWalletCounts(ctx, "demo")
		if err != nil || got != want {
			t.Fatalf("counts %+v, %v; want %+v", got, err, want)
		}
	}
	counts(pass.GoogleWalletCounts{Saves: 2, InWallets: 2})

	post := func(body []byte) (int, string, http.Header) {
		t.Helper()
		resp, err := http.Post(s.base+"/api/demo/google/callback", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	// The holder removes the pass; Google delivers the callback twice.
	del := fake.SignCallback(tn.Issuer.IssuerID, obj.ClassId, objectID, pass.GoogleDeleted, "nonce-del-1", time.Now().Add(time.Hour))
	for i, want := range []string{`"recorded":true`, `"recorded":false`} {
		if code, body, _ := post(del); code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("delete callback #%d: %d %s", i, code, body)
		}
	}
	// Each fresh save and delete is announced to the webhooks, a replay not.
	announced := map[string]int{}
	tasks, err := s.db.ListTasks(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks {
		var ev pass.EventArgs
		if tk.Kind == pass.TaskEventFanout && json.Unmarshal(tk.Payload, &ev) == nil && strings.Contains(string(ev.Data), `"wallet":"google"`) {
			announced[ev.Type]++
		}
	}
	if announced[pass.EventPassInstalled] != 2 || announced[pass.EventPassUninstalled] != 1 {
		t.Errorf("announced %v, want 2 pass.installed and 1 pass.uninstalled", announced)
	}
	counts(pass.GoogleWalletCounts{Saves: 2, Deletes: 1, InWallets: 1})

	// Refused, and nothing recorded: a tampered message, a forged
	// signature, an object of another tenant, garbage, too big.
	tampered := strings.Replace(string(fake.SignCallback(tn.Issuer.IssuerID, obj.ClassId, objectID, pass.GoogleSaved, "nonce-2",
		time.Now().Add(time.Hour))), "nonce-2", "nonce-3", 1)
	foreign := fake.SignCallback(tn.Issuer.IssuerID, tn.Issuer.IssuerID+".other-p1", tn.Issuer.IssuerID+".other-x", pass.GoogleSaved, "nonce-4",
		time.Now().Add(time.Hour))
	expired := fake.SignCallback(tn.Issuer.IssuerID, obj.ClassId, objectID, pass.GoogleSaved, "nonce-5", time.Now().Add(-time.Minute))
	for _, c := range []struct {
		name string
		body string
		code int
	}{
		{"tampered", tampered, http.StatusUnauthorized},
		{"expired", string(expired), http.StatusUnauthorized},
		{"another tenant's object", string(foreign), http.StatusBadRequest},
		{"not JSON", "{", http.StatusBadRequest},
		{"too big", `{"signature":"` + strings.Repeat("A", 20<<10) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		code, body, h := post([]byte(c.body))
		if code != c.code || !strings.Contains(h.Get("Content-Type"), "problem+json") {
			t.Errorf("%s: %d %s %s; want %d problem+json", c.name, code, h.Get("Content-Type"), body, c.code)
		}
		if code == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		}
	}
	// A client that keeps sending forgeries is refused before they are
	// checked (each check costs a dozen signature verifications).
	limited := false
	for range 30 {
		code, _, h := post([]byte(tampered))
		if code == http.StatusTooManyRequests && h.Get("Retry-After") != "" {
			limited = true
			break
		}
		if code != http.StatusUnauthorized {
			t.Fatalf("a forged callback: %d", code)
		}
	}
	if !limited {
		t.Error("30 forged callbacks from one client, none refused with 429")
	}
	counts(pass.GoogleWalletCounts{Saves: 2, Deletes: 1, InWallets: 1})

	// The order's timeline and the operator's counts.
	tl, _ := s.db.Timeline(ctx, "demo", o.Secret, 0)
	kinds := map[string]int{}
	for _, e := range tl {
		kinds[e.Kind]++
	}
	if kinds["google-saved"] != 2 || kinds["google-deleted"] != 1 {
		t.Errorf("timeline kinds %v", kinds)
	}
	var countsOut syncBuffer
	if err := Run(ctx, []string{"google", "counts"}, &countsOut, &errOut, env); err != nil {
		t.Fatalf("google counts: %v %s", err, errOut.String())
	}
	if f := strings.Fields(countsOut.String()); len(f) != 9 || strings.Join(f[5:], " ") != "demo 2 1 1" {
		t.Errorf("google counts printed %q", countsOut.String())
	}
	if err := Run(ctx, []string{"google", "counts", "-tenant", "nobody"}, &countsOut, &errOut, env); err == nil {
		t.Error("google counts for an unknown tenant: no error")
	}
}

// TestRotatingBarcodeTenant: with google.rotatingBarcodeKey (here from the
// environment) the objects Google gets carry a rotating barcode and no
// static one, and the save link the buyer opens holds no secret.
func TestRotatingBarcodeTenant(t *testing.T) {
	t.Parallel()
	key := strings.Repeat("ab", 32)
	s := startSystemEnv(t, "", map[string]string{"WALLETPASS_TENANT_DEMO_GOOGLE_ROTATING_BARCODE_KEY": key,
		"WALLETPASS_TENANT_DEMO_SECUTIX_CATALOG_INTERVAL": fastCatalogue["WALLETPASS_TENANT_DEMO_SECUTIX_CATALOG_INTERVAL"]})
	defer s.stop()
	fake := s.app.Fakes.Google["demo"]
	tn := s.app.Google.syncer.Tenants["demo"]
	o := s.createOrder(startingSoon(1)) // scanned below
	ps := s.waitPasses(o.Secret, "the pass", func(ps []pass.Pass) bool { return len(ps) == 1 })
	link := s.orderLinks(o.Secret)["google-save"]
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	jwt := resp.Header.Get("Location")
	secret := hexSecret(tn.Issuer.Rotation.Secret(ps[0].SerialNumber))
	raw, ok := fake.Object(google.ObjectID(tn.Issuer.IssuerID, "demo", ps[0].SerialNumber))
	if !ok || !strings.Contains(string(raw), `"rotatingBarcode"`) || !strings.Contains(string(raw), secret) ||
		strings.Contains(string(raw), `"barcode"`) {
		t.Errorf("the object: %s", raw)
	}
	if strings.Contains(jwt, secret) || strings.Contains(decodeJWTPayload(t, jwt), secret) {
		t.Error("the save link carries the TOTP secret")
	}

	// The organiser's gate reads the phone's rotating code through the
	// scans API: an old code (a screenshot) is unknown, the current one
	// lets the holder in.
	rot := tn.Issuer.Rotation
	code := func(at time.Time) string {
		return fmt.Sprintf("%s-%d-%s", o.Tickets[0].Barcode, at.Unix(), google.Code(rot.Secret(ps[0].SerialNumber), at, 30*time.Second))
	}
	gate := s.bearer("demo", "scans:write")
	for _, c := range []struct{ data, want string }{
		{code(time.Now().Add(-5 * time.Minute)), pass.ScanUnknown},
		{o.Tickets[0].Barcode + "-1800000000-00000000", pass.ScanUnknown},
		{code(time.Now()), pass.ScanValid},
	} {
		st, raw := postJSON(t, s.base+"/api/demo/scans", gate, fmt.Sprintf(`{"data": %q, "type": "qrcode"}`, c.data))
		var a struct{ Result string }
		if err := json.Unmarshal([]byte(raw), &a); st != 200 || err != nil || a.Result != c.want {
			t.Errorf("scan %s: %d %s, want %s", c.data, st, raw, c.want)
		}
	}
}

func hexSecret(b []byte) string { return fmt.Sprintf("%x", b) }

// decodeJWTPayload is the payload of the JWT at the end of a save URL.
func decodeJWTPayload(t *testing.T, u string) string {
	t.Helper()
	parts := strings.Split(u[strings.LastIndex(u, "/")+1:], ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %s", u)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
