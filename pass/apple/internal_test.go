package apple

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"text/template"
	"time"

	"walletpass/pass"
	"walletpass/templates"
)

// TestRenderDataHasEveryTicketField keeps renderData in step with
// pass.Ticket: a field added to the ticket must be visible to templates,
// with the same type, and newRenderData must copy it.
func TestRenderDataHasEveryTicketField(t *testing.T) {
	tt := reflect.TypeOf(pass.Ticket{})
	rt := reflect.TypeOf(renderData{})
	tk := SampleTicket(pass.EventSports)
	tk.HolderGeneration = 3
	tk.State = pass.TicketUsed
	d := reflect.ValueOf(newRenderData(&tk, "Org", "USED")).Elem()
	src := reflect.ValueOf(tk)
	for i := range tt.NumField() {
		f := tt.Field(i)
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
	sub, err := fs.Sub(templates.FS, "default")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := LoadTemplate("default", sub)
	if err != nil {
		t.Fatal(err)
	}
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
// one is a window per day in the venue's zone, from the first day's
// opening to the last day's closing time (the next morning when it closes
// after midnight), across a change to summer time, at most
// maxRelevantWindows.
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
		{"a festival", pass.Event{Start: at("2027-07-09 14:00"), Doors: at("2027-07-09 12:00"), End: at("2027-07-11 23:00"),
			TimeZone: "Europe/Zurich"},
			"07-09 12:00 +0200→07-09 23:00 +0200, 07-10 12:00 +0200→07-10 23:00 +0200, 07-11 12:00 +0200→07-11 23:00 +0200"},
		{"nights", pass.Event{Start: at("2027-07-09 23:00"), End: at("2027-07-11 06:00"), TimeZone: "Europe/Zurich"},
			"07-09 20:00 +0200→07-10 06:00 +0200, 07-10 20:00 +0200→07-11 06:00 +0200"},
		{"into summer time", pass.Event{Start: at("2027-03-27 13:00"), End: at("2027-03-28 22:00"), TimeZone: "Europe/Zurich"},
			"03-27 10:00 +0100→03-27 22:00 +0100, 03-28 10:00 +0200→03-28 22:00 +0200"},
	} {
		if got := f(relevantWindows(c.ev)); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	long := relevantWindows(pass.Event{Start: at("2027-05-01 10:00"), End: at("2027-06-30 18:00"), TimeZone: "Europe/Zurich"})
	if len(long) != maxRelevantWindows || !long[0][0].Equal(at("2027-05-01 07:00")) {
		t.Errorf("a two-month exhibition: %s", f(long))
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
