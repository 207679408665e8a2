package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	fakegoogle "walletpass/fake/google"
	"walletpass/pass"
	"walletpass/pass/google"
)

// TestPerformanceNotices is the event-wide path end to end: two orders on
// one performance (three passes, two phones, one of them holding two
// passes; one order saved to Google Wallet). The organiser's notice
// reaches every pass (a field whose changeMessage is the text, in the
// holder's language), each phone once, Google once through the class and
// never object by object; the same id again sends nothing; a later sync
// from SecuTix keeps the notice. Then the performance moves in SecuTix's
// back office (no order webhook): reconciliation sees the catalogue
// change and rewrites every pass with the new time, again one push per
// phone and one class patch. Google's 3 notifications per pass per day
// are kept: the fourth class message goes silently.
func TestPerformanceNotices(t *testing.T) {
	t.Parallel()
	s := startSystemEnv(t, "", map[string]string{"WALLETPASS_TENANT_DEMO_SECUTIX_CATALOG_INTERVAL": "1ms"})
	defer s.stop()
	ctx := context.Background()
	apns := s.app.Fakes.APNs
	gfake := s.app.Fakes.Google["demo"]
	tn := s.app.Google.syncer.Tenants["demo"]

	a := s.createOrder(map[string]any{"count": 2})
	b := s.createOrder(map[string]any{"count": 1})
	psA := s.waitPasses(a.Secret, "order A's passes", func(ps []pass.Pass) bool { return len(ps) == 2 })
	psB := s.waitPasses(b.Secret, "order B's pass", func(ps []pass.Pass) bool { return len(ps) == 1 })
	perf := psA[0].Ticket.Event.PerformanceID
	if perf == 0 || psA[1].Ticket.Event.PerformanceID != perf || psB[0].Ticket.Event.PerformanceID != perf {
		t.Fatalf("the orders are not on one performance: %d %d %d", perf, psA[1].Ticket.Event.PerformanceID,
			psB[0].Ticket.Event.PerformanceID)
	}
	// Phone 1 holds both of A's passes, phone 2 B's.
	for _, ph := range []*phone{s.phoneFor(t, psA[0], "a1"), s.phoneFor(t, psA[1], "a1"), s.phoneFor(t, psB[0], "b2")} {
		ph.register()
	}
	push1, push2 := strings.Repeat("a1", 32), strings.Repeat("b2", 32)
	// Order A is saved to Google Wallet.
	saveToGoogle(t, s, a.Secret)
	classID := google.ClassID(tn.Issuer.IssuerID, "demo", psA[0].Ticket)
	s.idle()
	apns.Reset()
	gfake.ClearRequests()

	post := func(authz string, perfID string, body string) (int, string) {
		t.Helper()
		return postJSON(t, s.base+"/api/demo/performances/"+perfID+"/notifications", authz, body)
	}
	organiser := s.bearer("demo", "passes:write")
	perfID := fmt.Sprint(perf)
	notice := `{"id": "doors-1", "title": {"en": "Doors", "fr": "Portes"},
		"message": {"en": "Doors open at 19:00 today", "fr": "Ouverture des portes à 19 h", "de": "Einlass heute um 19 Uhr"}}`
	for _, c := range []struct {
		name, authz, perf, body string
		status                  int
	}{
		{"no credentials", "", perfID, notice, 401},
		{"getTicketsUrl's scope", s.bearer("demo", "tickets:read"), perfID, notice, 403},
		{"another tenant's token", s.bearer("other", "passes:write"), perfID, notice, 403},
		{"a performance id that is not one", organiser, "12x", notice, 400},
		{"no message", organiser, perfID, `{"title": "Doors"}`, 400},
		{"an unknown field", organiser, perfID, `{"message": "x", "channel": "sms"}`, 400},
		{"a language that is not one", organiser, perfID, `{"message": {"english": "x"}}`, 400},
		{"a message too long", organiser, perfID, `{"message": "` + strings.Repeat("x", 501) + `"}`, 400},
		{"an empty text", organiser, perfID, `{"message": {"en": " "}}`, 400},
	} {
		if st, raw := post(c.authz, c.perf, c.body); st != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, st, raw, c.status)
		}
	}
	if n := len(gfake.Requests()); n != 0 || len(apns.Pushes()) != 0 {
		t.Fatalf("refused notices sent something: %d Google calls, %d pushes", n, len(apns.Pushes()))
	}

	st, raw := post(organiser, perfID, notice)
	var ans struct {
		ID      string            `json:"id"`
		Message map[string]string `json:"message"`
	}
	if err := json.Unmarshal([]byte(raw), &ans); st != 202 || err != nil || ans.ID != "doors-1" || len(ans.Message) != 3 {
		t.Fatalf("notice: %d %s", st, raw)
	}
	all := func() []pass.Pass { return append(s.passes(a.Secret), s.passes(b.Secret)...) }
	waitAll := func(what string, cond func(pass.Pass) bool) []pass.Pass {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			ps := all()
			ok := len(ps) == len(psA)+len(psB)
			for _, p := range ps {
				ok = ok && cond(p)
			}
			if ok {
				s.idle()
				return all()
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: %v", what, summary(ps))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ps := waitAll("the notice on every pass", func(p pass.Pass) bool { return p.Version == 2 })
	for _, p := range ps {
		pj := s.verify(p)
		f := backField(pj, "notice")
		if f == nil || f["value"] != "Doors open at 19:00 today" || f["changeMessage"] != "%@" {
			t.Errorf("pass %s: notice field %v", p.SerialNumber, f)
		}
	}
	// One push per phone, though phone 1 holds two changed passes.
	if n1, n2 := len(apns.PushesFor(push1)), len(apns.PushesFor(push2)); n1 != 1 || n2 != 1 {
		t.Errorf("pushes: phone 1 %d, phone 2 %d; want one each", n1, n2)
	}
	// Google: one class message, nothing per object.
	calls := googleCalls(gfake)
	if got := strings.Join(calls, "\n"); got != "POST eventTicketClass/"+classID+"/addMessage" {
		t.Errorf("Google calls for the notice:\n%s", got)
	}
	msg := lastClassMessage(t, gfake, classID)
	if msg.MessageType != "TEXT_AND_NOTIFY" || msg.LocalizedBody == nil || msg.LocalizedBody.DefaultValue.Value != "Doors open at 19:00 today" ||
		len(msg.LocalizedBody.TranslatedValues) != 2 || msg.Header != "Doors" {
		b, _ := json.Marshal(msg)
		t.Errorf("class message: %s", b)
	}

	// The same notice again: nothing more.
	apns.Reset()
	gfake.ClearRequests()
	if st, raw := post(organiser, perfID, notice); st != 200 {
		t.Errorf("the same notice again: %d %s", st, raw)
	}
	s.idle()
	if ps := all(); ps[0].Version != 2 || len(apns.Pushes()) != 0 || len(gfake.Requests()) != 0 {
		t.Errorf("the same notice again changed something: %v, %d pushes, %d Google calls", summary(ps), len(apns.Pushes()),
			len(gfake.Requests()))
	}

	// A sync from SecuTix (a seat change of B's ticket, not in Google
	// Wallet) keeps the notice.
	s.action(b, b.Tickets[0].TicketID, "modify", map[string]any{})
	p := s.waitPasses(b.Secret, "the moved seat", func(ps []pass.Pass) bool { return ps[0].Version == 3 })
	if f := backField(s.verify(p[0]), "notice"); f == nil {
		t.Error("a sync from SecuTix dropped the notice")
	}
	s.idle()

	// The performance moves in SecuTix's back office: no order webhook.
	start := psA[0].Ticket.Event.Start.Add(24 * time.Hour)
	before := map[string]int{}
	for _, p := range all() {
		before[p.SerialNumber] = p.Version
	}
	if err := s.app.Sandbox.Reschedule(perf, start, time.Time{}); err != nil {
		t.Fatal(err)
	}
	apns.Reset()
	gfake.ClearRequests()
	rep, err := s.app.Reconciler.RunReport(ctx)
	if err != nil || rep.Rewrites != 1 {
		t.Fatalf("reconcile: %+v, %v", rep, err)
	}
	ps = waitAll("the new time on every pass", func(p pass.Pass) bool { return p.Version == before[p.SerialNumber]+1 })
	for _, p := range ps {
		if !p.Ticket.Event.Start.Equal(start) {
			t.Errorf("pass %s starts %s, want %s", p.SerialNumber, p.Ticket.Event.Start, start)
		}
		if fieldValue(s.verify(p), "date") != start.Format(time.RFC3339) {
			t.Errorf("pass %s shows %v", p.SerialNumber, fieldValue(s.verify(p), "date"))
		}
	}
	if n1, n2 := len(apns.PushesFor(push1)), len(apns.PushesFor(push2)); n1 != 1 || n2 != 1 {
		t.Errorf("pushes after the move: phone 1 %d, phone 2 %d; want one each", n1, n2)
	}
	calls = googleCalls(gfake)
	if got := strings.Join(calls, "\n"); got != "PATCH eventTicketClass/"+classID+"\nPOST eventTicketClass/"+classID+"/addMessage" {
		t.Errorf("Google calls for the move (want a class patch and a class message, no object call):\n%s", got)
	}
	var cl struct {
		DateTime struct{ Start string } `json:"dateTime"`
	}
	raw2, _ := gfake.Class(classID)
	if json.Unmarshal(raw2, &cl); cl.DateTime.Start != start.Format(time.RFC3339) {
		t.Errorf("class start %q, want %s", cl.DateTime.Start, start.Format(time.RFC3339))
	}
	// Nothing changes on a second look.
	if rep, err := s.app.Reconciler.RunReport(ctx); err != nil || rep.Rewrites != 0 {
		t.Errorf("second reconcile: %+v, %v", rep, err)
	}
	// An operator may ask for the rewrite too: nothing changed, so no
	// version and no push.
	var out, errOut syncBuffer
	if err := Run(ctx, []string{"performances", "sync", "-id", perfID}, &out, &errOut, testEnv(s.dataDir, nil)); err != nil ||
		!strings.Contains(out.String(), "queued the rewrite of performance "+perfID) {
		t.Fatalf("performances sync: %v %s %s", err, out.String(), errOut.String())
	}
	apns.Reset()
	s.idle()
	if ps := all(); ps[0].Version != before[ps[0].SerialNumber]+1 || len(apns.Pushes()) != 0 {
		t.Errorf("an unchanged performance's rewrite changed something: %v, %d pushes", summary(ps), len(apns.Pushes()))
	}

	// Two notifications so far (the notice, the move): the third notifies,
	// the fourth is sent silently.
	for i, want := range []string{"TEXT_AND_NOTIFY", "TEXT"} {
		if st, raw := post(organiser, perfID, fmt.Sprintf(`{"message": "Update %d"}`, i)); st != 202 {
			t.Fatalf("notice %d: %d %s", i, st, raw)
		}
		waitAll(fmt.Sprintf("update %d", i), func(p pass.Pass) bool {
			return backField(s.verify(p), "notice")["value"] == fmt.Sprintf("Update %d", i)
		})
		if m := lastClassMessage(t, gfake, classID); m.MessageType != want || m.Body != fmt.Sprintf("Update %d", i) {
			t.Errorf("update %d: %s %q, want %s", i, m.MessageType, m.Body, want)
		}
	}
	if n := len(gfake.ClassNotifications(classID)); n != google.NotifyLimit {
		t.Errorf("%d notifying class messages, want %d", n, google.NotifyLimit)
	}
	// A seat change of A's ticket now tells its holder silently: the
	// class's three count for the pass.
	s.action(a, a.Tickets[1].TicketID, "modify", map[string]any{})
	s.waitPasses(a.Secret, "the moved seat", func(ps []pass.Pass) bool {
		return byMovement(ps, a.Tickets[1].MovementID, 0).Version == before[byMovement(psA, a.Tickets[1].MovementID, 0).SerialNumber]+4
	})
	s.idle()
	objectID := google.ObjectID(tn.Issuer.IssuerID, "demo", byMovement(psA, a.Tickets[1].MovementID, 0).SerialNumber)
	if n := len(gfake.ObjectNotifications(objectID)); n != 0 {
		t.Errorf("the object notified %d times on top of its class's three", n)
	}
	var obj struct{ Messages []classMessage }
	rawObj, _ := gfake.Object(objectID)
	if json.Unmarshal(rawObj, &obj); len(obj.Messages) == 0 || obj.Messages[len(obj.Messages)-1].MessageType != "TEXT" {
		t.Errorf("the seat change's message: %s", rawObj)
	}
	if tl := strings.Join(timelineOf(t, s, a.Secret), "\n"); !strings.Contains(tl, "message(s) to every holder") ||
		!strings.Contains(tl, "(performance "+perfID+": notice doors-1)") || !strings.Contains(tl, "(performance "+perfID+": catalogue)") {
		t.Errorf("the order's timeline does not show the class messages:\n%s", tl)
	}
}

// saveToGoogle opens the order's Google Wallet link, as the buyer would.
func saveToGoogle(t *testing.T, s *system, secret string) {
	t.Helper()
	link := s.orderLinks(secret)["google-save"]
	if link == "" {
		t.Fatal("no Google Wallet link")
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("save link: %d", resp.StatusCode)
	}
}

// googleCalls are the fake Google's requests as "METHOD path" (the path
// after walletobjects/v1/), without token requests.
func googleCalls(f *fakegoogle.Server) []string {
	var out []string
	for _, r := range f.Requests() {
		_, p, ok := strings.Cut(r.Path, "/walletobjects/v1/")
		if !ok {
			continue
		}
		out = append(out, r.Method+" "+p)
	}
	return out
}

type classMessage struct {
	Header, Body, MessageType string
	LocalizedBody             *struct {
		DefaultValue     struct{ Language, Value string }
		TranslatedValues []struct{ Language, Value string }
	}
}

func lastClassMessage(t *testing.T, f *fakegoogle.Server, classID string) classMessage {
	t.Helper()
	raw, ok := f.Class(classID)
	if !ok {
		t.Fatalf("no class %s", classID)
	}
	var cl struct{ Messages []classMessage }
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&cl); err != nil || len(cl.Messages) == 0 {
		t.Fatalf("class %s has no message: %v %s", classID, err, raw)
	}
	return cl.Messages[len(cl.Messages)-1]
}

// backField is the back field with key, or nil.
func backField(pj map[string]any, key string) map[string]any {
	et, _ := pj["eventTicket"].(map[string]any)
	fs, _ := et["backFields"].([]any)
	for _, f := range fs {
		if m, _ := f.(map[string]any); m["key"] == key {
			return m
		}
	}
	return nil
}
