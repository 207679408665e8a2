package secutix_test

import (
	"context"
	"testing"
	"time"

	fakesecutix "walletpass/fake/secutix"
	"walletpass/pass"
	"walletpass/secutix"
)

// TestPerformanceFromTheCatalogue: a performance's details come from the
// catalogue alone (no order is read), follow a move in SecuTix's back
// office, and leave out what the mapping reads from an order first.
func TestPerformanceFromTheCatalogue(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	ctx := context.Background()
	c := b.create(t, fakesecutix.OrderRequest{})
	o, err := b.cl.OrderBySecret(ctx, tenant, c.OrderSecretToken)
	if err != nil {
		t.Fatal(err)
	}
	tk := o.Tickets[0]
	files := b.sb.Calls("getFileDetails") + b.sb.Calls("getOrderDetails")
	d, err := b.cl.Performance(ctx, tk.Event.PerformanceID)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Start.Equal(tk.Event.Start) || !d.End.Equal(tk.Event.End) || d.Name != tk.Event.Name || d.TimeZone != tk.Event.TimeZone {
		t.Errorf("details %+v, ticket's event %+v", d, tk.Event)
	}
	// The venue's name is the order's (location.siteExternalName): not the
	// catalogue's to say.
	if d.Venue.Name != "" {
		t.Errorf("venue %q from the catalogue", d.Venue.Name)
	}
	if n := b.sb.Calls("getFileDetails") + b.sb.Calls("getOrderDetails"); n != files {
		t.Errorf("%d order reads for a performance", n-files)
	}

	start := tk.Event.Start.Add(48 * time.Hour)
	if err := b.sb.Reschedule(tk.Event.PerformanceID, start, time.Time{}); err != nil {
		t.Fatal(err)
	}
	d2, err := b.cl.Performance(ctx, tk.Event.PerformanceID)
	if err != nil {
		t.Fatal(err)
	}
	if !d2.Start.Equal(start) || d2.End.Sub(d2.Start) != tk.Event.End.Sub(tk.Event.Start) || d2.Fingerprint() == d.Fingerprint() {
		t.Errorf("after the move: %+v", d2)
	}
	if _, loc := d2.Start.Zone(); loc == 0 && tk.Event.TimeZone != "UTC" {
		t.Errorf("the start is not in the venue's zone: %s", d2.Start)
	}
	t.Run("unknown performance", func(t *testing.T) {
		_, err := b.cl.Performance(ctx, 999999999)
		wantKind(t, err, pass.KindNotFound)
	})
	t.Run("a field an order decides first", func(t *testing.T) {
		cfg := b.cfg
		cfg.Fields = map[string]string{"eventName": "operation.performance | product.externalName"}
		cl := b.client(t, cfg)
		d, err := cl.Performance(ctx, tk.Event.PerformanceID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != "" || !d.Start.Equal(start) {
			t.Errorf("name %q (want none: the order's operation comes first), start %s", d.Name, d.Start)
		}
	})
	t.Run("an unknown tenant", func(t *testing.T) {
		_, err := secutix.Clients{tenant: b.cl}.Performance(ctx, "nobody", tk.Event.PerformanceID)
		wantKind(t, err, pass.KindNotFound)
	})
}
