package secutix

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"walletpass/pass"
)

// fileOfOrders wraps orders into a getFileDetails answer of file 5 in state.
func fileOfOrders(state string, orders ...string) string {
	return `{"statusCode":"success","fileDetailsData":{"fileId":5,"fileState":"` + state + `","lastModDateTime":"2026-01-01T10:00:00Z"},` +
		`"orderDetailsDatas":[` + strings.Join(orders, ",") + `]}`
}

// orderOf is an order of the given type with operations and movements.
func orderOf(id int, orderType, created, ops, movements string) string {
	return fmt.Sprintf(`{"orderId":%d,"orderSecretId":"s%d","orderType":%q,"creationDateTime":%q,"catalogCurrency":{"currencyCode":"CHF"},`+
		`"operationDatas":[%s],"movementDatas":[%s]}`, id, id, orderType, created, ops, movements)
}

// goodMv is a movement of goodOp with a printed ticket.
const goodMv = `{"movementId":10,"operationId":1,"tickets":[{"ticketId":110,"barcode":"b10","ticketState":"VALID","cancellationCause":"NOT_CANCELLED"}]}`

// ticketIDs lists the movements and states of o's tickets.
func ticketIDs(o *pass.Order) string {
	var b strings.Builder
	for _, t := range o.Tickets {
		fmt.Fprintf(&b, "%d:%s ", t.MovementID, t.State)
	}
	return strings.TrimSpace(b.String())
}

// TestMovementsLeftOut: a movement that cannot become a ticket leaves the
// rest of its file mapped: it is left out of the order's tickets, with a
// warning that names it and says why, where the whole file used to fail
// (and with it every pass of the order).
func TestMovementsLeftOut(t *testing.T) {
	t.Parallel()
	m := testMapper(t, "en", nil)
	const (
		parking = `{"operationId":2,"kind":"SIMPLE_PRODUCT","product":"Parking P1","productCode":"PARK","locations":[{"siteExternalName":"Hall"}]}`
		gone    = `{"operationId":2,"performanceId":77,"performance":"Show","locations":[{"siteExternalName":"Hall"}]}`
	)
	tests := []struct {
		name, ops, movement, want string
	}{
		{"a NOT_PRINTED ticket without a barcode yet", goodOp,
			`{"movementId":9,"operationId":1,"tickets":[{"ticketId":109,"ticketState":"NOT_PRINTED","cancellationCause":"NOT_CANCELLED"}]}`,
			"movement 9 of order 6: barcode is required"},
		{"a SIMPLE_PRODUCT line without a performance", goodOp + "," + parking,
			`{"movementId":9,"operationId":2,"tickets":[{"ticketId":109,"barcode":"p9"}]}`,
			"movement 9 of order 6: operation 2 is a SIMPLE_PRODUCT (parking, merchandise: no entry to an event); no pass"},
		{"a SIMPLE_PRODUCT line of a performance", goodOp + `,{"operationId":2,"kind":"simple_product","performanceId":900,"performance":"Show","locations":[{"siteExternalName":"Hall"}]}`,
			`{"movementId":9,"operationId":2,"tickets":[{"ticketId":109,"barcode":"p9"}]}`,
			"movement 9 of order 6: operation 2 is a SIMPLE_PRODUCT"},
		{"a performance the catalogue does not hold", goodOp + "," + gone,
			`{"movementId":9,"operationId":2,"tickets":[{"ticketId":109,"barcode":"b9"}]}`,
			"movement 9 of order 6: performance 77 is not in the catalogue (getCatalogDetailed), so its start is unknown"},
		{"no venue", goodOp + `,{"operationId":2,"performanceId":900,"performance":"Show"}`,
			`{"movementId":9,"operationId":2,"tickets":[{"ticketId":109,"barcode":"b9"}]}`,
			"movement 9 of order 6: venue.name is required"},
		{"an operation the order lacks", goodOp, `{"movementId":9,"operationId":3,"tickets":[{"barcode":"b9"}]}`,
			"movement 9 of order 6: operation 3 is not in the order"},
		{"a price that is no number", goodOp + `,{"operationId":2,"performanceId":900,"performance":"Show","unitPrice":"cheap","locations":[{"siteExternalName":"Hall"}]}`,
			`{"movementId":9,"operationId":2,"tickets":[{"ticketId":109,"barcode":"b9"}]}`,
			"movement 9 of order 6: price (operation.unitPrice)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := fileOfOrders("CONFIRMED", orderOf(6, "SALE", "2026-03-01T10:00:00Z", tc.ops, goodMv+","+tc.movement))
			o, err := decodeFile(t, m, []byte(body), 5)
			if err != nil {
				t.Fatalf("the file failed: %v", err)
			}
			if got := ticketIDs(o); got != "10:VALID" {
				t.Errorf("tickets %s, want 10:VALID alone", got)
			}
			if len(o.Tickets) == 1 && o.Tickets[0].Barcode != "b10" {
				t.Errorf("barcode %q, want the first movement's", o.Tickets[0].Barcode)
			}
			if w := strings.Join(o.Warnings, "\n"); !strings.Contains(w, tc.want) {
				t.Errorf("warnings %q, want one containing %q", o.Warnings, tc.want)
			}
		})
	}
}

