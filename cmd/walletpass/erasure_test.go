package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/pass/google"
)

// TestHolderErasure: an organiser erases an order's holder data through
// POST /api/{tenant}/erasures (scope holders:erase): the passes are signed
// again without the holders' names and pushed to the phone that holds
// one, their first files are deleted, the timeline loses the names, the
// Google Wallet object loses its holder; a later change from SecuTix
// (which still has the names) keeps them out. `walletpass holders erase`
// does the same for another order.
func TestHolderErasure(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	ctx := context.Background()
	apns := s.app.Fakes.APNs
	gfake := s.app.Fakes.Google["demo"]
	tn := s.app.Google.syncer.Tenants["demo"]
	o := s.createOrder(map[string]any{"count": 2})
	ps := s.waitPasses(o.Secret, "2 passes", func(ps []pass.Pass) bool { return len(ps) == 2 })
	names := []string{ps[0].Ticket.HolderName, ps[1].Ticket.HolderName}
	if names[0] == "" || names[1] == "" {
		t.Fatalf("the sandbox's holders have no names: %q", names)
	}
	ph := s.phoneFor(t, ps[0], "e1")
	ph.register()
	saveToGoogle(t, s, o.Secret)
	if err := s.db.AddTimeline(ctx, pass.TimelineEntry{Tenant: "demo", SecretToken: o.Secret, FileID: o.FileID, At: time.Now(),
		Kind: "note", Detail: "the box office called " + names[0]}); err != nil {
		t.Fatal(err)
	}
	s.idle()
	apns.Reset()

	post := func(authz, body string) (int, string) {
		t.Helper()
		st, raw := postJSON(t, s.base+"/api/demo/erasures", authz, body)
		return st, raw
	}
	eraser := s.bearer("demo", "holders:erase")
	for _, c := range []struct {
		name, authz, body string
		status            int
	}{
		{"no credentials", "", `{"fileId": 1}`, 401},
		{"another scope", s.bearer("demo", "passes:write"), `{"fileId": 1}`, 403},
		{"another tenant", s.bearer("other", "holders:erase"), `{"fileId": 1}`, 403},
		{"neither", eraser, `{}`, 400},
		{"both", eraser, `{"fileId": 1, "email": "a@example.com"}`, 400},
		{"not an address", eraser, `{"email": "nobody"}`, 400},
		{"an unknown field", eraser, `{"fileId": 1, "reason": "x"}`, 400},
		// The sandbox's mapping reads no holder e-mail: an address would
		// find nothing, then or later.
		{"an address where passes carry none", eraser, `{"email": "lea@example.ch"}`, 400},
	} {
		if st, raw := post(c.authz, c.body); st != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, st, raw, c.status)
		} else if c.body == `{"email": "lea@example.ch"}` && (!strings.Contains(raw, "secutix.fields.holderEmail") || strings.Contains(raw, "lea@")) {
			t.Errorf("%s: %s; want the mapping named, not the address", c.name, raw)
		}
	}
	st, raw := post(eraser, `{"fileId": `+jsonInt(o.FileID)+`}`)
	var ans struct{ Passes, Files, TimelineEntries int }
	if err := json.Unmarshal([]byte(raw), &ans); st != 200 || err != nil || ans.Passes != 2 || ans.Files != 2 || ans.TimelineEntries < 1 {
		t.Fatalf("erase: %d %s", st, raw)
	}
	after := s.passes(o.Secret)
	for i, p := range after {
		pj := s.verify(p)
		if p.Version != 2 || p.Ticket.HolderName != "" || fieldValue(pj, "holder") != nil {
			t.Errorf("pass %d: v%d holder %q, field %v", i, p.Version, p.Ticket.HolderName, fieldValue(pj, "holder"))
		}
		if _, err := s.app.Files.PassFile(context.Background(), &ps[i]); ps[i].Version != 1 || !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("pass %d's first version (v%d): %v, want it deleted", i, ps[i].Version, err)
		}
	}
	tl := strings.Join(timelineOf(t, s, o.Secret), "\n")
	for _, n := range names {
		if strings.Contains(tl, n) {
			t.Errorf("the timeline still names %s:\n%s", n, tl)
		}
	}
	s.idle()
	if n := len(apns.PushesFor(ph.push)); n != 1 {
		t.Errorf("%d pushes to the phone, want 1", n)
	}
	raw2, _ := gfake.Object(google.ObjectID(tn.Issuer.IssuerID, "demo", ps[0].SerialNumber))
	if strings.Contains(string(raw2), names[0]) || !strings.Contains(string(raw2), `"state"`) {
		t.Errorf("the Google object: %s", raw2)
	}

	// SecuTix still has the names: a seat change keeps them out.
	s.action(o, o.Tickets[0].TicketID, "modify", map[string]any{})
	p := s.waitPasses(o.Secret, "the moved seat", func(ps []pass.Pass) bool { return byMovement(ps, o.Tickets[0].MovementID, 0).Version == 3 })
	if h := byMovement(p, o.Tickets[0].MovementID, 0).Ticket.HolderName; h != "" {
		t.Errorf("a later sync brought back %q", h)
	}

	// The command line, for another order.
	o2 := s.createOrder(map[string]any{"count": 1})
	s.waitPasses(o2.Secret, "its pass", func(ps []pass.Pass) bool { return len(ps) == 1 })
	var out, errOut syncBuffer
	if err := Run(ctx, []string{"holders", "erase", "-file", jsonInt(o2.FileID)}, &out, &errOut, testEnv(s.dataDir, nil)); err != nil {
		t.Fatalf("holders erase: %v %s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "erased: 1 passes signed again") || s.passes(o2.Secret)[0].Ticket.HolderName != "" {
		t.Errorf("holders erase: %s", out.String())
	}
	if strings.Contains(out.String(), "nothing held") {
		t.Errorf("holders erase of a real order says nothing was there: %s", out.String())
	}
	var none syncBuffer
	if err := Run(ctx, []string{"holders", "erase", "-file", "123"}, &none, &errOut, testEnv(s.dataDir, nil)); err != nil ||
		!strings.Contains(none.String(), "nothing held that holder data now") {
		t.Errorf("holders erase of a file without passes: %v %s", err, none.String())
	}
	if err := Run(ctx, []string{"holders", "erase"}, &out, &errOut, testEnv(s.dataDir, nil)); exitCode(err) != 2 {
		t.Errorf("holders erase without a subject: %v", err)
	}
	if err := Run(ctx, []string{"holders", "erase", "-email", "lea@example.ch"}, &out, &errOut, testEnv(s.dataDir, nil)); exitCode(err) != 1 ||
		!strings.Contains(err.Error(), "carry no holder e-mail") {
		t.Errorf("holders erase -email where passes carry none: %v", err)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// postJSON posts body with an Authorization header (none when "").
func postJSON(t *testing.T, url, authz, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	return resp.StatusCode, b.String()
}
