package apple_test

import (
	"strings"
	"testing"

	"walletpass/pass"
	"walletpass/pass/apple"
)

// TestPassFields: a version reads as its fields by stable keys, without
// the authentication token, with the barcode masked; a moved seat shows
// as changed values under the same keys.
func TestPassFields(t *testing.T) {
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	built, err := b.issuer.Build(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := apple.PassFields(built.PKPass)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, f := range fs {
		if i > 0 && fs[i-1].Key >= f.Key {
			t.Errorf("keys out of order: %q then %q", fs[i-1].Key, f.Key)
		}
		got[f.Key] = f.Value
		if strings.Contains(f.Value, testToken) || strings.Contains(f.Value, testSerial) {
			t.Errorf("%s shows a secret or an identifier: %q", f.Key, f.Value)
		}
		if tk.Barcode != "" && strings.Contains(f.Value, tk.Barcode) {
			t.Errorf("%s shows the barcode unmasked: %q", f.Key, f.Value)
		}
	}
	if len(got) < 10 || got["barcodes.0.message"] == "" || got["relevantDate"] == "" && got["relevantDates.0.startDate"] == "" {
		t.Errorf("fields: %v", got)
	}
	seat := ""
	for k, v := range got {
		if strings.HasPrefix(k, "auxiliaryFields.") || strings.HasPrefix(k, "secondaryFields.") {
			if strings.Contains(v, tk.Seat.Number) {
				seat = k
			}
		}
	}
	if seat == "" {
		t.Fatalf("no field shows the seat %q: %v", tk.Seat.Number, got)
	}
	moved := tk
	moved.Seat.Number = "99"
	built2, err := b.issuer.Build(b.tpl, apple.Input{Ticket: moved, SerialNumber: testSerial, AuthToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	fs2, err := apple.PassFields(built2.PKPass)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs2 {
		if f.Key == seat && !strings.Contains(f.Value, "99") {
			t.Errorf("the moved seat under %s: %q", seat, f.Value)
		}
	}
	if _, err := apple.PassFields([]byte("not a zip")); err == nil {
		t.Error("PassFields of junk: no error")
	}
}