// TestNothingMaps: a file none of whose movements maps is an error
// naming the movements: of kind KindInvalid when walletpass cannot read
// what is there (the tenant's mapping or symbology must change: the task
// stops), of kind KindUnavailable when a movement that is not cancelled
// lacks what a pass needs (no barcode yet, a performance the catalogue
// lacks, a barcode where the tenant's paths do not read: the sync is
// retried, and dies visibly if it never maps, rather than succeeding
// without a pass). A file whose movements are no tickets (parking, unpaid
// holds), or cancelled ones that cannot be mapped, is an order without
// tickets; so is one where some ticket maps (TestMovementsLeftOut).
func TestNothingMaps(t *testing.T) {
	t.Parallel()
	const parking = `{"operationId":2,"kind":"SIMPLE_PRODUCT","product":"Parking P1","locations":[{"siteExternalName":"Hall"}]}`
	tests := []struct {
		name      string
		fields    map[string]string
		symbology pass.Symbology
		orderType string
		ops       string
		movements string
		wantKind  pass.Kind // 0 for an order without tickets
		wantErr   string
	}{
		{"no barcode yet", nil, "", "SALE", goodOp, `{"movementId":9,"operationId":1,"tickets":[{"ticketState":"NOT_PRINTED"}]}`,
			pass.KindUnavailable, "no ticket maps yet: movement 9 of order 6: barcode is required"},
		{"the barcode where the tenant's paths do not read", map[string]string{"barcode": "movement.barCode"}, "", "SALE", goodOp,
			`{"movementId":9,"operationId":1,"tickets":[{"ticketId":109,"barcode":"b9"}]},{"movementId":10,"operationId":1,"tickets":[{"ticketId":110,"barcode":"b10"}]}`,
			pass.KindUnavailable, "no ticket maps yet: movement 9 of order 6: barcode is required; movement 10 of order 6: barcode is required"},
		{"a performance the catalogue lacks", nil, "", "SALE", `{"operationId":1,"performanceId":77,"performance":"Show","locations":[{"siteExternalName":"Hall"}]}`,
			`{"movementId":9,"operationId":1,"tickets":[{"ticketId":109,"barcode":"b9"}]}`,
			pass.KindUnavailable, "movement 9 of order 6: performance 77 is not in the catalogue"},
		{"no barcode yet, beside parking", nil, "", "SALE", goodOp + "," + parking,
			`{"movementId":9,"operationId":1,"tickets":[{"ticketState":"NOT_PRINTED"}]},{"movementId":10,"operationId":2,"tickets":[{"barcode":"p10"}]}`,
			pass.KindUnavailable, "no ticket maps yet: movement 9 of order 6: barcode is required"},
		{"parking alone", nil, "", "SALE", goodOp + "," + parking,
			`{"movementId":9,"operationId":2,"tickets":[{"barcode":"p9"}]},{"movementId":10,"operationId":2,"tickets":[{"barcode":"p10"}]}`, 0, ""},
		{"an unpaid hold alone, without a barcode yet", nil, "", "OPTION", goodOp, `{"movementId":9,"operationId":1,"tickets":[{"ticketState":"NOT_PRINTED"}]}`, 0, ""},
		{"a cancelled ticket nothing dates", nil, "", "SALE", `{"operationId":1,"performanceId":77,"performance":"Show","locations":[{"siteExternalName":"Hall"}]}`,
			`{"movementId":9,"operationId":1,"tickets":[{"ticketId":109,"ticketState":"CANCELLED"}]}`, 0, ""},
		{"a date the tenant's mapping cannot read", map[string]string{"eventStart": "movement.instanceNumber"}, "", "SALE", goodOp,
			`{"movementId":9,"operationId":1,"instanceNumber":"1","tickets":[{"barcode":"b9"}]}`,
			pass.KindInvalid, `no ticket maps: movement 9 of order 6: eventStart: "1" is not an ISO-8601 date-time`},
		{"barcodes the tenant's symbology cannot print", nil, pass.SymbologyEAN13, "SALE", goodOp,
			`{"movementId":9,"operationId":1,"tickets":[{"barcode":"2276812732345698540800199237"}]}`,
			pass.KindInvalid, "no ticket maps: movement 9 of order 6: barcode must be 13 digits for ean13"},
		{"one lacking, one unreadable", map[string]string{"ticketId": "movement.seatCategory"}, "", "SALE", goodOp,
			`{"movementId":9,"operationId":1,"seatCategory":"Cat 1","tickets":[{"barcode":"b9"}]},{"movementId":10,"operationId":1}`,
			pass.KindInvalid, "no ticket maps: movement 9 of order 6: ticketId (movement.seatCategory)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := testMapper(t, "en", tc.fields)
			m.symbology = tc.symbology
			body := fileOfOrders("CONFIRMED", orderOf(6, tc.orderType, "", tc.ops, tc.movements))
			o, err := decodeFile(t, m, []byte(body), 5)
			if tc.wantKind == 0 {
				if err != nil || len(o.Tickets) != 0 || len(o.Warnings) == 0 {
					t.Fatalf("got %v, %v; want an order without tickets, with warnings", o, err)
				}
				return
			}
			if pass.KindOf(err) != tc.wantKind || !strings.Contains(fmt.Sprint(err), tc.wantErr) {
				t.Fatalf("got %v, %v (%s); want a file of kind %s: %s", o, err, pass.KindOf(err), tc.wantKind, tc.wantErr)
			}
		})
	}
}

