package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"walletpass/httpapi"
	"walletpass/pass"
)

// TestGateScans: an organiser's own gate system scans tickets through
// POST /api/{tenant}/scans: a valid ticket is let in and becomes used
// through the same lifecycle as a SecuTix validation (its pass signed
// again and pushed); a second scan, even before the sync ends, is
// already_used; a scan id sent again gets its first answer; a cancelled
// ticket and an unknown barcode are said so; scope and tenant are checked.
func TestGateScans(t *testing.T) {
	t.Parallel()
	s := startSystemEnv(t, "", fastCatalogue)
	defer s.stop()
	o := s.createOrder(startingSoon(3))
	s.waitPasses(o.Secret, "3 passes", func(ps []pass.Pass) bool { return len(ps) == 3 })
	later := s.createOrder(map[string]any{"count": 1}) // the sandbox's concert, a month from now
	s.waitPasses(later.Secret, "a pass", func(ps []pass.Pass) bool { return len(ps) == 1 })
	t1, t2, t3 := o.Tickets[0], o.Tickets[1], o.Tickets[2]
	s.action(o, t3.TicketID, "cancel", nil)
	s.waitPasses(o.Secret, "the cancelled pass", func(ps []pass.Pass) bool {
		return byMovement(ps, t3.MovementID, 0).Status == pass.StatusVoided
	})

	mint := s.bearer
	gate := mint("demo", "scans:write")
	scan := func(authz string, body any) (int, httpapi.ScanAnswer, string) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, s.base+"/api/demo/scans", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var a httpapi.ScanAnswer
		_ = json.Unmarshal(raw, &a)
		return resp.StatusCode, a, string(raw)
	}
	body := func(barcode, id string) map[string]string {
		return map[string]string{"data": barcode, "type": "qrcode", "scanId": id}
	}

	// Who may scan.
	for _, c := range []struct {
		name, authz string
		status      int
	}{
		{"no credentials", "", 401},
		{"getTicketsUrl's scope", mint("demo", "tickets:read"), 403},
		{"another tenant", mint("other", "scans:write"), 403},
	} {
		if st, _, raw := scan(c.authz, body(t1.Barcode, "")); st != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, st, raw, c.status)
		}
	}

	st, a, raw := scan(gate, body(t1.Barcode, "gate-1:0001"))
	if st != 200 || a.Result != pass.ScanValid || a.Ticket == nil || a.Ticket.TicketID != t1.TicketID || a.Ticket.HolderName == "" ||
		a.PassID == "" || a.PassID != a.Ticket.SerialNumber {
		t.Fatalf("first scan: %d %s", st, raw)
	}
	// At once, before the sync has run: no second entry.
	if _, a, raw := scan(gate, body(t1.Barcode, "gate-2:0001")); a.Result != pass.ScanAlreadyUsed {
		t.Errorf("second scan: %s", raw)
	}
	// The first scan sent again: its first answer.
	if _, again, raw := scan(gate, body(t1.Barcode, "gate-1:0001")); again.Result != pass.ScanValid || !again.ScannedAt.Equal(a.ScannedAt) {
		t.Errorf("the same scan id again: %s", raw)
	}
	// The pass follows, as after a SecuTix validation.
	ps := s.waitPasses(o.Secret, "the used pass", func(ps []pass.Pass) bool {
		return byMovement(ps, t1.MovementID, 0).Status == pass.StatusUsed
	})
	if pj := s.verify(*byMovement(ps, t1.MovementID, 0)); fieldValue(pj, "status") != "Used" {
		t.Errorf("the scanned pass shows %v", fieldValue(pj, "status"))
	}
	if byMovement(ps, t2.MovementID, 0).Status != pass.StatusActive {
		t.Error("the order's other ticket changed")
	}
	// A later sync (SecuTix still says VALID) keeps it used.
	s.action(o, t2.TicketID, "modify", map[string]any{})
	s.waitPasses(o.Secret, "the modified pass", func(ps []pass.Pass) bool { return byMovement(ps, t2.MovementID, 0).Version == 2 })
	s.idle()
	if p := byMovement(s.passes(o.Secret), t1.MovementID, 0); p.Status != pass.StatusUsed {
		t.Errorf("after another sync the scanned pass is %s", p.Status)
	}

	for _, c := range []struct{ data, want string }{
		{t3.Barcode, pass.ScanCancelled},
		{"NOSUCHBARCODE", pass.ScanUnknown},
		{strings.Repeat("é", 2048), pass.ScanUnknown},  // characters are counted, not bytes
		{later.Tickets[0].Barcode, pass.ScanWrongTime}, // another night's: not used up
		{later.Tickets[0].Barcode, pass.ScanWrongTime},
		{t2.Barcode, pass.ScanValid},
	} {
		if _, a, raw := scan(gate, body(c.data, "")); a.Result != c.want || (c.want == pass.ScanUnknown) != (a.PassID == "") {
			t.Errorf("scan %s: %s, want %s", c.data, raw, c.want)
		}
	}
	for _, bad := range []map[string]string{
		{"data": "ab", "type": "qrcode"},
		{"data": "éé", "type": "qrcode"},
		{"data": strings.Repeat("é", 2049), "type": "qrcode"},
		{"data": t2.Barcode, "type": "laser"},
		{"data": t2.Barcode, "type": "qrcode", "scanId": "has space"},
		{"data": t2.Barcode, "type": "qrcode", "gate": "north"},
	} {
		if st, _, raw := scan(gate, bad); st != 400 {
			t.Errorf("%v: %d %s, want 400", bad, st, raw)
		}
	}
	if tl := strings.Join(timelineOf(t, s, o.Secret), "\n"); !strings.Contains(tl, "gate-scan") {
		t.Errorf("the order's timeline does not show the scan:\n%s", tl)
	}
}

// timelineOf is an order's timeline as `orders timeline` prints it, a line
// per entry.
func timelineOf(t *testing.T, s *system, secret string) []string {
	t.Helper()
	entries, err := s.db.Timeline(context.Background(), "demo", secret, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Kind+" "+e.Detail)
	}
	return out
}
