package pass_test

import (
	"strings"
	"testing"

	"walletpass/pass"
)

// TestRedactKey: the keys that hold an order's secret token (a sync's, an
// app notice's) show only its first characters in logs and listings;
// keys without one are shown whole.
func TestRedactKey(t *testing.T) {
	t.Parallel()
	secret := "Xk3p9Q2rT7sample12345678"
	for _, c := range []struct{ key, want string }{
		{pass.OrderRef{Tenant: "demo", SecretToken: secret}.DedupKey(), "secret:Xk3p…"},
		{pass.AppNoticeArgs{SecretToken: secret, Event: pass.NoticeChanged}.DedupKey(), "notice:Xk3p…:" + pass.NoticeChanged},
		{pass.PushArgs{PassTypeID: "pass.x", Serial: "0a1b"}.DedupKey(), "pass:pass.x:0a1b"},
		{"secret:abc", "secret:abc"},
	} {
		got := pass.RedactKey(c.key)
		if got != c.want || (strings.Contains(c.key, secret) && strings.Contains(got, secret)) {
			t.Errorf("RedactKey(%q) = %q, want %q", c.key, got, c.want)
		}
	}
}
