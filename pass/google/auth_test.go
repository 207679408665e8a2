package google_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	fakegoogle "walletpass/fake/google"
	"walletpass/internal/httpx/httpxtest"
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

// TestEndlessAnswer: an answer of Google's that never ends (a faulty
// proxy, a hostile network) is read up to MaxAnswer, then the call fails,
// rather than fill the memory until the timeout.
func TestEndlessAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tokenURL, err := url.Parse(b.fake.TokenURL())
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(b.fake.URL)
	// The token endpoint answers through to the fake; the API, without end.
	endless := &httpxtest.Endless{Status: http.StatusInternalServerError}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenURL.Path {
			proxy.ServeHTTP(w, r)
			return
		}
		endless.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	sa := *b.sa
	sa.TokenURI = srv.URL + tokenURL.Path
	api, err := google.NewClient(google.ClientConfig{Endpoint: srv.URL + "/", Account: &sa, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.GetObject(context.Background(), issuerID+".demo-none"); err == nil {
		t.Fatal("an endless answer was taken")
	}
	if n := endless.Written.Load(); n > 2*google.MaxAnswer+8<<20 {
		t.Errorf("the client read %d bytes of the answer, want at most about %d", n, google.MaxAnswer)
	}
}
