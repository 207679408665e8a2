package apns

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
)

func TestRefusedCertificate(t *testing.T) {
	t.Parallel()
	// crypto/tls's own alert type is unexported: a remote alert is built
	// here with its text, which TestPushRefusedCertificate gets from a
	// real handshake.
	remote := func(code uint8) error {
		return &url.Error{Op: "Post", URL: "https://apns", Err: &net.OpError{Op: "remote error", Err: errors.New(tls.AlertError(code).Error())}}
	}
	tests := []struct {
		name      string
		err       error
		wantAlert string
		wantOK    bool
	}{
		{"remote bad certificate", remote(42), "tls: bad certificate", true},
		{"remote expired", remote(45), "tls: expired certificate", true},
		{"remote revoked", remote(44), "tls: revoked certificate", true},
		{"remote unknown CA", remote(48), "tls: unknown certificate authority", true},
		{"remote access denied", remote(49), "tls: access denied", true},
		{"remote certificate required", remote(116), "tls: certificate required", true},
		{"remote handshake failure", remote(40), "", false},
		{"remote protocol version", remote(70), "", false},
		{"wrapped AlertError", fmt.Errorf("quic: %w", tls.AlertError(45)), "tls: expired certificate", true},
		{"wrapped other AlertError", fmt.Errorf("quic: %w", tls.AlertError(80)), "tls: internal error", false},
		{"local bad certificate", &net.OpError{Op: "local error", Err: errors.New(tls.AlertError(42).Error())}, "", false},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, "", false},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, "", false},
		{"EOF", io.ErrUnexpectedEOF, "", false},
	}
	for _, tt := range tests {
		alert, ok := refusedCertificate(tt.err)
		if alert != tt.wantAlert || ok != tt.wantOK {
			t.Errorf("%s: refusedCertificate(%v) = %q, %v, want %q, %v", tt.name, tt.err, alert, ok, tt.wantAlert, tt.wantOK)
		}
	}
}
