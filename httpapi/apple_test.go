package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"walletpass/httpapi"
	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/apple/appletest"
	"walletpass/storage"
	"walletpass/storage/blob"
)

type wsBundle struct {
	srv   *httptest.Server
	db    *storage.DB
	svc   *pass.Service
	wwdr  string
	pass  *pass.Pass
	tk    pass.Ticket
	clock *wsClock
}

// wsClock is the clock of the service and the server in setupWS: the
// test moves it, the handlers read it, through an atomic.
type wsClock struct{ ns atomic.Int64 }

// Now is the clock's time.
func (c *wsClock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Add moves the clock forward by d.
func (c *wsClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

func setupWS(t testing.TB) *wsBundle {
	t.Helper()
	f := appletest.Setup(t)
	dir := t.TempDir()
	db, err := storage.OpenSQLite(context.Background(), filepath.Join(dir, "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	bl, err := blob.NewDir(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	b := &wsBundle{db: db, wwdr: f.WWDR, clock: &wsClock{}}
	b.clock.ns.Store(time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC).UnixNano())
	b.svc = &pass.Service{Passes: db, Packager: f.Registry, Clock: b.clock.Now}
	b.tk = apple.SampleTicket(pass.EventConcert)
	p, _, err := b.svc.Apply(context.Background(), b.tk, "default")
	if err != nil {
		t.Fatal(err)
	}
	b.pass = p
	b.srv = httptest.NewServer(httpapi.New(httpapi.Deps{Preview: httpapi.PreviewDeps{Packager: f.Registry}, Passes: db, Files: f.Files(t, bl, db),
		Apple: httpapi.AppleDeps{Devices: db, Timeline: db, Announce: true}, Tenants: []httpapi.TenantInfo{{ID: "demo"}}, Clock: b.clock.Now}))
	t.Cleanup(b.srv.Close)
	return b
}

// devices lists the devices registered for the bundle's pass; a failed
// query fails the test rather than read as none.
func (b *wsBundle) devices(t testing.TB) []pass.Device {
	t.Helper()
	ds, err := b.db.DevicesForPass(context.Background(), "demo", b.pass.PassTypeID, b.pass.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func (b *wsBundle) do(t testing.TB, method, path, body, token string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	if hdr == nil {
		hdr = map[string]string{}
	}
	if token != "" {
		hdr["Authorization"] = "ApplePass " + token
	}
	return send(t, method, b.srv.URL+"/api/demo/apple/v1"+path, body, hdr)
}

const device = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
const pushToken = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

func TestPassKitWebService(t *testing.T) {
	b := setupWS(t)
	p := b.pass
	reg := "/devices/" + device + "/registrations/" + p.PassTypeID
	regPass := reg + "/" + p.SerialNumber
	body := `{"pushToken":"` + pushToken + `"}`

	// Register: 201, then 200; the list with no tag has the serial.
	if resp, data := b.do(t, "POST", regPass, body, p.AuthToken, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %s", resp.StatusCode, data)
	}
	if resp, _ := b.do(t, "POST", regPass+"/", body, p.AuthToken, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("register again (trailing slash): %d", resp.StatusCode)
	}
	// A minute on, the version is settled: the tag is its own.
	b.clock.Add(httpapi.TagSettle)
	resp, data := b.do(t, "GET", reg, "", "", nil)
	var list struct {
		SerialNumbers []string `json:"serialNumbers"`
		LastUpdated   any      `json:"lastUpdated"`
	}
	if err := json.Unmarshal(data, &list); err != nil || resp.StatusCode != 200 || len(list.SerialNumbers) != 1 || list.SerialNumbers[0] != p.SerialNumber {
		t.Fatalf("list: %d %s", resp.StatusCode, data)
	}
	tag, ok := list.LastUpdated.(string)
	if !ok || tag == "" {
		t.Fatalf("lastUpdated = %#v, want a string", list.LastUpdated)
	}
	if resp, _ := b.do(t, "GET", reg+"?passesUpdatedSince="+tag, "", "", nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("list since the tag before any change: %d, want 204", resp.StatusCode)
	}

	// Get the pass: Last-Modified, a verified pass; 304 at the same second.
	resp, data = b.do(t, "GET", "/passes/"+p.PassTypeID+"/"+p.SerialNumber, "", p.AuthToken, nil)
	lm := resp.Header.Get("Last-Modified")
	if resp.StatusCode != 200 || lm == "" || resp.Header.Get("Content-Type") != pass.ContentTypePkpass {
		t.Fatalf("get pass: %d, Last-Modified %q", resp.StatusCode, lm)
	}
	appletest.Verify(t, data, b.wwdr)
	if resp, _ := b.do(t, "GET", "/passes/"+p.PassTypeID+"/"+p.SerialNumber, "", p.AuthToken, map[string]string{"If-Modified-Since": lm}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-Modified-Since = Last-Modified: %d, want 304", resp.StatusCode)
	}
	if resp, data := b.do(t, "HEAD", "/passes/"+p.PassTypeID+"/"+p.SerialNumber, "", p.AuthToken, nil); resp.StatusCode != 200 || len(data) != 0 || resp.Header.Get("Last-Modified") != lm {
		t.Errorf("HEAD: %d, %d bytes", resp.StatusCode, len(data))
	}

	// The ticket changes: the list since the tag has the serial, the pass is new.
	b.clock.Add(90 * time.Second)
	b.tk.Seat.Number = "99"
	if _, changed, err := b.svc.Apply(context.Background(), b.tk, "default"); err != nil || !changed {
		t.Fatalf("apply: %v %v", changed, err)
	}
	resp, data = b.do(t, "GET", reg+"?passesUpdatedSince="+tag, "", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(data), p.SerialNumber) {
		t.Fatalf("list since the tag after a change: %d %s", resp.StatusCode, data)
	}
	// The version is younger than TagSettle: the tag handed out stays
	// behind it (past the one the device sent), so the next list has the
	// serial again; once it is settled, the tag is the version's own.
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	youngTag, _ := list.LastUpdated.(string)
	if youngTag <= tag || youngTag >= strconv.FormatInt(b.clock.Now().UnixMilli(), 10) {
		t.Errorf("lastUpdated %s for a version of %d, listed since %s: want between", youngTag, b.clock.Now().UnixMilli(), tag)
	}
	if resp, data := b.do(t, "GET", reg+"?passesUpdatedSince="+youngTag, "", "", nil); resp.StatusCode != 200 || !strings.Contains(string(data), p.SerialNumber) {
		t.Errorf("list since a young tag: %d %s, want the serial again", resp.StatusCode, data)
	}
	b.clock.Add(httpapi.TagSettle)
	if resp, data := b.do(t, "GET", reg+"?passesUpdatedSince="+youngTag, "", "", nil); resp.StatusCode != 200 ||
		!strings.Contains(string(data), `"lastUpdated":"`+strconv.FormatInt(b.clock.Now().Add(-httpapi.TagSettle).UnixMilli(), 10)+`"`) {
		t.Errorf("list once settled: %d %s, want the version's own tag", resp.StatusCode, data)
	}
	resp, data = b.do(t, "GET", "/passes/"+p.PassTypeID+"/"+p.SerialNumber, "", p.AuthToken, map[string]string{"If-Modified-Since": lm})
	if resp.StatusCode != 200 || resp.Header.Get("Last-Modified") == lm {
		t.Fatalf("get after a change with the old If-Modified-Since: %d", resp.StatusCode)
	}
	pj := appletest.Verify(t, data, b.wwdr)
	if !strings.Contains(mustJSON(pj), `"99"`) {
		t.Errorf("the served pass does not carry the new seat")
	}
	newLM := resp.Header.Get("Last-Modified")
	if resp, _ := b.do(t, "GET", "/passes/"+p.PassTypeID+"/"+p.SerialNumber, "", p.AuthToken, map[string]string{"If-Modified-Since": newLM}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("with the new Last-Modified: %d, want 304", resp.StatusCode)
	}
	// Two changes in one second: the second has a later Last-Modified, so
	// the device that fetched the first in that second gets the second.
	var sameSecondLM string
	for i, seat := range []string{"100", "101"} {
		b.tk.Seat.Number = seat
		if _, changed, err := b.svc.Apply(context.Background(), b.tk, "default"); err != nil || !changed {
			t.Fatalf("apply in the same second: %v %v", changed, err)
		}
		resp, _ := b.do(t, "GET", "/passes/"+p.PassTypeID+"/"+p.SerialNumber, "", p.AuthToken, map[string]string{"If-Modified-Since": sameSecondLM})
		if i == 1 && resp.StatusCode != http.StatusOK {
			t.Errorf("a version of the same second, with the Last-Modified of the one before: %d, want 200", resp.StatusCode)
		}
		sameSecondLM = resp.Header.Get("Last-Modified")
	}

	// Device log naming the pass lands on the order's timeline.
	// The device's identifier and push token in it are masked, and so
	// are an authentication token and an e-mail address.
	const mail = "ada.lovelace@163.example.org"
	logBody := `{"logs":["Web service error for ` + p.PassTypeID + ` (` + p.SerialNumber + `) for device ` + device + ` token ` + pushToken +
		` auth ` + p.AuthToken + ` other ` + strings.Repeat("Ab", 22) + ` holder <` + mail + `> image https://x.example/logo@2x.png` +
		`: Response to 'What changed?' request included 1 serial numbers but the lastUpdated tag remained the same."]}`
	if resp, _ := b.do(t, "POST", "/log", logBody, "", nil); resp.StatusCode != 200 {
		t.Errorf("log: %d", resp.StatusCode)
	}
	tl, err := b.db.Timeline(context.Background(), "demo", p.SecretToken, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl) == 0 || tl[len(tl)-1].Kind != "device-log" || !strings.HasPrefix(tl[len(tl)-1].Detail, "device says: Web service error") ||
		!strings.Contains(tl[len(tl)-1].Detail, p.SerialNumber) || strings.Contains(tl[len(tl)-1].Detail, device) ||
		strings.Contains(tl[len(tl)-1].Detail, pushToken) || strings.Contains(tl[len(tl)-1].Detail, p.AuthToken) ||
		strings.Contains(tl[len(tl)-1].Detail, "lovelace") || !strings.Contains(tl[len(tl)-1].Detail, "…@163.example.org>") ||
		strings.Contains(tl[len(tl)-1].Detail, strings.Repeat("Ab", 22)) || !strings.Contains(tl[len(tl)-1].Detail, "https://x.example/logo@2x.png") ||
		!strings.Contains(tl[len(tl)-1].Detail, "What changed?") {
		t.Errorf("timeline = %+v, want the device's words marked as such, the serial kept, the device, token and address masked", tl)
	}

	// Unregister: 200, then nothing is listed.
	if resp, _ := b.do(t, "DELETE", regPass, "", p.AuthToken, nil); resp.StatusCode != 200 {
		t.Errorf("unregister: %d", resp.StatusCode)
	}
	if resp, _ := b.do(t, "GET", reg, "", "", nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("list after unregister: %d", resp.StatusCode)
	}
	if ds := b.devices(t); len(ds) != 0 {
		t.Errorf("devices after unregister: %+v", ds)
	}
}

// TestUpdatedSerialsForeignTag: a passesUpdatedSince that this service
// cannot have handed out (not a non-negative integer, or later than now:
// another provider's seconds or microseconds) counts as absent: 200 with
// every serial of the device and a fresh tag, never a 400 or a 204 that
// Wallet would keep asking with forever. The fresh tag then works.
func TestUpdatedSerialsForeignTag(t *testing.T) {
	b := setupWS(t)
	p := b.pass
	reg := "/devices/" + device + "/registrations/" + p.PassTypeID
	if resp, data := b.do(t, "POST", reg+"/"+p.SerialNumber, `{"pushToken":"`+pushToken+`"}`, p.AuthToken, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %s", resp.StatusCode, data)
	}
	b.clock.Add(httpapi.TagSettle)
	now := b.clock.Now().UnixMilli()
	tests := []struct{ name, tag string }{
		{"word", "abc"},
		{"date", "yesterday"},
		{"negative", "-5"},
		{"fraction", "1.5"},
		{"overflow", "99999999999999999999"},
		{"empty", ""},
		{"an hour ahead", strconv.FormatInt(now+3_600_000, 10)},
		{"microseconds", strconv.FormatInt(b.clock.Now().UnixMicro(), 10)},
		{"largest int64", strconv.FormatInt(math.MaxInt64, 10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := b.do(t, "GET", reg+"?passesUpdatedSince="+url.QueryEscape(tc.tag), "", "", nil)
			var list struct {
				SerialNumbers []string `json:"serialNumbers"`
				LastUpdated   string   `json:"lastUpdated"`
			}
			if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &list) != nil ||
				len(list.SerialNumbers) != 1 || list.SerialNumbers[0] != p.SerialNumber {
				t.Fatalf("list since %q: got %d %s, want 200 with the serial", tc.tag, resp.StatusCode, data)
			}
			fresh, err := strconv.ParseInt(list.LastUpdated, 10, 64)
			if err != nil || fresh <= 0 || fresh > now {
				t.Fatalf("lastUpdated %q: want a tag of this service, at most %d", list.LastUpdated, now)
			}
			if resp, data := b.do(t, "GET", reg+"?passesUpdatedSince="+list.LastUpdated, "", "", nil); resp.StatusCode != http.StatusNoContent {
				t.Errorf("list since the fresh tag: got %d %s, want 204", resp.StatusCode, data)
			}
		})
	}
}

// TestDevicesPerPass: a pass takes pass.MaxDevicesPerPass devices, then
// refuses more (403) without writing; only a registration that existed
// announces pass.uninstalled when it goes.
func TestDevicesPerPass(t *testing.T) {
	b := setupWS(t)
	p := b.pass
	reg := func(dev string) string {
		return "/devices/" + dev + "/registrations/" + p.PassTypeID + "/" + p.SerialNumber
	}
	body := `{"pushToken":"` + pushToken + `"}`
	announced := func(typ string) int {
		tasks, err := b.db.ListTasks(context.Background(), "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, tk := range tasks {
			var ev pass.EventArgs
			if tk.Kind == pass.TaskEventFanout && json.Unmarshal(tk.Payload, &ev) == nil && ev.Type == typ {
				n++
			}
		}
		return n
	}
	if resp, _ := b.do(t, "DELETE", reg("never"+device[5:]), "", p.AuthToken, nil); resp.StatusCode != 200 || announced(pass.EventPassUninstalled) != 0 {
		t.Errorf("unregistering a device that never registered: %d, %d uninstalls announced", resp.StatusCode, announced(pass.EventPassUninstalled))
	}
	for i := range pass.MaxDevicesPerPass {
		if resp, data := b.do(t, "POST", reg(fmt.Sprintf("dev%02d%s", i, device[5:])), body, p.AuthToken, nil); resp.StatusCode != 201 {
			t.Fatalf("device %d: %d %s", i, resp.StatusCode, data)
		}
	}
	resp, data := b.do(t, "POST", reg("toomany"+device[7:]), body, p.AuthToken, nil)
	if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
		t.Errorf("one device too many: %d %s", resp.StatusCode, data)
	}
	if ds := b.devices(t); len(ds) != pass.MaxDevicesPerPass {
		t.Errorf("%d devices registered, want %d", len(ds), pass.MaxDevicesPerPass)
	}
	if resp, _ := b.do(t, "DELETE", reg("dev00"+device[5:]), "", p.AuthToken, nil); resp.StatusCode != 200 ||
		announced(pass.EventPassUninstalled) != 1 || announced(pass.EventPassInstalled) != pass.MaxDevicesPerPass {
		t.Errorf("after one removal: %d; %d installs and %d uninstalls announced", resp.StatusCode,
			announced(pass.EventPassInstalled), announced(pass.EventPassUninstalled))
	}
}

// TestRegistrationFlapping: a holder who adds and removes a pass in a loop
// gets a 429 problem with Retry-After once the pass has made
// httpapi.RegistrationChangeBurst changes, well before 100 cycles, so the
// wallet events (and the announcements) stay few; registering again,
// which changes nothing, is never refused; a change is allowed again
// once httpapi.RegistrationChangeEvery has passed.
func TestRegistrationFlapping(t *testing.T) {
	b := setupWS(t)
	p := b.pass
	regPass := "/devices/" + device + "/registrations/" + p.PassTypeID + "/" + p.SerialNumber
	body := `{"pushToken":"` + pushToken + `"}`
	cycles := 0
	var refused *http.Response
	var problem []byte
	for cycles < 100 && refused == nil {
		for _, method := range []string{"POST", "DELETE"} {
			resp, data := b.do(t, method, regPass, body, p.AuthToken, nil)
			if resp.StatusCode == http.StatusTooManyRequests {
				refused, problem = resp, data
				break
			}
			if resp.StatusCode >= 300 {
				t.Fatalf("cycle %d, %s: %d %s", cycles, method, resp.StatusCode, data)
			}
		}
		cycles++
	}
	if refused == nil {
		t.Fatalf("100 register/unregister cycles of one device: never a 429")
	}
	if refused.Header.Get("Content-Type") != httpapi.ContentTypeProblem || refused.Header.Get("Retry-After") == "" {
		t.Errorf("429: Content-Type %q, Retry-After %q, want a problem and a Retry-After", refused.Header.Get("Content-Type"), refused.Header.Get("Retry-After"))
	}
	if after, err := strconv.Atoi(refused.Header.Get("Retry-After")); err != nil || after < 1 || after > int(httpapi.RegistrationChangeEvery/time.Second) {
		t.Errorf("Retry-After %q, want 1 to %d seconds", refused.Header.Get("Retry-After"), int(httpapi.RegistrationChangeEvery/time.Second))
	}
	if want := httpapi.RegistrationChangeBurst/2 + 1; cycles != want {
		t.Errorf("refused in cycle %d, want %d: %s", cycles, want, problem)
	}
	history, err := b.db.WalletHistory(context.Background(), "demo", p.SerialNumber, 1000)
	if err != nil || len(history) != httpapi.RegistrationChangeBurst {
		t.Errorf("%d wallet events (%v), want %d", len(history), err, httpapi.RegistrationChangeBurst)
	}
	// Two changes later: one to register, then registering again costs
	// nothing (however often), and the other change unregisters.
	b.clock.Add(2 * httpapi.RegistrationChangeEvery)
	if resp, data := b.do(t, "POST", regPass, body, p.AuthToken, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register two minutes later: %d %s", resp.StatusCode, data)
	}
	for i := range 50 {
		if resp, data := b.do(t, "POST", regPass, body, p.AuthToken, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("registering again (%d): %d %s, want 200", i, resp.StatusCode, data)
		}
	}
	if resp, data := b.do(t, "DELETE", regPass, "", p.AuthToken, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("unregister with one change left: %d %s", resp.StatusCode, data)
	}
	if resp, _ := b.do(t, "POST", regPass, body, p.AuthToken, nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("register with no change left: %d, want 429", resp.StatusCode)
	}
	if ds := b.devices(t); len(ds) != 0 {
		t.Errorf("the refused registration registered: %+v", ds)
	}
	// With no change left, what changes nothing still goes through: a
	// device that never registered unregistering, and (once registered)
	// the same device registering again with a new push token.
	if resp, data := b.do(t, "DELETE", regPass, "", p.AuthToken, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("unregister what is not registered, no change left: %d %s, want 200", resp.StatusCode, data)
	}
	b.clock.Add(httpapi.RegistrationChangeEvery)
	if resp, data := b.do(t, "POST", regPass, body, p.AuthToken, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register a minute later: %d %s", resp.StatusCode, data)
	}
	newToken := strings.Repeat("b", len(pushToken))
	if resp, data := b.do(t, "POST", regPass, `{"pushToken":"`+newToken+`"}`, p.AuthToken, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("register again with a new push token, no change left: %d %s, want 200", resp.StatusCode, data)
	}
	if ds := b.devices(t); len(ds) != 1 || ds[0].PushToken != newToken {
		t.Errorf("after the new push token: %+v", ds)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestPassKitRefusesWithoutWriting(t *testing.T) {
	b := setupWS(t)
	p := b.pass
	regPass := "/devices/" + device + "/registrations/" + p.PassTypeID + "/" + p.SerialNumber
	body := `{"pushToken":"` + pushToken + `"}`
	tests := []struct {
		name, method, path, body, token string
		status                          int
	}{
		{"register without token", "POST", regPass, body, "", 401},
		{"register wrong token", "POST", regPass, body, p.AuthToken[:len(p.AuthToken)-1] + "x", 401},
		{"register unknown serial", "POST", "/devices/" + device + "/registrations/" + p.PassTypeID + "/ffffffffffffffffffffffffffffffff", body, p.AuthToken, 404},
		{"register other pass type", "POST", "/devices/" + device + "/registrations/pass.other.type/" + p.SerialNumber, body, p.AuthToken, 404},
		{"register oversized", "POST", regPass, `{"pushToken":"` + strings.Repeat("a", httpapi.MaxRegistrationBody) + `"}`, p.AuthToken, 413},
		{"register bad body", "POST", regPass, `{"pushToken":"not hex!"}`, p.AuthToken, 400},
		{"register a token too short to push", "POST", regPass, `{"pushToken":"` + strings.Repeat("ab", 31) + `"}`, p.AuthToken, 400},
		{"register bad device id", "POST", "/devices/bad%20id/registrations/" + p.PassTypeID + "/" + p.SerialNumber, body, p.AuthToken, 400},
		{"get wrong token", "GET", "/passes/" + p.PassTypeID + "/" + p.SerialNumber, "", "nope-nope-nope-nope", 401},
		{"get unknown serial", "GET", "/passes/" + p.PassTypeID + "/00000000000000000000000000000000", "", p.AuthToken, 404},
		{"unregister wrong token", "DELETE", regPass, "", "x", 401},
		{"log oversized", "POST", "/log", `{"logs":["` + strings.Repeat("x", httpapi.MaxLogBody) + `"]}`, "", 413},
		{"log malformed", "POST", "/log", `{"logs":`, "", 400},
	}
	for _, tc := range tests {
		resp, data := b.do(t, tc.method, tc.path, tc.body, tc.token, nil)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, data, tc.status)
		}
		if tc.method != "HEAD" && resp.Header.Get("Content-Type") != httpapi.ContentTypeProblem {
			t.Errorf("%s: content type %q, want problem+json", tc.name, resp.Header.Get("Content-Type"))
		}
	}
	if ds := b.devices(t); len(ds) != 0 {
		t.Errorf("refused requests registered devices: %+v", ds)
	}
}

// FuzzPassKitWebService sends arbitrary paths, authorization headers,
// If-Modified-Since headers and bodies to the web service: never a 5xx; a
// registration appears only with a 201; the pass is answered only with
// its ApplePass token, 304 exactly when If-Modified-Since reads as an HTTP
// date not older than the pass (whole seconds), else 200 with the signed
// pass file (the one the first seed got and verified) and Last-Modified;
// a device's list of updated passes is, when 200, JSON of the serial
// numbers it registered and lastUpdated, a string tag, and only for a
// registered device. One device stays registered for the pass across
// inputs (restored when an input unregistered it), so the list answers
// 200; the others an input registers are removed after it. Each input
// comes RegistrationChangeBurst+1 times RegistrationChangeEvery after the
// one before, so the pass has all its registration changes again and a
// registration always gets its 201.
func FuzzPassKitWebService(f *testing.F) {
	b := setupWS(f)
	p := b.pass
	ctx := context.Background()
	const kept = "0000aaaa1111bbbb2222cccc3333dddd"
	keptToken := strings.Repeat("c0", 32)
	// keep removes the registrations an input made and restores the kept
	// device's.
	keep := func(t testing.TB) {
		t.Helper()
		for _, d := range b.devices(t) {
			if d.LibraryID != kept || d.PushToken != keptToken {
				if _, err := b.db.Unregister(ctx, "demo", d.LibraryID, p.PassTypeID, p.SerialNumber); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(b.devices(t)) == 0 {
			if _, err := b.db.Register(ctx, "demo", pass.Device{LibraryID: kept, PushToken: keptToken}, p.PassTypeID, p.SerialNumber, b.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	keep(f)
	lastModified := p.UpdatedAt.UTC().Truncate(time.Second).Format(http.TimeFormat)
	passRE := regexp.MustCompile(`^/passes/([^/]+)/([^/]+)$`)
	listRE := regexp.MustCompile(`^/devices/([^/]+)/registrations/([^/]+)$`)
	var file []byte // the pass file, as the first 200 served it (verified then)
	methods := []string{"POST", "GET", "HEAD", "DELETE", "PUT"}
	// header reports whether net/http sends v as a header value: a value
	// with control characters never leaves the client (not the server's
	// business).
	header := func(v string) bool {
		return v != "" && !strings.ContainsFunc(v, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f })
	}
	try := func(t testing.TB, m uint8, path, auth, body, ims string) (status int) {
		t.Helper()
		b.clock.Add(time.Duration(httpapi.RegistrationChangeBurst+1) * httpapi.RegistrationChangeEvery)
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n#") || len(path) > 4096 {
			return 0
		}
		defer keep(t)
		before := b.devices(t)
		req, err := http.NewRequest(methods[int(m)%len(methods)], b.srv.URL+"/api/demo/apple/v1"+path, strings.NewReader(body))
		if err != nil {
			return 0
		}
		if header(auth) {
			req.Header.Set("Authorization", auth)
		}
		if header(ims) {
			req.Header.Set("If-Modified-Since", ims)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("%s %s (Authorization %q, If-Modified-Since %q)", req.Method, path, auth, ims)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s: %d", what, resp.StatusCode)
		}
		after := b.devices(t)
		if len(after) > len(before) && resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s: a registration appeared with status %d", what, resp.StatusCode)
		}
		// The route, as the server reads the path (one trailing slash is
		// tolerated); the headers as it reads them (without the white
		// space around).
		route := req.URL.Path[len("/api/demo/apple/v1"):]
		if len(route) > 1 {
			route = strings.TrimSuffix(route, "/")
		}
		sentAuth, sentIMS := "", ""
		if header(auth) {
			sentAuth = strings.Trim(auth, " \t")
		}
		if header(ims) {
			sentIMS = strings.Trim(ims, " \t")
		}
		if pm := passRE.FindStringSubmatch(route); pm != nil && (req.Method == "GET" || req.Method == "HEAD") {
			mine := pm[1] == p.PassTypeID && pm[2] == p.SerialNumber && sentAuth == "ApplePass "+p.AuthToken
			since, err := http.ParseTime(sentIMS)
			current := sentIMS != "" && err == nil && !p.UpdatedAt.UTC().Truncate(time.Second).After(since)
			switch {
			case !mine && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotModified):
				t.Fatalf("%s: %d without the pass's token", what, resp.StatusCode)
			case mine && current && resp.StatusCode != http.StatusNotModified,
				mine && !current && resp.StatusCode != http.StatusOK && !(req.Method == "GET" && resp.StatusCode == http.StatusTooManyRequests):
				// (a whole file is served a few dozen times at once, then
				// at a pace: TestPassFileBudget)
				t.Fatalf("%s: %d; the device's copy is current: %v", what, resp.StatusCode, current)
			case mine && resp.Header.Get("Last-Modified") != lastModified:
				t.Fatalf("%s: Last-Modified %q, want %q", what, resp.Header.Get("Last-Modified"), lastModified)
			case resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Type") != pass.ContentTypePkpass:
				t.Fatalf("%s: 200 of Content-Type %q", what, resp.Header.Get("Content-Type"))
			case resp.StatusCode == http.StatusOK && req.Method == "GET":
				if file == nil {
					appletest.Verify(t, data, b.wwdr)
					file = data
				}
				if !bytes.Equal(data, file) {
					t.Fatalf("%s: 200 with %d bytes that are not the pass file", what, len(data))
				}
			case resp.StatusCode != http.StatusOK && len(data) > 0 && resp.StatusCode != http.StatusNotModified && req.Method == "GET" &&
				resp.Header.Get("Content-Type") != httpapi.ContentTypeProblem:
				t.Fatalf("%s: %d of Content-Type %q", what, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		}
		if lm := listRE.FindStringSubmatch(route); lm != nil && req.Method == "GET" && resp.StatusCode == http.StatusOK {
			var list struct {
				SerialNumbers []string `json:"serialNumbers"`
				LastUpdated   any      `json:"lastUpdated"`
			}
			if err := json.Unmarshal(data, &list); err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("%s: 200 %q %s: %v", what, resp.Header.Get("Content-Type"), data, err)
			}
			registered := slices.ContainsFunc(before, func(d pass.Device) bool { return d.LibraryID == lm[1] })
			tag, isString := list.LastUpdated.(string) // a number would stop the updates
			if _, err := strconv.ParseInt(tag, 10, 64); !registered || lm[2] != p.PassTypeID || !slices.Equal(list.SerialNumbers, []string{p.SerialNumber}) ||
				!isString || err != nil {
				t.Fatalf("%s: 200 %s for a device registered: %v", what, data, registered)
			}
		}
		return resp.StatusCode
	}
	regPass := "/devices/" + device + "/registrations/" + p.PassTypeID + "/" + p.SerialNumber
	regAuth, regBody := "ApplePass "+p.AuthToken, `{"pushToken":"`+pushToken+`"}`
	// The registration seed registers, however many registrations came
	// before it.
	for i := range httpapi.RegistrationChangeBurst + 1 {
		if status := try(f, 0, regPass, regAuth, regBody, ""); status != http.StatusCreated {
			f.Fatalf("registration seed, try %d: %d, want 201", i+1, status)
		}
	}
	f.Add(uint8(0), regPass, regAuth, regBody, "")
	passPath := "/passes/" + p.PassTypeID + "/" + p.SerialNumber
	keptList := "/devices/" + kept + "/registrations/" + p.PassTypeID
	older := p.UpdatedAt.UTC().Truncate(time.Second).Add(-time.Second).Format(http.TimeFormat)
	// The seeds that answer the pass, 304 and the list do so (the first
	// verifies the pass file the others are compared with), so the checks
	// above are not vacuous.
	for _, sd := range []struct {
		m                     uint8
		path, auth, body, ims string
		status                int
	}{
		{1, passPath, regAuth, "", "", http.StatusOK},
		{1, passPath + "/", regAuth, "", older, http.StatusOK},
		{2, passPath, regAuth, "", "", http.StatusOK},
		{1, passPath, regAuth, "", lastModified, http.StatusNotModified},
		{1, passPath, regAuth, "", "Sunday, 06-Nov-94 08:49:37 GMT", http.StatusOK},
		{1, passPath, "ApplePass x", "", lastModified, http.StatusUnauthorized},
		{1, keptList, "", "", "", http.StatusOK},
		{1, keptList + "?passesUpdatedSince=1", "", "", "", http.StatusOK},
		{1, keptList + "?passesUpdatedSince=" + strconv.FormatInt(p.UpdateTag, 10), "", "", "", http.StatusNoContent},
		{3, "/devices/" + kept + "/registrations/" + p.PassTypeID + "/" + p.SerialNumber, regAuth, "", "", http.StatusOK},
		{1, keptList, "", "", "", http.StatusOK}, // kept across the unregistration above
	} {
		f.Add(sd.m, sd.path, sd.auth, sd.body, sd.ims)
		if status := try(f, sd.m, sd.path, sd.auth, sd.body, sd.ims); status != sd.status {
			f.Fatalf("%s %s (If-Modified-Since %q): %d, want %d", methods[sd.m], sd.path, sd.ims, status, sd.status)
		}
	}
	f.Add(uint8(1), "/devices/"+device+"/registrations/"+p.PassTypeID+"?passesUpdatedSince=1", "", "", "")
	f.Add(uint8(2), "/passes/"+p.PassTypeID+"/"+p.SerialNumber, "ApplePass x", "", "")
	f.Add(uint8(3), "/log", "", `{"logs":["`+p.SerialNumber+`"]}`, "")
	f.Add(uint8(4), "/devices/%00/registrations/pass./..", "ApplePass", "{", "x")
	f.Add(uint8(1), "/log", "ApplePass \x7f", "", "")
	f.Fuzz(func(t *testing.T, m uint8, path, auth, body, ims string) {
		try(t, m, path, auth, body, ims)
	})
}

// TestDeviceLogPerClient: a client posting full device logs spends its
// own share of the tenant's lines, not the tenant's budget, so another
// client's line naming a pass still reaches the order's timeline; the
// lines dropped make at most one warning per DeviceLogWarnEvery, and the
// warnings count every line dropped; every request is answered 200.
func TestDeviceLogPerClient(t *testing.T) {
	t.Parallel()
	fx := appletest.Setup(t)
	db := openStore(t)
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC) // moved by the test only between requests
	svc := &pass.Service{Passes: db, Packager: fx.Registry, Clock: func() time.Time { return now }}
	p, _, err := svc.Apply(context.Background(), apple.SampleTicket(pass.EventConcert), "default")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h := httpapi.New(httpapi.Deps{Passes: db, Apple: httpapi.AppleDeps{Timeline: db}, Tenants: []httpapi.TenantInfo{{ID: "demo"}, {ID: "other"}},
		Clock: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	posted := 0
	tenant := "demo"
	post := func(client string, lines ...string) {
		t.Helper()
		body, err := json.Marshal(map[string][]string{"logs": lines})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/api/"+tenant+"/apple/v1/log", bytes.NewReader(body))
		req.RemoteAddr = client + ":5555"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("log of %d lines from %s: %d, want 200", len(lines), client, rec.Code)
		}
		posted += len(lines)
	}
	// warnings are the lines each warning counts; kept, the lines logged
	// as the service's (those naming no pass).
	records := func() (warnings []int, kept int) {
		t.Helper()
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var r struct {
				Msg   string `json:"msg"`
				Level string `json:"level"`
				Lines int    `json:"lines"`
			}
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("log line %q: %v", l, err)
			}
			switch r.Msg {
			case "wallet device log lines dropped":
				warnings = append(warnings, r.Lines)
			case "wallet device log":
				kept++
			}
		}
		return warnings, kept
	}

	noise := make([]string, 100)
	for i := range noise {
		noise[i] = fmt.Sprintf("Web service error: noise %d", i)
	}
	const clientA, clientB = "198.51.100.7", "203.0.113.9"
	for range 5 {
		post(clientA, noise...)
	}
	post(clientB, "Web service error for "+p.PassTypeID+" ("+p.SerialNumber+"): client B's line")
	tl, err := db.Timeline(context.Background(), "demo", p.SecretToken, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(tl, func(e pass.TimelineEntry) bool {
		return e.Kind == "device-log" && strings.Contains(e.Detail, "client B's line")
	}) {
		t.Errorf("after client A's full logs, client B's line is not on the order's timeline: %+v", tl)
	}
	if warnings, _ := records(); len(warnings) != 1 {
		t.Errorf("5 requests with lines dropped within %s: %d warnings %v, want 1", httpapi.DeviceLogWarnEvery, len(warnings), warnings)
	}
	// Client A's share is of each tenant's lines: at another tenant, its
	// line is kept (logged as the service's: it names no pass).
	_, keptBefore := records()
	tenant = "other"
	post(clientA, "Web service error: client A at another tenant")
	tenant = "demo"
	if _, kept := records(); kept != keptBefore+1 {
		t.Errorf("client A's line at another tenant: %d lines kept, want %d", kept, keptBefore+1)
	}

	// An interval on, client A's next dropped lines bring the next
	// warning, with the lines dropped since the first.
	now = now.Add(httpapi.DeviceLogWarnEvery)
	post(clientA, noise...)
	warnings, kept := records()
	sum := 0
	for _, n := range warnings {
		sum += n
	}
	if len(warnings) != 2 || sum != posted-1-kept { // client B's line is on the timeline
		t.Errorf("warnings %v for %d lines posted, %d logged and 1 on the timeline; want 2 warnings counting %d", warnings, posted, kept,
			posted-1-kept)
	}
}

// TestPassFileBudget: the PassKit web service builds a pass's whole file
// PassFileBurst times at once (a push reaches every device together),
// then once per PassFileEvery, answering 429 with Retry-After meanwhile;
// a device whose copy is current (304) and HEAD, which builds nothing,
// are never refused.
func TestPassFileBudget(t *testing.T) {
	t.Parallel()
	b := setupWS(t)
	p := b.pass
	path := "/passes/" + p.PassTypeID + "/" + p.SerialNumber
	codes := map[int]int{}
	var lm string
	for range httpapi.PassFileBurst + 5 {
		resp, _ := b.do(t, "GET", path, "", p.AuthToken, nil)
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		if lm == "" {
			lm = resp.Header.Get("Last-Modified")
		}
	}
	if codes[200] != httpapi.PassFileBurst || codes[http.StatusTooManyRequests] != 5 {
		t.Errorf("answers %v, want %d files then 429", codes, httpapi.PassFileBurst)
	}
	if resp, _ := b.do(t, "GET", path, "", p.AuthToken, map[string]string{"If-Modified-Since": lm}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("a current copy past the budget: %d, want 304", resp.StatusCode)
	}
	if resp, data := b.do(t, "HEAD", path, "", p.AuthToken, nil); resp.StatusCode != 200 || len(data) != 0 {
		t.Errorf("HEAD past the budget: %d", resp.StatusCode)
	}
	b.clock.ns.Add(int64(httpapi.PassFileEvery))
	if resp, _ := b.do(t, "GET", path, "", p.AuthToken, nil); resp.StatusCode != 200 {
		t.Errorf("after %s: %d, want the file", httpapi.PassFileEvery, resp.StatusCode)
	}
}
