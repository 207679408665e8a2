package apple

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"walletpass/pass"
	"walletpass/templates"
)

// TestRenderDataHasEveryTicketField keeps renderData in step with
// pass.Ticket: a field added to the ticket must be visible to templates,
// with the same type, and newRenderData must copy it. The sync's own
// bookkeeping on a ticket (when SecuTix was read, whether its scan was
// announced, whether it only voids a pass, whether its event is a
// stand-in) is not what the ticket says, and no template sees it.
func TestRenderDataHasEveryTicketField(t *testing.T) {
	bookkeeping := map[string]bool{"ReadAt": true, "ScanAnnounced": true, "VoidOnly": true, "EventUnknown": true}
	tt := reflect.TypeOf(pass.Ticket{})
	rt := reflect.TypeOf(renderData{})
	tk := SampleTicket(pass.EventSports)
	tk.HolderGeneration = 3
	tk.State = pass.TicketUsed
	d := reflect.ValueOf(newRenderData(&tk, "Org", "USED")).Elem()
	src := reflect.ValueOf(tk)
	for i := range tt.NumField() {
		f := tt.Field(i)
		if bookkeeping[f.Name] {
			if _, ok := rt.FieldByName(f.Name); ok {
				t.Errorf("renderData shows the sync's bookkeeping field %s", f.Name)
			}
			continue
		}
		rf, ok := rt.FieldByName(f.Name)
		if !ok || rf.Type != f.Type {
			t.Errorf("renderData lacks ticket field %s %s", f.Name, f.Type)
			continue
		}
		if !reflect.DeepEqual(d.FieldByName(f.Name).Interface(), src.Field(i).Interface()) {
			t.Errorf("newRenderData does not copy %s", f.Name)
		}
	}
}

func collectStrTpls(n node, out *[]*strTpl) {
	switch n := n.(type) {
	case *strTpl:
		*out = append(*out, n)
	case *object:
		for _, v := range n.vals {
			collectStrTpls(v, out)
		}
	case *array:
		for _, v := range n.items {
			collectStrTpls(v, out)
		}
	}
}

// TestFastPathMatchesTextTemplate renders every templated string of the
// built-in template with the compiled evaluator and with text/template, for
// every sample ticket, and requires the same text.
func TestFastPathMatchesTextTemplate(t *testing.T) {
	tpl := defaultTemplate(t)
	var strs []*strTpl
	collectStrTpls(tpl.root, &strs)
	if len(strs) < 10 {
		t.Fatalf("found only %d templated strings", len(strs))
	}
	tickets := sampleTickets()
	odd := SampleTicket(pass.EventSports)
	odd.Seat = pass.Seat{Block: "B"}
	odd.Event.HomeTeam.Name = ""
	odd.Venue.Address = "  "
	tickets = append(tickets, odd)
	for _, s := range strs {
		if s.fast == nil {
			t.Errorf("%s: not covered by the compiled evaluator", s.path)
			continue
		}
		for _, tk := range tickets {
			d := newRenderData(&tk, "Org", "VALID")
			got, err := s.fast.exec(d)
			if err != nil {
				t.Fatalf("%s: %v", s.path, err)
			}
			var want strings.Builder
			if err := s.tpl.Execute(&want, d); err != nil {
				t.Fatalf("%s: %v", s.path, err)
			}
			if got != want.String() {
				t.Errorf("%s (%s ticket): compiled %q, text/template %q", s.path, tk.Event.Kind, got, want.String())
			}
		}
	}
}

func TestFastPathFallsBack(t *testing.T) {
	for _, src := range []string{`{{range .Event.Performers}}{{.}}{{end}}`, `{{$x := .Tariff}}{{$x}}`, `{{.Event.Start.Year}}`, `{{with .Seat}}{{.Row}}{{end}}`} {
		tpl := template.Must(template.New("t").Funcs(funcs).Parse(src))
		if compileFast(tpl) != nil {
			t.Errorf("%s: compiled, want the text/template fallback", src)
		}
	}
}

