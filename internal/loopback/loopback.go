// Package loopback serves an http.Handler on a loopback port: what
// net/http/httptest does for tests, for the fakes that `make run` serves
// (httptest links package testing, which the shipped binary must not).
package loopback

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"runtime/pprof"
	"sync"
	"time"
)

// Options shape a Server. The zero value serves plain HTTP/1.1.
type Options struct {
	// TLS, when non-nil, serves HTTPS (HTTP/2 and HTTP/1.1) with a fresh
	// self-signed certificate for 127.0.0.1, ::1 and localhost; its
	// Certificates are filled in, the rest (client certificates, minimum
	// version) is kept.
	TLS *tls.Config
	// ConnState, when set, is called as for http.Server.
	ConnState func(net.Conn, http.ConnState)
	// Name, when set, labels every goroutine of the server (its
	// connections and handlers) fake=Name in CPU profiles, so that a
	// profile of a run with fakes in the process tells their work from
	// walletpass's.
	Name string
}

// Server is a handler served on a loopback port. Close it.
type Server struct {
	// URL is the base URL: http://127.0.0.1:port, or https://… with TLS.
	URL string

	cert      *x509.Certificate
	srv       *http.Server
	served    chan struct{}
	closeOnce sync.Once
}

// shutdownWait bounds how long Close waits for requests in progress
// before it cuts their connections.
const shutdownWait = 5 * time.Second

// Start serves h on a new loopback port. It panics if it cannot listen or
// make its certificate, as httptest does: a fake that cannot start is a
// broken machine, not an input error.
func Start(h http.Handler, opts Options) *Server {
	s, err := start(h, opts)
	if err != nil {
		panic("loopback: " + err.Error())
	}
	return s
}

func start(h http.Handler, opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		served: make(chan struct{}),
		srv: &http.Server{
			Handler:           h,
			ConnState:         opts.ConnState,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       time.Minute,
		},
	}
	scheme := "http"
	if opts.TLS != nil {
		cert, err := selfSigned()
		if err != nil {
			ln.Close()
			return nil, err
		}
		s.cert = cert.Leaf
		cfg := opts.TLS.Clone()
		cfg.Certificates = []tls.Certificate{cert}
		s.srv.TLSConfig = cfg
		s.srv.Protocols = new(http.Protocols)
		s.srv.Protocols.SetHTTP1(true)
		s.srv.Protocols.SetHTTP2(true)
		scheme = "https"
	}
	s.URL = scheme + "://" + ln.Addr().String()
	go func() {
		// Serve ends with ErrServerClosed at Close; the listener is ours
		// and fails no other way short of the process running out of
		// descriptors, which the next request shows.
		defer close(s.served)
		serve := func(context.Context) {
			if opts.TLS != nil {
				s.srv.ServeTLS(ln, "", "")
			} else {
				s.srv.Serve(ln)
			}
		}
		if opts.Name == "" {
			serve(context.Background())
			return
		}
		// Goroutines inherit their creator's labels: the server's
		// connection goroutines start from this one.
		pprof.Do(context.Background(), pprof.Labels("fake", opts.Name), serve)
	}()
	return s, nil
}

// Certificate is the server's self-signed TLS certificate (nil without
// TLS): trust it as a root to reach the server.
func (s *Server) Certificate() *x509.Certificate { return s.cert }

// Close stops listening and waits for the requests in progress (at most a
// few seconds, then their connections are cut). It may be called more
// than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.srv.Close()
		}
		<-s.served
	})
}

// selfSigned makes an ECDSA P-256 certificate for the loopback names,
// valid from a day ago for a year, that is its own CA.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "walletpass loopback fake"},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
