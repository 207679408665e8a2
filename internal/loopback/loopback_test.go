package loopback

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPlainHTTP(t *testing.T) {
	s := Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}), Options{})
	defer s.Close()
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("URL = %q", s.URL)
	}
	if s.Certificate() != nil {
		t.Error("a plain server has a certificate")
	}
	if got := get(t, http.DefaultClient, s.URL); got != "HTTP/1.1" {
		t.Errorf("protocol = %q", got)
	}
}

func TestTLSSpeaksHTTP2WithATrustableCertificate(t *testing.T) {
	var conns atomic.Int32
	s := Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}), Options{
		TLS: &tls.Config{MinVersion: tls.VersionTLS12},
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				conns.Add(1)
			}
		},
	})
	defer s.Close()
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") {
		t.Fatalf("URL = %q", s.URL)
	}
	// Without trusting it, the handshake fails.
	if _, err := http.Get(s.URL); err == nil {
		t.Fatal("an untrusted self-signed certificate was accepted")
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	if got := get(t, &http.Client{Transport: tr}, s.URL); got != "HTTP/2.0" {
		t.Errorf("protocol = %q, want HTTP/2.0", got)
	}
	if conns.Load() == 0 {
		t.Error("ConnState was not called")
	}
	localhost := strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
	get(t, &http.Client{Transport: tr}, localhost) // the name is in the certificate too
}

func TestCloseWaitsForRequestsInProgress(t *testing.T) {
	started, finished := make(chan struct{}), make(chan struct{})
	s := Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		io.WriteString(w, "done")
		close(finished)
	}), Options{})
	go http.Get(s.URL)
	<-started
	s.Close()
	select {
	case <-finished:
	default:
		t.Fatal("Close returned before the request in progress finished")
	}
	s.Close() // twice is fine
	if _, err := http.Get(s.URL); err == nil {
		t.Error("a closed server still answers")
	}
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNameLabelsTheServersGoroutines: a named server's handlers run with
// the fake=<name> profiler label (a goroutine profile shows it), an
// unnamed one's without.
func TestNameLabelsTheServersGoroutines(t *testing.T) {
	for _, name := range []string{"", "apns"} { // unnamed first: the named one's connections may outlive it
		inside, release := make(chan struct{}), make(chan struct{})
		s := Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(inside)
			<-release
		}), Options{Name: name})
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, err := http.Get(s.URL)
			if err == nil {
				resp.Body.Close()
			}
		}()
		<-inside
		var dump strings.Builder
		if err := pprof.Lookup("goroutine").WriteTo(&dump, 1); err != nil {
			t.Fatal(err)
		}
		close(release)
		<-done
		http.DefaultClient.CloseIdleConnections()
		s.Close()
		labelled := strings.Contains(dump.String(), `"fake":"apns"`)
		if labelled != (name != "") {
			t.Errorf("server %q: label in the goroutine profile = %v", name, labelled)
		}
	}
}