// TestRelevantWindows: an event of a day or less is one window; a longer
// one is cut into windows of at most 24 hours, one per day in the venue's
// zone, each starting at the first window's clock time (doors, or three
// hours before the start) and ending where the next starts, the last at
// the end: every moment from the first window's start to the end is in a
// window, whether the event runs around the clock (a 24-hour race) or
// keeps opening hours; across the changes to and from summer time; at
// most maxRelevantWindows.
func TestRelevantWindows(t *testing.T) {
	zurich, err := (pass.Event{TimeZone: "Europe/Zurich"}).Location()
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, zurich)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	f := func(w [][2]time.Time) string {
		var parts []string
		for _, x := range w {
			parts = append(parts, x[0].Format("01-02 15:04 -0700")+"→"+x[1].Format("01-02 15:04 -0700"))
		}
		return strings.Join(parts, ", ")
	}
	for _, c := range []struct {
		name string
		ev   pass.Event
		want string
	}{
		{"an evening", pass.Event{Start: at("2027-03-14 20:00"), TimeZone: "Europe/Zurich"},
			"03-14 17:00 +0100→03-15 00:00 +0100"},
		{"a night past midnight", pass.Event{Start: at("2027-03-14 22:00"), End: at("2027-03-15 05:00"), TimeZone: "Europe/Zurich"},
			"03-14 19:00 +0100→03-15 05:00 +0100"},
		{"a 24-hour race", pass.Event{Start: at("2027-06-12 16:00"), End: at("2027-06-13 16:00"), TimeZone: "Europe/Zurich"},
			"06-12 13:00 +0200→06-13 13:00 +0200, 06-13 13:00 +0200→06-13 16:00 +0200"},
		{"a festival", pass.Event{Start: at("2027-07-09 14:00"), Doors: at("2027-07-09 12:00"), End: at("2027-07-11 23:00"),
			TimeZone: "Europe/Zurich"},
			"07-09 12:00 +0200→07-10 12:00 +0200, 07-10 12:00 +0200→07-11 12:00 +0200, 07-11 12:00 +0200→07-11 23:00 +0200"},
		{"nights", pass.Event{Start: at("2027-07-09 23:00"), End: at("2027-07-11 06:00"), TimeZone: "Europe/Zurich"},
			"07-09 20:00 +0200→07-10 20:00 +0200, 07-10 20:00 +0200→07-11 06:00 +0200"},
		{"into summer time", pass.Event{Start: at("2027-03-27 13:00"), End: at("2027-03-28 22:00"), TimeZone: "Europe/Zurich"},
			"03-27 10:00 +0100→03-28 10:00 +0200, 03-28 10:00 +0200→03-28 22:00 +0200"},
		// The night clocks go back has 25 hours: its window is cut at 24,
		// and the next ones start an hour earlier by the clock.
		{"out of summer time", pass.Event{Start: at("2027-10-30 10:00"), End: at("2027-11-01 10:00"), TimeZone: "Europe/Zurich"},
			"10-30 07:00 +0200→10-31 06:00 +0100, 10-31 06:00 +0100→11-01 06:00 +0100, 11-01 06:00 +0100→11-01 10:00 +0100"},
		{"start given in UTC", pass.Event{Start: at("2027-06-12 16:00").UTC(), End: at("2027-06-13 16:00").UTC(), TimeZone: "Europe/Zurich"},
			"06-12 13:00 +0200→06-13 13:00 +0200, 06-13 13:00 +0200→06-13 16:00 +0200"},
	} {
		got := relevantWindows(c.ev)
		if f(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, f(got), c.want)
		}
		checkCovers(t, c.name, c.ev, got)
	}
	long := pass.Event{Start: at("2027-05-01 10:00"), End: at("2027-06-30 18:00"), TimeZone: "Europe/Zurich"}
	lw := relevantWindows(long)
	if len(lw) != maxRelevantWindows || !lw[0][0].Equal(at("2027-05-01 07:00")) || !lw[len(lw)-1][1].Equal(at("2027-05-11 07:00")) {
		t.Errorf("a two-month exhibition: %s", f(lw))
	}
}

// checkCovers checks that windows follow one another from relevantWindow's
// start to its end (up to maxRelevantWindows), none longer than 24 hours.
func checkCovers(t *testing.T, name string, e pass.Event, windows [][2]time.Time) {
	t.Helper()
	start, end := relevantWindow(e)
	if len(windows) == 0 || !windows[0][0].Equal(start) || !windows[len(windows)-1][1].Equal(end) {
		t.Errorf("%s: windows %v do not run from %v to %v", name, windows, start, end)
	}
	for i, w := range windows {
		if d := w[1].Sub(w[0]); d <= 0 || d > 24*time.Hour {
			t.Errorf("%s: window %d lasts %v", name, i, d)
		}
		if i > 0 && !w[0].Equal(windows[i-1][1]) {
			t.Errorf("%s: a gap between %v and %v", name, windows[i-1][1], w[0])
		}
	}
	if !slices.ContainsFunc(windows, func(w [2]time.Time) bool { return !e.Start.Before(w[0]) && e.Start.Before(w[1]) }) {
		t.Errorf("%s: no window holds the start %v", name, e.Start)
	}
}

