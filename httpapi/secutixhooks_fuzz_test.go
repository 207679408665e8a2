package httpapi_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"walletpass/secutix/webhook"
)

// v1ID is the documented form of a V1 webhook's order id: a positive
// decimal number.
var v1ID = regexp.MustCompile(`^[1-9][0-9]{0,18}$`)

// FuzzSecuTixWebhookRoutes sends arbitrary order ids to SecuTix's V1
// webhook (GET and POST) and arbitrary bodies to its V2 webhook: never a
// 5xx; V1 answers 200, with one event written, exactly for a positive
// order id that fits 64 bits (else a 4xx, nothing written); V2 answers
// 200 exactly for a body the V2 parser takes, with an event written for
// each of its orders, and a 4xx with nothing written otherwise.
func FuzzSecuTixWebhookRoutes(f *testing.F) {
	const goodID, goodBody = "11047860001", `{"orderDetailsData":{"orderId":11047860001,"orderSecretId":"NqcFTYpkjR_bIogaJbcRHawB"}}`
	for _, s := range [][2]string{
		{goodID, goodBody}, // the success paths: checked below
		{"0", `[{"orderId":1},{"orderDetailsData":{"orderSecretId":"s"}}]`},
		{"-5", `{"orderId":"1"}}`}, {"9223372036854775808", `{}`}, {"1e3", `null`}, {"%2F", `[]`},
	} {
		f.Add(s[0], []byte(s[1]))
	}
	h := setupHooks(f, nil)
	send := func(t *testing.T, method, path string, body []byte) int {
		t.Helper()
		req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(string(body)))
		if err != nil {
			return 0 // not a request
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	f.Fuzz(func(t *testing.T, orderID string, body []byte) {
		id, err := strconv.ParseInt(orderID, 10, 64)
		valid := v1ID.MatchString(orderID) && err == nil && id > 0
		good := orderID == goodID && string(body) == goodBody
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			before := h.rowsEvents(t)
			st := send(t, method, "/api/demo/webhooks/secutix/v1/orders/"+url.PathEscape(orderID), nil)
			after := h.rowsEvents(t)
			if good && st != http.StatusOK {
				t.Fatalf("V1 %s of the good seed: %d", method, st)
			}
			switch {
			case st == 0:
			case st >= 500:
				t.Fatalf("V1 %s %q: %d", method, orderID, st)
			case st == http.StatusOK && (!valid || after != before+1):
				t.Fatalf("V1 %s %q: 200 with %d events (valid %v)", method, orderID, after-before, valid)
			case st != http.StatusOK && (valid && orderID != "" || after != before):
				t.Fatalf("V1 %s %q: %d with %d events (valid %v)", method, orderID, st, after-before, valid)
			}
		}
		before := h.rowsEvents(t)
		st := send(t, http.MethodPost, "/api/demo/webhooks/secutix/v2/orders", body)
		after := h.rowsEvents(t)
		orders, perr := webhook.ParseV2(body)
		if good && st != http.StatusOK {
			t.Fatalf("V2 of the good seed: %d", st)
		}
		switch {
		case st >= 500:
			t.Fatalf("V2 %q: %d", body, st)
		case st == http.StatusOK && (perr != nil || after != before+len(orders)):
			t.Fatalf("V2 %q: 200 with %d events; the parser: %d orders, %v", body, after-before, len(orders), perr)
		case st != http.StatusOK && after != before:
			t.Fatalf("V2 %q: %d but %d events written", body, st, after-before)
		case st != http.StatusOK && perr == nil && st != http.StatusRequestEntityTooLarge:
			t.Fatalf("V2 %q: %d for a body the parser takes", body, st)
		}
	})
}
