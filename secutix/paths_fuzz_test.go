package secutix

import (
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"walletpass/pass"
)

// The grammar of a field's path as the configuration documents it
// (fields.go): alternatives split by "|", each a scope, then .keys of
// letters, digits, "_" and "-", each followed by [index]es from 0 to 1000.
var (
	pathAltRE   = regexp.MustCompile(`^(?:file|order|operation|movement|ticket|location|product|performance|pos|contact)(?:\[[+-]?[0-9]+\])*(?:\.[A-Za-z0-9_-]+(?:\[[+-]?[0-9]+\])*)*$`)
	pathTokenRE = regexp.MustCompile(`([A-Za-z0-9_-]+)|\[([+-]?[0-9]+)\]`)
)

// readPath reads a path by that grammar: each alternative (trimmed) and
// its tokens, the scope first; an index token is its number. ok is false
// for a path the grammar refuses.
func readPath(s string) (alts []string, tokens [][]step, ok bool) {
	if len(s) > 500 {
		return nil, nil, false
	}
	for alt := range strings.SplitSeq(s, "|") {
		alt = strings.TrimSpace(alt)
		if !pathAltRE.MatchString(alt) {
			return nil, nil, false
		}
		var toks []step
		for _, m := range pathTokenRE.FindAllStringSubmatch(alt, -1) {
			if m[1] != "" {
				toks = append(toks, step{key: m[1]})
				continue
			}
			n, err := strconv.Atoi(m[2])
			if err != nil || n < 0 || n > 1000 {
				return nil, nil, false
			}
			toks = append(toks, step{index: n})
		}
		alts, tokens = append(alts, alt), append(tokens, toks)
	}
	return alts, tokens, true
}

// FuzzParsePath feeds a field name and a path to the configuration's
// field overrides (parsePath, ValidateFields, compileFields). A path
// parses exactly when the documented grammar (readPath) reads it, with an
// alternative per "|" (trimmed, as written) and its scope and steps as
// read; each alternative, resolved in a document built from those steps,
// reaches the value at their end. An override is refused, with an error
// of kind KindInvalid naming it, exactly when its field is not a pass
// field or its path, not blank, does not parse; accepted, it replaces the
// field's path (a blank one removes it).
func FuzzParsePath(f *testing.F) {
	for _, fd := range Fields {
		f.Add(fd.Name, fd.Default)
	}
	for _, c := range [][2]string{
		{"holderEmail", "contact.contactData.email"}, {"locale", "contact.contactData.languageCode"},
		{"barcode", "movement.tickets[0].barcode | ticket.barcode"}, {"venueCity", " operation.locations[0].siteAddress.locality "},
		{"seatRow", "movement.nothing | movement.instanceNumber"}, {"eventName", "operation.performance | product.externalName"},
		{"seatBlock", "pos[+1].a-b_c[1000][0]"}, {"seatRow", "movement..row"}, {"seatRow", "movement.row[x]"},
		{"seatRow", "movement.row[1"}, {"seatRow", "movement.row |"}, {"seatRow", "movement.ro w"}, {"seatRow", "movement.row[1001]"},
		{"seatRow", "movement.row[-1]"}, {"seatRow", "movement."}, {"seatRow", "nowhere.row"}, {"seatRow", "  "}, {"colour", "movement.x"},
		{"seatRow", strings.Repeat("movement.a", 51)},
	} {
		f.Add(c[0], c[1])
	}
	known := map[string]bool{}
	for _, fd := range Fields {
		known[fd.Name] = true
	}
	check := func(t testing.TB, name, s string) {
		t.Helper()
		p, err := parsePath(s)
		alts, tokens, ok := readPath(s)
		if (err == nil) != ok {
			t.Fatalf("parsePath(%q): got %v, want an error %v", s, err, !ok)
		}
		if err == nil {
			if len(p) != len(alts) {
				t.Fatalf("parsePath(%q): got %d alternatives, want %d", s, len(p), len(alts))
			}
			for i, a := range p {
				toks := tokens[i]
				if a.src != alts[i] || a.scope != toks[0].key || !reflect.DeepEqual(append([]step{}, a.steps...), append([]step{}, toks[1:]...)) {
					t.Fatalf("parsePath(%q) alternative %d: got %+v, want %q: scope %q, steps %+v", s, i, a, alts[i], toks[0].key, toks[1:])
				}
				// A document holding a value where the steps read say.
				var doc any = "leaf"
				for j := len(toks) - 1; j > 0; j-- {
					if toks[j].key != "" {
						doc = map[string]any{toks[j].key: doc}
					} else {
						list := make([]any, toks[j].index+1)
						list[toks[j].index] = doc
						doc = list
					}
				}
				if v := a.resolve(ticketScope{a.scope: doc}); v != "leaf" {
					t.Fatalf("parsePath(%q) alternative %d reads %v, want the value at its end", s, i, v)
				}
			}
		}
		blank := strings.TrimSpace(s) == ""
		verr := ValidateFields(map[string]string{name: s})
		if want := !known[name] || (!blank && err != nil); (verr != nil) != want {
			t.Fatalf("field %q = %q: got %v, want an error %v", name, s, verr, want)
		}
		if verr != nil {
			if pass.KindOf(verr) != pass.KindInvalid || !strings.Contains(verr.Error(), "fields."+name) {
				t.Fatalf("field %q = %q: got %v, want an invalid error naming it", name, s, verr)
			}
			return
		}
		fp, err := compileFields(map[string]string{name: s})
		if err != nil {
			t.Fatalf("field %q = %q: compileFields %v after ValidateFields accepted it", name, s, err)
		}
		if got, has := fp[name]; blank && has || !blank && !reflect.DeepEqual(got, p) {
			t.Fatalf("field %q = %q: got path %+v (there %v), want %+v", name, s, got, has, p)
		}
	}
	f.Fuzz(func(t *testing.T, name, s string) {
		check(t, name, s)
	})
}
