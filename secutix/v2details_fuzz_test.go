package secutix

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"walletpass/secutix/webhook"
)

// v2Seeds are order webhook V2 bodies built from the testdata answers and
// the corpus of FuzzDecodeFile: each order of a file, as
// {"orderDetailsData": …}.
func v2Seeds(f *testing.F) [][]byte {
	f.Helper()
	var bodies [][]byte
	samples, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	corpus, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecodeFile", "*"))
	for _, p := range append(samples, corpus...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if v, ok := bytes.CutPrefix(b, []byte("go test fuzz v1\n[]byte(")); ok {
			s, err := strconv.Unquote(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(")"))))
			if err != nil {
				f.Fatalf("%s: %v", p, err)
			}
			b = []byte(s)
		}
		root, err := decodeNode(b)
		if err != nil {
			continue
		}
		orders, _ := get(root, "orderDetailsDatas").([]any)
		if od := get(root, "orderDetailsData"); od != nil {
			orders = append(orders, od)
		}
		for _, od := range orders {
			body, err := json.Marshal(map[string]any{"orderDetailsData": od})
			if err != nil {
				f.Fatal(err)
			}
			bodies = append(bodies, body)
		}
	}
	return bodies
}

// FuzzV2Details feeds order webhook V2 bodies to webhook.ParseV2 and
// hands each order it accepts to what the sync does with it
// (OrderFromDetails parses the details with parseOrder, then maps them):
// an order ParseV2 accepts parses, as the same order (its orderId and
// orderSecretId as ParseV2 read them), and maps to an error with a kind
// or to valid tickets (checkMapping, with the testdata catalogue); or its
// details do not parse, and the sync reads the order by its reference.
func FuzzV2Details(f *testing.F) {
	for _, b := range v2Seeds(f) {
		f.Add(b)
	}
	for _, s := range []string{
		`{"orderDetailsData":{"orderId":1,"orderSecretId":"s"}}`, `[{"orderId":1}]`,
		`{"statusCode":"success","orderDetailsData":{"orderId":10000702652,"orderSecretId":"Xk3p9Q2rT7","operationDatas":[]}}`,
		`[{"orderId":1},{"orderDetailsData":{"orderSecretId":"s"}}]`, `{"orderDetailsData":{"orderId":"7","orderSecretId":null}}`,
		`{"orderId":3,"movementDatas":[{"movementId":4}],"orderSecretId":" tok "}`,
		`{"orderDetailsData":{"orderId":1,"ORDERID":2}}`, `{"orderDetailsData":{"OrderId":5}}`, `{"orderId":"1"}}`, `{"orderId":"1"}]`,
		`{"orderDetailsData":{"orderId":1,"movementDatas":0}}`,
	} {
		f.Add([]byte(s))
	}
	m, cat := testMapper(f, "fr", nil), testCatalog(f)
	check := func(t testing.TB, body []byte) int {
		t.Helper()
		orders, err := webhook.ParseV2(body)
		if err != nil {
			return 0
		}
		for i, o := range orders {
			r, err := parseOrder(o.Details)
			if err != nil {
				// Details the order parser refuses (a member of the wrong
				// type): OrderFromDetails calls them invalid and the sync
				// reads the order from SecuTix by the reference ParseV2
				// read (pass's TestUnreadableWebhookBodyIsFetched).
				if o.OrderID == 0 && o.OrderSecretID == "" {
					t.Fatalf("order %d of %q: details parseOrder refuses, and no reference to fetch the order by", i, body)
				}
				continue
			}
			od := r.orders[0]
			if int64(od.OrderID) != o.OrderID || od.OrderSecretID.String() != o.OrderSecretID {
				t.Fatalf("order %d: ParseV2 read order %d, secret %q; parseOrder order %d, secret %q",
					i, o.OrderID, o.OrderSecretID, int64(od.OrderID), od.OrderSecretID.String())
			}
			checkMapping(t, m, r, cat, nil)
		}
		return len(orders)
	}
	if n := check(f, readSample(f, "order-details.json")); n != 1 {
		f.Fatalf("testdata/order-details.json: ParseV2 read %d orders, want 1", n)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check(t, body)
	})
}
