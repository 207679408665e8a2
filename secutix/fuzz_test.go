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
	f.Fuzz(func(t *testing.T, data []byte) {
		var o *pass.Order
		r, err := parseFile(data, 0)
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
			return
		}
		if o == nil || o.FileID <= 0 || o.Tenant != "demo" {
			t.Fatalf("got order %+v, want a file id and the tenant", o)
		}
		for _, tk := range o.Tickets {
			if err := tk.Validate(); err != nil {
				t.Fatalf("got an invalid ticket: %v", err)
			}
		}
	})
}
