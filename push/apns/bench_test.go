package apns_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"walletpass/push/apns"
	"walletpass/push/apnstest"
)

// BenchmarkPush sends pass-update pushes to the fake APNs (HTTP/2 over TLS,
// certificate auth) from parallel goroutines through one client; ns/op is
// the cost per push, so pushes per second = 1e9 / ns/op.
func BenchmarkPush(b *testing.B) {
	cert, wwdr := devCert(b)
	srv := newServer(b, apnstest.Options{RequireClientCert: true, ClientCAs: wwdr, Topic: passTypeID})
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
