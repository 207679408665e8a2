package secutix

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"walletpass/pass"
)

// TestTicketContainers: where tickets sit in a movement is not documented,
// so "tickets" and "ticket" are each read as a list or as one object, and
// what is neither (a number, a string) is no ticket rather than an answer
// that cannot be read (a movement without a ticket then lacks its
// barcode: it is left out, and as nothing else maps, the file is an error
// of kind KindUnavailable that names it); the barcode comes from the
// ticket the mapping picked.
func TestTicketContainers(t *testing.T) {
	t.Parallel()
	m := testMapper(t, "en", nil)
	tests := []struct {
		name, movement string
		ticket         int64
		barcode        string // or the error
	}{
		{"tickets: one object", `"tickets":{"ticketId":7,"barcode":"b7"}`, 7, "b7"},
		{"ticket: a list", `"ticket":[{"ticketId":7,"barcode":"b7"},{"ticketId":8,"barcode":"b8"}]`, 8, "b8"},
		{"both, the newest wins", `"tickets":[{"ticketId":9,"barcode":"b9"}],"ticket":{"ticketId":3,"barcode":"b3"}`, 9, "b9"},
		{"a number", `"ticket":123`, 0, "barcode is required"},
		{"a string and a ticket", `"tickets":["x",{"ticketId":4,"barcode":"b4"}]`, 4, "b4"},
		{"a ticket id that is no number", `"tickets":[{"ticketId":"A-1","barcode":"bA"},{"ticketId":5,"barcode":"b5"}]`, 5, "b5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := `{"fileDetailsData":{"fileId":1,"lastModDateTime":"2026-01-01T10:00:00Z"},"orderDetailsDatas":[{"orderId":6,"orderType":"SALE",` +
				`"operationDatas":[` + goodOp + `],"movementDatas":[{"movementId":11,"operationId":1,` + tc.movement + `}]}]}`
			o, err := decodeFile(t, m, []byte(body), 1)
			if tc.ticket == 0 {
				if pass.KindOf(err) != pass.KindUnavailable || !strings.Contains(fmt.Sprint(err), "movement 11 of order 6: "+tc.barcode) {
					t.Fatalf("got %v, %v; want an unavailable file naming the movement: %s", o, err, tc.barcode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(o.Tickets) != 1 {
				t.Fatalf("got %d tickets, want 1", len(o.Tickets))
			}
			if tk := o.Tickets[0]; tk.TicketID != tc.ticket || tk.Barcode != tc.barcode {
				t.Errorf("got ticket %d barcode %q, want %d %q", tk.TicketID, tk.Barcode, tc.ticket, tc.barcode)
			}
		})
	}
}

// TestLastModifiedIsNotRequired: no pass shows the file's lastModDateTime,
// so one that cannot be read is a warning, not a file that cannot map.
func TestLastModifiedIsNotRequired(t *testing.T) {
	t.Parallel()
	body := `{"fileDetailsData":{"fileId":1,"lastModDateTime":"2026-01-01 10:00"},"orderDetailsDatas":[{"orderId":6,"orderType":"SALE",` +
		`"operationDatas":[` + goodOp + `],"movementDatas":[{"movementId":11,"operationId":1,"tickets":[{"ticketId":7,"barcode":"b7"}]}]}]}`
	o, err := decodeFile(t, testMapper(t, "en", nil), []byte(body), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Tickets) != 1 || !o.LastModified.IsZero() || !slices.ContainsFunc(o.Warnings, func(w string) bool { return strings.Contains(w, "lastModDateTime") }) {
		t.Errorf("got %d tickets, LastModified %v, warnings %q; want 1, zero and a warning", len(o.Tickets), o.LastModified, o.Warnings)
	}
}

// TestRetain: a performance the new catalogue lacks stays for a while,
// marked as left when it first went missing, and goes after
// catalogRetention.
func TestRetain(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	e := func(id string) catEntry { return catEntry{performance: map[string]any{"id": id}} }
	cat := retain(nil, map[int64]catEntry{1: e("1"), 2: e("2")}, t0)
	cat = retain(cat, map[int64]catEntry{1: e("1")}, t0.Add(time.Hour))
	if got := cat[2].left; !got.Equal(t0.Add(time.Hour)) || !cat[1].left.IsZero() {
		t.Fatalf("after the first read without 2: %v", cat)
	}
	cat = retain(cat, map[int64]catEntry{1: e("1")}, t0.Add(catalogRetention))
	if got := cat[2].left; !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("2 left at %v, want the first read without it", got)
	}
	cat = retain(cat, map[int64]catEntry{1: e("1")}, t0.Add(time.Hour+catalogRetention))
	if _, ok := cat[2]; ok || len(cat) != 1 {
		t.Errorf("after the retention: %v, want 1 alone", cat)
	}
	cat = retain(cat, map[int64]catEntry{1: e("1"), 2: e("2")}, t0.Add(2*catalogRetention))
	if len(cat) != 2 || !cat[2].left.IsZero() {
		t.Errorf("2 back in the catalogue: %v", cat)
	}
}

// TestUpcomingLeavesOut: a season ticket's upcoming performances leave
// out those cancelled in SecuTix, those the catalogue no longer holds and
// those over; one without a duration is over pass.AssumedLength after
// its start, not at its start.
func TestUpcomingLeavesOut(t *testing.T) {
	t.Parallel()
	m := testMapper(t, "en", nil)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	product := map[string]any{"code": "SHOW", "externalName": "Show"}
	perf := func(start, state string) map[string]any {
		return map[string]any{"start": start, "state": state, "duration": json.Number("3600")} // as the decoder reads it
	}
	cat := &catView{now: now, all: map[int64]catEntry{
		1: {product: product, performance: perf("2026-06-01T20:00:00+02:00", "RUNNING")},
		2: {product: product, performance: perf("2026-06-02T20:00:00+02:00", "CANCELED")},
		3: {product: product, performance: perf("2026-06-03T20:00:00+02:00", "CANCELED_CLOSED")},
		4: {product: product, performance: perf("2026-06-04T20:00:00+02:00", "RUNNING"), left: now.Add(-time.Hour)},
		5: {product: product, performance: perf("2026-06-05T20:00:00+02:00", "SUSPENDED")},
		6: {product: product, performance: map[string]any{"start": "2026-05-01T13:00:00+02:00", "state": "RUNNING"}}, // began an hour ago
		7: {product: product, performance: map[string]any{"start": "2026-05-01T05:00:00+02:00", "state": "RUNNING"}}, // nine hours ago
		8: {product: product, performance: perf("2026-05-01T12:30:00+02:00", "RUNNING")},                             // over half an hour ago
	}}
	var ids []string
	for _, u := range m.upcoming(cat, []string{"SHOW"}, "en") {
		ids = append(ids, u.ID)
	}
	if !slices.Equal(ids, []string{"6", "1", "5"}) {
		t.Errorf("upcoming %v, want [6 1 5]", ids)
	}
}

// TestValidityDatesATicket: a ticket whose operation names no performance
// (a season ticket) is dated by its validity, the ticket's or else the
// movement's, rather than failing its file; a ticket of a catalogue
// performance keeps the performance's start and end.
func TestValidityDatesATicket(t *testing.T) {
	t.Parallel()
	m := testMapper(t, "en", nil)
	const noPerf = `{"operationId":1,"productFamilyType":"PASS","product":"Season 2026-27","locations":[{"siteExternalName":"Hall"}]}`
	file := func(op, movement string) string {
		return `{"fileDetailsData":{"fileId":1,"lastModDateTime":"2026-01-01T10:00:00Z"},"orderDetailsDatas":[{"orderId":6,"orderType":"SALE",` +
			`"operationDatas":[` + op + `],"movementDatas":[{"movementId":11,"operationId":1,` + movement + `}]}]}`
	}
	day := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name, body string
		start, end time.Time
	}{
		{"the ticket's validity", file(noPerf, `"tickets":[{"ticketId":7,"barcode":"b7","validityStartTime":"2026-09-01T00:00:00.000+02:00","validityEndTime":"2027-06-30T23:59:00.000+02:00"}]`),
			day("2026-09-01T00:00:00+02:00"), day("2027-06-30T23:59:00+02:00")},
		{"the movement's validity", file(noPerf, `"startValidityDate":"2026-09-01T00:00:00+02:00","endValidityDate":"2027-06-30T00:00:00+02:00","tickets":[{"ticketId":7,"barcode":"b7"}]`),
			day("2026-09-01T00:00:00+02:00"), day("2027-06-30T00:00:00+02:00")},
	} {
		o, err := decodeFile(t, m, []byte(tc.body), 1)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if e := o.Tickets[0].Event; !e.Start.Equal(tc.start) || !e.End.Equal(tc.end) {
			t.Errorf("%s: %v to %v, want %v to %v", tc.name, e.Start, e.End, tc.start, tc.end)
		}
	}
	// Without a performance or a validity, the ticket is left out, with a
	// warning; the file's other tickets map.
	o, err := decodeFile(t, m, []byte(file(noPerf+`,{"operationId":2,"performanceId":900,"performance":"Show","locations":[{"siteExternalName":"Hall"}]}`,
		`"tickets":[{"ticketId":7,"barcode":"b7"}]},{"movementId":10,"operationId":2,"tickets":[{"ticketId":110,"barcode":"b10"}]`)), 1)
	if err != nil || ticketIDs(o) != "10:VALID" || !strings.Contains(fmt.Sprint(o.Warnings), "movement 11 of order 6: event.start is required") {
		t.Errorf("no date at all: %v, %v; want the ticket left out with a warning", o, err)
	}
}

