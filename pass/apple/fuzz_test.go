package apple_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

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
	// render checks one rendering and reports whether there was a pass.
	render := func(t testing.TB, name, seat, holder string) bool {
		t.Helper()
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
			return false
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
		return true
	}
	if !render(f, "é€𝄞", "é€𝄞", "é€𝄞") {
		f.Fatal("a ticket named é€𝄞 does not render")
	}
	f.Fuzz(func(t *testing.T, name, seat, holder string) {
		render(t, name, seat, holder)
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

// FuzzParseTicket feeds arbitrary JSON to the ticket parser: an error or
// a ticket, never a panic; a ticket it returns survives being written as
// JSON and parsed again.
func FuzzParseTicket(f *testing.F) {
	good, err := json.Marshal(apple.SampleTicket(pass.EventSports))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := pass.ParseTicket(good); err != nil {
		f.Fatalf("the sample ticket does not parse: %v", err)
	}
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"event":{"start":"2027-01-01T00:00:00Z"}}`))
	// Before standard time, Europe/Zurich was 34:08 ahead of UTC, and
	// RFC 3339 writes offsets in whole minutes.
	f.Add([]byte(`{"tenant":"demo","movementId":1,"barcode":"1","event":{"name":"x","start":"1850-01-10T12:00:00Z","timeZone":"Europe/Zurich"},"venue":{"name":"y"}}`))
	// JSON keeps of a time its instant and its offset, not its
	// *time.Location, and of a map or slice its elements, not whether an
	// empty one is nil. An offset with seconds (a local mean time) loses
	// them, and the instant moves by less than a minute.
	sameTime := cmp.Comparer(func(a, b time.Time) bool {
		_, ao := a.Zone()
		_, bo := b.Zone()
		if ao%60 != 0 {
			return ao == bo && a.Sub(b).Abs() < time.Minute
		}
		return a.Equal(b) && ao == bo
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := pass.ParseTicket(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(tk)
		if err != nil {
			t.Fatalf("a parsed ticket cannot be written as JSON: %v", err)
		}
		back, err := pass.ParseTicket(again)
		if err != nil {
			t.Fatalf("a parsed ticket, written as JSON, does not parse: %v\n%s", err, again)
		}
		if diff := cmp.Diff(tk, back, sameTime, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("parsed, written and parsed again (-first +again):\n%s", diff)
		}
	})
}
