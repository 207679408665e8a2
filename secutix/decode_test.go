package secutix

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"walletpass/pass"
)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testCatalog is the catalogue and POS config of testdata.
func testCatalog(t testing.TB) *catView {
	t.Helper()
	root, err := decodeNode(readSample(t, "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	pos, err := decodeNode(readSample(t, "pos-config.json"))
	if err != nil {
		t.Fatal(err)
	}
	return &catView{perfs: indexCatalog(get(root, "catalogData")), pos: get(pos, "posConfigData")}
}

// testMapper is a mapper with the default field paths.
func testMapper(t testing.TB, locale string, overrides map[string]string) mapper {
	t.Helper()
	fields, err := compileFields(overrides)
	if err != nil {
		t.Fatal(err)
	}
	return mapper{tenant: "demo", locale: locale, defaultKind: pass.EventConcert, fields: fields}
}

// decodeFile maps a getFileDetails answer with the testdata catalogue.
func decodeFile(t testing.TB, m mapper, body []byte, fileID int64) (*pass.Order, error) {
	t.Helper()
	r, err := parseFile(body, fileID)
	if err != nil {
		return nil, err
	}
	return m.order(r, testCatalog(t))
}

// TestDecodeReferenceExample maps the getOrderDetails example of the
// project's SecuTix wire notes (with the ticket object they show elsewhere
// under the movement's "tickets") with the testdata catalogue and POS
// config: the start is the catalogue's, shown in the POS time zone, the
// end is start + duration, the names are the catalogue's and the
// location's translations.
func TestDecodeReferenceExample(t *testing.T) {
	t.Parallel()
	m := testMapper(t, "en", nil)
	r, err := parseOrder(readSample(t, "order-details.json"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := m.order(r, testCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	zurich, _ := time.LoadLocation("Europe/Zurich")
	want := &pass.Order{
		Tenant: "demo", FileID: 10000500001, OrderID: 10000702652, SecretToken: "A1b2C3d4E5",
		Tickets: []pass.Ticket{{
			Tenant: "demo", FileID: 10000500001, OrderID: 10000702652, OrderSecretToken: "A1b2C3d4E5",
			MovementID: 10228844462196, TicketID: 10228305597652, Barcode: "2276812732345698540800199237",
			Symbology: pass.SymbologyQR,
			Event: pass.Event{PerformanceID: 10228231109243, Name: "Symphonic Night", Kind: pass.EventConcert,
				Names: pass.LocalText{"de": "Sinfonische Nacht", "en": "Symphonic Night", "fr": "Nuit symphonique"},
				Start: time.Date(2026, 3, 14, 20, 0, 0, 0, zurich), End: time.Date(2026, 3, 14, 22, 30, 0, 0, zurich),
				TimeZone: "Europe/Zurich"},
			Venue: pass.Venue{Name: "Victoria Hall", Names: pass.LocalText{"fr": "Victoria Hall"}, Room: "Grande salle",
				Address: "Rue du Général-Dufour 14", City: "Genève", PostalCode: "1204", Country: "CH"},
			Tariff: "Adulte", Price: pass.Money{Thousandths: 85000, Currency: "CHF"},
			Locale: "en", State: pass.TicketValid,
			Product: pass.Product{Code: "SYMN", FamilyType: "SINGLE_ENTRY", EventID: 10228231108001},
		}},
	}
	if diff := cmp.Diff(want, o, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestDecodeEdgeCases(t *testing.T) {
	t.Parallel()
	m := testMapper(t, "fr", nil)
	o, err := decodeFile(t, m, readSample(t, "edge-cases.json"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if o.FileID != 10000500002 || o.OrderID != 10000702700 || o.SecretToken != "AbCdEfGhIjKlMnOp" ||
		!o.LastModified.Equal(time.Date(2026, 4, 1, 7, 15, 0, 0, time.UTC)) {
		t.Errorf("got order %+v", o)
	}
	type view struct {
		Movement, Ticket int64
		Barcode          string
		State            pass.TicketState
	}
	var got []view
	for _, tk := range o.Tickets {
		got = append(got, view{tk.MovementID, tk.TicketID, tk.Barcode, tk.State})
	}
	want := []view{
		{11, 102, "222", pass.TicketValid},     // newest by creationDate, listed first
		{12, 103, "333", pass.TicketUsed},      // a "ticket" object, CONTROLLED
		{13, 104, "444", pass.TicketValid},     // PRINTED, with a cancellationCause not known to cancel
		{14, 105, "555", pass.TicketCancelled}, // cancelled by the REFUND_CLIENT order (same seat)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tickets (-want +got):\n%s", diff)
	}
	if w := strings.Join(o.Warnings, "\n"); !strings.Contains(w, `movement 13 of order 10000702700: unknown cancellationCause "EXCHANGED"; the ticketState decides (VALID)`) {
		t.Errorf("warnings %q, want one for movement 13's cancellationCause", o.Warnings)
	}
	tk := o.Tickets[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"no catalogue name: the operation's, same language", tk.Event.Name, "Concert"},
		{"a start without offset is in the POS zone", tk.Event.Start.Equal(time.Date(2026, 6, 1, 18, 0, 0, 0, time.UTC)), true},
		{"no duration, no end", tk.Event.End.IsZero(), true},
		{"venue", tk.Venue, pass.Venue{Name: "Salle Métropole", Names: tk.Venue.Names, Address: "Rue de Genève 12", City: "Lausanne", PostalCode: "1003", Country: "CH"}},
		{"area", tk.Seat, pass.Seat{Area: "Parterre"}},
		{"price", tk.Price, pass.Money{Thousandths: 85000, Currency: "CHF"}},
		{"holder", tk.HolderName, "Léa Favre"},
		{"locale: the tenant's", tk.Locale, "fr"},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

// TestFieldMapping: a tenant's paths override the defaults, alternatives
// are tried in order, "" removes a default, and bad configuration is
// refused naming the field.
func TestFieldMapping(t *testing.T) {
	t.Parallel()
	m := testMapper(t, "en", map[string]string{
		"seatBlock":  "movement.contingent",
		"seatRow":    "movement.nothing | movement.instanceNumber",
		"tariff":     "operation.audienceSubCategoryExternalDescription",
		"venueRoom":  "",
		"eventName":  "operation.product",
		"performers": "operation.locations[0].siteCode",
	})
	r, err := parseOrder(readSample(t, "order-details.json"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := m.order(r, testCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	tk := o.Tickets[0]
	if tk.Seat.Block != "Online" || tk.Seat.Row != "1" || tk.Tariff != "Plein tarif" || tk.Venue.Room != "" ||
		tk.Event.Name != "Symphonic Night" || len(tk.Event.Performers) != 1 || tk.Event.Performers[0] != "VHALL" {
		t.Errorf("ticket = %+v", tk)
	}
	for _, tc := range []struct {
		fields map[string]string
		want   string
	}{
		{map[string]string{"colour": "movement.x"}, "fields.colour is not a pass field"},
		{map[string]string{"seatRow": "seat.row"}, `"seat" is not a scope`},
		{map[string]string{"seatRow": "movement..row"}, "empty key"},
		{map[string]string{"seatRow": "movement.row[x]"}, "is not an index"},
		{map[string]string{"seatRow": "movement.row[1"}, "unclosed"},
		{map[string]string{"seatRow": "movement.row |"}, "empty alternative"},
		{map[string]string{"seatRow": "movement.ro w"}, "is not a JSON key"},
	} {
		err := ValidateFields(tc.fields)
		if err == nil || !strings.Contains(err.Error(), tc.want) || pass.KindOf(err) != pass.KindInvalid {
			t.Errorf("%v: got %v, want an error containing %q", tc.fields, err, tc.want)
		}
	}
}

// file wraps movement and operation JSON into a getFileDetails answer.
func file(op, movements string) string {
	return `{"statusCode":"success","fileDetailsData":{"fileId":5,"lastModDateTime":"2026-01-01T10:00:00Z"},` +
		`"orderDetailsDatas":[{"orderId":6,"orderSecretId":"s","catalogCurrency":{"currencyCode":"CHF"},` +
		`"operationDatas":[` + op + `],"movementDatas":[` + movements + `]}]}`
}

const goodOp = `{"operationId":1,"performanceId":900,"performance":"Show","locations":[{"siteExternalName":"Hall"}]}`

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	m := testMapper(t, "en", nil)
	tests := []struct {
		name     string
		body     string
		fileID   int64
		wantKind pass.Kind
		wantIn   string
	}{
		{"valid", file(goodOp, `{"movementId":9,"operationId":1,"tickets":[{"ticketId":1,"barcode":"b"}]}`), 5, 0, ""},
		{"cancelled without barcode is fine", file(goodOp, `{"movementId":9,"operationId":1,"tickets":[{"ticketId":1,"ticketState":"CANCELLED"}]}`), 0, 0, ""},
		{"no ticket maps: an unreadable value", file(goodOp, `{"movementId":9,"operationId":1,"tickets":[{"ticketId":"T-1","barcode":"b"}]}`), 0, pass.KindInvalid, "movement 9 of order 6: ticketId (ticket.ticketId)"},
		{"other file", file(goodOp, ``), 4, pass.KindUnavailable, "asked for file 4, got file 5"},
		{"not found", `{"statusCode":"error","statusDetail":"NOT_FOUND"}`, 0, pass.KindNotFound, "NOT_FOUND"},
		{"unknown file", `{"statusCode":"failed","statusDetail":"Unknown file"}`, 0, pass.KindNotFound, "Unknown file"},
		{"invalid request", `{"statusCode":"error","statusDetail":"INVALID_PARAMETER"}`, 0, pass.KindInvalid, "INVALID_PARAMETER"},
		{"refused token", `{"statusCode":"error","statusDetail":"INVALID_TOKEN"}`, 0, pass.KindUnauthorized, "INVALID_TOKEN"},
		{"unknown operator", `{"statusCode":"error","statusDetail":"UNKNOWN_OPERATOR"}`, 0, pass.KindUnauthorized, "UNKNOWN_OPERATOR"},
		{"unknown error", `{"statusCode":"error","statusDetail":"UNKNOWN_ERROR"}`, 0, pass.KindUnavailable, "UNKNOWN_ERROR"},
		// Not found before credentials: these name no credential.
		{"file not found for the institution", `{"statusCode":"error","statusDetail":"FILE_NOT_FOUND_FOR_INSTITUTION"}`, 0, pass.KindNotFound, "FILE_NOT_FOUND_FOR_INSTITUTION"},
		{"file N unknown", `{"statusCode":"failed","statusDetail":"File 5 unknown"}`, 0, pass.KindNotFound, "File 5 unknown"},
		{"order with id N unknown", `{"statusCode":"failed","statusMessage":"Order with id 10000702652 is unknown."}`, 0, pass.KindNotFound, "is unknown"},
		{"order secret unknown", `{"statusCode":"error","statusDetail":"ORDER_SECRET_UNKNOWN"}`, 0, pass.KindNotFound, "ORDER_SECRET_UNKNOWN"},
		{"invalid order secret token", `{"statusCode":"error","statusDetail":"INVALID_ORDER_SECRET_TOKEN"}`, 0, pass.KindNotFound, "INVALID_ORDER_SECRET_TOKEN"},
		{"an order state unknown is no missing order", `{"statusCode":"error","statusDetail":"ORDER_STATE_UNKNOWN"}`, 0, pass.KindUnavailable, "ORDER_STATE_UNKNOWN"},
		{"a profile unknown is no missing file", `{"statusCode":"error","statusDetail":"PROFILE_UNKNOWN"}`, 0, pass.KindUnavailable, "PROFILE_UNKNOWN"},
		{"operation not allowed", `{"statusCode":"error","statusDetail":"OPERATION_NOT_ALLOWED"}`, 0, pass.KindInvalid, "OPERATION_NOT_ALLOWED"},
		{"token expired", `{"statusCode":"error","statusDetail":"TOKEN_EXPIRED"}`, 0, pass.KindUnauthorized, "TOKEN_EXPIRED"},
		{"expired token", `{"statusCode":"error","statusDetail":"EXPIRED_TOKEN"}`, 0, pass.KindUnauthorized, "EXPIRED_TOKEN"},
		{"authentication failed", `{"statusCode":"error","statusMessage":"Authentication failed"}`, 0, pass.KindUnauthorized, "Authentication failed"},
		{"unauthorised", `{"statusCode":"error","statusDetail":"UNAUTHORISED"}`, 0, pass.KindUnauthorized, "UNAUTHORISED"},
		{"invalid credentials", `{"statusCode":"error","statusDetail":"INVALID_CREDENTIALS"}`, 0, pass.KindUnauthorized, "INVALID_CREDENTIALS"},
		{"permission denied", `{"statusCode":"error","statusDetail":"PERMISSION_DENIED"}`, 0, pass.KindUnauthorized, "PERMISSION_DENIED"},
		{"access denied", `{"statusCode":"error","statusDetail":"ACCESS_DENIED"}`, 0, pass.KindUnauthorized, "ACCESS_DENIED"},
		{"forbidden", `{"statusCode":"error","statusDetail":"FORBIDDEN"}`, 0, pass.KindUnauthorized, "FORBIDDEN"},
		{"unknown institution", `{"statusCode":"error","statusDetail":"UNKNOWN_INSTITUTION"}`, 0, pass.KindUnauthorized, "UNKNOWN_INSTITUTION"},
		{"invalid partner", `{"statusCode":"error","statusDetail":"INVALID_PARTNER"}`, 0, pass.KindUnauthorized, "INVALID_PARTNER"},
		{"technical error", `{"statusCode":"error","statusDetail":"TECHNICAL_ERROR","statusMessage":"db down"}`, 0, pass.KindUnavailable, "db down"},
		{"in progress", `{"statusCode":"in_progress"}`, 0, pass.KindUnavailable, "in progress"},
		{"not JSON", `<html>`, 0, pass.KindUnavailable, "malformed"},
		{"wrong type", `{"fileDetailsData":{"fileId":true}}`, 0, pass.KindUnavailable, "malformed"},
		{"no file", `{"statusCode":"success"}`, 0, pass.KindUnavailable, "no fileDetailsData"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := decodeFile(t, m, []byte(tc.body), tc.fileID)
			if tc.wantIn == "" {
				if err != nil || o == nil || len(o.Tickets) != 1 {
					t.Fatalf("got %v, %v; want one ticket", o, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %+v, want an error", o)
			}
			if k := pass.KindOf(err); k != tc.wantKind {
				t.Errorf("got kind %s (%v), want %s", k, err, tc.wantKind)
			}
			if !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("got %q, want it to contain %q", err, tc.wantIn)
			}
			if tc.wantKind == pass.KindNotFound && !errors.Is(err, pass.ErrNotFound) {
				t.Errorf("got %v, want it to wrap pass.ErrNotFound", err)
			}
			// A refusal of our credentials or request, or an answer the
			// mapping cannot read, is SecuTix's (an HTTP caller hears 502).
			if want := tc.wantKind == pass.KindUnauthorized || tc.wantKind == pass.KindInvalid; pass.IsUpstream(err) != want {
				t.Errorf("pass.IsUpstream(%v) = %v, want %v", err, !want, want)
			}
		})
	}
}

func TestPickLocale(t *testing.T) {
	t.Parallel()
	tr := func(pairs ...string) text {
		var x text
		for i := 0; i+1 < len(pairs); i += 2 {
			x.translations = append(x.translations, translation{pairs[i], pairs[i+1]})
		}
		return x
	}
	tests := []struct {
		name   string
		t      text
		locale string
		want   string
	}{
		{"plain", text{plain: " Hall "}, "fr", "Hall"},
		{"exact", tr("en", "Night", "fr", "Nuit"), "fr", "Nuit"},
		{"case and separator", tr("en", "Night", "fr_CH", "Nuit CH", "fr", "Nuit"), "FR-ch", "Nuit CH"},
		{"same language", tr("en", "Night", "fr_CH", "Nuit CH"), "fr", "Nuit CH"},
		{"English fallback", tr("de", "Nacht", "en", "Night"), "fr", "Night"},
		{"English region fallback", tr("de", "Nacht", "en_GB", "Night"), "fr", "Night"},
		{"first fallback", tr("de", "Nacht", "it", "Notte"), "fr", "Nacht"},
		{"empty values skipped", tr("fr", " ", "de", "Nacht"), "fr", "Nacht"},
		{"no locale", tr("de", "Nacht", "en", "Night"), "", "Night"},
		{"nothing", text{}, "fr", ""},
	}
	for _, tc := range tests {
		if got := tc.t.pick(tc.locale); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestUnknownTicketStateIsKept: a ticket state walletpass does not know
// (SecuTix's APIs use several vocabularies) fails neither the ticket nor
// the file: the ticket is kept as valid and the order says so.
func TestUnknownTicketStateIsKept(t *testing.T) {
	t.Parallel()
	m := testMapper(t, "en", nil)
	body := file(goodOp, `{"movementId":9,"operationId":1,"tickets":[{"barcode":"b","ticketState":"LOST"}]},`+
		`{"movementId":10,"operationId":1,"tickets":[{"barcode":"c","ticketState":"VALID"}]}`)
	o, err := decodeFile(t, m, []byte(body), 0)
	if err != nil {
		t.Fatalf("an unknown ticketState failed the file: %v", err)
	}
	if len(o.Tickets) != 2 || o.Tickets[0].State != pass.TicketValid || o.Tickets[1].State != pass.TicketValid {
		t.Errorf("tickets = %+v", o.Tickets)
	}
	if len(o.Warnings) != 1 || !strings.Contains(o.Warnings[0], `movement 9 of order 6: unknown ticketState "LOST"`) {
		t.Errorf("warnings = %q, want one naming movement 9 and LOST", o.Warnings)
	}
}

// TestRefundOrdersVoid: the order types of a SecuTix file as its API
// spells them. A REFUND_CLIENT or REFUND_ORGANIZATION order, and the
// freeing of a reservation or an option, cancel the sale movements they
// match (the same movement, or the same seat of the same performance); an
// EXCHANGE or a SALE does not, nor does a refund cancel by seat a sale
// made after it (creationDateTime); a file CANCELED or ABANDONNED
// (SecuTix's spellings) voids every ticket. Field names only from the
// project's SecuTix notes.
func TestRefundOrdersVoid(t *testing.T) {
	t.Parallel()
	m := testMapper(t, "en", nil)
	mv := func(id int) string {
		return `{"movementId":` + strconv.Itoa(id) + `,"operationId":1,"seatId":` + strconv.Itoa(500+id) + `,"tickets":[{"ticketId":` + strconv.Itoa(100+id) + `,"barcode":"b` + strconv.Itoa(id) + `"}]}`
	}
	order := func(id int, orderType string, movements ...string) string {
		return `{"orderId":` + strconv.Itoa(id) + `,"orderSecretId":"s","orderType":"` + orderType + `","catalogCurrency":{"currencyCode":"CHF"},` +
			`"operationDatas":[` + goodOp + `],"movementDatas":[` + strings.Join(movements, ",") + `]}`
	}
	at := func(created, order string) string { // order made at created
		return strings.Replace(order, `{"orderId"`, `{"creationDateTime":"`+created+`","orderId"`, 1)
	}
	fileOf := func(state string, orders ...string) string {
		return `{"statusCode":"success","fileDetailsData":{"fileId":5,"fileState":"` + state + `","lastModDateTime":"2026-01-01T10:00:00Z"},` +
			`"orderDetailsDatas":[` + strings.Join(orders, ",") + `]}`
	}
	tests := []struct {
		name  string
		body  string
		valid int
		void  int
	}{
		{"sale", fileOf("CONFIRMED", order(6, "SALE", mv(1), mv(2))), 2, 0},
		{"refund client", fileOf("CONFIRMED", order(6, "SALE", mv(1), mv(2)), order(7, "REFUND_CLIENT", mv(1))), 1, 1},
		{"refund of the same seat, another movement", fileOf("SOLDED", order(6, "SALE", mv(1), mv(2)),
			order(7, "REFUND_CLIENT", `{"movementId":31,"operationId":1,"seatId":502}`)), 1, 1},
		{"seat sold again after its refund", fileOf("SOLDED", at("2026-03-01T10:00:00.000+01:00", order(6, "SALE", mv(1), mv(2))),
			at("2026-03-02T10:00:00.000+01:00", order(7, "REFUND_CLIENT", `{"movementId":31,"operationId":1,"seatId":502}`)),
			at("2026-03-03T10:00:00.000+01:00", order(8, "SALE", `{"movementId":40,"operationId":1,"seatId":502,"tickets":[{"ticketId":140,"barcode":"b40"}]}`))), 2, 1},
		{"seat refunded twice, sold in between", fileOf("SOLDED", at("2026-03-01T10:00:00Z", order(6, "SALE", mv(2))),
			at("2026-03-02T10:00:00Z", order(7, "REFUND_CLIENT", `{"movementId":31,"operationId":1,"seatId":502}`)),
			at("2026-03-03T10:00:00Z", order(8, "SALE", `{"movementId":40,"operationId":1,"seatId":502,"tickets":[{"ticketId":140,"barcode":"b40"}]}`)),
			at("2026-03-04T10:00:00Z", order(9, "REFUND_CLIENT", `{"movementId":41,"operationId":1,"seatId":502}`))), 0, 2},
		{"refund of a seat, times unknown", fileOf("SOLDED", order(6, "SALE", mv(2)),
			at("2026-03-02T10:00:00Z", order(7, "REFUND_CLIENT", `{"movementId":31,"operationId":1,"seatId":502}`)),
			order(8, "SALE", `{"movementId":40,"operationId":1,"seatId":502,"tickets":[{"ticketId":140,"barcode":"b40"}]}`)), 0, 2},
		{"refund of another seat", fileOf("SOLDED", order(6, "SALE", mv(1)),
			order(7, "REFUND_CLIENT", `{"movementId":31,"operationId":1,"seatId":999}`)), 1, 0},
		{"refund organization", fileOf("CONFIRMED", order(6, "SALE", mv(1), mv(2)), order(7, "REFUND_ORGANIZATION", mv(1), mv(2))), 0, 2},
		{"reservation freed", fileOf("CONFIRMED", order(6, "RESERVATION", mv(1)), order(7, "RESERVATION_FREEING", mv(1))), 0, 1},
		{"option freed", fileOf("CONFIRMED", order(6, "OPTION", mv(1)), order(7, "OPTION_FREEING", mv(1))), 0, 1},
		{"exchange keeps its tickets", fileOf("CONFIRMED", order(6, "SALE", mv(1)), order(7, "EXCHANGE_CLIENT", mv(2))), 2, 0},
		{"file CANCELED", fileOf("CANCELED", order(6, "SALE", mv(1), mv(2))), 0, 2},
		{"file ABANDONNED", fileOf("ABANDONNED", order(6, "SALE", mv(1))), 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := decodeFile(t, m, []byte(tc.body), 5)
			if err != nil {
				t.Fatal(err)
			}
			valid, void := 0, 0
			for _, tk := range o.Tickets {
				switch tk.State {
				case pass.TicketValid:
					valid++
				case pass.TicketCancelled:
					void++
				}
			}
			if valid != tc.valid || void != tc.void {
				t.Errorf("got %d valid and %d void tickets, want %d and %d", valid, void, tc.valid, tc.void)
			}
			if o.OrderID != 6 {
				t.Errorf("order id %d, want the sale's (6)", o.OrderID)
			}
		})
	}
}

// TestHolderLanguageNames: the event and the venue are named in the
// holder's language when SecuTix gives it (the tenant's language, then
// English, otherwise), and every language is kept for Google Wallet.
func TestHolderLanguageNames(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ holder, event string }{
		{"de", "Sinfonische Nacht"}, {"fr-CH", "Nuit symphonique"}, {"it", "Nuit symphonique"}, {"", "Nuit symphonique"},
	} {
		fields := map[string]string{"locale": ""}
		if c.holder != "" {
			fields["locale"] = "order.language"
		}
		m := testMapper(t, "fr", fields)
		body := readSample(t, "order-details.json")
		if c.holder != "" {
			body = []byte(strings.Replace(string(body), `"orderSecretId"`, `"language":"`+c.holder+`","orderSecretId"`, 1))
		}
		r, err := parseOrder(body)
		if err != nil {
			t.Fatal(err)
		}
		o, err := m.order(r, testCatalog(t))
		if err != nil {
			t.Fatal(err)
		}
		tk := o.Tickets[0]
		if tk.Event.Name != c.event || len(tk.Event.Names) != 3 {
			t.Errorf("holder %q: event %q (names %v), want %q", c.holder, tk.Event.Name, tk.Event.Names, c.event)
		}
	}
}

// TestAnswerOf: the answer kept for the operator is masked, compact and
// bounded, and stays valid UTF-8 when cut.
func TestAnswerOf(t *testing.T) {
	got := answerOf([]byte(`{"firstName": "Alice", "email": "alice@example.com", "fileId": 7}`))
	if strings.Contains(got, "Alice") || strings.Contains(got, "alice@") || !strings.Contains(got, `"fileId":7`) || strings.Contains(got, "\n") {
		t.Errorf("answer: %s", got)
	}
	big := `{"items": [` + strings.Repeat(`"é",`, 20000) + `"x"]}`
	got = answerOf([]byte(big))
	if len(got) > maxAnswer+len("…") || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("a long answer: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}
