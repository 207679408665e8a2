package secutix

import (
	"fmt"
	"strings"
	"testing"

	"walletpass/pass"
)

// TestReissueNotPrintedYet: a movement whose newest ticket (a reprint, a
// transfer) is not printed yet (no barcode) while the older one it
// replaces is cancelled maps as that cancelled ticket (its ticketId and
// barcode), VoidOnly, with a warning: the pass of the old ticket is
// voided (its barcode no longer opens the gate), and none is made; the
// new ticket maps once it has its barcode. Before, the movement was left
// out as lacking, and the old ticket's pass stayed valid.
func TestReissueNotPrintedYet(t *testing.T) {
	t.Parallel()
	const (
		old     = `{"ticketId":101,"barcode":"b101","ticketState":"CANCELLED","cancellationCause":"REPRINTED","creationDate":"2026-03-01T10:00:00Z"}`
		invalid = `{"ticketId":101,"barcode":"b101","ticketState":"INVALIDATED","cancellationCause":"TRANSFERRED","creationDate":"2026-03-01T10:00:00Z"}`
		valid   = `{"ticketId":101,"barcode":"b101","ticketState":"VALID","creationDate":"2026-03-01T10:00:00Z"}`
		pending = `{"ticketId":102,"ticketState":"NOT_PRINTED","creationDate":"2026-03-05T10:00:00Z"}`
		printed = `{"ticketId":102,"barcode":"b102","ticketState":"VALID","creationDate":"2026-03-05T10:00:00Z"}`
		gone    = `{"operationId":1,"performanceId":77,"performance":"Show","locations":[{"siteExternalName":"Hall"}]}`
	)
	tests := []struct {
		name, op, tickets string
		want              string // ticket id, barcode, state, VoidOnly, EventUnknown; "" for none
		warn              string
	}{
		{"the new ticket not printed yet", goodOp, old + "," + pending, "101 b101 CANCELLED void-only",
			"movement 9 of order 6: its new ticket 102 is not printed yet (no barcode) and the ticket 101 it replaces is cancelled"},
		{"listed newest first", goodOp, pending + "," + old, "101 b101 CANCELLED void-only", "the ticket 101 it replaces is cancelled"},
		{"invalidated, its performance gone", gone, invalid + "," + pending, "101 b101 CANCELLED void-only event-unknown",
			"the ticket 101 it replaces is cancelled"},
		{"the new ticket printed", goodOp, old + "," + printed, "102 b102 VALID", ""},
		{"the older ticket valid", goodOp, valid + "," + pending, "", "movement 9 of order 6: barcode is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mv := `{"movementId":9,"operationId":1,"tickets":[` + tc.tickets + `]}`
			o, err := decodeFile(t, testMapper(t, "en", nil), []byte(fileOfOrders("CONFIRMED", orderOf(6, "SALE", "2026-02-01T10:00:00Z", tc.op, mv))), 5)
			if tc.want == "" {
				if pass.KindOf(err) != pass.KindUnavailable || !strings.Contains(fmt.Sprint(err), tc.warn) {
					t.Fatalf("got %v, %v; want nothing mapped, retried: %s", o, err, tc.warn)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(o.Tickets) != 1 {
				t.Fatalf("tickets %q, warnings %q; want one", ticketIDs(o), o.Warnings)
			}
			if got := describe(o.Tickets[0]); got != tc.want {
				t.Errorf("ticket %q, want %q", got, tc.want)
			}
			if w := strings.Join(o.Warnings, "\n"); !strings.Contains(w, tc.warn) {
				t.Errorf("warnings %q, want %q", o.Warnings, tc.warn)
			}
		})
	}
}

// describe sums up what a test of voids looks at in a ticket.
func describe(tk pass.Ticket) string {
	s := fmt.Sprintf("%d %s %s", tk.TicketID, tk.Barcode, tk.State)
	if tk.VoidOnly {
		s += " void-only"
	}
	if tk.EventUnknown {
		s += " event-unknown"
	}
	return s
}

// TestVoidOnly: a cancelled SIMPLE_PRODUCT line and a cancelled hold map
// as cancelled, VoidOnly (they void a pass an earlier release made of
// them, and make none), with or without a performance; without one, or
// with one the catalogue no longer holds, their date is a stand-in
// (EventUnknown, no performance id), as for any cancelled ticket the
// catalogue cannot date. A cancelled ticket of a performance the
// catalogue holds is neither; a valid SIMPLE_PRODUCT line is still left
// out. Before, a cancelled one without a performance was left out, so
// the pass an earlier release made of it stayed valid.
func TestVoidOnly(t *testing.T) {
	t.Parallel()
	const (
		parking     = `{"operationId":2,"kind":"SIMPLE_PRODUCT","product":"Parking P1","locations":[{"siteExternalName":"Hall"}]}`
		parkingShow = `{"operationId":2,"kind":"SIMPLE_PRODUCT","performanceId":900,"performance":"Show","locations":[{"siteExternalName":"Hall"}]}`
		gone        = `{"operationId":2,"performanceId":77,"performance":"Show","locations":[{"siteExternalName":"Hall"}]}`
		noPerf      = `{"operationId":2,"product":"Season","locations":[{"siteExternalName":"Hall"}]}`
		cancelled   = `{"movementId":9,"operationId":2,"tickets":[{"ticketId":109,"barcode":"b9","ticketState":"CANCELLED"}]}`
		validity    = `{"movementId":9,"operationId":2,"startValidityDate":"2026-03-14T18:00:00+01:00","tickets":[{"ticketId":109,"barcode":"b9","ticketState":"CANCELLED"}]}`
	)
	sale := func(ops, mv string) string {
		return fileOfOrders("CONFIRMED", orderOf(6, "SALE", "2026-03-01T10:00:00Z", goodOp+","+ops, goodMv+","+mv))
	}
	tests := []struct {
		name, body string
		want       string // the movement 9's ticket; "" when it is left out
		perf       int64
	}{
		{"a cancelled parking line", sale(parking, cancelled), "109 b9 CANCELLED void-only event-unknown", 0},
		{"a cancelled parking line with a validity", sale(parking, validity), "109 b9 CANCELLED void-only event-unknown", 0},
		{"a cancelled parking line of a performance", sale(parkingShow, cancelled), "109 b9 CANCELLED void-only", 900},
		{"a valid parking line", sale(parking, `{"movementId":9,"operationId":2,"tickets":[{"ticketId":109,"barcode":"b9"}]}`), "", 0},
		{"a lapsed option without a performance", fileOfOrders("NOT_SOLDED",
			orderOf(6, "SALE", "2026-03-01T10:00:00Z", goodOp, goodMv),
			orderOf(7, "OPTION", "2026-03-01T11:00:00Z", noPerf, `{"movementId":9,"operationId":2,"tickets":[{"ticketId":109,"barcode":"b9"}]}`),
			orderOf(8, "OPTION_FREEING", "2026-03-02T11:00:00Z", noPerf, `{"movementId":9,"operationId":2}`)),
			"109 b9 CANCELLED void-only event-unknown", 0},
		{"a refund, its performance gone", sale(gone, cancelled), "109 b9 CANCELLED void-only event-unknown", 0},
		{"a refund of a performance the catalogue holds", sale(strings.Replace(gone, "77", "900", 1), cancelled), "109 b9 CANCELLED", 900},
		{"a season ticket cancelled, dated by its validity", sale(noPerf, validity), "109 b9 CANCELLED", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := decodeFile(t, testMapper(t, "en", nil), []byte(tc.body), 5)
			if err != nil {
				t.Fatal(err)
			}
			var got *pass.Ticket
			for i := range o.Tickets {
				if o.Tickets[i].MovementID == 9 {
					got = &o.Tickets[i]
				}
			}
			switch {
			case tc.want == "" && got != nil:
				t.Fatalf("movement 9 maps as %q, want it left out", describe(*got))
			case tc.want == "":
				return
			case got == nil:
				t.Fatalf("tickets %q, warnings %q; want movement 9", ticketIDs(o), o.Warnings)
			}
			if d := describe(*got); d != tc.want || got.Event.PerformanceID != tc.perf {
				t.Errorf("movement 9: %q of performance %d, want %q of %d", d, got.Event.PerformanceID, tc.want, tc.perf)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("the ticket does not validate: %v", err)
			}
		})
	}
}