// TestDateFieldsAreVenueLocal: every date field shows the venue's time
// (ignoresTimeZone, with the value in the venue's offset) unless the
// template says otherwise; the semantics name the venue's zone.
func TestDateFieldsAreVenueLocal(t *testing.T) {
	var probs []string
	c := &compiler{file: "t", add: func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }, keys: map[string]string{}}
	arr := c.compileFields("eventTicket.headerFields", []byte(`[
		{"key": "a", "label": "A", "value": "{{date .Event.Start}}", "dateStyle": "PKDateStyleShort"},
		{"key": "b", "label": "B", "value": "{{date .Event.Start}}", "timeStyle": "PKDateStyleShort", "ignoresTimeZone": false},
		{"key": "c", "label": "C", "value": "{{.Venue.Name}}"}]`))
	tk := SampleTicket(pass.EventConcert)
	var b bytes.Buffer
	if err := arr.render(&b, newRenderData(&tk, "Org", "VALID")); err != nil || len(probs) > 0 {
		t.Fatal(err, probs)
	}
	var fields []map[string]any
	if err := json.Unmarshal(b.Bytes(), &fields); err != nil {
		t.Fatal(err)
	}
	if fields[0]["ignoresTimeZone"] != true || fields[1]["ignoresTimeZone"] != false || fields[2]["ignoresTimeZone"] != nil {
		t.Errorf("fields: %v", fields)
	}
	if v, _ := fields[0]["value"].(string); !strings.HasSuffix(v, tk.Event.Start.Format("-07:00")) || tk.Event.TimeZone == "" {
		t.Errorf("value %q, want the venue's offset (%s)", v, tk.Event.TimeZone)
	}
	var sb bytes.Buffer
	writeSemantics(&sb, &tk)
	var sem map[string]any
	if err := json.Unmarshal(sb.Bytes(), &sem); err != nil {
		t.Fatal(err)
	}
	if info, _ := sem["eventStartDateInfo"].(map[string]any); info["timeZone"] != tk.Event.TimeZone || info["date"] != sem["eventStartDate"] {
		t.Errorf("eventStartDateInfo %v", sem["eventStartDateInfo"])
	}
}

// TestBuilderKeysCoverWhatTheBuilderWrites: every top-level key the
// builder writes itself is one a template may not set (builderKeys), or
// one it writes in the template's stead: preferredStyleSchemes (from the
// template's own) and the event guide's entries (a tenant with an
// eventGuide may not use a template that gives them). Otherwise a
// template could set the key and pass.json would have it twice. The
// issuer and the sample tickets switch on everything the builder can
// write: NFC with authentication, sharing prohibited, a web service, an
// event guide, a used and a cancelled ticket, a season ticket.
func TestBuilderKeysCoverWhatTheBuilderWrites(t *testing.T) {
	tpl := defaultTemplate(t)
	key, err := DevNFCKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := &IssuerConfig{PassTypeID: "pass.example.keys", TeamID: "KEYS000000", OrganizationName: "Keys",
		WebServiceURL: "https://walletpass.invalid/api/keys/apple", SharingProhibited: "always",
		NFC: &NFC{EncryptionPublicKey: key, RequiresAuthentication: true}, EventGuide: []GuideRule{{Links: map[string]string{"bagPolicyURL": "https://venue.example/bags", "orderFoodURL": "https://venue.example/food"}}}}
	own := map[string]bool{}
	for _, k := range tpl.root.keys {
		own[k] = true
	}
	written := map[string]bool{}
	for _, tk := range sampleTickets() {
		pj, err := renderPass(cfg, tpl, Input{Ticket: tk, SerialNumber: "keys-serial", AuthToken: "keys-token-0123456789"})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range orderedKeys(pj) {
			if !own[k] {
				written[k] = true
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(written)) {
		if !builderKeys[k] && k != "preferredStyleSchemes" && !slices.Contains(GuideKeys, k) {
			t.Errorf("the builder writes %s, which a template may also set: add it to builderKeys", k)
		}
	}
	// What only some passes have: if one is no longer written, the
	// samples or the issuer above no longer cover it.
	for _, k := range []string{"nfc", "preferredStyleSchemes", "bagPolicyURL", "voided", "sharingProhibited", "locations", "upcomingPassInformation"} {
		if !written[k] {
			t.Errorf("no sample pass has %s: the test no longer covers it", k)
		}
	}
}

// defaultTemplate loads the built-in default template.
func defaultTemplate(t *testing.T) *Template {
	t.Helper()
	sub, err := fs.Sub(templates.FS, "default")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := LoadTemplate("default", sub)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}