// TestCancelledWithoutItsPerformance: a refund of a ticket whose
// performance the catalogue no longer holds (it exports only what runs or
// is suspended) still voids the ticket: it maps as cancelled, dated by its
// validity or else by its order, apart from its performance (a stand-in
// date must not reach what the performance's passes share), with a
// warning; without a barcode too. It is VoidOnly and EventUnknown: it
// voids a pass made of it, which keeps the event it shows, and makes
// none. A valid ticket of such a performance is left out instead.
func TestCancelledWithoutItsPerformance(t *testing.T) {
	t.Parallel()
	m := testMapper(t, "en", nil)
	const gone = `{"operationId":1,"performanceId":77,"performance":"Show","locations":[{"siteExternalName":"Hall"}]}`
	zurich, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		t.Skip("no time zone database")
	}
	refund := orderOf(7, "REFUND_CLIENT", "2026-03-05T10:00:00Z", gone, `{"movementId":31,"operationId":1,"seatId":501}`)
	sale := func(ticket string) string {
		return orderOf(6, "SALE", "2026-03-01T10:00:00+01:00", gone,
			`{"movementId":1,"operationId":1,"seatId":501,"tickets":[`+ticket+`]},`+
				`{"movementId":2,"operationId":1,"seatId":502,"tickets":[{"ticketId":102,"barcode":"b2","ticketState":"VALID"}]}`)
	}
	tests := []struct {
		name       string
		body       string
		start, end time.Time
		from       string
	}{
		{"dated by its validity",
			fileOfOrders("SOLDED", sale(`{"ticketId":101,"barcode":"b1","ticketState":"VALID","validityStartTime":"2026-03-14T18:00:00.000+01:00","validityEndTime":"2026-03-15T02:00:00.000+01:00"}`), refund),
			time.Date(2026, 3, 14, 18, 0, 0, 0, zurich), time.Date(2026, 3, 15, 2, 0, 0, 0, zurich), "dated by its validity"},
		{"dated by a validity without a time",
			fileOfOrders("SOLDED", sale(`{"ticketId":101,"barcode":"b1"}`), refund),
			time.Date(2026, 3, 14, 0, 0, 0, 0, zurich), time.Date(2026, 3, 14, 23, 59, 59, 0, zurich), "dated by its validity"},
		{"dated by its order",
			fileOfOrders("SOLDED", sale(`{"ticketId":101,"barcode":"b1","ticketState":"VALID"}`), refund),
			time.Date(2026, 3, 1, 10, 0, 0, 0, zurich), time.Time{}, "dated by its order's creationDateTime"},
		{"cancelled before it was printed",
			fileOfOrders("SOLDED", sale(`{"ticketId":101,"ticketState":"CANCELLED","cancellationCause":"CANCELLED"}`)),
			time.Date(2026, 3, 1, 10, 0, 0, 0, zurich), time.Time{}, "dated by its order's creationDateTime"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := tc.body
			if strings.Contains(tc.name, "without a time") {
				body = strings.Replace(body, `"seatId":501,`, `"seatId":501,"startValidityDate":"2026-03-14","endValidityDate":"2026-03-14",`, 1)
			}
			o, err := decodeFile(t, m, []byte(body), 5)
			if err != nil {
				t.Fatalf("the file failed: %v", err)
			}
			if got := ticketIDs(o); got != "1:CANCELLED" {
				t.Fatalf("tickets %s, want 1:CANCELLED alone (2 has no date)", got)
			}
			e := o.Tickets[0].Event
			if !e.Start.Equal(tc.start) || !e.End.Equal(tc.end) || e.PerformanceID != 0 || e.Name != "Show" {
				t.Errorf("event %+v, want %s to %s, without its performance", e, tc.start, tc.end)
			}
			if tk := o.Tickets[0]; !tk.VoidOnly || !tk.EventUnknown {
				t.Errorf("void-only %v, event unknown %v; want both: the stand-in date is no pass's", tk.VoidOnly, tk.EventUnknown)
			}
			w := strings.Join(o.Warnings, "\n")
			for _, want := range []string{
				"movement 1 of order 6: performance 77 is not in the catalogue (getCatalogDetailed); the ticket is cancelled, so it is mapped to void a pass made of it (none is made), " + tc.from,
				"movement 2 of order 6: performance 77 is not in the catalogue (getCatalogDetailed), so its start is unknown",
			} {
				if !strings.Contains(w, want) {
					t.Errorf("warnings %q lack %q", o.Warnings, want)
				}
			}
		})
	}
	// Nothing dates it: left out, with a warning.
	body := fileOfOrders("CANCELED", orderOf(6, "SALE", "", gone, `{"movementId":1,"operationId":1,"tickets":[{"ticketId":101}]}`))
	o, err := decodeFile(t, m, []byte(body), 5)
	if err != nil || len(o.Tickets) != 0 ||
		!strings.Contains(strings.Join(o.Warnings, "\n"), "movement 1 of order 6: cancelled, but neither the catalogue, its validity nor its order's creationDateTime dates it") {
		t.Errorf("no date at all: %v, %v; want no ticket and a warning", o, err)
	}
}

