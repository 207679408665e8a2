package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"walletpass/httpapi"
	"walletpass/pass"
)

// TestTransferTakesTheTicketAway: an order of two; the seller keeps its
// links (the order page, the bundle and Google links signed before); one
// ticket is transferred. The seller's page, the pre-transfer bundle and
// the pre-transfer Google link no longer give the new holder's pass; the
// new holder's own link (from getTicketsUrl) does; the seller's other
// ticket is untouched.
func TestTransferTakesTheTicketAway(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	o := s.createOrder(map[string]any{"count": 2})
	s.waitPasses(o.Secret, "two passes", func(ps []pass.Pass) bool { return len(pass.ValidPerTicket(ps)) == 2 })
	links := s.orderLinks(o.Secret) // signed before the transfer
	kept := byMovement(s.passes(o.Secret), o.Tickets[1].MovementID, 0)

	s.action(o, o.Tickets[0].TicketID, "transfer", map[string]any{"firstName": "Ada", "lastName": "Lovelace"})
	ps := s.waitPasses(o.Secret, "the new holder's pass", func(ps []pass.Pass) bool {
		n := byMovement(ps, o.Tickets[0].MovementID, 1)
		return n != nil && n.Status == pass.StatusActive
	})
	moved := byMovement(ps, o.Tickets[0].MovementID, 1)

	// The seller's page: the other ticket, not the new holder's.
	_, page := fetch(t, links["order-page"], map[string]string{"User-Agent": uaIPhone})
	if strings.Contains(string(page), moved.SerialNumber) || strings.Contains(string(page), "Lovelace") ||
		!strings.Contains(string(page), kept.SerialNumber) {
		t.Errorf("the seller's page shows the new holder's pass, or not the kept one")
	}
	// The bundle signed before the transfer: the kept ticket only.
	resp, body := fetch(t, links["apple-bundle"], nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bundle: %d", resp.StatusCode)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil || len(zr.File) != 1 {
		t.Errorf("the pre-transfer bundle holds %d passes (%v), want the kept one", len(zr.File), err)
	}
	// The Google link signed before the transfer: the kept ticket only.
	resp, _ = fetch(t, links["google-save"], nil)
	loc := resp.Header.Get("Location")
	jwtPart := loc[strings.LastIndexByte(loc, '/')+1:]
	if parts := strings.Split(jwtPart, "."); len(parts) == 3 {
		claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if strings.Contains(string(claims), moved.SerialNumber) || !strings.Contains(string(claims), kept.SerialNumber) {
			t.Errorf("the pre-transfer Google link saves %s", claims)
		}
	} else {
		t.Errorf("google save: %d %q", resp.StatusCode, loc)
	}

	// The new holder's own link, as the organiser hands it out.
	env := testEnv(s.dataDir, map[string]string{"WALLETPASS_PUBLIC_BASE_URL": s.base})
	var out, errOut syncBuffer
	if err := Run(context.Background(), []string{"apikey", "create", "-name", "shop"}, &out, &errOut, env); err != nil {
		t.Fatal(err)
	}
	_, raw := fetch(t, s.base+"/api/demo/external/secutix/orders/getTicketsUrl/"+strconv.FormatInt(o.FileID, 10),
		map[string]string{"X-API-Key": strings.TrimSpace(out.String())})
	var r struct {
		Tickets []struct {
			MovementID   int64  `json:"movementId"`
			ApplePassURL string `json:"applePassUrl"`
		}
	}
	json.Unmarshal(raw, &r)
	var newLink string
	for _, tk := range r.Tickets {
		if tk.MovementID == o.Tickets[0].MovementID {
			newLink = tk.ApplePassURL
		}
	}
	resp, body = fetch(t, newLink, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("pass.json")) {
		t.Fatalf("the new holder's link: %d", resp.StatusCode)
	}
	if pj := s.verify(*moved); !strings.Contains(string(mustJSON(pj)), "Lovelace") {
		t.Errorf("the new holder's pass does not name Ada Lovelace")
	}
	// The console's fresh links for the buyer: the seller's ticket only.
	admin, _ := consoleUser(t, s, 0)
	orderURL := s.base + "/console/t/demo/orders/" + o.Secret
	_, orderPage := get(t, admin, orderURL)
	resp, err = admin.PostForm(orderURL+"/links", url.Values{"csrf": {csrfOf(t, orderPage)}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	_, fresh, _ := strings.Cut(string(raw), `<ul class="links">`)
	fresh, _, _ = strings.Cut(fresh, "</ul>")
	if resp.StatusCode != 200 || strings.Contains(fresh, moved.SerialNumber) || !strings.Contains(fresh, kept.SerialNumber) {
		t.Errorf("the console's fresh links for the seller: %d; name the new holder's pass %v, the kept one %v",
			resp.StatusCode, strings.Contains(fresh, moved.SerialNumber), strings.Contains(fresh, kept.SerialNumber))
	}
	// The seller's other ticket is untouched.
	if p := byMovement(s.passes(o.Secret), o.Tickets[1].MovementID, 0); p == nil || p.Status != pass.StatusActive || p.Version != kept.Version {
		t.Errorf("the seller's other ticket changed: %+v", p)
	}

	// Both tickets passed on: getTicketsUrl still has a link per ticket
	// (for their new holders), and no order-wide link, which would save
	// nothing of the seller's.
	s.action(o, o.Tickets[1].TicketID, "transfer", map[string]any{"firstName": "Grace", "lastName": "Hopper"})
	s.waitPasses(o.Secret, "the second new holder's pass", func(ps []pass.Pass) bool {
		n := byMovement(ps, o.Tickets[1].MovementID, 1)
		return n != nil && n.Status == pass.StatusActive
	})
	_, raw = fetch(t, s.base+"/api/demo/external/secutix/orders/getTicketsUrl/"+strconv.FormatInt(o.FileID, 10),
		map[string]string{"X-API-Key": strings.TrimSpace(out.String())})
	var all httpapi.TicketsResponse
	if err := json.Unmarshal(raw, &all); err != nil || len(all.Tickets) != 2 || all.AppleBundle != "" || all.GoogleSaveURL != "" ||
		all.Tickets[0].ApplePassURL == "" || all.Tickets[1].ApplePassURL == "" {
		t.Errorf("getTicketsUrl with every ticket passed on: %s", raw)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestNameCorrectionIsNotATransfer: a new holder name on the same ticket
// (SecuTix's ticket id unchanged) corrects the holder's name on the same
// pass; a transfer, which reissues the ticket, is what makes a new
// holder's pass. A reprint after the correction keeps the pass too.
func TestNameCorrectionIsNotATransfer(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	o := s.createOrder(map[string]any{"count": 1})
	mv := o.Tickets[0].MovementID
	first := s.waitPasses(o.Secret, "the pass", func(ps []pass.Pass) bool { return len(ps) == 1 })[0]

	s.action(o, o.Tickets[0].TicketID, "modify", map[string]any{"holder": map[string]string{"firstName": "Léa", "lastName": "Correcte"}})
	ps := s.waitPasses(o.Secret, "the corrected name", func(ps []pass.Pass) bool {
		p := byMovement(ps, mv, 0)
		return p != nil && p.Version == 2
	})
	p := byMovement(ps, mv, 0)
	if len(ps) != 1 || p.SerialNumber != first.SerialNumber || p.Status != pass.StatusActive || !strings.Contains(p.Ticket.HolderName, "Correcte") {
		t.Fatalf("after a name correction: %d passes, %+v; want the same pass, active, with the new name", len(ps), p)
	}

	s.action(o, o.Tickets[0].TicketID, "reprint", nil)
	ps = s.waitPasses(o.Secret, "the reprint", func(ps []pass.Pass) bool {
		p := byMovement(ps, mv, 0)
		return p != nil && p.Version == 3
	})
	if p := byMovement(ps, mv, 0); len(ps) != 1 || p.Status != pass.StatusActive || p.TicketID == first.TicketID {
		t.Errorf("after a reprint of the corrected ticket: %d passes, %+v; want the same pass with the new ticket", len(ps), p)
	}
}
