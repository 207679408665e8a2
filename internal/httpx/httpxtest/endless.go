// Package httpxtest holds what the tests of several packages need of an
// HTTP server that misbehaves. No product code imports it.
package httpxtest

import (
	"net/http"
	"strings"
	"sync/atomic"
)

// Endless is a handler that answers Status with a body that begins with
// Prefix and never ends: it writes until the client goes away (the bound a
// client puts on answers is what stops it). Written counts the bytes it
// wrote, those its connection's buffers held included; Requests the
// requests it answered.
type Endless struct {
	Status   int
	Prefix   string
	Written  atomic.Int64
	Requests atomic.Int64
}

func (e *Endless) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.Requests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write([]byte(e.Prefix))
	chunk := []byte(strings.Repeat("x", 32<<10))
	for r.Context().Err() == nil {
		n, err := w.Write(chunk)
		e.Written.Add(int64(n))
		if err != nil {
			return
		}
		w.(http.Flusher).Flush()
	}
}
