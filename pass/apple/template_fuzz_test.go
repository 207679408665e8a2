package apple_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"

	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/templates"
)

// FuzzLoadTemplate loads arbitrary designs (template.json, with the
// built-in template's images and translations): a refusal is a
// *TemplateError of kind invalid, never a panic; a design that loads
// renders the sample tickets of every kind as a pass.json that is valid
// JSON with the identifiers walletpass sets itself, or refuses a ticket
// with a clear error.
func FuzzLoadTemplate(f *testing.F) {
	def, err := fs.Sub(templates.FS, "default")
	if err != nil {
		f.Fatal(err)
	}
	files := fstest.MapFS{}
	err = fs.WalkDir(def, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == apple.TemplateFile {
			return err
		}
		data, err := fs.ReadFile(def, p)
		files[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	design, err := fs.ReadFile(def, apple.TemplateFile)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{string(design), `{}`, `{"eventTicket":{}}`, `{"eventTicket":{"primaryFields":[{"key":"x","value":"{{.Event.Name}}"}]}}`,
		`{"eventTicket":{"primaryFields":[{"key":"x","value":"{{.Nope}}"}]}}`, `{"eventTicket":{"primaryFields":[{"key":"x","value":"{{"}]}}`,
		`{"backgroundColor":"rgb(1,2,3)","eventTicket":{}}`, `{"backgroundColor":"red"}`, `[]`, `null`, `{"serialNumber":"x"}`} {
		f.Add([]byte(s))
	}
	b := setup(f)
	kinds := []pass.EventKind{pass.EventConcert, pass.EventSports, pass.EventTheatre, pass.EventFestival}
	// try loads one design and renders it; it reports whether it loaded.
	try := func(t testing.TB, data []byte) bool {
		t.Helper()
		fsys := fstest.MapFS{apple.TemplateFile: &fstest.MapFile{Data: data}}
		for p, file := range files {
			fsys[p] = file
		}
		tpl, err := apple.LoadTemplate("fuzz", fsys)
		if err != nil {
			var te *apple.TemplateError
			if !errors.As(err, &te) || pass.KindOf(err) != pass.KindInvalid || len(te.Problems) == 0 {
				t.Fatalf("refused with %T (kind %v): %v", err, pass.KindOf(err), err)
			}
			return false
		}
		for _, k := range kinds {
			pj, err := b.issuer.Render(tpl, apple.Input{Ticket: apple.SampleTicket(k), SerialNumber: testSerial, AuthToken: testToken})
			if err != nil {
				if pass.KindOf(err) != pass.KindInvalid {
					t.Fatalf("render (%s): error of kind %v: %v", k, pass.KindOf(err), err)
				}
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(pj, &m); err != nil {
				t.Fatalf("render (%s): not JSON: %v\n%s", k, err, pj)
			}
			if m["serialNumber"] != testSerial || m["authenticationToken"] != testToken || m["formatVersion"] != float64(1) {
				t.Fatalf("render (%s): serial %v, token %v, formatVersion %v", k, m["serialNumber"], m["authenticationToken"], m["formatVersion"])
			}
		}
		return true
	}
	if !try(f, design) {
		f.Fatal("the built-in design does not load")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		try(t, data)
	})
}
