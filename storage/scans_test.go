package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/storage"
)

// TestScansAndBarcodes: a pass is found by its ticket's barcode (the
// current holder's first), also after the column was filled from the
// stored ticket; a scan id is stored once and its first answer kept.
func TestScansAndBarcodes(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		old := newPass("old", 1)
		old.Ticket.MovementID, old.Ticket.Barcode, old.Status = 1, "BC-1", pass.StatusVoided
		cur := newPass("cur", 1)
		cur.HolderGeneration, cur.Ticket.MovementID, cur.Ticket.Barcode = 1, 1, "BC-1"
		for _, p := range []*pass.Pass{old, cur} {
			if err := db.CreatePass(ctx, p, nil); err != nil {
				t.Fatal(err)
			}
		}
		find := func(what string) {
			t.Helper()
			p, err := db.PassByBarcode(ctx, "demo", "BC-1")
			if err != nil || p.SerialNumber != "cur" {
				t.Errorf("%s: %v %v, want the current holder's pass", what, p, err)
			}
			if _, err := db.PassByBarcode(ctx, "other", "BC-1"); !errors.Is(err, pass.ErrNotFound) {
				t.Errorf("%s: another tenant finds it: %v", what, err)
			}
		}
		find("stored")
		if err := db.ForgetBarcodes(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PassByBarcode(ctx, "demo", "BC-1"); !errors.Is(err, pass.ErrNotFound) {
			t.Fatalf("after forgetting: %v", err)
		}
		if err := db.BackfillBarcodes(ctx); err != nil {
			t.Fatal(err)
		}
		find("backfilled")

		at := time.UnixMilli(1_800_000_000_000).UTC()
		first := pass.ScanRecord{Tenant: "demo", ScanID: "g1:1", Serial: "cur", Result: pass.ScanValid, At: at}
		got, fresh, err := db.RecordScan(ctx, first)
		if err != nil || !fresh || got != first {
			t.Fatalf("first scan: %+v %v %v", got, fresh, err)
		}
		again := first
		again.Result, again.At = pass.ScanAlreadyUsed, at.Add(time.Minute)
		got, fresh, err = db.RecordScan(ctx, again)
		if err != nil || fresh || got != first {
			t.Errorf("the same scan id: %+v fresh=%v %v, want the first", got, fresh, err)
		}
		other := again
		other.Tenant = "other"
		if _, fresh, _ := db.RecordScan(ctx, other); !fresh {
			t.Error("another tenant's scan id collides")
		}
	})
}
