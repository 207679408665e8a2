package secutix_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	fakesecutix "walletpass/fake/secutix"
	"walletpass/pass"
	"walletpass/secutix"
)

func zurich(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		t.Skip("no time zone database")
	}
	return loc
}

// demoTicket is what the client must make of ticket i of the sandbox's
// demo order (a fresh sandbox, fixedNow) for a client locale whose names
// are event and venue: the start and end from the catalogue in the POS
// time zone, the holder and area from the movement.
func demoTicket(t *testing.T, c fakesecutix.CreatedOrder, i int, event, venue, room, locale string) pass.Ticket {
	zone := zurich(t)
	holders := []string{"Léa Favre", "Marc Rochat"}
	return pass.Ticket{
		Tenant: tenant, FileID: c.FileID, OrderID: c.OrderID, OrderSecretToken: c.OrderSecretToken,
		MovementID: c.Tickets[i].MovementID, TicketID: c.Tickets[i].TicketID, Barcode: c.Tickets[i].Barcode,
		Symbology: pass.SymbologyQR,
		Event: pass.Event{
			Name: event, Kind: pass.EventConcert,
			Start:    time.Date(2026, 5, 31, 20, 0, 0, 0, zone),
			End:      time.Date(2026, 5, 31, 22, 30, 0, 0, zone),
			TimeZone: "Europe/Zurich",
		},
		Venue:      pass.Venue{Name: venue, Room: room, Address: "Rue du Général-Dufour 14", City: "Genève", PostalCode: "1204", Country: "CH"},
		Seat:       pass.Seat{Area: "Parterre"},
		Tariff:     "Adulte",
		Price:      pass.Money{Thousandths: 85000, Currency: "CHF"},
		HolderName: holders[i],
		Locale:     locale,
		State:      pass.TicketValid,
	}
}

func TestMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		locale string
		req    *fakesecutix.OrderRequest // nil: the demo order
		want   func(t *testing.T, c fakesecutix.CreatedOrder) []pass.Ticket
	}{
		{
			name: "demo order, English", locale: "en",
			want: func(t *testing.T, c fakesecutix.CreatedOrder) []pass.Ticket {
				return []pass.Ticket{
					demoTicket(t, c, 0, "Symphonic Night: Berlioz", "Victoria Hall", "Main hall", "en"),
					demoTicket(t, c, 1, "Symphonic Night: Berlioz", "Victoria Hall", "Main hall", "en"),
				}
			},
		},
		{
			name: "demo order, French", locale: "fr",
			want: func(t *testing.T, c fakesecutix.CreatedOrder) []pass.Ticket {
				return []pass.Ticket{
					demoTicket(t, c, 0, "Nuit symphonique : Berlioz", "Victoria Hall", "Grande salle", "fr"),
					demoTicket(t, c, 1, "Nuit symphonique : Berlioz", "Victoria Hall", "Grande salle", "fr"),
				}
			},
		},
		{
			name: "demo order, de_CH matches de", locale: "de_CH",
			want: func(t *testing.T, c fakesecutix.CreatedOrder) []pass.Ticket {
				return []pass.Ticket{
					demoTicket(t, c, 0, "Sinfonische Nacht: Berlioz", "Victoria Hall Genf", "Grosser Saal", "de-CH"),
					demoTicket(t, c, 1, "Sinfonische Nacht: Berlioz", "Victoria Hall Genf", "Grosser Saal", "de-CH"),
				}
			},
		},
		{
			name: "demo order, Italian falls back to English", locale: "it",
			want: func(t *testing.T, c fakesecutix.CreatedOrder) []pass.Ticket {
				return []pass.Ticket{
					demoTicket(t, c, 0, "Symphonic Night: Berlioz", "Victoria Hall", "Main hall", "it"),
					demoTicket(t, c, 1, "Symphonic Night: Berlioz", "Victoria Hall", "Main hall", "it"),
				}
			},
		},
		{
			name: "custom order, French falls back to the first name", locale: "fr",
			req: &fakesecutix.OrderRequest{Currency: "EUR", Tickets: []fakesecutix.TicketSpec{{
				Event: &fakesecutix.EventSpec{
					Names: []fakesecutix.Translation{{Locale: "de", Value: "Jazznacht"}, {Locale: "it", Value: "Notte jazz"}},
					Start: "2026-07-01T21:00:00+02:00", End: "2026-07-02T01:00:00+02:00",
				},
				Seat:   &fakesecutix.Seat{Area: "Pelouse"},
				Holder: &fakesecutix.Holder{FirstName: "Jane", LastName: "Doe"},
				Price:  ptr(int64(42500)), Tariff: "Student",
			}}},
			want: func(t *testing.T, c fakesecutix.CreatedOrder) []pass.Ticket {
				zone := zurich(t)
				return []pass.Ticket{{
					Tenant: tenant, FileID: c.FileID, OrderID: c.OrderID, OrderSecretToken: c.OrderSecretToken,
					MovementID: c.Tickets[0].MovementID, TicketID: c.Tickets[0].TicketID, Barcode: c.Tickets[0].Barcode,
					Symbology: pass.SymbologyQR,
					Event: pass.Event{
						Name: "Jazznacht", Kind: pass.EventConcert,
						Start: time.Date(2026, 7, 1, 21, 0, 0, 0, zone), End: time.Date(2026, 7, 2, 1, 0, 0, 0, zone),
						TimeZone: "Europe/Zurich",
					},
					Venue: pass.Venue{Name: "Victoria Hall", Room: "Grande salle", Address: "Rue du Général-Dufour 14", City: "Genève",
						PostalCode: "1204", Country: "CH"},
					Seat:   pass.Seat{Area: "Pelouse"},
					Tariff: "Student", Price: pass.Money{Thousandths: 42500, Currency: "EUR"},
					HolderName: "Jane Doe", Locale: "fr", State: pass.TicketValid,
				}}
			},
		},
		{
			name: "sports match", locale: "en",
			req: &fakesecutix.OrderRequest{Demo: "sports", Count: 1},
			want: func(t *testing.T, c fakesecutix.CreatedOrder) []pass.Ticket {
				zone := zurich(t)
				return []pass.Ticket{{
					Tenant: tenant, FileID: c.FileID, OrderID: c.OrderID, OrderSecretToken: c.OrderSecretToken,
					MovementID: c.Tickets[0].MovementID, TicketID: c.Tickets[0].TicketID, Barcode: c.Tickets[0].Barcode,
					Symbology: pass.SymbologyQR,
					Event: pass.Event{
						Name: "Servette FC – FC Basel", Kind: pass.EventConcert,
						Start: time.Date(2026, 5, 31, 18, 0, 0, 0, zone), End: time.Date(2026, 5, 31, 20, 30, 0, 0, zone),
						TimeZone: "Europe/Zurich",
					},
					Venue: pass.Venue{Name: "Geneva Stadium", Room: "Stadium", Address: "Route des Jeunes 16", City: "Lancy",
						PostalCode: "1212", Country: "CH"},
					Seat:   pass.Seat{Area: "Tribune Nord"},
					Tariff: "Adulte", Price: pass.Money{Thousandths: 45000, Currency: "CHF"},
					HolderName: "Léa Favre", Locale: "en", State: pass.TicketValid,
				}}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil, func(c *secutix.Config) { c.Locale = tc.locale })
			req := fakesecutix.OrderRequest{}
			if tc.req != nil {
				req = *tc.req
			}
			c := b.create(t, req)
			o, err := b.cl.OrderBySecret(t.Context(), tenant, c.OrderSecretToken)
			if err != nil {
				t.Fatal(err)
			}
			wantOrder := pass.Order{Tenant: tenant, FileID: c.FileID, OrderID: c.OrderID, SecretToken: c.OrderSecretToken,
				LastModified: fixedNow, Tickets: tc.want(t, c)}
			// The sandbox numbers performances itself: every ticket must
			// carry one, and the comparison then ignores it.
			for i := range o.Tickets {
				if o.Tickets[i].Event.PerformanceID == 0 {
					t.Errorf("ticket %d: no performance id", i)
				}
			}
			// The product (template rules) has its own test.
			if diff := cmp.Diff(wantOrder, *o, cmpopts.IgnoreFields(pass.Event{}, "PerformanceID", "Names"), cmpopts.IgnoreFields(pass.Venue{}, "Names"), cmpopts.IgnoreFields(pass.Ticket{}, "Product"), cmpopts.IgnoreFields(pass.Order{}, "Answer")); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
			// The answer is kept for the operator, masked.
			if !strings.HasPrefix(o.Answer, `{"fileDetailsData"`) {
				t.Errorf("the order's answer: %.80q", o.Answer)
			}
			for _, tk := range o.Tickets {
				for _, s := range append(strings.Fields(tk.HolderName), tk.HolderEmail) {
					if len(s) > 2 && strings.Contains(o.Answer, s) {
						t.Errorf("the kept answer shows %q unmasked", s)
					}
				}
			}
			for _, tk := range o.Tickets {
				if err := tk.Validate(); err != nil {
					t.Errorf("ticket %d: %v", tk.MovementID, err)
				}
			}
		})
	}
}

