package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	fakefcm "walletpass/fake/fcm"
	"walletpass/pass"
)

// TestAppNotices: the organiser's app registers for an order and hears
// "tickets ready" once, "ticket changed" on a modify and "ticket
// cancelled" on a cancellation; a token FCM says is gone is removed, an
// unregistered one hears nothing more.
func TestAppNotices(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	fake := s.app.Fakes.FCM["demo"]
	send := func(method string, body any) (int, string) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, s.base+"/api/demo/customers/devices", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		return resp.StatusCode, out.String()
	}
	reg := func(secret, token, locale string) int {
		st, body := send(http.MethodPost, map[string]string{"orderSecretToken": secret, "fcmToken": token, "platform": "android", "locale": locale})
		if st != 200 && st != 201 {
			t.Fatalf("register %s: %d %s", token, st, body)
		}
		return st
	}
	titles := func(token string) []string {
		var out []string
		for _, m := range fake.MessagesFor(token) {
			if m.Status == 200 {
				out = append(out, m.Title)
			}
		}
		return out
	}
	wait := func(token, what string, n int) []string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := titles(token)
			if len(got) >= n {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s at %s: %v", what, token, got)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// An app that registers right after the purchase, before the passes
	// exist: the order is checked with SecuTix and made at once.
	o := s.createOrder(map[string]any{"count": 3})
	tokA, tokB, tokC := "tokA:"+strings.Repeat("a", 60), "tokB:"+strings.Repeat("b", 60), "tokC:"+strings.Repeat("c", 60)
	if st := reg(o.Secret, tokA, "fr-CH"); st != 201 {
		t.Errorf("first registration: %d", st)
	}
	if got := wait(tokA, "tickets ready", 1); got[0] != "Vos billets sont prêts" {
		t.Errorf("ready notice: %v", got)
	}
	if st := reg(o.Secret, tokA, "fr-CH"); st != 200 {
		t.Errorf("second registration: %d", st)
	}
	reg(o.Secret, tokB, "en")
	reg(o.Secret, tokC, "de")
	wait(tokB, "B's ready", 1)
	wait(tokC, "C's ready", 1)
	s.idle()

	// A modify: "changed". B's token is gone at FCM by then: removed.
	fake.Unregister(tokB)
	s.action(o, o.Tickets[0].TicketID, "modify", map[string]any{})
	wait(tokA, "changed", 2)
	s.idle()
	if ds, _ := s.db.Installations(t.Context(), "demo", o.Secret); len(ds) != 2 {
		t.Errorf("devices after FCM said B is gone: %+v", ds)
	}
	// C unregisters; a cancellation reaches A only.
	if st, body := send(http.MethodDelete, map[string]string{"orderSecretToken": o.Secret, "fcmToken": tokC}); st != 204 {
		t.Fatalf("unregister: %d %s", st, body)
	}
	s.action(o, o.Tickets[1].TicketID, "cancel", nil)
	got := wait(tokA, "cancelled", 3)
	s.idle()
	if want := []string{"Vos billets sont prêts", "Votre billet a changé", "Billet annulé"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("A heard %v, want %v (tickets ready exactly once)", got, want)
	}
	if got := titles(tokC); len(got) != 2 || got[1] != "Ihr Ticket hat sich geändert" {
		t.Errorf("C heard %v, want its ready and the change, nothing after unregistering", got)
	}
	var m fakefcm.Message
	for _, x := range fake.MessagesFor(tokA) {
		m = x
	}
	if m.Data["notice"] != pass.NoticeCancelled || m.Data["orderPage"] != s.base+"/demo/orders/"+o.Secret || m.Priority != "high" {
		t.Errorf("last message: %+v", m)
	}

	// A transfer: the order's app hears that the ticket went, not to whom.
	s.action(o, o.Tickets[2].TicketID, "transfer", map[string]any{"firstName": "Ada", "lastName": "Lovelace"})
	got = wait(tokA, "transferred", 4)
	s.idle()
	msgs := fake.MessagesFor(tokA)
	last := msgs[len(msgs)-1]
	if got[3] != "Billet transféré" || last.Data["notice"] != pass.NoticeTransferred || strings.Contains(fmt.Sprint(last), "Lovelace") {
		t.Errorf("after the transfer A heard %v, last %+v", got, last)
	}

	// Bad requests write nothing.
	for name, tc := range map[string]struct {
		body   any
		status int
	}{
		"unknown order":  {map[string]string{"orderSecretToken": "NoSuchOrder123", "fcmToken": "x1", "platform": "ios"}, 404},
		"bad platform":   {map[string]string{"orderSecretToken": o.Secret, "fcmToken": "x1", "platform": "nokia"}, 400},
		"bad token":      {map[string]string{"orderSecretToken": o.Secret, "fcmToken": "<script>", "platform": "ios"}, 400},
		"unknown field":  {map[string]string{"orderSecretToken": o.Secret, "fcmToken": "x1", "platform": "ios", "admin": "1"}, 400},
		"oversized body": {map[string]string{"orderSecretToken": o.Secret, "fcmToken": strings.Repeat("x", 9000), "platform": "ios"}, 413},
	} {
		if st, body := send(http.MethodPost, tc.body); st != tc.status {
			t.Errorf("%s: %d %s", name, st, body)
		}
	}
	if ds, _ := s.db.Installations(t.Context(), "demo", o.Secret); len(ds) != 1 {
		t.Errorf("devices after bad requests: %+v", ds)
	}
}
