package secutix_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	fakesecutix "walletpass/fake/secutix"
	"walletpass/pass"
	"walletpass/secutix"
)

// TestReauthenticatesOnceOn403: SecuTix does not say whether a stale token
// gets 401 or 403, so a 403 drops the cached token and the call is tried
// once more with a new one, as for a 401.
func TestReauthenticatesOnceOn403(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, tokenMode)
	c := b.create(t, fakesecutix.OrderRequest{})
	ctx := t.Context()
	if _, err := b.cl.OrderByFileID(ctx, tenant, c.FileID); err != nil {
		t.Fatal(err)
	}
	b.sb.FailNext(http.StatusForbidden, 1)
	if _, err := b.cl.OrderByFileID(ctx, tenant, c.FileID); err != nil {
		t.Fatalf("got %v after a 403, want a new token and the answer", err)
	}
	if a := b.sb.Calls("auth"); a != 2 {
		t.Errorf("got %d auth calls, want 2 (the 403 dropped the token)", a)
	}
	b.sb.FailNext(http.StatusForbidden, 3)
	_, err := b.cl.OrderByFileID(ctx, tenant, c.FileID)
	wantKind(t, err, pass.KindUnauthorized)
}

// TestRefundOfAnEndedPerformance: SecuTix's catalogue exports only what is
// on sale unless it is asked for the extended scope, so a refund after the
// performance has ended maps from the catalogue only with that scope, the
// client's default. Without it, the refunded ticket is still mapped as
// cancelled (its pass must be voided), dated by its own validity and
// apart from the performance, while a ticket of the same performance that
// is still valid is left out with a warning: the rest of the order maps.
func TestRefundOfAnEndedPerformance(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	start := fixedNow.Add(-50 * time.Hour)
	c := b.create(t, fakesecutix.OrderRequest{Count: 2, Tickets: []fakesecutix.TicketSpec{{Event: &fakesecutix.EventSpec{
		Name: "Yesterday's show", Start: start.Format(time.RFC3339), End: start.Add(2 * time.Hour).Format(time.RFC3339)}}}})
	if _, err := b.sb.Refund(c.FileID, c.Tickets[0].TicketID); err != nil {
		t.Fatal(err)
	}
	o, err := b.cl.OrderByFileID(t.Context(), tenant, c.FileID)
	if err != nil {
		t.Fatalf("the default (extended) catalogue: %v", err)
	}
	if len(o.Tickets) != 2 || o.Tickets[0].State != pass.TicketCancelled || o.Tickets[1].State != pass.TicketValid ||
		!o.Tickets[0].Event.Start.Equal(start) || o.Tickets[0].Event.PerformanceID == 0 {
		t.Fatalf("got %+v, want the first ticket cancelled at the performance's start, the second valid", o.Tickets)
	}
	if tk := o.Tickets[0]; tk.VoidOnly || tk.EventUnknown {
		t.Errorf("the refund dated by its performance is void-only %v, event unknown %v; want neither", tk.VoidOnly, tk.EventUnknown)
	}

	// What is on sale lacks the performance.
	cfg := b.cfg
	cfg.CatalogScope = secutix.CatalogScopeNone
	o, err = b.client(t, cfg).OrderByFileID(t.Context(), tenant, c.FileID)
	if err != nil {
		t.Fatalf("a refund of a performance the catalogue lacks: %v", err)
	}
	if len(o.Tickets) != 1 {
		t.Fatalf("got %+v, want the refunded ticket alone", o.Tickets)
	}
	got := o.Tickets[0]
	validFrom := start.Add(-2 * time.Hour) // the sandbox's validityStartTime
	if got.MovementID != c.Tickets[0].MovementID || got.State != pass.TicketCancelled || !got.Event.Start.Equal(validFrom) ||
		got.Event.PerformanceID != 0 || got.Event.Name != "Yesterday's show" || got.Venue.Name == "" {
		t.Errorf("got %+v, want movement %d cancelled, dated %s by its validity, without its performance", got, c.Tickets[0].MovementID, validFrom)
	}
	if !got.VoidOnly || !got.EventUnknown {
		t.Errorf("the refund dated by a stand-in is void-only %v, event unknown %v; want both (its pass keeps its event; none is made)", got.VoidOnly, got.EventUnknown)
	}
	warned := strings.Join(o.Warnings, "\n")
	for _, want := range []string{
		fmt.Sprintf("movement %d of order %d: performance", c.Tickets[0].MovementID, c.OrderID),
		"the ticket is cancelled, so it is mapped to void a pass made of it (none is made), dated by its validity",
		fmt.Sprintf("movement %d of order %d: performance", c.Tickets[1].MovementID, c.OrderID),
		"is not in the catalogue (getCatalogDetailed), so its start is unknown",
	} {
		if !strings.Contains(warned, want) {
			t.Errorf("warnings %q lack %q", o.Warnings, want)
		}
	}
}

