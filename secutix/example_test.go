package secutix_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	fakesecutix "walletpass/fake/secutix"
	"walletpass/secutix"
)

// The client against the built-in sandbox: create the demo order, then
// fetch it by its secret token as the webhook handler would.
func ExampleClient_OrderBySecret() {
	sb, err := fakesecutix.New(fakesecutix.Config{Operator: "CDEMO_WALLET", Partner: "walletpass", Secret: "demo-secret"})
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
	})
	if err != nil {
		panic(err)
	}
	order, err := client.OrderBySecret(context.Background(), "demo", created.OrderSecretToken)
	if err != nil {
		panic(err) // KindNotFound, KindUnavailable, KindUnauthorized, ...
	}
	for _, t := range order.Tickets {
		fmt.Printf("%s | %s | rang %s place %s | %s %s | %s\n",
			t.Event.Name, t.Venue.Name, t.Seat.Row, t.Seat.Number, t.Price.Currency, t.Price.Decimal(), t.State)
	}
	// Output:
	// Nuit symphonique : Berlioz | Victoria Hall | rang 12 place 14 | CHF 85.00 | VALID
	// Nuit symphonique : Berlioz | Victoria Hall | rang 12 place 15 | CHF 85.00 | VALID
}
