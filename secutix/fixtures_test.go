package secutix_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"

	"walletpass/pass"
	"walletpass/secutix"
)

// fixtureServer answers SecuTix's methods with the files of testdata
// (built only from field names the project's SecuTix wire notes record)
// and records each request body by method.
func fixtureServer(t *testing.T, files map[string]string) (*httptest.Server, map[string][]map[string]any) {
	t.Helper()
	seen := map[string][]map[string]any{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		seen[method] = append(seen[method], body)
		name, ok := files[method]
		if !ok {
			w.Write([]byte(`{"statusCode":"success"}`))
			return
		}
		if strings.HasPrefix(name, "{") { // the answer itself
			w.Write([]byte(name))
			return
		}
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

// TestListTicketsFixture: listTicketsByCriteria's answer as the wire notes
// record it (ticketSummaries, truncated) maps to ticket states, a state
// walletpass does not know is kept as unknown (""), tickets of another
// performance are left out, and the request carries the product from the
// catalogue, the mandatory date range and the pagination.
func TestListTicketsFixture(t *testing.T) {
	t.Parallel()
	srv, seen := fixtureServer(t, map[string]string{
		"getCatalogDetailed": "catalog.json", "getPOSConfig": "pos-config.json", "listTicketsByCriteria": "list-tickets.json",
	})
	cl, err := secutix.New(secutix.Config{Tenant: "demo", BaseURL: srv.URL, Operator: "MOSA_WALLET", Partner: "p", Secret: "s",
		HTTPClient: srv.Client(), RequestsPerMinute: 1000})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.TicketStates(t.Context(), "demo", 10228231109243)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]pass.TicketState{10228305597652: pass.TicketValid, 10228305597653: pass.TicketCancelled,
		10228305597654: pass.TicketCancelled, 10228305597655: pass.TicketValid, 10228305597656: ""}
	if len(got) != len(want) {
		t.Fatalf("got %d tickets %+v, want %d", len(got), got, len(want))
	}
	for _, g := range got {
		if st, ok := want[g.TicketID]; !ok || st != g.State {
			t.Errorf("ticket %d: %q, want %q", g.TicketID, g.State, st)
		}
	}
	reqs := seen["listTicketsByCriteria"]
	if len(reqs) != 1 {
		t.Fatalf("%d listTicketsByCriteria calls, want 1 (a short page ends the list)", len(reqs))
	}
	crit, _ := reqs[0]["ticketFilterCriteria"].(map[string]any)
	page, _ := reqs[0]["paginationParameter"].(map[string]any)
	if crit["productId"] != float64(10228231108335) || crit["startDate"] == nil || crit["endDate"] == nil ||
		page["startPosition"] != float64(0) || page["maxResult"] != float64(secutix.DefaultTicketPageSize) {
		t.Errorf("request %v", reqs[0])
	}
}

// TestRequestsFixture: getCatalogDetailed asks for the extended scope by
// default (or none, when so configured), and getContactData carries the
// configured details next to the order's contactReference.
func TestRequestsFixture(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/order-details.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{"", secutix.CatalogScopeNone} {
		srv, seen := fixtureServer(t, map[string]string{"getCatalogDetailed": "catalog.json", "getPOSConfig": "pos-config.json"})
		cl, err := secutix.New(secutix.Config{Tenant: "demo", BaseURL: srv.URL, Operator: "MOSA_WALLET", Partner: "p", Secret: "s",
			HTTPClient: srv.Client(), RequestsPerMinute: 1000, CatalogScope: scope, ContactLookup: true, ContactDetails: []string{"GENERAL"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.OrderFromDetails(t.Context(), "demo", body); err != nil {
			t.Fatal(err)
		}
		cat, contact := seen["getCatalogDetailed"], seen["getContactData"]
		if len(cat) != 1 || len(contact) != 1 {
			t.Fatalf("scope %q: %d catalogue and %d contact requests, want 1 and 1", scope, len(cat), len(contact))
		}
		want := map[string]any{"scope": "EXTENDED"}
		if scope == secutix.CatalogScopeNone {
			want = map[string]any{}
		}
		if !reflect.DeepEqual(cat[0], want) {
			t.Errorf("scope %q: getCatalogDetailed %v, want %v", scope, cat[0], want)
		}
		if want := map[string]any{"contactNumber": float64(7697), "details": []any{"GENERAL"}}; !reflect.DeepEqual(contact[0], want) {
			t.Errorf("getContactData %v, want %v", contact[0], want)
		}
	}
}

// TestListTicketsPaginationNotFollowed: a SecuTix that answers every page
// with the first (startPosition not honoured) ends the listing at the
// second page with an error, instead of asking a thousand times.
func TestListTicketsPaginationNotFollowed(t *testing.T) {
	t.Parallel()
	srv, seen := fixtureServer(t, map[string]string{
		"getCatalogDetailed": "catalog.json", "getPOSConfig": "pos-config.json", "listTicketsByCriteria": "list-tickets.json",
	})
	cl, err := secutix.New(secutix.Config{Tenant: "demo", BaseURL: srv.URL, Operator: "MOSA_WALLET", Partner: "p", Secret: "s",
		HTTPClient: srv.Client(), RequestsPerMinute: 1000, TicketPageSize: 5}) // the fixture's page is full
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.TicketStates(t.Context(), "demo", 10228231109243)
	if pass.KindOf(err) != pass.KindUnavailable || !strings.Contains(err.Error(), "pagination") {
		t.Errorf("got %v, want an unavailable error about the pagination", err)
	}
	if n := len(seen["listTicketsByCriteria"]); n != 2 {
		t.Errorf("%d listTicketsByCriteria calls, want 2", n)
	}
}

// TestRefusedInWords: a refusal of the credentials that SecuTix words in
// its envelope (HTTP 200) is met with a new token once, then reported as
// unauthorized, not as an invalid request that would stop the task; an
// error SecuTix calls unknown is a passing one, not a missing file. A
// failure that names a missing object, or an order's secret, is no
// refusal of the credentials, even when it names the institution: no new
// token, and no 401 for getTicketsUrl as if the organiser's key were
// wrong.
func TestRefusedInWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		answer string
		calls  int
		kind   pass.Kind
	}{
		{`{"statusCode":"error","statusDetail":"INVALID_TOKEN"}`, 2, pass.KindUnauthorized},
		{`{"statusCode":"error","statusDetail":"UNKNOWN_ERROR"}`, 1, pass.KindUnavailable},
		{`{"statusCode":"error","statusDetail":"UNKNOWN_FILE"}`, 1, pass.KindNotFound},
		{`{"statusCode":"error","statusDetail":"FILE_NOT_FOUND_FOR_INSTITUTION"}`, 1, pass.KindNotFound},
		{`{"statusCode":"error","statusDetail":"File 5 unknown"}`, 1, pass.KindNotFound},
		{`{"statusCode":"error","statusDetail":"INVALID_ORDER_SECRET_TOKEN"}`, 1, pass.KindNotFound},
		{`{"statusCode":"error","statusDetail":"OPERATION_NOT_ALLOWED"}`, 1, pass.KindInvalid},
		{`{"statusCode":"error","statusDetail":"TOKEN_EXPIRED"}`, 2, pass.KindUnauthorized},
		{`{"statusCode":"error","statusDetail":"UNKNOWN_OPERATOR"}`, 2, pass.KindUnauthorized},
	} {
		srv, seen := fixtureServer(t, map[string]string{"getFileDetails": tc.answer})
		cl, err := secutix.New(secutix.Config{Tenant: "demo", BaseURL: srv.URL, Operator: "MOSA_WALLET", Partner: "p", Secret: "s",
			HTTPClient: srv.Client(), RequestsPerMinute: 1000})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.OrderByFileID(t.Context(), "demo", 5)
		if pass.KindOf(err) != tc.kind {
			t.Errorf("%s: got %v (%s), want kind %s", tc.answer, err, pass.KindOf(err), tc.kind)
		}
		if n := len(seen["getFileDetails"]); n != tc.calls {
			t.Errorf("%s: %d calls, want %d", tc.answer, n, tc.calls)
		}
	}
}

// TestContactGone: with contacts looked up, a contact SecuTix no longer
// has leaves the order readable (its contact fields empty), rather than
// making the whole order "not found".
func TestContactGone(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/order-details.json")
	if err != nil {
		t.Fatal(err)
	}
	srv, seen := fixtureServer(t, map[string]string{"getCatalogDetailed": "catalog.json", "getPOSConfig": "pos-config.json",
		"getContactData": `{"statusCode":"error","statusDetail":"NOT_FOUND"}`})
	cl, err := secutix.New(secutix.Config{Tenant: "demo", BaseURL: srv.URL, Operator: "MOSA_WALLET", Partner: "p", Secret: "s",
		HTTPClient: srv.Client(), RequestsPerMinute: 1000, ContactLookup: true})
	if err != nil {
		t.Fatal(err)
	}
	o, err := cl.OrderFromDetails(t.Context(), "demo", body)
	if err != nil || len(o.Tickets) == 0 {
		t.Fatalf("got %v, %v; want the order", o, err)
	}
	if n := len(seen["getContactData"]); n != 1 {
		t.Errorf("%d getContactData calls, want 1", n)
	}
}

// TestUnreadableDetails: a webhook's order details of the wrong shape are
// unreadable (pass.ErrDetailsUnreadable, so that the sync reads the order
// from SecuTix), not a SecuTix failure to retry.
func TestUnreadableDetails(t *testing.T) {
	t.Parallel()
	srv, _ := fixtureServer(t, map[string]string{"getCatalogDetailed": "catalog.json", "getPOSConfig": "pos-config.json"})
	cl, err := secutix.New(secutix.Config{Tenant: "demo", BaseURL: srv.URL, Operator: "MOSA_WALLET", Partner: "p", Secret: "s",
		HTTPClient: srv.Client(), RequestsPerMinute: 1000})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.OrderFromDetails(t.Context(), "demo", []byte(`{"orderDetailsData":{"orderId":1,"movementDatas":0}}`))
	if !errors.Is(err, pass.ErrDetailsUnreadable) || pass.KindOf(err) != pass.KindInvalid {
		t.Errorf("details of the wrong shape: %v (kind %v), want ErrDetailsUnreadable", err, pass.KindOf(err))
	}
}
