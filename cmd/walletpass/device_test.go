package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fakeapns "walletpass/fake/apns"
	"walletpass/pass"
	"walletpass/pass/apple/appletest"
)

// phone plays an iPhone's Wallet: it reads webServiceURL and the token from
// a downloaded pass and talks to the PassKit web service.
type phone struct {
	t       *testing.T
	ws      string // webServiceURL
	token   string
	device  string
	push    string
	typ     string
	serial  string
	lastTag string
}

func (ph *phone) req(method, path, body string, hdr map[string]string) (*http.Response, []byte) {
	ph.t.Helper()
	req, _ := http.NewRequest(method, ph.ws+"/v1"+path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ph.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// phoneFor is a phone that added p, read from its signed file (the
// token and pass type as a phone sees them), with a device id and a push
// token made of the hex digit pair d.
func (s *system) phoneFor(t *testing.T, p pass.Pass, d string) *phone {
	t.Helper()
	pj := s.verify(p)
	return &phone{t: t, ws: s.base + "/api/demo/apple", token: pj["authenticationToken"].(string), device: strings.Repeat(d, 16),
		push: strings.Repeat(d, 32), typ: pj["passTypeIdentifier"].(string), serial: pj["serialNumber"].(string)}
}

// registration is the path of the phone's registration for its pass.
func (ph *phone) registration() string {
	return "/devices/" + ph.device + "/registrations/" + ph.typ + "/" + ph.serial
}

// register registers the phone for its pass's updates (201 expected).
func (ph *phone) register() {
	ph.t.Helper()
	if resp, body := ph.req("POST", ph.registration(), `{"pushToken":"`+ph.push+`"}`, ph.auth()); resp.StatusCode != 201 {
		ph.t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
}

func (ph *phone) auth() map[string]string {
	return map[string]string{"Authorization": "ApplePass " + ph.token}
}

// TestDeviceSimulation is issue 4's acceptance run: a phone downloads a
// pass, registers, lists; SecuTix changes the ticket; the fake APNs gets
// exactly one push for the device with the pass type as topic; the phone
// lists since its tag, downloads the change, gets 304 after; unregisters,
// and gets no more pushes.
func TestDeviceSimulation(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	fake := s.app.Fakes.APNs
	if fake == nil {
		t.Fatal("no fake APNs in development")
	}
	o := s.createOrder(map[string]any{})
	ps := s.waitPasses(o.Secret, "the order's passes", func(ps []pass.Pass) bool { return len(ps) == len(o.Tickets) })
	p := *byMovement(ps, o.Tickets[0].MovementID, 0)
	pj := s.verify(p)
	ws, _ := pj["webServiceURL"].(string)
	ph := &phone{t: t, token: pj["authenticationToken"].(string), device: "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6",
		push: strings.Repeat("ab", 32), typ: pj["passTypeIdentifier"].(string), serial: pj["serialNumber"].(string)}
	// The pass points at the public base URL; the test server listens elsewhere.
	ph.ws = s.base + ws[strings.Index(ws, "/api/"):]

	if resp, body := ph.req("POST", "/devices/"+ph.device+"/registrations/"+ph.typ+"/"+ph.serial, `{"pushToken":"`+ph.push+`"}`, ph.auth()); resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	resp, body := ph.req("GET", "/devices/"+ph.device+"/registrations/"+ph.typ, "", nil)
	var list struct {
		SerialNumbers []string `json:"serialNumbers"`
		LastUpdated   string   `json:"lastUpdated"`
	}
	if json.Unmarshal(body, &list); resp.StatusCode != 200 || len(list.SerialNumbers) != 1 || list.SerialNumbers[0] != ph.serial {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	ph.lastTag = list.LastUpdated
	resp, _ = ph.req("GET", "/passes/"+ph.typ+"/"+ph.serial, "", ph.auth())
	lastModified := resp.Header.Get("Last-Modified")
	fake.Reset()

	// SecuTix moves the ticket to another seat.
	time.Sleep(1100 * time.Millisecond) // Last-Modified has one-second resolution
	s.action(o, o.Tickets[0].TicketID, "modify", map[string]any{})
	deadline := time.Now().Add(30 * time.Second)
	for len(fake.PushesFor(ph.push)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no push reached the fake APNs")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.idle()
	time.Sleep(700 * time.Millisecond) // a second push would come within the coalescing window
	pushes := fake.PushesFor(ph.push)
	if len(pushes) != 1 || pushes[0].Topic != ph.typ || string(pushes[0].Body) != "{}" {
		t.Fatalf("pushes = %+v, want exactly one with topic %s and body {}", pushes, ph.typ)
	}
	if n := len(fake.Pushes()); n != 1 {
		t.Errorf("%d pushes in all, want only the registered device's", n)
	}

	resp, body = ph.req("GET", "/devices/"+ph.device+"/registrations/"+ph.typ+"?passesUpdatedSince="+ph.lastTag, "", nil)
	list.SerialNumbers = nil
	if json.Unmarshal(body, &list); resp.StatusCode != 200 || len(list.SerialNumbers) != 1 || list.SerialNumbers[0] != ph.serial || list.LastUpdated <= ph.lastTag {
		t.Fatalf("list since the tag: %d %s, want only %s with a newer tag", resp.StatusCode, body, ph.serial)
	}
	resp, data := ph.req("GET", "/passes/"+ph.typ+"/"+ph.serial, "", map[string]string{"Authorization": "ApplePass " + ph.token, "If-Modified-Since": lastModified})
	if resp.StatusCode != 200 {
		t.Fatalf("get with the old If-Modified-Since: %d", resp.StatusCode)
	}
	appletest.Verify(t, data, filepath.Join(s.dataDir, "pki", "wwdr.pem"))
	newLM := resp.Header.Get("Last-Modified")
	if resp, _ := ph.req("GET", "/passes/"+ph.typ+"/"+ph.serial, "", map[string]string{"Authorization": "ApplePass " + ph.token, "If-Modified-Since": newLM}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("get with the new Last-Modified: %d, want 304", resp.StatusCode)
	}

	// Unregister: no more pushes for that device.
	if resp, _ := ph.req("DELETE", "/devices/"+ph.device+"/registrations/"+ph.typ+"/"+ph.serial, "", ph.auth()); resp.StatusCode != 200 {
		t.Fatalf("unregister: %d", resp.StatusCode)
	}
	fake.Reset()
	s.action(o, o.Tickets[0].TicketID, "modify", map[string]any{})
	s.waitPasses(o.Secret, "the third version", func(ps []pass.Pass) bool {
		q := byMovement(ps, o.Tickets[0].MovementID, 0)
		return q != nil && q.Version == 3
	})
	s.idle()
	if n := len(fake.PushesFor(ph.push)); n != 0 {
		t.Errorf("%d pushes after unregistering", n)
	}
}

// TestAPNsAnswers: 410 removes the registration; a 429 is retried no
// sooner than a minute later (APNs asks us to slow down for that device),
// and the retry will not push again to a device of the same pass that
// was reached the first time; a push refused for our credentials keeps
// the registration and is tried again a minute later (the configuration
// may be fixed by then, or the provider token renewed).
func TestAPNsAnswers(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	fake := s.app.Fakes.APNs
	o := s.createOrder(map[string]any{"count": 2})
	ps := s.waitPasses(o.Secret, "the order's passes", func(ps []pass.Pass) bool { return len(ps) == 2 })
	gone, limited, fine, refused := strings.Repeat("0d", 32), strings.Repeat("1e", 32), strings.Repeat("2f", 32), strings.Repeat("3a", 32)
	for i, tok := range []string{gone, limited, fine, refused} {
		p := *byMovement(ps, o.Tickets[[]int{0, 1, 1, 0}[i]].MovementID, 0) // fine shares the limited device's pass, refused the gone one's
		ph := &phone{t: t, ws: s.base + "/api/demo/apple", token: p.AuthToken}
		if resp, body := ph.req("POST", "/devices/dev"+tok[:8]+"/registrations/"+p.PassTypeID+"/"+p.SerialNumber, `{"pushToken":"`+tok+`"}`, ph.auth()); resp.StatusCode != 201 {
			t.Fatalf("register: %d %s", resp.StatusCode, body)
		}
	}
	fake.Respond(gone, fakeapns.Answer{Status: 410, Reason: "Unregistered"})
	fake.Respond(limited, fakeapns.Answer{Status: 429, Reason: "TooManyRequests"})
	fake.Respond(refused, fakeapns.Answer{Status: 403, Reason: "InvalidProviderToken"})
	start := time.Now()
	s.action(o, o.Tickets[0].TicketID, "modify", map[string]any{})
	s.action(o, o.Tickets[1].TicketID, "modify", map[string]any{})
	deadline := time.Now().Add(30 * time.Second)
	var retries []pass.Task
	var ds []pass.Device
	for {
		ds, _ = s.db.DevicesForPass(t.Context(), "demo", ps[0].PassTypeID, byMovement(ps, o.Tickets[0].MovementID, 0).SerialNumber)
		tasks, _ := s.db.ListTasks(t.Context(), pass.TaskPending, 100)
		retries = retries[:0]
		for i := range tasks {
			if tasks[i].Kind == pass.TaskPushPass && tasks[i].Attempts > 0 {
				retries = append(retries, tasks[i])
			}
		}
		if len(retries) == 2 && len(ds) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pushes to the limited device %+v; to the gone one %+v; registrations of the gone device's pass %+v; %d push tasks waiting to retry",
				fake.PushesFor(limited), fake.PushesFor(gone), ds, len(retries))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := fake.PushesFor(limited); len(got) != 1 || got[0].Status != 429 {
		t.Errorf("limited device: %+v, want one push answered 429", got)
	}
	for _, r := range retries {
		if wait := r.NextAttemptAt.Sub(start); wait < 59*time.Second {
			t.Errorf("a push refused (429 or 403) is retried %v after the change, want a minute", wait)
		}
	}
	if len(ds) != 1 || ds[0].PushToken != refused || len(fake.PushesFor(refused)) != 1 {
		t.Errorf("the pass of the gone device: registrations %+v (want the refused one's, kept), %d pushes to it", ds, len(fake.PushesFor(refused)))
	}
	// The first round is over (its retry waits): the other device of the
	// pass had its push, once; the retry will skip it.
	if got := fake.PushesFor(fine); len(got) != 1 || got[0].Status != 200 {
		t.Errorf("the device reached in the first round: %+v, want exactly one push", got)
	}
}