func TestPriceDecimal(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	c := b.create(t, fakesecutix.OrderRequest{})
	o, err := b.cl.OrderByFileID(t.Context(), tenant, c.FileID)
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Tickets[0].Price.Decimal(); got != "85.00" {
		t.Errorf("got %s, want 85.00 for 85000 thousandths", got)
	}
}

// TestStates drives each sandbox action and checks what the client maps.
func TestStates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		act   func(sb *fakesecutix.Sandbox, c fakesecutix.CreatedOrder) (fakesecutix.TicketView, error)
		check func(t *testing.T, c fakesecutix.CreatedOrder, v fakesecutix.TicketView, before, after []pass.Ticket)
	}{
		{
			name: "validate → used",
			act: func(sb *fakesecutix.Sandbox, c fakesecutix.CreatedOrder) (fakesecutix.TicketView, error) {
				return sb.Validate(c.FileID, c.Tickets[0].TicketID)
			},
			check: func(t *testing.T, _ fakesecutix.CreatedOrder, _ fakesecutix.TicketView, _, after []pass.Ticket) {
				if after[0].State != pass.TicketUsed || after[1].State != pass.TicketValid {
					t.Errorf("got states %s, %s; want USED, VALID", after[0].State, after[1].State)
				}
			},
		},
		{
			name: "cancel → cancelled",
			act: func(sb *fakesecutix.Sandbox, c fakesecutix.CreatedOrder) (fakesecutix.TicketView, error) {
				return sb.Cancel(c.FileID, c.Tickets[0].TicketID)
			},
			check: func(t *testing.T, _ fakesecutix.CreatedOrder, _ fakesecutix.TicketView, _, after []pass.Ticket) {
				if after[0].State != pass.TicketCancelled || after[1].State != pass.TicketValid {
					t.Errorf("got states %s, %s; want CANCELLED, VALID", after[0].State, after[1].State)
				}
			},
		},
		{
			name: "refund → cancelled, no ticket for the refund order",
			act: func(sb *fakesecutix.Sandbox, c fakesecutix.CreatedOrder) (fakesecutix.TicketView, error) {
				return sb.Refund(c.FileID, c.Tickets[1].TicketID)
			},
			check: func(t *testing.T, _ fakesecutix.CreatedOrder, _ fakesecutix.TicketView, _, after []pass.Ticket) {
				if len(after) != 2 || after[1].State != pass.TicketCancelled || after[0].State != pass.TicketValid {
					t.Errorf("got %d tickets (%v), want 2 with the second CANCELLED", len(after), after)
				}
			},
		},
		{
			name: "validated then refunded → cancelled",
			act: func(sb *fakesecutix.Sandbox, c fakesecutix.CreatedOrder) (fakesecutix.TicketView, error) {
				if _, err := sb.Validate(c.FileID, c.Tickets[0].TicketID); err != nil {
					return fakesecutix.TicketView{}, err
				}
				return sb.Refund(c.FileID, c.Tickets[0].TicketID)
			},
			check: func(t *testing.T, _ fakesecutix.CreatedOrder, _ fakesecutix.TicketView, _, after []pass.Ticket) {
				if after[0].State != pass.TicketCancelled {
					t.Errorf("got %s, want CANCELLED", after[0].State)
				}
			},
		},
		{
			name: "reprint → new barcode, same movement",
			act: func(sb *fakesecutix.Sandbox, c fakesecutix.CreatedOrder) (fakesecutix.TicketView, error) {
				return sb.Reprint(c.FileID, c.Tickets[0].TicketID)
			},
			check: func(t *testing.T, c fakesecutix.CreatedOrder, v fakesecutix.TicketView, before, after []pass.Ticket) {
				a := after[0]
				if a.MovementID != before[0].MovementID || a.Barcode == before[0].Barcode || a.Barcode != v.Barcode ||
					a.TicketID != v.TicketID || a.State != pass.TicketValid || a.HolderName != before[0].HolderName {
					t.Errorf("got %+v, want movement %d with barcode %s and ticket %d", a, before[0].MovementID, v.Barcode, v.TicketID)
				}
			},
		},
		{
			name: "transfer → new holder",
			act: func(sb *fakesecutix.Sandbox, c fakesecutix.CreatedOrder) (fakesecutix.TicketView, error) {
				return sb.Transfer(c.FileID, c.Tickets[0].TicketID, &fakesecutix.Holder{FirstName: "Jane", LastName: "Roe"})
			},
			check: func(t *testing.T, _ fakesecutix.CreatedOrder, v fakesecutix.TicketView, before, after []pass.Ticket) {
				a := after[0]
				if a.HolderName != "Jane Roe" || a.MovementID != before[0].MovementID ||
					a.Barcode == before[0].Barcode || a.State != pass.TicketValid {
					t.Errorf("got %+v, want Jane Roe on the same movement with a new barcode", a)
				}
			},
		},
		{
			name: "modify with an empty body → another seat",
			act: func(sb *fakesecutix.Sandbox, c fakesecutix.CreatedOrder) (fakesecutix.TicketView, error) {
				return sb.Modify(c.FileID, c.Tickets[0].TicketID, fakesecutix.Change{})
			},
			check: func(t *testing.T, _ fakesecutix.CreatedOrder, v fakesecutix.TicketView, before, after []pass.Ticket) {
				if after[0].Seat == before[0].Seat || after[0].Seat.Area != v.Seat.Area || after[0].Barcode != before[0].Barcode {
					t.Errorf("got seat %+v (was %+v), want another seat and the same barcode", after[0].Seat, before[0].Seat)
				}
			},
		},
		{
			name: "modify the start → every ticket of the performance moves",
			act: func(sb *fakesecutix.Sandbox, c fakesecutix.CreatedOrder) (fakesecutix.TicketView, error) {
				return sb.Modify(c.FileID, c.Tickets[0].TicketID, fakesecutix.Change{Start: ptr("2026-06-01T19:30:00+02:00")})
			},
			check: func(t *testing.T, c fakesecutix.CreatedOrder, _ fakesecutix.TicketView, _, after []pass.Ticket) {
				if len(after) != len(c.Tickets) || len(after) < 2 {
					t.Fatalf("%d tickets after the change, want the order's %d (at least 2)", len(after), len(c.Tickets))
				}
				want := time.Date(2026, 6, 1, 17, 30, 0, 0, time.UTC)
				for i, a := range after {
					if !a.Event.Start.Equal(want) || !a.Event.End.Equal(want.Add(150*time.Minute)) {
						t.Errorf("ticket %d: got %s–%s, want %s + 2h30", i, a.Event.Start, a.Event.End, want)
					}
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil, nil)
			c := b.create(t, fakesecutix.OrderRequest{})
			before, err := b.cl.OrderByFileID(t.Context(), tenant, c.FileID)
			if err != nil {
				t.Fatal(err)
			}
			v, err := tc.act(b.sb, c)
			if err != nil {
				t.Fatal(err)
			}
			after, err := b.cl.OrderByFileID(t.Context(), tenant, c.FileID)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c, v, before.Tickets, after.Tickets)
		})
	}
}

