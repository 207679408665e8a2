package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"walletpass/httpapi"
	"walletpass/pass"
)

// TestSeasonTicketFromSecuTix: a tenant says which products its season
// ticket covers (secutix.seasonTickets); a season ticket bought in the
// sandbox (a PASS product) lists the covered performances of the
// catalogue that have not ended, soonest first, in the holder's language,
// and its pass carries them as upcoming events.
func TestSeasonTicketFromSecuTix(t *testing.T) {
	t.Parallel()
	s := startSystem(t, `server: {development: true}
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
    secutix:
      catalogInterval: 1ms
      seasonTickets:
        - {productCode: LIONS-ABO, covers: [LIONS-HOME]}
`)
	defer s.stop()
	day := time.Now().Truncate(24 * time.Hour)
	at := func(days int) time.Time { return day.AddDate(0, 0, days).Add(19*time.Hour + 45*time.Minute) }
	// Tonight's match begins in an hour: the gate admits the season
	// ticket to it below.
	tonight := time.Now().Add(time.Hour).Truncate(time.Minute)
	match := func(start time.Time) map[string]any {
		return map[string]any{"event": map[string]any{"code": "LIONS-HOME",
			"names": []map[string]string{{"locale": "fr", "value": "Lausanne Lions : match à domicile"}, {"locale": "en", "value": "Lausanne Lions home match"}},
			"start": start.Format(time.RFC3339)}}
	}
	// Four home matches to come (bought out of order) and one played.
	for _, start := range []time.Time{at(21), at(7), at(-3), tonight, at(14)} {
		body := map[string]any{"count": 1, "tickets": []map[string]any{match(start)}}
		o := s.createOrder(body)
		s.waitPasses(o.Secret, "a match ticket", func(ps []pass.Pass) bool { return len(ps) == 1 })
	}
	// Another product's performance is not covered.
	o := s.createOrder(map[string]any{"count": 1, "tickets": []map[string]any{{"event": map[string]any{"name": "Away match", "code": "LIONS-AWAY",
		"start": day.AddDate(0, 0, 10).Add(19 * time.Hour).Format(time.RFC3339)}}}})
	s.waitPasses(o.Secret, "the away ticket", func(ps []pass.Pass) bool { return len(ps) == 1 })

	season := s.createOrder(map[string]any{"count": 1, "tickets": []map[string]any{{"event": map[string]any{
		"name": "Lausanne Lions season ticket", "code": "LIONS-ABO", "familyType": "PASS",
		"start": day.AddDate(0, 0, 7).Add(19*time.Hour + 45*time.Minute).Format(time.RFC3339)}}}})
	ps := s.waitPasses(season.Secret, "the season ticket", func(ps []pass.Pass) bool { return len(ps) == 1 })
	up := ps[0].Ticket.Upcoming
	if len(up) != 4 {
		t.Fatalf("upcoming events %+v, want the 4 home matches to come", up)
	}
	for i, want := range []time.Time{tonight, at(7), at(14), at(21)} {
		if !up[i].Start.Equal(want) || up[i].Name == "" || up[i].End.Sub(up[i].Start) != 150*time.Minute {
			t.Errorf("upcoming[%d] = %+v, want the match of %v (2 h 30)", i, up[i], want)
		}
		if _, err := strconv.ParseInt(up[i].ID, 10, 64); err != nil {
			t.Errorf("upcoming[%d] id %q is not the performance id", i, up[i].ID)
		}
	}
	if lang := ps[0].Ticket.Locale; (lang == "fr") != (up[0].Name == "Lausanne Lions : match à domicile") {
		t.Errorf("holder language %q, event name %q", lang, up[0].Name)
	}
	pj := s.verify(ps[0])
	info, _ := pj["upcomingPassInformation"].([]any)
	if len(info) != 4 {
		t.Fatalf("upcomingPassInformation = %v, want 4 events", pj["upcomingPassInformation"])
	}
	if first, _ := info[0].(map[string]any); first["identifier"] != up[0].ID {
		t.Errorf("first upcoming event %v, want %s", first, up[0].ID)
	}
	// A match ticket lists nothing.
	if ps := s.passes(o.Secret); len(ps[0].Ticket.Upcoming) != 0 {
		t.Errorf("a single ticket lists %v", ps[0].Ticket.Upcoming)
	}

	// At the gate: the season ticket enters once per match, and its pass
	// stays valid for the matches to come.
	gate := s.bearer("demo", "scans:write")
	scan := func() string {
		b, _ := json.Marshal(map[string]string{"data": ps[0].Ticket.Barcode, "type": "qrcode"})
		req, _ := http.NewRequest(http.MethodPost, s.base+"/api/demo/scans", bytes.NewReader(b))
		req.Header.Set("Authorization", gate)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a httpapi.ScanAnswer
		_ = json.NewDecoder(resp.Body).Decode(&a)
		return a.Result
	}
	if first, again := scan(), scan(); first != pass.ScanValid || again != pass.ScanAlreadyUsed {
		t.Errorf("the season ticket at the gate: %s, then %s; want valid, then already used", first, again)
	}
	s.idle()
	after := s.passes(season.Secret)
	if len(after) != 1 || after[0].Status != pass.StatusActive {
		t.Fatalf("the season ticket after an entry: %+v, want its pass active", after)
	}
	if pj := s.verify(after[0]); pj["voided"] == true {
		t.Error("the season ticket's pass is voided after one entry")
	}
}