// TestCancellationCause: a ticket is cancelled when its ticketState says
// so, or when its cancellationCause is one known to mean it (the values
// the sandbox sends, and spellings of cancelled); an unknown cause leaves
// the ticketState to decide, with a warning, as an unknown ticketState
// does. SecuTix's record shows only NOT_CANCELLED.
func TestCancellationCause(t *testing.T) {
	t.Parallel()
	m := testMapper(t, "en", nil)
	tests := []struct {
		state, cause string
		want         pass.TicketState
		warn         string
	}{
		{"VALID", "NOT_CANCELLED", pass.TicketValid, ""},
		{"VALID", "", pass.TicketValid, ""},
		{"VALID", "CANCELLED", pass.TicketCancelled, ""},
		{"PRINTED", "cancelled", pass.TicketCancelled, ""},
		{"VALID", "CANCELED", pass.TicketCancelled, ""},
		{"VALID", "REFUNDED", pass.TicketCancelled, ""},
		{"INVALIDATED", "REPRINTED", pass.TicketCancelled, ""},
		{"VALID", "TRANSFERRED", pass.TicketCancelled, ""},
		{"VALID", "SEAT_SWAPPED", pass.TicketValid, `unknown cancellationCause "SEAT_SWAPPED"; the ticketState decides (VALID)`},
		{"NOT_PRINTED", "EXCHANGED", pass.TicketValid, `unknown cancellationCause "EXCHANGED"; the ticketState decides (VALID)`},
		{"CONTROLLED", "EXCHANGED", pass.TicketUsed, `unknown cancellationCause "EXCHANGED"; the ticketState decides (USED)`},
		{"CANCELLED", "EXCHANGED", pass.TicketCancelled, ""},
	}
	for _, tc := range tests {
		t.Run(tc.state+" "+tc.cause, func(t *testing.T) {
			t.Parallel()
			mv := fmt.Sprintf(`{"movementId":9,"operationId":1,"tickets":[{"ticketId":109,"barcode":"b9","ticketState":%q,"cancellationCause":%q}]}`, tc.state, tc.cause)
			o, err := decodeFile(t, m, []byte(fileOfOrders("CONFIRMED", orderOf(6, "SALE", "", goodOp, mv))), 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(o.Tickets) != 1 || o.Tickets[0].State != tc.want {
				t.Fatalf("tickets %s, want 9:%s", ticketIDs(o), tc.want)
			}
			w := strings.Join(o.Warnings, "\n")
			if tc.warn == "" && w != "" {
				t.Errorf("warnings %q, want none", o.Warnings)
			}
			if tc.warn != "" && !strings.Contains(w, "movement 9 of order 6: "+tc.warn) {
				t.Errorf("warnings %q, want %q", o.Warnings, tc.warn)
			}
		})
	}
}

// TestUnpaidHolds: a reservation or an option (orderType RESERVATION or
// OPTION, or an order that is not a sale in a file IN_RESERVATION,
// IN_OPTION or OPTION_RESERV) is an unpaid hold: no pass, and a warning
// saying so. A sale is paid whatever its file's state. A hold SecuTix
// frees or cancels maps as cancelled, so that a pass an earlier walletpass
// made for it does not stay valid; a hold whose movement a sale of the
// file holds too is that sale's ticket, without a warning.
func TestUnpaidHolds(t *testing.T) {
	t.Parallel()
	m := testMapper(t, "en", nil)
	mv := func(id int) string {
		return fmt.Sprintf(`{"movementId":%d,"operationId":1,"seatId":%d,"tickets":[{"ticketId":%d,"barcode":"b%d"}]}`, id, 500+id, 100+id, id)
	}
	tests := []struct {
		name    string
		body    string
		tickets string
		warn    string
	}{
		{"a reservation", fileOfOrders("IN_RESERVATION", orderOf(6, "RESERVATION", "", goodOp, mv(1))),
			"", "movement 1 of order 6: an unpaid hold (orderType RESERVATION); no pass until it is sold"},
		{"an option, whatever its file says", fileOfOrders("CONFIRMED", orderOf(6, "OPTION", "", goodOp, mv(1))),
			"", "movement 1 of order 6: an unpaid hold (orderType OPTION); no pass until it is sold"},
		{"a renewal in a file in option and reservation", fileOfOrders("OPTION_RESERV", orderOf(6, "RENEWAL", "", goodOp, mv(1))),
			"", "movement 1 of order 6: an unpaid hold (fileState OPTION_RESERV); no pass until it is sold"},
		{"a sale beside an option", fileOfOrders("IN_OPTION", orderOf(6, "SALE", "", goodOp, mv(1)), orderOf(7, "OPTION", "", goodOp, mv(2))),
			"1:VALID", "movement 2 of order 7: an unpaid hold (orderType OPTION)"},
		{"an option that lapsed", fileOfOrders("NOT_SOLDED", orderOf(6, "OPTION", "", goodOp, mv(1)), orderOf(7, "OPTION_FREEING", "", goodOp, mv(1))),
			"1:CANCELLED", ""},
		{"a reservation of a cancelled file", fileOfOrders("CANCELED", orderOf(6, "RESERVATION", "", goodOp, mv(1))),
			"1:CANCELLED", ""},
		{"a reservation sold", fileOfOrders("SOLDED", orderOf(6, "RESERVATION", "", goodOp, mv(1)), orderOf(7, "SALE", "", goodOp, mv(1))),
			"1:VALID", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := decodeFile(t, m, []byte(tc.body), 5)
			if err != nil {
				t.Fatalf("the file failed: %v", err)
			}
			if got := ticketIDs(o); got != tc.tickets {
				t.Errorf("tickets %q, want %q", got, tc.tickets)
			}
			w := strings.Join(o.Warnings, "\n")
			if tc.warn == "" && w != "" {
				t.Errorf("warnings %q, want none", o.Warnings)
			}
			if !strings.Contains(w, tc.warn) {
				t.Errorf("warnings %q, want %q", o.Warnings, tc.warn)
			}
		})
	}
}

