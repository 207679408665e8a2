package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"walletpass/pass"
)

func TestCheckEndpoint(t *testing.T) {
	for _, c := range []struct {
		url        string
		allowLocal bool
		ok         bool
	}{
		{"https://crm.example.com/hooks", false, true},
		{"http://crm.example.com/hooks", false, false},
		{"https://user:pw@crm.example.com/", false, false},
		{"https://127.0.0.1/hooks", false, false},
		{"https://10.1.2.3/hooks", false, false},
		{"https://[::1]/hooks", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://localhost/hooks", false, false},
		{"https://api.localhost/hooks", false, false},
		{"ftp://crm.example.com/", false, false},
		{"/relative", false, false},
		{"http://127.0.0.1:8099/hooks", true, true},
		// Special-purpose ranges beyond loopback and RFC 1918: shared
		// address space (a cloud's metadata service sits there), NAT64 and
		// 6to4 forms of private addresses, benchmarking, reserved.
		{"https://100.100.100.200/latest/meta-data", false, false},
		{"https://[64:ff9b::a00:1]/hooks", false, false},
		{"https://[64:ff9b::a9fe:a9fe]/hooks", false, false},
		{"https://[64:ff9b:1::808:808]/hooks", false, false},
		{"https://[2002:a00:1::1]/hooks", false, false},
		{"https://[::ffff:127.0.0.1]/hooks", false, false},
		{"https://[fd12:3456::1]/hooks", false, false},
		{"https://[fec0::1]/hooks", false, false},
		{"https://198.18.0.1/hooks", false, false},
		{"https://192.0.0.8/hooks", false, false},
		// IPv6 outside 2000::/3 (IPv4-compatible ::7f00:1 is 127.0.0.1
		// through a tunnel), a zoned address, and names a resolver reads
		// as IPv4 addresses.
		{"https://[::7f00:1]/hooks", false, false},
		{"https://[4000::1]/hooks", false, false},
		{"https://[fe80::1%25eth0]/hooks", false, false},
		{"https://[2001:4860:4860::8888%25eth0]/hooks", false, false},
		{"https://2130706433/hooks", false, false},
		{"https://127.1/hooks", false, false},
		{"https://0x7f.0.0.1/hooks", false, false},
		{"https://localhost./hooks", false, false},
		{"https://127.0.0.1./hooks", false, false},
		{"https://[2606:4700:4700::1111]/hooks", false, true},
		{"https://0xdeadbeef.example.com/hooks", false, true},
		{"https://123.example.com/hooks", false, true},
		{"https://240.0.0.1/hooks", false, false},
		{"https://0.1.2.3/hooks", false, false},
		// Public addresses, also in those forms, stay allowed.
		{"https://8.8.8.8/hooks", false, true},
		{"https://[64:ff9b::808:808]/hooks", false, true},
		{"https://[2002:808:808::1]/hooks", false, true},
		{"https://[2606:4700::1111]/hooks", false, true},
	} {
		err := CheckEndpoint(c.url, c.allowLocal)
		if (err == nil) != c.ok {
			t.Errorf("CheckEndpoint(%q, %v) = %v, want ok %v", c.url, c.allowLocal, err, c.ok)
		}
	}
}

// TestSenderRefusesPrivateAddresses: in production a name that resolves
// to a private address (here, loopback) is refused when dialing, so an
// endpoint cannot reach the service's own network.
func TestSenderRefusesPrivateAddresses(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	defer srv.Close()
	sub := pass.Subscription{ID: "wh_1", Endpoint: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), Secret: NewSecret()}
	m := pass.OutboundMessage{ID: "msg_1", Payload: []byte(`{}`)}
	if st, err := NewSender(false).Send(context.Background(), sub, m); err == nil || st != 0 || hit {
		t.Errorf("production sender reached %s: %d %v", sub.Endpoint, st, err)
	}
	if st, err := NewSender(true).Send(context.Background(), sub, m); err != nil || st != 200 || !hit {
		t.Errorf("development sender: %d %v", st, err)
	}
}