// TestUnknownEnumValuesWarn: an orderType or fileState SecuTix is not
// known to send still maps (as the nearest known one), with a warning
// naming it on the order's timeline.
func TestUnknownEnumValuesWarn(t *testing.T) {
	t.Parallel()
	body := `{"fileDetailsData":{"fileId":1,"fileState":"ARCHIVED","lastModDateTime":"2026-01-01T10:00:00Z"},"orderDetailsDatas":[` +
		`{"orderId":6,"orderType":"GIFT","operationDatas":[` + goodOp + `],"movementDatas":[{"movementId":11,"operationId":1,"tickets":[{"ticketId":7,"barcode":"b7"}]}]},` +
		`{"orderId":7,"orderType":"REFUND_PARTNER","operationDatas":[` + goodOp + `],"movementDatas":[{"movementId":11,"operationId":1}]}]}`
	o, err := decodeFile(t, testMapper(t, "en", nil), []byte(body), 1)
	if err != nil {
		t.Fatal(err)
	}
	warned := strings.Join(o.Warnings, "\n")
	for _, want := range []string{`fileState "ARCHIVED"`, `orderType "GIFT" is not one SecuTix is known to send; read as a sale`,
		`orderType "REFUND_PARTNER" is not one SecuTix is known to send; read as a refund`} {
		if !strings.Contains(warned, want) {
			t.Errorf("warnings %q lack %q", o.Warnings, want)
		}
	}
	if len(o.Tickets) != 1 || o.Tickets[0].State != pass.TicketCancelled {
		t.Errorf("tickets %+v, want the one refunded", o.Tickets)
	}
}

