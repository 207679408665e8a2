package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"time"

	"walletpass/pass"
)

// LinkSigner signs links that grant access (a save link, a download) so
// that they cannot be forged and stop working at their expiry. Each tenant
// signs with its own key, derived from the deployment's; the signature
// (HMAC-SHA256) covers what the link is for, the subject it names (the
// path's pass or order) and the expiry.
type LinkSigner struct {
	Key []byte // at least 32 random bytes, shared by every instance
}

// tenantKey is the tenant's signing key: HMAC-SHA256(Key, "tenant:"+id).
func (s LinkSigner) tenantKey(tenant string) []byte {
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte("tenant:" + tenant))
	return m.Sum(nil)
}

// MinLinkKey is the shortest key a LinkSigner accepts.
const MinLinkKey = 32

// Sign returns the signature of a link for purpose (such as
// "google-save"), tenant and subject, valid until exp.
func (s LinkSigner) Sign(purpose, tenant, subject string, exp time.Time) string {
	m := hmac.New(sha256.New, s.tenantKey(tenant))
	for _, part := range []string{purpose, subject, strconv.FormatInt(exp.Unix(), 10)} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks a link's signature (in constant time) and its expiry. It
// returns an error of kind pass.KindUnauthorized for a bad signature, and
// pass.KindGone for an expired link.
func (s LinkSigner) Verify(purpose, tenant, subject, expires, sig string, now time.Time) error {
	unix, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || len(s.Key) < MinLinkKey {
		return pass.Errorf(pass.KindUnauthorized, "the link is not valid")
	}
	want := s.Sign(purpose, tenant, subject, time.Unix(unix, 0))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return pass.Errorf(pass.KindUnauthorized, "the link is not valid")
	}
	if !now.Before(time.Unix(unix, 0)) {
		return pass.Errorf(pass.KindGone, "the link has expired; open the order page again for a new one")
	}
	return nil
}