// TestSenderKeepsConnections: rounds of pass.DeliveryStreams deliveries
// at once to one endpoint (as a subscription's deliveries run) reuse the
// first round's connections rather than dialing new ones (a TLS handshake
// each, over https).
func TestSenderKeepsConnections(t *testing.T) {
	const rounds = 4
	var (
		mu      sync.Mutex
		dials   int
		arrived = make(chan struct{}, pass.DeliveryStreams)
		release = make(chan struct{})
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release // every request of the round is in flight at once
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			mu.Lock()
			dials++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	sender := NewSender(true)
	sub := pass.Subscription{ID: "wh_1", Endpoint: srv.URL, Secret: NewSecret()}
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, pass.DeliveryStreams)
		for i := range pass.DeliveryStreams {
			wg.Go(func() {
				m := pass.OutboundMessage{ID: fmt.Sprintf("msg_%d_%d", round, i), Payload: []byte(`{}`)}
				if st, err := sender.Send(context.Background(), sub, m); err != nil || st != http.StatusOK {
					errs <- fmt.Errorf("send: %d %v", st, err)
				}
			})
		}
		for range pass.DeliveryStreams {
			<-arrived
		}
		for range pass.DeliveryStreams {
			release <- struct{}{}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if dials != pass.DeliveryStreams {
		t.Errorf("%d rounds of %d deliveries at once opened %d connections, want %d (the first round's)",
			rounds, pass.DeliveryStreams, dials, pass.DeliveryStreams)
	}
}

// TestSendErrorNamesNoPath: a delivery that fails names the endpoint by
// its scheme and host; its path and query, which may carry the
// receiver's token, stay out of the error the log and the delivery log
// show.
func TestSendErrorNamesNoPath(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing answers there now
	sub := pass.Subscription{ID: "wh_1", Endpoint: "http://" + addr + "/in/k9path?token=s3cr3t", Secret: NewSecret()}
	_, err = NewSender(true).Send(context.Background(), sub, pass.OutboundMessage{ID: "msg_1", Payload: []byte(`{}`)})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "k9path") ||
		!strings.Contains(err.Error(), "http://"+addr) {
		t.Errorf("the error: %v", err)
	}
}

// TestSendRetryAfter: an endpoint that answers 429 or 503 with
// Retry-After (seconds or a date) is asked again no sooner, as it says; a
// 503 without one is a plain failure.
func TestSendRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		status int
		header string
		want   time.Duration
	}{
		{http.StatusTooManyRequests, "120", 2 * time.Minute},
		{http.StatusServiceUnavailable, time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), time.Hour},
		{http.StatusServiceUnavailable, "", 0},
		{http.StatusInternalServerError, "60", 0},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.header != "" {
				w.Header().Set("Retry-After", tc.header)
			}
			w.WriteHeader(tc.status)
		}))
		sub := pass.Subscription{ID: "wh_1", Endpoint: srv.URL, Secret: NewSecret()}
		st, err := NewSender(true).Send(context.Background(), sub, pass.OutboundMessage{ID: "msg_1", Payload: []byte(`{}`)})
		srv.Close()
		var ra *pass.RetryAfterError
		got := time.Duration(0)
		if errors.As(err, &ra) {
			got = ra.After
		} else if err != nil {
			t.Errorf("%d %q: %v", tc.status, tc.header, err)
		}
		if st != tc.status || got < tc.want-2*time.Second || got > tc.want {
			t.Errorf("%d %q: status %d, retry after %v; want %d, %v", tc.status, tc.header, st, got, tc.status, tc.want)
		}
	}
}

// TestSendDuringARotation: while a rotated secret's overlap lasts, a
// delivery carries a signature by each secret, so a receiver that knows
// either verifies it (with the Standard Webhooks library); after the
// overlap, only the new secret signs.
func TestSendDuringARotation(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r.Header.Clone()), append(bodies, b)
		mu.Unlock()
	}))
	defer srv.Close()
	old, current := NewSecret(), NewSecret()
	sub := pass.Subscription{ID: "wh_1", Endpoint: srv.URL, Secret: current, PreviousSecret: old, PreviousUntil: time.Now().Add(time.Hour)}
	m := pass.OutboundMessage{ID: "msg_1", Payload: []byte(`{"type":"pass.updated"}`)}
	if st, err := NewSender(true).Send(context.Background(), sub, m); err != nil || st != 200 {
		t.Fatalf("send: %d %v", st, err)
	}
	sub.PreviousUntil = time.Now().Add(-time.Second)
	if st, err := NewSender(true).Send(context.Background(), sub, m); err != nil || st != 200 {
		t.Fatalf("send after the overlap: %d %v", st, err)
	}
	verifies := func(secret string, i int) bool {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		return wh.Verify(bodies[i], got[i]) == nil
	}
	if n := len(strings.Fields(got[0].Get("webhook-signature"))); n != 2 || !verifies(old, 0) || !verifies(current, 0) {
		t.Errorf("during the overlap: %d signatures, old verifies %v, new verifies %v", n, verifies(old, 0), verifies(current, 0))
	}
	if n := len(strings.Fields(got[1].Get("webhook-signature"))); n != 1 || verifies(old, 1) || !verifies(current, 1) {
		t.Errorf("after the overlap: %d signatures, old verifies %v, new verifies %v", n, verifies(old, 1), verifies(current, 1))
	}
}