// TestWebhooksResolve collects the sandbox's webhooks with an httptest
// receiver and resolves each one through the client, as the sync worker
// does: shapes, order and states must line up.
func TestWebhooksResolve(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var hooks []fakesecutix.Webhook
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var raw map[string]any
		if err := json.Unmarshal(body, &raw); err != nil || len(raw) != 5 {
			t.Errorf("got webhook %s, want exactly ticketId, saleMovementId, orderSecretToken, state, lastUpdate", body)
		}
		var h fakesecutix.Webhook
		_ = json.Unmarshal(body, &h)
		mu.Lock()
		hooks = append(hooks, h)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer rcv.Close()
	b := setup(t, func(c *fakesecutix.Config) {
		c.WebhookURL = rcv.URL + "/api/demo/webhooks/listeners/secutix/orders"
		c.HTTPClient = rcv.Client()
	}, nil)
	c := b.create(t, fakesecutix.OrderRequest{})
	if _, err := b.sb.Validate(c.FileID, c.Tickets[0].TicketID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sb.Cancel(c.FileID, c.Tickets[1].TicketID); err != nil {
		t.Fatal(err)
	}
	b.sb.Close()

	mu.Lock()
	got := append([]fakesecutix.Webhook(nil), hooks...)
	mu.Unlock()
	wantStates := []string{"PAID", "PAID", "VALIDATED", "CANCELLED"}
	if len(got) != len(wantStates) {
		t.Fatalf("got %d webhooks %+v, want %d", len(got), got, len(wantStates))
	}
	finalState := map[string]pass.TicketState{"PAID": pass.TicketValid, "VALIDATED": pass.TicketUsed, "CANCELLED": pass.TicketCancelled}
	last := map[int64]pass.TicketState{}
	for i, h := range got {
		if h.State != wantStates[i] {
			t.Errorf("webhook %d: got state %s, want %s", i, h.State, wantStates[i])
		}
		if _, err := time.Parse(time.RFC3339, h.LastUpdate); err != nil {
			t.Errorf("webhook %d: lastUpdate %q: %v", i, h.LastUpdate, err)
		}
		last[h.SaleMovementID] = finalState[h.State]
	}
	o, err := b.cl.OrderBySecret(t.Context(), tenant, got[0].OrderSecretToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range got {
		found := false
		for _, tk := range o.Tickets {
			if tk.MovementID == h.SaleMovementID && tk.TicketID == h.TicketID {
				found = true
				if tk.State != last[h.SaleMovementID] {
					t.Errorf("movement %d: got %s, want %s", tk.MovementID, tk.State, last[h.SaleMovementID])
				}
			}
		}
		if !found {
			t.Errorf("webhook %+v names no ticket of the order", h)
		}
	}
}

// TestContactLookup: with ContactLookup, each order's contact is read
// (one getContactData call per order) and fields may map to it; without,
// nothing is called.
func TestContactLookup(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, func(c *secutix.Config) {
		c.ContactLookup = true
		c.Fields = map[string]string{"holderEmail": "contact.contactData.email", "locale": "contact.contactData.languageCode"}
	})
	c := b.create(t, fakesecutix.OrderRequest{})
	o, err := b.cl.OrderByFileID(t.Context(), tenant, c.FileID)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Tickets) != len(c.Tickets) || len(o.Tickets) == 0 {
		t.Fatalf("%d tickets, want the order's %d", len(o.Tickets), len(c.Tickets))
	}
	for _, tk := range o.Tickets {
		if tk.HolderEmail != "lea.favre@example.com" || tk.Locale != "fr" {
			t.Errorf("ticket %d: e-mail %q, locale %q; want the contact's", tk.MovementID, tk.HolderEmail, tk.Locale)
		}
	}
	if n := b.sb.Calls("getContactData"); n != 1 {
		t.Errorf("%d getContactData calls, want 1", n)
	}
	cfg := b.cfg // the same fields, no lookup
	cfg.ContactLookup = false
	off := b.client(t, cfg)
	o, err = off.OrderByFileID(t.Context(), tenant, c.FileID)
	if err != nil {
		t.Fatalf("without the lookup: %v", err)
	}
	if len(o.Tickets) != len(c.Tickets) || len(o.Tickets) == 0 {
		t.Fatalf("without the lookup: %d tickets, want the order's %d", len(o.Tickets), len(c.Tickets))
	}
	for _, tk := range o.Tickets {
		if tk.HolderEmail != "" {
			t.Errorf("without the lookup: ticket %d: e-mail %q, want none", tk.MovementID, tk.HolderEmail)
		}
	}
	if n := b.sb.Calls("getContactData"); n != 1 {
		t.Errorf("%d getContactData calls, want still 1", n)
	}
}