// TestDroppedPerformanceOnEveryInstance: a performance that leaves the
// catalogue (taken off sale) is remembered in the stored catalogue, not
// only by the instance that saw it go: another instance, or this one
// after a restart, still maps the refund of one of its tickets.
func TestDroppedPerformanceOnEveryInstance(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, func(c *secutix.Config) { c.CatalogScope = secutix.CatalogScopeNone })
	cfg := b.cfg
	cfg.Catalogs = &memCatalogs{}
	first := b.client(t, cfg)
	start := fixedNow.Add(48 * time.Hour)
	c := b.create(t, fakesecutix.OrderRequest{Tickets: []fakesecutix.TicketSpec{{Event: &fakesecutix.EventSpec{
		Name: "Gala", Start: start.Format(time.RFC3339), End: start.Add(2 * time.Hour).Format(time.RFC3339)}}}})
	o, err := first.OrderByFileID(t.Context(), tenant, c.FileID)
	if err != nil {
		t.Fatal(err)
	}
	perf := o.Tickets[0].Event.PerformanceID
	// The show is moved into the past: what is on sale no longer holds it.
	if err := b.sb.Reschedule(perf, fixedNow.Add(-50*time.Hour), fixedNow.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sb.Refund(c.FileID, c.Tickets[0].TicketID); err != nil {
		t.Fatal(err)
	}
	if o, err = first.OrderByFileID(t.Context(), tenant, c.FileID); err != nil || o.Tickets[0].State != pass.TicketCancelled {
		t.Fatalf("the instance that saw it go: %+v %v", o, err)
	}
	if n := b.sb.Calls("getCatalogDetailed"); n < 2 {
		t.Fatalf("%d catalogue reads, want the one without the performance too", n)
	}
	for _, name := range []string{"another instance", "after a restart"} {
		o, err := b.client(t, cfg).OrderByFileID(t.Context(), tenant, c.FileID)
		if err != nil || len(o.Tickets) != 1 || o.Tickets[0].State != pass.TicketCancelled {
			t.Errorf("%s: %+v %v, want the ticket cancelled", name, o, err)
		}
	}
}

// TestOrdersReadWithTheirFile: an exchange order, and an order given at a
// granularity without its movements, are read with their file rather than
// mapped as they are (which would give no ticket, or miss those the
// exchange replaced).
func TestOrdersReadWithTheirFile(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, func(c *secutix.Config) { c.Granularity = "OPERATIONS" })
	c := b.create(t, fakesecutix.OrderRequest{Count: 2})
	ctx := t.Context()

	o, err := b.cl.OrderByOrderID(ctx, tenant, c.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Tickets) != 2 || b.sb.Calls("getFileDetails") != 1 {
		t.Errorf("operations only: got %d tickets after %d getFileDetails calls, want 2 after 1", len(o.Tickets), b.sb.Calls("getFileDetails"))
	}

	f, ok := b.sb.Order(c.FileID)
	if !ok {
		t.Fatal("the sandbox lost the file")
	}
	details := f.OrderDetailsDatas[0]
	details.OrderType = "EXCHANGE_CLIENT"
	body, err := json.Marshal(map[string]any{"orderDetailsData": details})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(`"movementDatas":[{`)) {
		t.Fatalf("the exchange's body has no movements: %s", body)
	}
	o, err = b.cl.OrderFromDetails(ctx, tenant, body)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Tickets) != 2 || b.sb.Calls("getFileDetails") != 2 {
		t.Errorf("exchange: got %d tickets after %d getFileDetails calls, want 2 after 2", len(o.Tickets), b.sb.Calls("getFileDetails"))
	}
}

// TestDetailsLackingBarcodesReadTheFile: a sale order given alone (a V2
// webhook's body) whose movements lack their barcodes (a granularity
// without tickets) is read with its file, which has them, rather than
// mapped with those movements left out.
func TestDetailsLackingBarcodesReadTheFile(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	c := b.create(t, fakesecutix.OrderRequest{Count: 2})
	f, ok := b.sb.Order(c.FileID)
	if !ok {
		t.Fatal("the sandbox lost the file")
	}
	raw, err := json.Marshal(f.OrderDetailsDatas[0])
	if err != nil {
		t.Fatal(err)
	}
	var details map[string]any
	if err := json.Unmarshal(raw, &details); err != nil {
		t.Fatal(err)
	}
	mvs, _ := details["movementDatas"].([]any)
	for _, mv := range mvs {
		delete(mv.(map[string]any), "tickets")
		delete(mv.(map[string]any), "barCode")
	}
	if len(mvs) != 2 {
		t.Fatalf("the order has %d movements, want 2", len(mvs))
	}
	body, err := json.Marshal(map[string]any{"orderDetailsData": details})
	if err != nil {
		t.Fatal(err)
	}
	o, err := b.cl.OrderFromDetails(t.Context(), tenant, body)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Tickets) != 2 || o.Tickets[0].Barcode != c.Tickets[0].Barcode || b.sb.Calls("getFileDetails") != 1 {
		t.Errorf("got %d tickets after %d getFileDetails calls (warnings %q), want 2 with their barcodes after 1",
			len(o.Tickets), b.sb.Calls("getFileDetails"), o.Warnings)
	}
}
