package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseListener(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		want    Listener
		wantErr string
	}{
		{name: "full", body: `{"ticketId": 10228844446468, "saleMovementId": 10228844462196, "orderSecretToken": "Xk3p9Q2rT7", "state": "PAID", "lastUpdate": "2026-03-14T20:00:00+01:00"}`,
			want: Listener{TicketID: 10228844446468, SaleMovementID: 10228844462196, OrderSecretToken: "Xk3p9Q2rT7", State: "PAID", LastUpdate: time.Date(2026, 3, 14, 19, 0, 0, 0, time.UTC)}},
		{name: "no offset", body: `{"orderSecretToken":"abc","state":"modified","lastUpdate":"2026-03-14T20:00:00.123"}`,
			want: Listener{OrderSecretToken: "abc", State: "MODIFIED", LastUpdate: time.Date(2026, 3, 14, 20, 0, 0, 123e6, time.UTC)}},
		{name: "epoch seconds string", body: `{"orderSecretToken":"abc","state":"PAID","lastUpdate":"1773514800"}`,
			want: Listener{OrderSecretToken: "abc", State: "PAID", LastUpdate: time.Unix(1773514800, 0).UTC()}},
		{name: "epoch millis number", body: `{"orderSecretToken":"abc","state":"PAID","lastUpdate":1773514800123, "ticketId": null}`,
			want: Listener{OrderSecretToken: "abc", State: "PAID", LastUpdate: time.UnixMilli(1773514800123).UTC()}},
		{name: "unknown state kept", body: `{"orderSecretToken":"abc","state":"RESOLD","lastUpdate":"2026-01-01T00:00:00Z","extra":{"x":1}}`,
			want: Listener{OrderSecretToken: "abc", State: "RESOLD", LastUpdate: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "missing token", body: `{"state":"PAID","lastUpdate":"2026-01-01T00:00:00Z"}`, wantErr: "orderSecretToken is required"},
		{name: "null token", body: `{"orderSecretToken":null,"state":"PAID","lastUpdate":"2026-01-01T00:00:00Z"}`, wantErr: "orderSecretToken is required"},
		{name: "numeric token", body: `{"orderSecretToken":5,"state":"PAID","lastUpdate":"2026-01-01T00:00:00Z"}`, wantErr: "orderSecretToken must be a string"},
		{name: "null state", body: `{"orderSecretToken":"a","state":null,"lastUpdate":"2026-01-01T00:00:00Z"}`, wantErr: "state is required"},
		{name: "missing lastUpdate", body: `{"orderSecretToken":"a","state":"PAID"}`, wantErr: "lastUpdate is required"},
		{name: "bad lastUpdate", body: `{"orderSecretToken":"a","state":"PAID","lastUpdate":"yesterday"}`, wantErr: `lastUpdate "yesterday" is neither`},
		{name: "negative ticket", body: `{"ticketId":-4,"orderSecretToken":"a","state":"PAID","lastUpdate":"2026-01-01T00:00:00Z"}`, wantErr: "ticketId: must be a positive"},
		{name: "huge ticket", body: `{"ticketId":99999999999999999999,"orderSecretToken":"a","state":"PAID","lastUpdate":"2026-01-01T00:00:00Z"}`, wantErr: "ticketId: must be a positive"},
		{name: "not an object", body: `[1,2]`, wantErr: "must be a JSON object"},
		{name: "trailing", body: `{"orderSecretToken":"a","state":"PAID","lastUpdate":"2026-01-01T00:00:00Z"} {}`, wantErr: "single JSON object"},
		{name: "space in token", body: `{"orderSecretToken":"a b","state":"PAID","lastUpdate":"2026-01-01T00:00:00Z"}`, wantErr: "printable characters without spaces"},
		{name: "year 1970", body: `{"orderSecretToken":"a","state":"PAID","lastUpdate":"5"}`, wantErr: "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseListener([]byte(tc.body))
			if tc.wantErr != "" {
				var pe *Error
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &pe) {
					t.Fatalf("err = %v, want a *Error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.LastUpdate.Equal(tc.want.LastUpdate) {
				t.Errorf("lastUpdate = %v, want %v", got.LastUpdate, tc.want.LastUpdate)
			}
			got.LastUpdate, tc.want.LastUpdate = time.Time{}, time.Time{}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseV2(t *testing.T) {
	t.Parallel()
	got, err := ParseV2([]byte(`{"statusCode":"success","orderDetailsData":{"orderId":10000702652,"orderSecretId":"Xk3p9Q2rT7","operationDatas":[]}}`))
	if err != nil || len(got) != 1 || got[0].OrderID != 10000702652 || got[0].OrderSecretID != "Xk3p9Q2rT7" {
		t.Fatalf("got %+v, %v", got, err)
	}
	got, err = ParseV2([]byte(`[{"orderId":1},{"orderDetailsData":{"orderSecretId":"s"}}]`))
	if err != nil || len(got) != 2 || got[0].OrderID != 1 || got[1].OrderSecretID != "s" {
		t.Fatalf("array: got %+v, %v", got, err)
	}
	for _, bad := range []string{``, `{}`, `[]`, `{"orderDetailsData":{"orderId":"x"}}`, `{"orderDetailsData":5}`, `nope`} {
		if _, err := ParseV2([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseListener(f *testing.F) {
	f.Add([]byte(`{"ticketId": 1, "saleMovementId": 2, "orderSecretToken": "tok", "state": "PAID", "lastUpdate": "2026-03-14T20:00:00+01:00"}`))
	f.Add([]byte(`{"orderSecretToken":"abc","state":"PAID","lastUpdate":1773514800123}`))
	f.Add([]byte(`{"orderSecretToken":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := ParseListener(body)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if l.OrderSecretToken == "" || l.State == "" || l.LastUpdate.IsZero() || l.TicketID < 0 || l.SaleMovementID < 0 {
			t.Fatalf("accepted an incomplete body: %+v", l)
		}
	})
}

func FuzzParseV2(f *testing.F) {
	f.Add([]byte(`{"orderDetailsData":{"orderId":1,"orderSecretId":"s"}}`))
	f.Add([]byte(`[{"orderId":1}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		orders, err := ParseV2(body)
		if err != nil {
			return
		}
		for _, o := range orders {
			if o.OrderID <= 0 && o.OrderSecretID == "" {
				t.Fatalf("accepted an order without id: %+v", o)
			}
		}
	})
}

// TestParseV2AsTheSyncReadsIt: a body with a stray } or ] after the order
// is refused, and the order's keys are read case folded, as the sync's
// parser reads them; two spellings of one key are refused.
func TestParseV2AsTheSyncReadsIt(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		body string
		id   int64
		ok   bool
	}{
		{`{"orderId":"1"}}`, 0, false},
		{`{"orderDetailsData":{"orderId":1}}]`, 0, false},
		{`{"orderDetailsData":{"OrderId":5}}`, 5, true},
		{`{"ORDERDETAILSDATA":{"orderId":6}}`, 6, true},
		{`{"orderDetailsData":{"orderId":1,"ORDERID":2}}`, 0, false},
	} {
		orders, err := ParseV2([]byte(c.body))
		if (err == nil) != c.ok || (c.ok && (len(orders) != 1 || orders[0].OrderID != c.id)) {
			t.Errorf("%s: %+v, %v; want ok %v, order %d", c.body, orders, err, c.ok, c.id)
		}
	}
}
