package apple_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/templates"
)

// minimalTemplate returns a valid template's files; tests break one thing.
func minimalTemplate(t *testing.T) fstest.MapFS {
	t.Helper()
	sub, err := fs.Sub(templates.FS, "default")
	if err != nil {
		t.Fatal(err)
	}
	icon, err := fs.ReadFile(sub, "icon.png")
	if err != nil {
		t.Fatal(err)
	}
	return fstest.MapFS{
		"template.json": {Data: []byte(`{
  "description": "Ticket for {{.Event.Name}}",
  "organizationName": "{{.Organization}}",
  "backgroundColor": "#1B2A4A",
  "eventTicket": {
    "primaryFields": [{"key": "event", "label": "EVENT", "value": "{{.Event.Name}}"}],
    "auxiliaryFields": [{"key": "seat", "label": "SEAT", "value": "{{.Seat.Number}}", "changeMessage": "Seat %@"}]
  }
}`)},
		"icon.png":              {Data: icon},
		"en.lproj/pass.strings": {Data: []byte(`"EVENT" = "Event";` + "\n")},
	}
}

func TestTemplateValidationErrors(t *testing.T) {
	t.Parallel()
	replace := func(old, new string) func(fstest.MapFS) {
		return func(m fstest.MapFS) {
			m["template.json"].Data = []byte(strings.Replace(string(m["template.json"].Data), old, new, 1))
		}
	}
	tests := []struct {
		name   string
		break_ func(fstest.MapFS)
		want   string
	}{
		{name: "valid", break_: func(fstest.MapFS) {}, want: ""},
		{name: "missing icon", break_: func(m fstest.MapFS) { delete(m, "icon.png") }, want: "icon.png is missing"},
		{name: "duplicate keys across arrays", break_: replace(`"key": "seat"`, `"key": "event"`),
			want: `duplicate field key "event" (also at eventTicket.primaryFields[0]`},
		{name: "unknown ticket field", break_: replace(`{{.Seat.Number}}`, `{{.Seat.Colour}}`),
			want: `eventTicket.auxiliaryFields[0] (key "seat").value: unknown ticket field "Colour"`},
		{name: "unknown top-level field", break_: replace(`{{.Organization}}`, `{{.Organisation}}`),
			want: `organizationName: unknown ticket field "Organisation"`},
		{name: "bad colour", break_: replace(`"#1B2A4A"`, `"rgb(300, 0, 0)"`),
			want: `backgroundColor: "rgb(300, 0, 0)": each component must be 0 to 255`},
		{name: "colour word", break_: replace(`"#1B2A4A"`, `"navy"`), want: `backgroundColor: "navy" is not a colour`},
		{name: "changeMessage without placeholder", break_: replace(`"Seat %@"`, `"Your seat changed"`),
			want: `eventTicket.auxiliaryFields[0] (key "seat"): changeMessage must contain %@`},
		{name: "template syntax", break_: replace(`{{.Event.Name}}"}`, `{{.Event.Name"}`), want: `eventTicket.primaryFields[0] (key "event").value: template:`},
		{name: "builder key", break_: replace(`"eventTicket"`, `"serialNumber": "x", "eventTicket"`), want: "serialNumber is set by walletpass"},
		{name: "sharing is the tenant's", break_: replace(`"eventTicket"`, `"sharingProhibited": true, "eventTicket"`), want: "sharingProhibited is set by walletpass"},
		{name: "upcoming events are the ticket's", break_: replace(`"eventTicket"`, `"upcomingPassInformation": [], "eventTicket"`),
			want: "upcomingPassInformation is set by walletpass"},
		{name: "translated changeMessage without placeholder", break_: func(m fstest.MapFS) {
			m["en.lproj/pass.strings"] = &fstest.MapFile{Data: []byte(`"EVENT" = "Event"; "Seat %@" = "Seat %@";`)}
			m["fr.lproj/pass.strings"] = &fstest.MapFile{Data: []byte(`"EVENT" = "Événement"; "Seat %@" = "Votre place a changé";`)}
		},
			want: `fr.lproj/pass.strings: the fr translation of "Seat %@" lacks %@`},
		{name: "translated changeMessage", break_: func(m fstest.MapFS) {
			m["en.lproj/pass.strings"] = &fstest.MapFile{Data: []byte(`"EVENT" = "Event"; "Seat %@" = "Seat %@";`)}
			m["fr.lproj/pass.strings"] = &fstest.MapFile{Data: []byte(`"EVENT" = "Événement"; "Seat %@" = "Nouvelle place : %@";`)}
		}},
		{name: "malformed json", break_: replace(`"eventTicket": {`, `"eventTicket": {,`), want: "template.json: malformed JSON"},
		{name: "missing description", break_: replace(`"description"`, `"descriptio"`), want: "template.json: description is required"},
		{name: "bad strings file", break_: func(m fstest.MapFS) {
			m["fr.lproj/pass.strings"] = &fstest.MapFile{Data: []byte("\"EVENT\" = \"x\"\n\"SEAT\" = \"y\";")}
		},
			want: `fr.lproj/pass.strings: line 2: expected ; after the value of "EVENT"`},
		{name: "a language lacks a key", break_: func(m fstest.MapFS) {
			m["en.lproj/pass.strings"] = &fstest.MapFile{Data: []byte(`"EVENT" = "Event"; "SEAT" = "Seat";`)}
			m["de.lproj/pass.strings"] = &fstest.MapFile{Data: []byte(`"EVENT" = "Veranstaltung";`)}
		},
			want: `de.lproj/pass.strings lacks "SEAT" (every language needs every key)`},
		{name: "three featured actions", break_: replace(`"eventTicket"`, `"featuredActions": [{"identifier": "a", "type": "order", "url": "https://x.example/a"}, {"identifier": "b", "type": "shop", "url": "https://x.example/b"}, {"identifier": "c", "type": "call", "url": "tel:+41000"}], "eventTicket"`),
			want: "featuredActions has 3 entries; Wallet shows at most 2"},
		{name: "featured action type", break_: replace(`"eventTicket"`, `"featuredActions": [{"identifier": "a", "type": "dance", "url": "https://x.example/a"}], "eventTicket"`),
			want: `featuredActions[0]: type "dance" is not a featured action type`},
		{name: "featured action url", break_: replace(`"eventTicket"`, `"featuredActions": [{"identifier": "a", "type": "order", "url": "http://x.example/a"}], "eventTicket"`),
			want: `featuredActions[0]: url "http://x.example/a" must be an https`},
		{name: "one guide link", break_: replace(`"eventTicket"`, `"bagPolicyURL": "https://venue.example/bags", "eventTicket"`),
			want: "the event guide shows only with two or more of its links"},
		{name: "guide link not https", break_: replace(`"eventTicket"`, `"bagPolicyURL": "http://venue.example/bags", "parkingInformationURL": "https://venue.example/p", "eventTicket"`),
			want: "bagPolicyURL must be an https URL"},
		{name: "a small google logo", break_: func(m fstest.MapFS) { m["google-logo.png"] = m["icon.png"] },
			want: "google-logo.png: 38x38 px; Google Wallet needs at least 660 px wide and as high (square)"},
		{name: "not a png", break_: func(m fstest.MapFS) { m["logo.png"] = &fstest.MapFile{Data: []byte("GIF89a")} }, want: "logo.png: not a valid PNG image"},
		{name: "unknown image name", break_: func(m fstest.MapFS) { m["banner.png"] = m["icon.png"] }, want: `banner.png: "banner" is not a pass image name`},
		{name: "stray file", break_: func(m fstest.MapFS) { m["notes.docx"] = &fstest.MapFile{Data: []byte("x")} }, want: "notes.docx: unexpected file"},
		{name: "poster without artwork", break_: replace(`"eventTicket"`, `"preferredStyleSchemes": ["posterEventTicket", "eventTicket"], "eventTicket"`),
			want: "artwork.png is missing"},
		{name: "icon not square", break_: func(m fstest.MapFS) { m["icon.png"] = &fstest.MapFile{Data: pngOf(t, 40, 30)} },
			want: "icon.png: 40x30 px; the icon is square, 38 pt"},
		{name: "logo too wide", break_: func(m fstest.MapFS) { m["logo@2x.png"] = &fstest.MapFile{Data: pngOf(t, 400, 100)} },
			want: "logo@2x.png: 400x100 px; Wallet shows logo at most 160x50 pt (320x100 px at this scale)"},
		{name: "@2x not twice the @1x", break_: func(m fstest.MapFS) { m["icon@2x.png"] = m["icon.png"] },
			want: "icon@2x.png is 38 px wide, not 2 times its @1x (38 px)"},
		{name: "secondary logo too high", break_: func(m fstest.MapFS) { m["secondaryLogo@3x.png"] = &fstest.MapFile{Data: pngOf(t, 120, 60)} },
			want: "secondaryLogo@3x.png: 120x60 px; Wallet shows secondaryLogo at most 135x12 pt"},
		{name: "strip with background", break_: func(m fstest.MapFS) { m["strip.png"] = m["icon.png"]; m["background.png"] = m["icon.png"] },
			want: "strip.png cannot be combined with background.png"},
		{name: "currency and number style", break_: replace(`"changeMessage": "Seat %@"`, `"changeMessage": "Seat %@", "currencyCode": "EUR", "numberStyle": "PKNumberStyleDecimal"`),
			want: "currencyCode and numberStyle cannot be used together"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := minimalTemplate(t)
			tc.break_(m)
			_, err := apple.LoadTemplate("t", m)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid template rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("template accepted, want an error containing %q", tc.want)
			}
			t.Logf("message: %v", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
			if pass.KindOf(err) != pass.KindInvalid {
				t.Errorf("kind = %v, want invalid", pass.KindOf(err))
			}
			var te *apple.TemplateError
			if !errors.As(err, &te) || te.Template != "t" {
				t.Errorf("error does not carry a *TemplateError naming the template")
			}
		})
	}
}

func TestValidatePassJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	good, err := b.issuer.Render(b.tpl, apple.Input{Ticket: apple.SampleTicket(pass.EventConcert), SerialNumber: testSerial, AuthToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{"icon.png": true}
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		out, _ := json.Marshal(m)
		return out
	}
	field := func(m map[string]any, arr string, i int) map[string]any {
		return m["eventTicket"].(map[string]any)[arr].([]any)[i].(map[string]any)
	}
	tests := []struct {
		name      string
		data      []byte
		files     map[string]bool
		allowHTTP bool
		want      string
	}{
		{name: "valid", data: good, files: files},
		{name: "no icon", data: good, files: map[string]bool{}, want: "icon.png is missing"},
		{name: "format version", data: mutate(func(m map[string]any) { m["formatVersion"] = 2 }), files: files, want: "formatVersion must be the number 1"},
		{name: "missing serial", data: mutate(func(m map[string]any) { delete(m, "serialNumber") }), files: files, want: "serialNumber is required"},
		{name: "missing team", data: mutate(func(m map[string]any) { m["teamIdentifier"] = "" }), files: files, want: "teamIdentifier is required"},
		{name: "two styles", data: mutate(func(m map[string]any) { m["generic"] = map[string]any{} }), files: files, want: "eventTicket is required and must be the only pass style"},
		{name: "short token", data: mutate(func(m map[string]any) { m["authenticationToken"] = "short" }), files: files, want: "authenticationToken must be a string of at least 16"},
		{name: "http web service", data: mutate(func(m map[string]any) { m["webServiceURL"] = "http://example.com/apple" }), files: files, want: "must use https outside development"},
		{name: "http allowed in development", data: mutate(func(m map[string]any) { m["webServiceURL"] = "http://127.0.0.1:8080/api/demo/apple" }), files: files, allowHTTP: true},
		{name: "token without url", data: mutate(func(m map[string]any) { delete(m, "webServiceURL") }), files: files, want: "webServiceURL and authenticationToken must be set together"},
		{name: "duplicate key", data: mutate(func(m map[string]any) { field(m, "backFields", 0)["key"] = "event" }), files: files, want: `eventTicket.backFields[0]: duplicate field key "event"`},
		{name: "date without offset", data: mutate(func(m map[string]any) { m["expirationDate"] = "2027-03-14T20:00" }), files: files, want: `expirationDate "2027-03-14T20:00" is not a W3C date`},
		{name: "field date", data: mutate(func(m map[string]any) { field(m, "headerFields", 0)["value"] = "tomorrow" }), files: files, want: `eventTicket.headerFields[0].value "tomorrow" is not a W3C date`},
		{name: "change message", data: mutate(func(m map[string]any) { field(m, "primaryFields", 0)["changeMessage"] = "changed" }), files: files, want: "eventTicket.primaryFields[0].changeMessage must contain %@"},
		{name: "barcode format", data: mutate(func(m map[string]any) { m["barcodes"].([]any)[0].(map[string]any)["format"] = "PKBarcodeFormatEAN" }), files: files, want: "barcodes[0].format PKBarcodeFormatEAN"},
		{name: "colour", data: mutate(func(m map[string]any) { m["labelColor"] = "#fff" }), files: files, want: "labelColor must be \"rgb(r, g, b)\""},
		{name: "voided type", data: mutate(func(m map[string]any) { m["voided"] = "yes" }), files: files, want: "voided must be a boolean"},
		{name: "relevance window without its end", data: mutate(func(m map[string]any) {
			m["relevantDates"] = []any{map[string]any{"startDate": "2027-03-14T19:00+01:00"}}
		}), files: files, want: "relevantDates[0] must have both startDate and endDate"},
		{name: "upcoming events", data: mutate(func(m map[string]any) {
			m["upcomingPassInformation"] = []any{
				map[string]any{"type": "event", "identifier": "m1", "name": "Round 1", "backFields": []any{map[string]any{"key": "info-1", "label": "Info", "value": "Gate 3"}}},
				map[string]any{"type": "event", "identifier": "m2", "name": "Round 2", "backFields": []any{map[string]any{"key": "info-2", "label": "Info", "value": "Gate 3"}}},
			}
		}), files: files},
		{name: "upcoming events' fields of one key", data: mutate(func(m map[string]any) {
			bf := []any{map[string]any{"key": "info", "label": "Info", "value": "Gate 3"}}
			m["upcomingPassInformation"] = []any{
				map[string]any{"type": "event", "identifier": "m1", "name": "Round 1", "backFields": bf},
				map[string]any{"type": "event", "identifier": "m2", "name": "Round 2", "backFields": bf},
			}
		}), files: files, want: `upcomingPassInformation[1].backFields[0]: duplicate field key "info" (also at upcomingPassInformation[0].backFields[0])`},
		{name: "an upcoming event's field of the pass's key", data: mutate(func(m map[string]any) {
			m["upcomingPassInformation"] = []any{map[string]any{"type": "event", "identifier": "m1", "name": "Round 1",
				"backFields": []any{map[string]any{"key": "event", "label": "Info", "value": "Gate 3"}}}}
		}), files: files, want: `upcomingPassInformation[0].backFields[0]: duplicate field key "event" (also at eventTicket.primaryFields[0])`},
		{name: "upcoming event without type", data: mutate(func(m map[string]any) {
			m["upcomingPassInformation"] = []any{map[string]any{"identifier": "m1", "name": "Round 1", "backFields": []any{map[string]any{"key": "i"}}}}
		}), files: files, want: `upcomingPassInformation[0].type must be "event"`},
		{name: "upcoming events of one identifier", data: mutate(func(m map[string]any) {
			bf := []any{map[string]any{"key": "info", "label": "Info", "value": "Gate 3"}}
			m["upcomingPassInformation"] = []any{
				map[string]any{"type": "event", "identifier": "m1", "name": "Round 1", "backFields": bf},
				map[string]any{"type": "event", "identifier": "m1", "name": "Round 2", "backFields": bf},
			}
		}), files: files, want: `upcomingPassInformation[1].identifier "m1" is not unique`},
		{name: "upcoming event without back fields", data: mutate(func(m map[string]any) {
			m["upcomingPassInformation"] = []any{map[string]any{"type": "event", "identifier": "m1", "name": "Round 1"}}
		}), files: files, want: "upcomingPassInformation[0].backFields must not be empty"},
		{name: "not json", data: []byte("{"), files: files, want: "not a JSON object"},
		{name: "poster without nfc", data: mutate(func(m map[string]any) {
			m["preferredStyleSchemes"] = []any{"posterEventTicket", "eventTicket"}
		}), files: files, want: "a poster event ticket needs an nfc dictionary"},
		{name: "poster nfc without requiresAuthentication", data: mutate(func(m map[string]any) {
			m["preferredStyleSchemes"] = []any{"posterEventTicket", "eventTicket"}
			m["nfc"] = map[string]any{"message": "123", "encryptionPublicKey": "MFkw"}
		}), files: files, want: "nfc.requiresAuthentication must be set"},
		{name: "poster sports without abbreviations", data: mutate(func(m map[string]any) {
			m["preferredStyleSchemes"] = []any{"posterEventTicket", "eventTicket"}
			m["nfc"] = map[string]any{"message": "123", "encryptionPublicKey": "MFkw", "requiresAuthentication": false}
			m["semantics"] = map[string]any{"eventName": "Match", "venueName": "Arena", "eventType": "PKEventTypeSports"}
		}), files: files, want: "a poster sports ticket needs semantics.homeTeamAbbreviation"},
		{name: "poster without artwork", data: mutate(func(m map[string]any) {
			m["preferredStyleSchemes"] = []any{"posterEventTicket", "eventTicket"}
			m["nfc"] = map[string]any{"message": "123", "encryptionPublicKey": "MFkw", "requiresAuthentication": true}
		}), files: files, want: "needs artwork.png or background.png"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := apple.ValidatePassJSON(tc.data, tc.files, tc.allowHTTP)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid pass rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want an error containing %q", tc.want)
			}
			t.Logf("message: %v", err)
			if !strings.Contains(err.Error(), tc.want) || pass.KindOf(err) != pass.KindInvalid {
				t.Errorf("error = %q (kind %v), want kind invalid containing %q", err, pass.KindOf(err), tc.want)
			}
		})
	}
}

func TestRenderRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	if _, err := b.issuer.Render(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: "short"}); err == nil ||
		!strings.Contains(err.Error(), "authenticationToken must be at least 16") {
		t.Errorf("short token: err = %v", err)
	}
	tk.Event.Name = ""
	if _, err := b.issuer.Render(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken}); err == nil ||
		!strings.Contains(err.Error(), "event.name is required") {
		t.Errorf("ticket without event name: err = %v", err)
	}
	if _, err := apple.NewIssuer(apple.IssuerConfig{PassTypeID: "p", TeamID: "t", OrganizationName: "o", WebServiceURL: "http://x.example/apple"}); err == nil ||
		!strings.Contains(err.Error(), "must use https outside development") || !strings.Contains(err.Error(), "signing certificate") {
		t.Errorf("issuer with http and no certificate: err = %v", err)
	}
}

func TestParseStrings(t *testing.T) {
	t.Parallel()
	in := "\ufeff/* comment */\n\"A\" = \"x \\\"y\\\" \\\\ \\n\";\n// line\n\"B\"=\"é\";"
	got, err := apple.ParseStrings([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got["A"] != "x \"y\" \\ \n" || got["B"] != "é" {
		t.Errorf("got %q", got)
	}
	round, err := apple.ParseStrings(apple.FormatStrings(got))
	if err != nil || round["A"] != got["A"] || round["B"] != got["B"] {
		t.Errorf("round trip = %q, %v", round, err)
	}
	utf16 := []byte{0xFF, 0xFE, '"', 0, 'K', 0, '"', 0, '=', 0, '"', 0, 'v', 0, '"', 0, ';', 0}
	if m, err := apple.ParseStrings(utf16); err != nil || m["K"] != "v" {
		t.Errorf("UTF-16: %q, %v", m, err)
	}
}

// TestFeaturedActionsAndGuideLinksPassThrough: valid iOS 27 featured
// actions and event guide links reach pass.json as the template says.
func TestFeaturedActionsAndGuideLinksPassThrough(t *testing.T) {
	t.Parallel()
	m := minimalTemplate(t)
	m["template.json"].Data = []byte(strings.Replace(string(m["template.json"].Data), `"eventTicket"`,
		`"featuredActions": [{"identifier": "food", "type": "order", "url": "https://venue.example/food"}],
		"bagPolicyURL": "https://venue.example/bags", "contactVenuePhoneNumber": "+41 21 000 00 00", "eventTicket"`, 1))
	tpl, err := apple.LoadTemplate("t", m)
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t)
	built, err := b.issuer.Build(tpl, apple.Input{Ticket: apple.SampleTicket(pass.EventConcert), SerialNumber: testSerial, AuthToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	var pj map[string]any
	if err := json.Unmarshal(built.PassJSON, &pj); err != nil {
		t.Fatal(err)
	}
	acts, _ := pj["featuredActions"].([]any)
	if len(acts) != 1 || pj["bagPolicyURL"] != "https://venue.example/bags" || pj["contactVenuePhoneNumber"] == nil {
		t.Errorf("featuredActions %v, bagPolicyURL %v", pj["featuredActions"], pj["bagPolicyURL"])
	}
}

// pngOf is a w × h PNG image.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