// TestStoredLeft: the performances that left the catalogue are stored
// beside SecuTix's answer and read back with their time, whatever the
// answer's own members; an answer that is no JSON object is stored as it
// is; what left longer than catalogRetention ago is forgotten.
func TestStoredLeft(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	perfs := map[int64]catEntry{
		1: {product: map[string]any{"code": "A"}, performance: map[string]any{"id": "1"}},
		2: {product: map[string]any{"code": "B"}, performance: map[string]any{"id": "2"}, left: t0},
	}
	for _, body := range []string{`{}`, ` {"statusCode":"success","catalogData":{}} `, "{\n}\n"} {
		stored := withLeft([]byte(body), perfs)
		root, err := decodeNode(stored)
		if err != nil {
			t.Fatalf("%q stored as %s: %v", body, stored, err)
		}
		got := storedCatalog(root, t0.Add(time.Hour))
		if e, ok := got[2]; !ok || !e.left.Equal(t0) || get(e.product, "code") != "B" || len(got) != 1 {
			t.Errorf("%q: read back %v", body, got)
		}
		if got := storedCatalog(root, t0.Add(catalogRetention)); len(got) != 0 {
			t.Errorf("%q after the retention: %v", body, got)
		}
	}
	for _, body := range []string{`[]`, `not json`, ``} {
		if got := withLeft([]byte(body), perfs); string(got) != body {
			t.Errorf("%q stored as %q", body, got)
		}
	}
	if got := withLeft([]byte(`{"a":1}`), map[int64]catEntry{1: perfs[1]}); string(got) != `{"a":1}` {
		t.Errorf("nothing left: %s", got)
	}
}
