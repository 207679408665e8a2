package secutix_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	fakesecutix "walletpass/fake/secutix"
	"walletpass/secutix"
)

// The client against the built-in sandbox: create the demo order, then
// fetch it by its secret token as the webhook handler would.
func ExampleClient_OrderBySecret() {
	sb, err := fakesecutix.New(fakesecutix.Config{Operator: "CDEMO_WALLET", Partner: "walletpass", Secret: "demo-secret",
		Now: func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		panic(err)
	}
	defer sb.Close()
	mux := http.NewServeMux()
	mux.Handle("/sandbox/", sb.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	created, err := sb.CreateOrder(fakesecutix.OrderRequest{})
	if err != nil {
		panic(err)
	}

	client, err := secutix.New(secutix.Config{
		Tenant:     "demo",
		BaseURL:    srv.URL + "/sandbox/secutix",
		Operator:   "CDEMO_WALLET",
		Partner:    "walletpass",
		Secret:     "demo-secret",
		HTTPClient: srv.Client(),
		Locale:     "fr",
		Clock:      func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		panic(err)
	}
	order, err := client.OrderBySecret(context.Background(), "demo", created.OrderSecretToken)
	if err != nil {
		panic(err) // KindNotFound, KindUnavailable, KindUnauthorized, ...
	}
	for _, t := range order.Tickets {
		fmt.Printf("%s | %s | %s | %s | %s %s | %s\n", t.Event.Name, t.Event.Start.Format("2006-01-02 15:04 MST"),
			t.Venue.Name, t.Seat.Area, t.Price.Currency, t.Price.Decimal(), t.State)
	}
	// Output:
	// Nuit symphonique : Berlioz | 2026-05-31 20:00 CEST | Victoria Hall | Parterre | CHF 85.00 | VALID
	// Nuit symphonique : Berlioz | 2026-05-31 20:00 CEST | Victoria Hall | Parterre | CHF 85.00 | VALID
}
