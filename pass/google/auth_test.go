package google_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	fakegoogle "walletpass/fake/google"
	"walletpass/pass"
	"walletpass/pass/google"
)

// TestTokenRefusalIsUnauthorized: a service account whose key the token
// endpoint does not know (deleted, or never registered) is refused with
// invalid_grant; that is KindUnauthorized, which no retry mends, not an
// outage. A token endpoint that is down stays KindUnavailable.
func TestTokenRefusalIsUnauthorized(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	client := func(sa *google.ServiceAccount) *google.Client {
		t.Helper()
		sa.TokenURI = b.fake.TokenURL()
		api, err := google.NewClient(google.ClientConfig{Endpoint: b.fake.URL + "/", Account: sa})
		if err != nil {
			t.Fatal(err)
		}
		return api
	}

	// The same e-mail with another key.
	other, err := google.NewServiceAccountJSON(b.sa.Email, "")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := google.ParseServiceAccount(other)
	if err != nil {
		t.Fatal(err)
	}
	_, err = client(stranger).GetObject(ctx, issuerID+".demo-none")
	var re *oauth2.RetrieveError
	if pass.KindOf(err) != pass.KindUnauthorized || !errors.As(err, &re) {
		t.Errorf("an unknown key: %v (kind %v), want kind unauthorized wrapping the token refusal", err, pass.KindOf(err))
	}

	// The token endpoint down: retried later.
	b.fake.Fail(fakegoogle.Failure{Method: http.MethodPost, PathPrefix: "/token", Status: http.StatusServiceUnavailable})
	api := client(b.sa)
	_, err = api.GetObject(ctx, issuerID+".demo-none")
	if pass.KindOf(err) != pass.KindUnavailable {
		t.Errorf("the token endpoint down: %v (kind %v), want kind unavailable", err, pass.KindOf(err))
	}
	// Once it is back, the same client gets its token.
	if _, err := api.GetObject(ctx, issuerID+".demo-none"); pass.KindOf(err) != pass.KindNotFound {
		t.Errorf("after the outage: %v, want kind not found (the call reached the API)", err)
	}
}