// TestDateOnlyValidity: a validity given as a date without a time
// (startValidityDate and endValidityDate have no recorded format) is the
// whole day in the point of sale's time zone: its start for a start, its
// last second for an end; a date-time still reads as one. Without a time
// zone, the day is UTC's, with a warning.
func TestDateOnlyValidity(t *testing.T) {
	t.Parallel()
	zurich, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		t.Skip("no time zone database")
	}
	const season = `{"operationId":1,"productFamilyType":"PASS","product":"Season 2026-27","locations":[{"siteExternalName":"Hall"}]}`
	tests := []struct {
		name, movement string
		fields         map[string]string
		start, end     time.Time
		warn           string
	}{
		{"the movement's dates", `"startValidityDate":"2026-09-01","endValidityDate":"2027-06-30","tickets":[{"ticketId":7,"barcode":"b7"}]`, nil,
			time.Date(2026, 9, 1, 0, 0, 0, 0, zurich), time.Date(2027, 6, 30, 23, 59, 59, 0, zurich), ""},
		{"the ticket's dates", `"tickets":[{"ticketId":7,"barcode":"b7","validityStartTime":" 2026-09-01 ","validityEndTime":"2027-06-30"}]`, nil,
			time.Date(2026, 9, 1, 0, 0, 0, 0, zurich), time.Date(2027, 6, 30, 23, 59, 59, 0, zurich), ""},
		{"one day", `"startValidityDate":"2026-09-01","endValidityDate":"2026-09-01","tickets":[{"ticketId":7,"barcode":"b7"}]`, nil,
			time.Date(2026, 9, 1, 0, 0, 0, 0, zurich), time.Date(2026, 9, 1, 23, 59, 59, 0, zurich), ""},
		{"a date and a date-time", `"startValidityDate":"2026-09-01","endValidityDate":"2027-06-30T18:00:00+02:00","tickets":[{"ticketId":7,"barcode":"b7"}]`, nil,
			time.Date(2026, 9, 1, 0, 0, 0, 0, zurich), time.Date(2027, 6, 30, 18, 0, 0, 0, zurich), ""},
		{"no time zone", `"startValidityDate":"2026-09-01","endValidityDate":"2027-06-30","tickets":[{"ticketId":7,"barcode":"b7"}]`,
			map[string]string{"timeZone": ""},
			time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC),
			`movement 11 of order 6: validityStart "2026-09-01" has no time and the point of sale's time zone is unknown; read in UTC`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := fileOfOrders("CONFIRMED", orderOf(6, "SALE", "", season, `{"movementId":11,"operationId":1,`+tc.movement+`}`))
			o, err := decodeFile(t, testMapper(t, "en", tc.fields), []byte(body), 5)
			if err != nil {
				t.Fatalf("the file failed: %v", err)
			}
			if len(o.Tickets) != 1 {
				t.Fatalf("tickets %q, warnings %q; want one", ticketIDs(o), o.Warnings)
			}
			if e := o.Tickets[0].Event; !e.Start.Equal(tc.start) || !e.End.Equal(tc.end) {
				t.Errorf("%s to %s, want %s to %s", e.Start, e.End, tc.start, tc.end)
			}
			if w := strings.Join(o.Warnings, "\n"); (tc.warn == "") != (w == "") || !strings.Contains(w, tc.warn) {
				t.Errorf("warnings %q, want %q", o.Warnings, tc.warn)
			}
		})
	}
}

