package google_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/google"
)

// discovery is the part of a Google discovery document a resource is
// checked against: every schema's properties, their types and enums.
type discovery struct {
	Schemas map[string]schema `json:"schemas"`
}

type schema struct {
	Type                 string            `json:"type"`
	Format               string            `json:"format"`
	Ref                  string            `json:"$ref"`
	Enum                 []string          `json:"enum"`
	Items                *schema           `json:"items"`
	Properties           map[string]schema `json:"properties"`
	AdditionalProperties *schema           `json:"additionalProperties"`
	ReadOnly             bool              `json:"readOnly"`
}

// loadDiscovery reads the walletobjects discovery document that ships with
// the google.golang.org/api module this build uses.
func loadDiscovery(t *testing.T) *discovery {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "google.golang.org/api").Output()
	if err != nil {
		t.Fatalf("go list google.golang.org/api: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "walletobjects", "v1", "walletobjects-api.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d discovery
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Schemas) < 100 || d.Schemas["EventTicketObject"].Properties == nil {
		t.Fatalf("the discovery document has %d schemas and no EventTicketObject", len(d.Schemas))
	}
	return &d
}

// check returns every way v (decoded JSON) departs from schema s: unknown
// or read-only properties, wrong types, values outside an enum, malformed
// int64 strings and dates.
func (d *discovery) check(path string, v any, s schema) []string {
	if s.Ref != "" {
		ref, ok := d.Schemas[s.Ref]
		if !ok {
			return []string{path + ": unknown schema " + s.Ref}
		}
		s = ref
	}
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, path+": "+fmt.Sprintf(format, args...)) }
	if v == nil {
		return nil // a null clears the field (how a PATCH removes one)
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			bad("want an object, got %T", v)
			return probs
		}
		for _, k := range slices.Sorted(mapsKeys(m)) {
			ps, known := s.Properties[k]
			switch {
			case known && ps.ReadOnly:
				bad("%s is read-only", k)
			case known:
				probs = append(probs, d.check(path+"."+k, m[k], ps)...)
			case s.AdditionalProperties != nil:
				probs = append(probs, d.check(path+"."+k, m[k], *s.AdditionalProperties)...)
			default:
				bad("unknown property %q", k)
			}
		}
	case "array":
		list, ok := v.([]any)
		if !ok {
			bad("want an array, got %T", v)
			return probs
		}
		for i, it := range list {
			probs = append(probs, d.check(fmt.Sprintf("%s[%d]", path, i), it, *s.Items)...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			bad("want a string, got %T", v)
			return probs
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
			bad("%q is not one of %v", str, s.Enum)
		}
		switch s.Format {
		case "int64", "uint64":
			if _, err := strconv.ParseInt(str, 10, 64); err != nil {
				bad("%q is not an int64", str)
			}
		case "date-time", "google-datetime":
			if _, err := time.Parse(time.RFC3339, str); err != nil {
				bad("%q is not an RFC 3339 date", str)
			}
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			bad("want an integer, got %v", v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			bad("want a number, got %T", v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("want a boolean, got %T", v)
		}
	case "any", "":
	default:
		bad("unknown type %q in the discovery document", s.Type)
	}
	return probs
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestResourcesMatchTheDiscoveryDocument: the classes and objects
// walletpass sends, for every kind of event, ticket state and issuer
// option, hold only properties, types and enum values that the discovery
// document of Google's own client library lists, and the messages too.
func TestResourcesMatchTheDiscoveryDocument(t *testing.T) {
	t.Parallel()
	d := loadDiscovery(t)
	kinds := []pass.EventKind{pass.EventConcert, pass.EventFestival, pass.EventSports, pass.EventTheatre, pass.EventConference,
		pass.EventMovie, pass.EventGeneric}
	states := []struct {
		status pass.Status
		state  string
	}{{pass.StatusActive, google.StateActive}, {pass.StatusUsed, google.StateCompleted}, {pass.StatusVoided, google.StateInactive},
		{pass.StatusActive, google.StateExpired}}
	n := 0
	for _, reEntry := range []bool{false, true} {
		is := &google.Issuer{Tenant: "demo", IssuerID: "3388000000022222222", IssuerName: "Demo Concerts", ReEntry: reEntry,
			ExpireAfterEvent: reEntry, ImageBaseURL: "https://passes.example.com/api/demo/google/images",
			CallbackURL: "https://passes.example.com/api/demo/google/callbacks", Locale: "fr"}
		if reEntry {
			is.Rotation = &google.Rotation{Key: make([]byte, 32)}
		}
		design := google.Design{Template: "default", Background: "#1b2a4a", Logo: "icon@3x.png", Hero: "strip@3x.png"}
		for _, k := range kinds {
			tk := apple.SampleTicket(k)
			tk.Tenant = "demo"
			if k == pass.EventMovie {
				tk.Symbology, tk.Barcode = pass.SymbologyEAN13, "7612345678900"
			}
			for _, check := range []struct {
				what string
				v    any
				s    string
			}{{"class", google.BuildClass(is, design, tk), "EventTicketClass"}} {
				n++
				for _, p := range d.check(check.what, asJSON(t, check.v), schema{Ref: check.s}) {
					t.Errorf("%s %s: %s", k, check.what, p)
				}
			}
			for _, st := range states {
				p := &pass.Pass{Tenant: "demo", SerialNumber: "0123456789abcdef0123456789abcdef", Version: 2, Status: st.status, Ticket: tk}
				obj := google.BuildObject(is, p, st.state)
				n++
				for _, prob := range d.check("object", asJSON(t, obj), schema{Ref: "EventTicketObject"}) {
					t.Errorf("%s %s: %s", k, st.state, prob)
				}
			}
		}
		// The messages, as addMessage sends them.
		tk := apple.SampleTicket(pass.EventConcert)
		msgs := append(google.ClassMessages("fr", google.ClassSeen{Start: "x", Venue: "y"}, tk),
			google.NoticeMessage("fr", pass.Notice{ID: "n1", Header: pass.LocalText{"en": "Doors", "de": "Einlass"},
				Body: pass.LocalText{"en": "Doors at 19:00", "fr": "Portes à 19 h"}}))
		for i, m := range msgs {
			n++
			req := map[string]any{"message": map[string]any{"id": m.ID, "header": m.Header.DefaultValue.Value,
				"body": m.Body.DefaultValue.Value, "localizedHeader": asJSON(t, m.Header), "localizedBody": asJSON(t, m.Body),
				"messageType": "TEXT_AND_NOTIFY"}}
			for _, p := range d.check(fmt.Sprintf("message %d", i), req, schema{Ref: "AddMessageRequest"}) {
				t.Error(p)
			}
		}
	}
	t.Logf("%d resources checked against %d schemas", n, len(d.Schemas))
	if n < 60 {
		t.Errorf("only %d resources checked", n)
	}
	// The check itself refuses what Google would.
	bad := map[string]any{"id": "x", "state": "SOLD", "ticketNumber": 12, "colour": "red"}
	if got := d.check("object", bad, schema{Ref: "EventTicketObject"}); len(got) != 3 {
		t.Errorf("a bad object: %v, want 3 problems (enum, type, unknown property)", got)
	}
}

func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
