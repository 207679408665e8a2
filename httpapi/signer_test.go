package httpapi_test

import (
	"testing"
	"time"

	"walletpass/httpapi"
	"walletpass/pass"
)

func TestLinkSigner(t *testing.T) {
	t.Parallel()
	s := httpapi.LinkSigner{Key: []byte("0123456789abcdef0123456789abcdef")}
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(time.Hour)
	sig := s.Sign("download", "demo", "serial-1", exp)
	expires := "1800003600"
	if err := s.Verify("download", "demo", "serial-1", expires, sig, now); err != nil {
		t.Fatalf("a good link: %v", err)
	}
	tests := []struct {
		name                     string
		purpose, tenant, subject string
		expires, sig             string
		at                       time.Time
		want                     pass.Kind
	}{
		{"other purpose", "google-save", "demo", "serial-1", expires, sig, now, pass.KindUnauthorized},
		{"other tenant", "download", "other", "serial-1", expires, sig, now, pass.KindUnauthorized},
		{"other subject", "download", "demo", "serial-2", expires, sig, now, pass.KindUnauthorized},
		{"longer expiry", "download", "demo", "serial-1", "1800007200", sig, now, pass.KindUnauthorized},
		{"bad expiry", "download", "demo", "serial-1", "soon", sig, now, pass.KindUnauthorized},
		{"truncated signature", "download", "demo", "serial-1", expires, sig[:20], now, pass.KindUnauthorized},
		{"no signature", "download", "demo", "serial-1", expires, "", now, pass.KindUnauthorized},
		{"expired", "download", "demo", "serial-1", expires, sig, exp, pass.KindGone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := s.Verify(tc.purpose, tc.tenant, tc.subject, tc.expires, tc.sig, tc.at)
			if pass.KindOf(err) != tc.want {
				t.Errorf("err = %v (kind %v), want kind %v", err, pass.KindOf(err), tc.want)
			}
		})
	}
	// Another deployment key signs differently; a short key verifies nothing.
	if other := (httpapi.LinkSigner{Key: []byte("ffffffffffffffffffffffffffffffff")}); other.Verify("download", "demo", "serial-1", expires, sig, now) == nil {
		t.Error("a link signed with another key verifies")
	}
	if short := (httpapi.LinkSigner{Key: []byte("short")}); short.Verify("download", "demo", "serial-1", expires, short.Sign("download", "demo", "serial-1", exp), now) == nil {
		t.Error("a short key verifies links")
	}
}
