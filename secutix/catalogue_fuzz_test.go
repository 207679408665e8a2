package secutix

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"walletpass/pass"
)

// member is an object's member, read here (nil when n is no object).
func member(n any, key string) any {
	m, _ := n.(map[string]any)
	return m[key]
}

// plainText reads a decoded value as a plain text: a string, a number or a
// boolean as its literal, null as "". ok is false for an object or an
// array (translations, or what the wire never shows there).
func plainText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// zoneOf reads organizationTimeZone: an IANA zone's name (trimmed), or ""
// when it names none. known is false for a form not read here.
func zoneOf(v any) (zone string, loc *time.Location, known bool) {
	s, ok := plainText(v)
	if !ok {
		return "", nil, false
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil, true
	}
	l, err := time.LoadLocation(s)
	if err != nil {
		return "", nil, true
	}
	return s, l, true
}

// timeOf reads a catalogue date-time: RFC 3339 (offset included) or, in
// the point of sale's zone loc, the same without an offset; absent or ""
// is the zero time. known is false for any other form.
func timeOf(v any, loc *time.Location) (time.Time, bool) {
	s, ok := plainText(v)
	if !ok {
		return time.Time{}, false
	}
	if s = strings.TrimSpace(s); s == "" {
		return time.Time{}, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	if loc != nil {
		if t, err := time.ParseInLocation("2006-01-02T15:04:05", s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// endOf is the end of a performance that gives no end: its start plus
// duration seconds, for a whole number of seconds between 0 and a year
// (both excluded); none for another duration. known is false for a
// duration of a form not read here (a fraction, a numeric string).
func endOf(start time.Time, duration any) (time.Time, bool) {
	if start.IsZero() {
		return time.Time{}, true
	}
	switch x := duration.(type) {
	case json.Number:
		n, err := strconv.ParseInt(x.String(), 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		if n > 0 && n < 366*24*3600 {
			return start.Add(time.Duration(n) * time.Second), true
		}
		return time.Time{}, true
	case string:
		return time.Time{}, false
	}
	return time.Time{}, true // null, a boolean, an object, an array: no number
}

// nameOf reads a product's externalName in French: a plain text
// (trimmed), or the first non-blank "fr" translation. known is false
// otherwise (another language's translation is picked then).
func nameOf(v any) (string, bool) {
	if s, ok := plainText(v); ok {
		return strings.TrimSpace(s), true
	}
	list, ok := member(v, "translations").([]any)
	if !ok {
		return "", false
	}
	for _, it := range list {
		loc, _ := member(it, "locale").(string)
		val, _ := member(it, "value").(string)
		if strings.ToLower(strings.TrimSpace(loc)) == "fr" && strings.TrimSpace(val) != "" {
			return strings.TrimSpace(val), true
		}
	}
	return "", false
}

// FuzzCataloguePerformance feeds getCatalogDetailed and getPOSConfig
// answers to the mapping of each performance the catalogue holds
// (mapper.performance: what Performance returns), in French, with the
// default fields and with fields an order decides first or that read the
// end, the doors and the venue from the performance. Any answers: details
// or an error of kind KindInvalid naming the performance, never a panic;
// times in the time zone given, an end after the start. Read here: the
// zone is posConfigData.organizationTimeZone (trimmed) when it names one;
// the start is performance.start (RFC 3339, or without an offset in that
// zone), the end start + duration seconds, or performance.end; the name
// is the product's externalName (its French translation), or none when
// an order's field comes first; the venue is none but what the
// performance's own fields say. A performance whose times are read here
// maps without an error.
func FuzzCataloguePerformance(f *testing.F) {
	catalog := readSample(f, "catalog.json")
	pos := readSample(f, "pos-config.json")
	f.Add(catalog, pos)
	f.Add(catalog, []byte(`{"posConfigData":{"organizationTimeZone":"America/New_York"}}`))
	f.Add(catalog, []byte(`{"posConfigData":{"organizationTimeZone":" Mars/Olympus "}}`))
	f.Add(catalog, []byte(`{"posConfigData":{}}`))
	f.Add(catalog, []byte(`null`))
	for _, c := range []string{
		`{"catalogData":{"products":[{"id":3,"externalName":"Plain name","event":{"performances":[{"id":"31","start":"2026-07-01T19:30:00Z","duration":"5400",` +
			`"end":"2026-07-01T21:00:00+02:00","doors":"2026-07-01T18:30:00+01:00","venueName":" Arena "}]}}]}}`,
		`{"catalogData":{"seasons":[{"products":[{"externalName":{"translations":[{"locale":"en","value":"Night"},{"locale":"FR","value":" "},{"locale":"fr","value":"Nuit"}]},` +
			`"event":{"performances":[{"id":32,"start":"2026-07-02T20:00:00","duration":-5},{"id":33,"start":12345},{"id":34,"start":"","duration":60}]}}]}]}}`,
		`{"catalogData":{"products":[{"externalName":{"translations":[{"locale":"de","value":"Nacht"}]},"event":{"performances":[{"id":35,"start":"2026-07-03T20:00:00+0200","duration":366000000}]}}]}}`,
		`{"catalogData":{"products":[{"event":{"performances":[{"id":36,"start":"2026-07-04T20:00:00.5+02:00","duration":9000.0,"end":"","doors":"soon"}]}}]}}`,
	} {
		f.Add([]byte(c), pos)
	}
	defaults := testMapper(f, "fr", nil)
	byOrder := testMapper(f, "fr", map[string]string{"eventName": "operation.performance | product.externalName",
		"eventEnd": "performance.end", "doors": "performance.doors", "venueName": "performance.venueName | location.siteExternalName"})
	check := func(t testing.TB, catalogBody, posBody []byte) map[int64]pass.PerformanceDetails {
		t.Helper()
		root, err := decodeNode(catalogBody)
		if err != nil {
			return nil // fetchCatalog refuses it
		}
		posRoot, err := decodeNode(posBody)
		if err != nil {
			return nil // view refuses it
		}
		posData := member(posRoot, "posConfigData")
		zone, loc, zoneKnown := zoneOf(member(posData, "organizationTimeZone"))
		out := map[int64]pass.PerformanceDetails{}
		for id, e := range indexCatalog(get(root, "catalogData")) {
			sc := ticketScope{"product": e.product, "performance": e.performance, "pos": posData}
			start, startKnown := timeOf(member(e.performance, "start"), loc)
			for _, m := range []struct {
				name    string
				mapper  mapper
				byOrder bool
			}{{"default fields", defaults, false}, {"fields of the order first", byOrder, true}} {
				d, err := m.mapper.performance(id, sc)
				// What the fields the mapper reads say, read here.
				name, nameKnown := nameOf(member(e.product, "externalName"))
				venueName, venueKnown := "", true
				var end, doors time.Time
				endKnown, doorsKnown := true, true
				if m.byOrder {
					end, endKnown = timeOf(member(e.performance, "end"), loc)
					doors, doorsKnown = timeOf(member(e.performance, "doors"), loc)
					name, nameKnown = "", true
					venueName, venueKnown = plainText(member(e.performance, "venueName"))
					venueName = strings.TrimSpace(venueName)
				}
				if end.IsZero() && endKnown && startKnown {
					end, endKnown = endOf(start, member(e.performance, "duration"))
				}
				if err != nil {
					if pass.KindOf(err) != pass.KindInvalid || !strings.Contains(err.Error(), strconv.FormatInt(id, 10)) ||
						d.Fingerprint() != (pass.PerformanceDetails{}).Fingerprint() {
						t.Fatalf("performance %d, %s: got %+v, %v; want no details and an invalid error naming it", id, m.name, d, err)
					}
					if startKnown && endKnown && doorsKnown {
						t.Fatalf("performance %d, %s: got %v for times read here (start %s, end %s, doors %s)", id, m.name, err, start, end, doors)
					}
					continue
				}
				if zoneKnown && d.TimeZone != zone {
					t.Fatalf("performance %d, %s: got time zone %q, want %q", id, m.name, d.TimeZone, zone)
				}
				for _, x := range []struct {
					what      string
					got, want time.Time
					known     bool
				}{{"start", d.Start, start, startKnown}, {"end", d.End, end, endKnown && (startKnown || !end.IsZero())}, {"doors", d.Doors, doors, doorsKnown}} {
					if x.known && !x.got.Equal(x.want) {
						t.Fatalf("performance %d, %s: got %s %s, want %s", id, m.name, x.what, x.got, x.want)
					}
					if d.TimeZone != "" && !x.got.IsZero() && x.got.Location().String() != d.TimeZone {
						t.Fatalf("performance %d, %s: got %s %s, want it in %s", id, m.name, x.what, x.got, d.TimeZone)
					}
				}
				if !m.byOrder && !d.End.IsZero() && !d.End.After(d.Start) {
					t.Fatalf("performance %d: got end %s, not after start %s", id, d.End, d.Start)
				}
				if nameKnown && d.Name != name {
					t.Fatalf("performance %d, %s: got name %q, want %q", id, m.name, d.Name, name)
				}
				if m.byOrder && d.Names != nil {
					t.Fatalf("performance %d: got names %v, want none (an order's field comes first)", id, d.Names)
				}
				for tag, v := range d.Names {
					if tag == "" || strings.TrimSpace(v) == "" {
						t.Fatalf("performance %d: got names %q", id, d.Names)
					}
				}
				want := pass.Venue{Name: venueName}
				if venueKnown && !reflect.DeepEqual(d.Venue, want) {
					t.Fatalf("performance %d, %s: got venue %+v, want %+v (the rest is the order's)", id, m.name, d.Venue, want)
				}
				if !m.byOrder {
					out[id] = d
				}
			}
		}
		return out
	}
	// The sample performance is read here and maps, so the checks are not
	// vacuous.
	d, ok := check(f, catalog, pos)[10228231109243]
	if start := time.Date(2026, 3, 14, 19, 0, 0, 0, time.UTC); !ok || d.Name != "Nuit symphonique" || !d.Start.Equal(start) ||
		!d.End.Equal(start.Add(9000*time.Second)) || d.TimeZone != "Europe/Zurich" {
		f.Fatalf("testdata/catalog.json: got %+v, want the sample performance", d)
	}
	f.Fuzz(func(t *testing.T, catalogBody, posBody []byte) {
		check(t, catalogBody, posBody)
	})
}

// FuzzStoredCatalog stores what a getCatalogDetailed answer parses into
// after an earlier catalogue (a stored copy, or an answer; its
// performances left age seconds ago, or now when age is 0) and reads it
// back (retain, withLeft, storedCatalog, as fetchCatalog and loadStored
// do): the stored copy is JSON, holds the answer's members unchanged,
// and reads back as the same catalogue: every performance with its
// product, and those that left with the time they left. Answers are
// those a call returns (JSON, a success), without the walletpassLeft
// member SecuTix never sends.
func FuzzStoredCatalog(f *testing.F) {
	catalog := readSample(f, "catalog.json")
	stored := []byte(`{"catalogData":{},"walletpassLeft":[{"id":77,"left":"2026-04-30T12:00:00Z","product":{"code":"OLD"},` +
		`"performance":{"id":77,"start":"2026-04-01T20:00:00+02:00"}}]}`)
	for _, c := range []struct {
		body, previous string
		age            uint32
	}{
		{string(catalog), string(catalog), 0},
		{`{"statusCode":"success","catalogData":{"seasons":[]}}`, string(catalog), 0},
		{`{}`, string(catalog), 3600},
		{" {\"catalogData\":{\"products\":[]}} \n", string(catalog), 89 * 24 * 3600},
		{`{"catalogData":{}}`, string(catalog), 91 * 24 * 3600},
		{`{"catalogData":{"products":[{"id":2,"code":"CONC","event":{"performances":[{"id":900,"start":"2026-06-01T20:00:00"}]}}]}}`, string(catalog), 60},
		{`{"statusCode":"SUCCESS","catalogData":{"products":[{"event":{"performances":[{"id":"900"},{"id":900.5},{"id":-1}]}}]},"x":"<&>\u2028"}`, string(stored), 0},
		{string(catalog), string(stored), 0},
		{`{"statusCode":"in_progress"}`, string(catalog), 0},
	} {
		f.Add([]byte(c.body), []byte(c.previous), c.age)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	check := func(t testing.TB, body, previous []byte, age uint32) map[int64]catEntry {
		t.Helper()
		var env envelope
		if json.Unmarshal(body, &env) != nil || checkStatus(MethodGetCatalogDetailed, env) != nil {
			return nil // call refuses it
		}
		root, err := decodeNode(body)
		if err != nil {
			t.Fatalf("an answer call takes does not decode: %v", err)
		}
		if m, ok := root.(map[string]any); ok {
			if _, has := m[leftKey]; has {
				return nil
			}
		}
		prev := map[int64]catEntry{}
		if proot, err := decodeNode(previous); err == nil {
			prev = storedCatalog(proot, now)
		}
		for id, e := range prev {
			if age > 0 && e.left.IsZero() {
				e.left = now.Add(-time.Duration(age) * time.Second)
				prev[id] = e
			}
		}
		perfs := retain(prev, indexCatalog(get(root, "catalogData")), now)
		out := withLeft(body, perfs)
		if !json.Valid(out) {
			t.Fatalf("stored %q: not JSON", out)
		}
		back, err := decodeNode(out)
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := root.(map[string]any); ok {
			for k, v := range m {
				if !reflect.DeepEqual(member(back, k), v) {
					t.Fatalf("the answer's %q became %v, want %v", k, member(back, k), v)
				}
			}
		} else if !reflect.DeepEqual(back, root) {
			t.Fatalf("the answer %v was stored as %v", root, back)
		}
		got := storedCatalog(back, now)
		if len(got) != len(perfs) {
			t.Fatalf("read back %d performances, want %d (stored %s)", len(got), len(perfs), out)
		}
		for id, want := range perfs {
			g, ok := got[id]
			if !ok || !reflect.DeepEqual(g.product, want.product) || !reflect.DeepEqual(g.performance, want.performance) || !g.left.Equal(want.left) {
				t.Fatalf("performance %d read back as %+v (found %v), want %+v", id, g, ok, want)
			}
		}
		return got
	}
	// Two performances that left are stored and read back, so the checks
	// are not vacuous.
	got := check(f, []byte(`{"statusCode":"success","catalogData":{"seasons":[]}}`), catalog, 0)
	if len(got) != 2 || !got[900].left.Equal(now) || !got[10228231109243].left.Equal(now) {
		f.Fatalf("got %v, want the testdata catalogue's two performances, left now", got)
	}
	f.Fuzz(func(t *testing.T, body, previous []byte, age uint32) {
		check(t, body, previous, age)
	})
}
