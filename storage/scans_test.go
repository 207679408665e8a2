package storage_test

import (
	"context"
	"errors"
	"fmt"
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

// TestAdmitScanOnce: gates admitting one ticket at once through several
// handles (instances) claim its used mark once: one scan is valid, with
// its webhook event, sync and announcement, the others already_used with
// nothing written; a scan id sent again gets its answer; a later occasion
// (Since after the mark) and a re-entry take the mark again.
func TestAdmitScanOnce(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d testDB) {
		ctx := context.Background()
		dbs := handles(t, d, 3)
		at := t0
		admission := func(scanID string, since time.Time, reEntry bool) pass.Admission {
			ann := syncTask("announce-" + scanID)
			return pass.Admission{
				Scan: pass.ScanRecord{Tenant: "demo", ScanID: scanID, Serial: "s1", Result: pass.ScanValid, ReEntry: reEntry, At: at},
				Ref:  "t:7", Since: since, ReEntry: reEntry,
				Mark: pass.WebhookEvent{Tenant: "demo", Source: pass.ScanSourceGate, SecretToken: "sec", TicketID: 7,
					State: "VALIDATED", LastUpdate: at, ReceivedAt: at},
				Sync: syncTask("sec"), Announce: &ann,
			}
		}
		const gates = 6
		answers := make(chan string, gates)
		for i := range gates {
			go func() {
				sc, fresh, err := dbs[i%len(dbs)].AdmitScan(ctx, admission(fmt.Sprintf("g%d", i), time.Time{}, false), at)
				if err != nil || !fresh {
					answers <- fmt.Sprintf("%v %v", fresh, err)
					return
				}
				answers <- sc.Result
			}()
		}
		count := map[string]int{}
		for range gates {
			count[<-answers]++
		}
		if count[pass.ScanValid] != 1 || count[pass.ScanAlreadyUsed] != gates-1 {
			t.Fatalf("answers %v, want one valid", count)
		}
		hints, err := dbs[0].Hints(ctx, "demo", "sec")
		if err != nil || len(hints) != 1 || hints[0].State != "VALIDATED" || hints[0].Source != pass.ScanSourceGate {
			t.Errorf("hints %+v %v", hints, err)
		}
		// A scan id sent again: its stored answer, nothing claimed.
		for i := range gates {
			sc, fresh, err := dbs[0].AdmitScan(ctx, admission(fmt.Sprintf("g%d", i), time.Time{}, false), at)
			if err != nil || fresh || (sc.Result != pass.ScanValid && sc.Result != pass.ScanAlreadyUsed) {
				t.Errorf("g%d again: %+v %v %v", i, sc, fresh, err)
			}
		}
		// Another occasion of a season ticket, then a re-entry.
		at = t0.Add(24 * time.Hour)
		if sc, _, err := dbs[1].AdmitScan(ctx, admission("next-day", t0.Add(time.Hour), false), at); err != nil || sc.Result != pass.ScanValid {
			t.Errorf("the next occasion: %+v %v", sc, err)
		}
		if sc, _, err := dbs[2].AdmitScan(ctx, admission("same-day", t0.Add(time.Hour), false), at); err != nil || sc.Result != pass.ScanAlreadyUsed {
			t.Errorf("the same occasion again: %+v %v", sc, err)
		}
		if sc, _, err := dbs[2].AdmitScan(ctx, admission("re-entry", time.Time{}, true), at); err != nil || sc.Result != pass.ScanValid || !sc.ReEntry {
			t.Errorf("a re-entry: %+v %v", sc, err)
		}
	})
}
