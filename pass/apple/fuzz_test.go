package apple_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"walletpass/pass"
	"walletpass/pass/apple"
)

// FuzzRenderTicketStrings renders the default template with arbitrary
// ticket strings: the result is always valid JSON (or a clear error for a
// ticket that cannot become a pass), never a panic, and every string
// survives the round trip.
func FuzzRenderTicketStrings(f *testing.F) {
	for _, s := range []string{"", `"`, `\`, `"},{"key":"x"`, "\x00\x01\x1f", "\u2028\u2029", "é€𝄞", "\xff\xfe", "{{.Event.Name}}", "%@", "<script>"} {
		f.Add(s, s, s)
	}
	b := setup(f)
	f.Fuzz(func(t *testing.T, name, seat, holder string) {
		tk := apple.SampleTicket(pass.EventConcert)
		tk.Event.Name = name
		tk.Seat.Number = seat
		tk.HolderName = holder
		tk.Venue.Entrance = seat + holder
		tk.Event.Performers = []string{name, holder}
		pj, err := b.issuer.Render(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken})
		if err != nil {
			if pass.KindOf(err) != pass.KindInvalid {
				t.Fatalf("error of kind %v: %v", pass.KindOf(err), err)
			}
			return
		}
		if !json.Valid(pj) {
			t.Fatalf("invalid JSON for %q %q %q:\n%s", name, seat, holder, pj)
		}
		var m map[string]any
		if err := json.Unmarshal(pj, &m); err != nil {
			t.Fatal(err)
		}
		want := bytes.ToValidUTF8([]byte(name), []byte("\uFFFD"))
		if got := fieldValue(m, "event"); utf8.Valid([]byte(name)) && got != string(want) {
			t.Fatalf("event name %q came back as %q", name, got)
		}
	})
}

// FuzzParseStrings feeds arbitrary bytes to the pass.strings parser: an
// error or a map, never a panic; what it returns survives FormatStrings.
func FuzzParseStrings(f *testing.F) {
	f.Add([]byte(`"A" = "b";`))
	f.Add([]byte("/* c */ \"A\" = \"\\U00e9\";\n// x\n"))
	f.Add([]byte{0xFF, 0xFE, '"', 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := apple.ParseStrings(data)
		if err != nil {
			return
		}
		back, err := apple.ParseStrings(apple.FormatStrings(m))
		if err != nil {
			t.Fatalf("formatted output does not parse: %v", err)
		}
		for k, v := range m {
			if back[k] != v {
				t.Fatalf("key %q: %q became %q", k, v, back[k])
			}
		}
	})
}

// FuzzParseTicket feeds arbitrary JSON to the ticket parser: an error or a
// valid ticket, never a panic.
func FuzzParseTicket(f *testing.F) {
	good, _ := json.Marshal(apple.SampleTicket(pass.EventSports))
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"event":{"start":"2027-01-01T00:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := pass.ParseTicket(data)
		if err != nil {
			return
		}
		if err := tk.Validate(); err != nil {
			t.Fatalf("ParseTicket returned a ticket that does not validate: %v", err)
		}
	})
}
