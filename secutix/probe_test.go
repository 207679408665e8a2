package secutix_test

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// FuzzMaskJSON: any answer masks to valid JSON without a panic, of the
// same shape; every string or number under a key that names a secret or
// personal data (as encoding/json matches keys to fields: case folded)
// is masked, and nothing else changes.
func FuzzMaskJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"barcode":["a",{"x":1}]}`, `"x"`, `{"holder":null}`, `1e400`, `{`, ``,
		`{"orderSecretId":"K9abcdefghijklmnop","fileId":10068481001,"area":"Parterre"}`,
		`{"ORDERSECRETID":"abcdefgh","orderſecretId":"ijklmnop","nested":{"eMail":"a@b.ch","phone":41791234567}}`} {
		f.Add([]byte(s))
	}
	decode := func(b []byte) (any, error) {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		err := d.Decode(&v)
		return v, err
	}
	// Fields of SecuTix's answers that carry a secret or personal data.
	fields := []string{"orderSecretId", "barCode", "firstName", "lastName", "email", "phone", "holder"}
	var walk func(t *testing.T, in, out any, hide bool, at string)
	walk = func(t *testing.T, in, out any, hide bool, at string) {
		switch x := in.(type) {
		case map[string]any:
			o, ok := out.(map[string]any)
			if !ok || len(o) != len(x) {
				t.Fatalf("%s: an object became %v", at, out)
			}
			for k, v := range x {
				personal := secutix.IsPersonal(k)
				for _, f := range fields {
					if strings.EqualFold(k, f) && !personal {
						t.Fatalf("%s.%s fills %s but is not masked", at, k, f)
					}
				}
				walk(t, v, o[k], hide || personal, at+"."+k)
			}
		case []any:
			o, ok := out.([]any)
			if !ok || len(o) != len(x) {
				t.Fatalf("%s: an array became %v", at, out)
			}
			for i := range x {
				walk(t, x[i], o[i], hide, at)
			}
		case string:
			if want := map[bool]string{true: secutix.MaskValue(x), false: x}[hide]; out != want {
				t.Fatalf("%s: %q became %v, want %q", at, x, out, want)
			}
		case json.Number:
			if hide && out != secutix.MaskValue(x.String()) {
				t.Fatalf("%s: %s became %v, want it masked", at, x, out)
			}
			if !hide && fmt.Sprint(out) != x.String() {
				t.Fatalf("%s: %s became %v", at, x, out)
			}
		default:
			if in != out {
				t.Fatalf("%s: %v became %v", at, in, out)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out := secutix.MaskJSON(b)
		if !json.Valid(out) {
			t.Fatalf("not JSON: %q → %q", b, out)
		}
		in, err := decode(b)
		if err != nil {
			return // shown as its length only (TestMaskJSON)
		}
		masked, err := decode(out)
		if err != nil {
			t.Fatal(err)
		}
		walk(t, in, masked, false, "$")
	})
}
