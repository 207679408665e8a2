package apple

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"text/template"

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