// TestLeftOutWarningsCapped: a file with many movements left out (a group
// order of parking places) names the first maxWarnings of them and
// counts the rest, rather than writing a timeline entry for each at every
// sync.
func TestLeftOutWarningsCapped(t *testing.T) {
	t.Parallel()
	mvs := []string{goodMv}
	for i := range maxWarnings + 5 {
		mvs = append(mvs, fmt.Sprintf(`{"movementId":%d,"operationId":2,"tickets":[{"ticketId":%d,"barcode":"p%d"}]}`, 100+i, 1000+i, i))
	}
	ops := goodOp + `,{"operationId":2,"kind":"SIMPLE_PRODUCT","product":"Parking"}`
	o, err := decodeFile(t, testMapper(t, "en", nil), []byte(fileOfOrders("CONFIRMED", orderOf(6, "SALE", "", ops, strings.Join(mvs, ",")))), 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := ticketIDs(o); got != "10:VALID" {
		t.Errorf("tickets %s, want 10:VALID", got)
	}
	if len(o.Warnings) != maxWarnings+1 || o.Warnings[maxWarnings] != "file 5: 5 more warnings, 5 of them movements left out" {
		t.Errorf("%d warnings, the last %q; want %d and a count of the 5 more", len(o.Warnings), o.Warnings[len(o.Warnings)-1], maxWarnings+1)
	}
}

// TestWarningsCapped: the warnings of one mapping are capped as a whole,
// not only those of the movements left out: a large order whose every
// ticket carries a note (an unknown ticketState) writes maxWarnings of
// them and a count of the rest at each sync; the movements left out come
// first, before the notes on the tickets that map.
func TestWarningsCapped(t *testing.T) {
	t.Parallel()
	var mvs []string
	for i := range maxWarnings + 5 {
		mvs = append(mvs, fmt.Sprintf(`{"movementId":%d,"operationId":1,"tickets":[{"ticketId":%d,"barcode":"b%d","ticketState":"LOST"}]}`, 100+i, 1000+i, i))
	}
	mvs = append(mvs, `{"movementId":9,"operationId":1,"tickets":[{"ticketId":109,"ticketState":"NOT_PRINTED"}]}`)
	o, err := decodeFile(t, testMapper(t, "en", nil), []byte(fileOfOrders("CONFIRMED", orderOf(6, "SALE", "", goodOp, strings.Join(mvs, ",")))), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Tickets) != maxWarnings+5 {
		t.Fatalf("%d tickets, want %d", len(o.Tickets), maxWarnings+5)
	}
	if len(o.Warnings) != maxWarnings+1 {
		t.Fatalf("%d warnings (%q), want %d", len(o.Warnings), o.Warnings, maxWarnings+1)
	}
	if w := o.Warnings[0]; w != "movement 9 of order 6: barcode is required" {
		t.Errorf("the first warning is %q, want the movement left out", w)
	}
	if w := o.Warnings[1]; w != `movement 100 of order 6: unknown ticketState "LOST", taken as valid` {
		t.Errorf("the second warning is %q, want the first ticket's note", w)
	}
	if w := o.Warnings[maxWarnings]; w != "file 5: 6 more warnings" {
		t.Errorf("the last warning is %q, want a count of the 6 more", w)
	}
}

// TestCancelledDespiteUnreadableValues: a value walletpass cannot read
// leaves a valid ticket out, but not a cancelled one, which is mapped
// without it (a warning says so), so that its pass is voided.
func TestCancelledDespiteUnreadableValues(t *testing.T) {
	t.Parallel()
	const op = `{"operationId":1,"performanceId":900,"performance":"Show","unitPrice":"cheap","locations":[{"siteExternalName":"Hall"}]}`
	mv := `{"movementId":9,"operationId":1,"startValidityDate":"soon","tickets":[{"ticketId":"T-1","ticketState":"CANCELLED"}]}`
	o, err := decodeFile(t, testMapper(t, "en", map[string]string{"eventStart": "movement.startValidityDate"}),
		[]byte(fileOfOrders("CONFIRMED", orderOf(6, "SALE", "2026-03-01T10:00:00Z", op, mv))), 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := ticketIDs(o); got != "9:CANCELLED" {
		t.Fatalf("tickets %s, want 9:CANCELLED", got)
	}
	if tk := o.Tickets[0]; tk.TicketID != 0 || tk.Price != (pass.Money{}) || !tk.Event.Start.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("ticket %+v, want no ticket id, no price, dated by its order", tk)
	}
	w := strings.Join(o.Warnings, "\n")
	for _, want := range []string{
		"movement 9 of order 6: ticketId (ticket.ticketId)", "movement 9 of order 6: eventStart:", "movement 9 of order 6: validityStart:",
		"movement 9 of order 6: price (operation.unitPrice)", "ignored, as the ticket is cancelled",
		"movement 9 of order 6: performance 900 has no start walletpass can read; the ticket is cancelled, so it is mapped to void a pass made of it (none is made), dated by its order's creationDateTime",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q lack %q", o.Warnings, want)
		}
	}
}
