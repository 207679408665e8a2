package secutix

import (
	"os"
	"path/filepath"
	"testing"

	"walletpass/pass"
)

// FuzzDecodeFile feeds arbitrary bytes to the decoder of getFileDetails
// answers: it must return an error with a kind, or an Order whose every
// ticket is valid; never panic. The seed corpus is in
// testdata/fuzz/FuzzDecodeFile plus the samples in testdata/*.json.
func FuzzDecodeFile(f *testing.F) {
	samples, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range samples {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `{"statusCode":"success"}`,
		`{"statusCode":"in_progress","requestId":"r1"}`,
		`{"statusCode":"error","statusDetail":"NOT_FOUND","statusMessage":"no file"}`,
		`{"statusCode":"success","fileDetailsData":{"fileId":1,"lastModDateTime":"2026-01-01T00:00:00.5+01:00"},"orderDetailsDatas":[]}`,
		`{"fileDetailsData":{"fileId":"7"},"orderDetailsDatas":[{"orderId":1,"operationDatas":[{"operationId":2,"performance":{"translations":[]}}],"movementDatas":[{"movementId":3,"operationId":2}]}]}`,
		`{"fileDetailsData":{"fileId":7},"orderDetailsDatas":[{"orderId":1,"orderType":"REFUND_CLIENT","movementDatas":[{"movementId":3,"seatId":"9"}]}]}`,
	} {
		f.Add([]byte(s))
	}
	m, cat := testMapper(f, "fr", nil), testCatalog(f)
	decode := func(t testing.TB, data []byte) *pass.Order {
		t.Helper()
		r, err := parseFile(data, 0)
		o := checkMapping(t, m, r, cat, err)
		if o != nil && o.FileID <= 0 {
			t.Fatalf("got order %+v, want a file id", o)
		}
		return o
	}
	// A real answer maps to tickets, so the checks are not vacuous.
	sample, err := os.ReadFile(filepath.Join("testdata", "edge-cases.json"))
	if err != nil {
		f.Fatal(err)
	}
	if o := decode(f, sample); o == nil || len(o.Tickets) == 0 {
		f.Fatalf("testdata/edge-cases.json: got order %+v, want tickets", o)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decode(t, data)
	})
}

// FuzzDecodeOrderWithCatalog feeds arbitrary getOrderDetails answers (or
// order webhook V2 bodies, the same object) and arbitrary catalogues
// (getCatalogDetailed, where a performance's start, duration and venue
// come from) to the mapping: an error with a kind, or an order whose
// every ticket is valid; never a panic.
func FuzzDecodeOrderWithCatalog(f *testing.F) {
	order, err := os.ReadFile(filepath.Join("testdata", "order-details.json"))
	if err != nil {
		f.Fatal(err)
	}
	catalog, err := os.ReadFile(filepath.Join("testdata", "catalog.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(order, catalog)
	f.Add(order, []byte(`{"catalogData":{"products":[{"event":{"performances":[{"id":"1","start":"x","duration":-5}]}}]}}`))
	f.Add(order, []byte(`{"catalogData":{"seasons":[{"products":{}}],"products":[null,1,"a",{"event":[]}]}}`))
	f.Add([]byte(`{"orderDetailsData":{"orderId":1,"movementDatas":[{"movementId":3,"ticketId":4,"performanceId":1}]}}`), catalog)
	f.Add([]byte(`{"orderDetailsData":null}`), []byte(`null`))
	// An option, a SIMPLE_PRODUCT line, a validity without a time, a
	// cancellationCause not known to cancel.
	f.Add([]byte(`{"orderDetailsData":{"orderId":1,"orderType":"OPTION","operationDatas":[{"operationId":2,"performanceId":1}],"movementDatas":[{"movementId":3,"operationId":2}]}}`), catalog)
	f.Add([]byte(`{"orderDetailsData":{"orderId":1,"orderType":"SALE","operationDatas":[{"operationId":2,"kind":"SIMPLE_PRODUCT"},{"operationId":4,"locations":[{"siteExternalName":"Hall"}],"performance":"Season"}],`+
		`"movementDatas":[{"movementId":3,"operationId":2},{"movementId":5,"operationId":4,"startValidityDate":"2026-09-01","endValidityDate":"2027-06-30","tickets":{"barcode":"b5","ticketState":"VALID","cancellationCause":"EXCHANGED"}}]}}`), catalog)
	pos := testCatalog(f).pos
	m := testMapper(f, "fr", nil)
	decode := func(t testing.TB, orderBody, catalogBody []byte) *pass.Order {
		t.Helper()
		root, err := decodeNode(catalogBody)
		if err != nil {
			return nil // fetchCatalog refuses it: the catalogue is not JSON
		}
		cat := &catView{perfs: indexCatalog(get(root, "catalogData")), pos: pos}
		r, err := parseOrder(orderBody)
		return checkMapping(t, m, r, cat, err)
	}
	// The sample order and catalogue map to tickets, so the checks are
	// not vacuous.
	if o := decode(f, order, catalog); o == nil || len(o.Tickets) == 0 {
		f.Fatalf("testdata/order-details.json with catalog.json: got order %+v, want tickets", o)
	}
	f.Fuzz(func(t *testing.T, orderBody, catalogBody []byte) {
		decode(t, orderBody, catalogBody)
	})
}

// checkMapping maps a parsed answer (or takes the parse's error) and
// checks what the fuzz targets ask of every outcome: an error with a kind
// and no order, or an order of the tenant whose every ticket is valid
// (and only voids, when VoidOnly, as a cancelled ticket). It
// returns the order, or nil.
func checkMapping(t testing.TB, m mapper, r *rawFile, cat *catView, err error) *pass.Order {
	t.Helper()
	var o *pass.Order
	if err == nil {
		o, err = m.order(r, cat)
	}
	if err != nil {
		if o != nil {
			t.Fatalf("got an order and an error %v", err)
		}
		if pass.KindOf(err) == pass.KindInternal {
			t.Fatalf("got an error without a kind: %v", err)
		}
		return nil
	}
	if o == nil || o.Tenant != "demo" {
		t.Fatalf("got order %+v, want the tenant's", o)
	}
	for _, tk := range o.Tickets {
		if err := tk.Validate(); err != nil {
			t.Fatalf("got an invalid ticket: %v", err)
		}
		if (tk.VoidOnly && tk.State != pass.TicketCancelled) || (tk.EventUnknown && !tk.VoidOnly) {
			t.Fatalf("got a ticket %s, void-only %v, event unknown %v; want void-only ones cancelled, and a stand-in event void-only",
				tk.State, tk.VoidOnly, tk.EventUnknown)
		}
	}
	return o
}