// TestDuplicateMovements: a movement the file holds twice (a SALE, then an
// EXCHANGE or an ST_TRANSFER that carries it cancelled) is the copy of the
// latest order (creationDateTime); when the orders' times do not tell, a
// cancelled copy over a valid one; else the copy listed last. A warning
// names the copy left. Before, the first copy was kept: the sale's valid
// ticket won over the exchange's cancellation.
func TestDuplicateMovements(t *testing.T) {
	t.Parallel()
	mv := func(state, barcode string) string {
		return fmt.Sprintf(`{"movementId":9,"operationId":1,"tickets":[{"ticketId":109,"barcode":%q,"ticketState":%q}]}`, barcode, state)
	}
	const (
		t1 = "2026-03-01T10:00:00Z"
		t2 = "2026-03-05T10:00:00Z"
	)
	tests := []struct {
		name   string
		orders []string
		want   string // state, barcode, order
		warn   string
	}{
		{"a sale, then an exchange that cancels it", []string{orderOf(6, "SALE", t1, goodOp, mv("VALID", "s9")), orderOf(7, "EXCHANGE_CLIENT", t2, goodOp, mv("CANCELLED", "x9"))},
			"CANCELLED x9 7", "movement 9 of order 6: the movement appears twice in the file; the copy in order 7 is kept (its order is the later (creationDateTime))"},
		{"the same, without times", []string{orderOf(6, "SALE", "", goodOp, mv("VALID", "s9")), orderOf(7, "EXCHANGE_CLIENT", "", goodOp, mv("CANCELLED", "x9"))},
			"CANCELLED x9 7", "the copy in order 7 is kept (it is cancelled, and the orders' times do not tell which is later)"},
		{"without times, the cancelled copy listed first", []string{orderOf(7, "EXCHANGE_CLIENT", "", goodOp, mv("CANCELLED", "x9")), orderOf(6, "SALE", "", goodOp, mv("VALID", "s9"))},
			"CANCELLED x9 7", "movement 9 of order 6: the movement appears twice in the file; the copy in order 7 is kept"},
		{"the later order listed first", []string{orderOf(7, "ST_TRANSFER", t2, goodOp, mv("CANCELLED", "x9")), orderOf(6, "SALE", t1, goodOp, mv("VALID", "s9"))},
			"CANCELLED x9 7", "the copy in order 7 is kept (its order is the later (creationDateTime))"},
		{"a later order brings it back", []string{orderOf(6, "SALE", t1, goodOp, mv("CANCELLED", "s9")), orderOf(7, "ST_TRANSFER", t2, goodOp, mv("VALID", "x9"))},
			"VALID x9 7", "the copy in order 7 is kept"},
		{"twice in one order", []string{orderOf(6, "SALE", t1, goodOp, mv("VALID", "s9")+","+mv("VALID", "c9"))},
			"VALID c9 6", "movement 9 of order 6: the movement appears twice in the file; the copy in order 6 is kept (it is listed later)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := decodeFile(t, testMapper(t, "en", nil), []byte(fileOfOrders("SOLDED", tc.orders...)), 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(o.Tickets) != 1 {
				t.Fatalf("tickets %q, want one", ticketIDs(o))
			}
			tk := o.Tickets[0]
			if got := fmt.Sprintf("%s %s %d", tk.State, tk.Barcode, tk.OrderID); got != tc.want {
				t.Errorf("ticket %q, want %q", got, tc.want)
			}
			if w := strings.Join(o.Warnings, "\n"); !strings.Contains(w, tc.warn) {
				t.Errorf("warnings %q, want %q", o.Warnings, tc.warn)
			}
		})
	}
}