// TestComfortVariables: the shapes of comfortVariableValues read (SecuTix's
// is not on record), and what is left out.
func TestComfortVariables(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{`["WALLET=vip", "SEASON=2027"]`, []string{"WALLET=vip", "SEASON=2027"}},
		{`[{"code": "WALLET", "value": "vip"}, {"name": "ZONE", "values": ["north"]}, {"key": "N", "value": 3}]`, []string{"WALLET=vip", "ZONE=north", "N=3"}},
		{`"WALLET=vip"`, []string{"WALLET=vip"}},
		{`["no equals", "=novalue", 7, {"value": "x"}, null]`, nil},
	} {
		var v any
		if err := json.Unmarshal([]byte(c.in), &v); err != nil {
			t.Fatal(err)
		}
		if got := secutix.ComfortVariables(v); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzComfortVariables: whatever JSON SecuTix sends as comfort variables,
// the reader returns only NAME=value pairs with a name, and never panics.
func FuzzComfortVariables(f *testing.F) {
	for _, s := range []string{`["WALLET=vip"]`, `[{"code":"WALLET","value":"vip"}]`, `"x"`, `[[],{}]`, `{"values":[1]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var v any
		if json.Unmarshal([]byte(in), &v) != nil {
			return
		}
		for _, kv := range secutix.ComfortVariables(v) {
			if name, _, ok := strings.Cut(kv, "="); !ok || strings.TrimSpace(name) == "" {
				t.Fatalf("%q gave %q", in, kv)
			}
		}
	})
}
