package secutix_test

import (
	"encoding/json"
	"strings"
	"testing"

	"walletpass/secutix"
)

func TestMaskJSON(t *testing.T) {
	t.Parallel()
	in := `{"orderSecretId":"K9abcdefghijklmnop","fileId":10068481001,` +
		`"movementDatas":[{"barCode":"894173433953925950966718","area":"Parterre",` +
		`"holder":{"firstName":"Jane","email":"jane@example.com"},"culturalContactNumber":124}]}`
	out := string(secutix.MaskJSON([]byte(in)))
	for _, gone := range []string{"abcdefghijklmnop", "894173433953925950966718", "Jane", "jane@example.com", "124"} {
		if strings.Contains(out, gone) {
			t.Errorf("%q is not masked:\n%s", gone, out)
		}
	}
	for _, kept := range []string{`"fileId": 10068481001`, `"area": "Parterre"`, `"barCode": "89…(24)"`, `"orderSecretId": "K9…(18)"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("the output lacks %s:\n%s", kept, out)
		}
	}
	if got := string(secutix.MaskJSON([]byte("<html>secret</html>"))); strings.Contains(got, "secret") || !strings.Contains(got, "not JSON") {
		t.Errorf("not JSON: %s", got)
	}
}

// FuzzMaskJSON: any answer masks to valid JSON without a panic.
func FuzzMaskJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"barcode":["a",{"x":1}]}`, `"x"`, `{"holder":null}`, `1e400`, `{`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out := secutix.MaskJSON(b)
		if !json.Valid(out) {
			t.Fatalf("not JSON: %q → %q", b, out)
		}
	})
}
