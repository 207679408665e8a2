package apns_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	fakeapns "walletpass/fake/apns"
	"walletpass/push/apns"
)

// BenchmarkPush sends pass-update pushes to the fake APNs (HTTP/2 over TLS,
// certificate auth) from parallel goroutines through one client; ns/op is
// the cost per push, so pushes per second = 1e9 / ns/op.
func BenchmarkPush(b *testing.B) {
	cert, wwdr := devCert(b)
	srv := newServer(b, fakeapns.Options{RequireClientCert: true, ClientCAs: wwdr, Topic: passTypeID})
	c := newClient(b, srv, apns.Config{Certificate: &cert})
	var n atomic.Int64
	b.ResetTimer()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			res, err := c.Push(b.Context(), fmt.Sprintf("%064x", i), passTypeID)
			if err != nil || res.Outcome != apns.Delivered {
				b.Errorf("push: %v %v", res.Outcome, err)
				return
			}
		}
	})
	b.StopTimer()
	if got := srv.Connections(); got != 1 {
		b.Errorf("connections = %d, want 1", got)
	}
}

// BenchmarkBarePost is the baseline of BenchmarkPush, measured the same
// way: the same request (POST /3/device/{token}, the headers and body of a
// pass-update push) sent to the same fake over one HTTP/2 connection with
// the same client certificate and TLS version (1.2, as New sets for
// certificate auth), by a bare HTTP/2 client instead of apns2 and our
// client around it.
func BenchmarkBarePost(b *testing.B) {
	cert, wwdr := devCert(b)
	srv := newServer(b, fakeapns.Options{RequireClientCert: true, ClientCAs: wwdr, Topic: passTypeID})
	protos := new(http.Protocols)
	protos.SetHTTP2(true) // HTTP/2 only, as APNs
	hc := &http.Client{Transport: &http.Transport{Protocols: protos, MaxConnsPerHost: 1,
		TLSClientConfig: &tls.Config{RootCAs: srv.CA, Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12}}}
	var n atomic.Int64
	b.ResetTimer()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/3/device/%064x", srv.URL, i), strings.NewReader("{}"))
			req.Header.Set("apns-topic", passTypeID)
			req.Header.Set("apns-push-type", "background")
			req.Header.Set("apns-priority", "5")
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	if got := srv.Connections(); got != 1 {
		b.Errorf("connections = %d, want 1", got)
	}
}
