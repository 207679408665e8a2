package s3

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseURL checks that ParseURL never panics, that what it accepts is
// a valid configuration, and that its errors never repeat the secret key.
func FuzzParseURL(f *testing.F) {
	for _, seed := range []string{
		"s3://key:secret-bucket@host/secret-bucket?style=bogus", // the secret is also the bucket's name
		"s3://testkey:testsecret123@127.0.0.1:7070/walletpass-test?region=us-east-1&secure=false&style=path",
		"s3://AKIAEXAMPLE:wJalr%2FK7MDENG%2BbPx@s3.eu-central-1.amazonaws.com/tickets/walletpass/prod?region=eu-central-1",
		"s3://k:s@h/bkt/p/?style=virtual&timeout=3s&create=true",
		"s3://key:/secret@host/bucket",
		"s3://key:123/secret@host/bucket",
		"s3://key:secret#x@host/bucket",
		"http://k:s@h/b",
		"s3:///b?x=1",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		cfg, err := ParseURL(raw)
		if err != nil {
			// The secret as written: between the first ":" after "s3://"
			// and the last "@".
			rest, ok := strings.CutPrefix(raw, "s3://")
			at := strings.LastIndex(rest, "@")
			if !ok || at < 0 {
				return
			}
			user, secret, ok := strings.Cut(rest[:at], ":")
			if !ok {
				return
			}
			// When the URL parses, its password is the secret: text the
			// rule above takes for one may be the bucket ("s3://@/:x@").
			if u, perr := url.Parse(raw); perr == nil {
				dec, _ := url.PathUnescape(secret)
				if pw, has := u.User.Password(); !has || (pw != secret && pw != dec) {
					return
				}
			}
			// A leak is text the secret brings: with another secret in its
			// place the error would not have it. (An error may name the
			// bucket, or say "bucket is required", whatever the secret.)
			_, other := ParseURL("s3://" + user + ":ZZqq0099ZZqq0099" + rest[at:])
			leaks := func(s string) bool {
				return len(s) >= 6 && strings.Contains(err.Error(), s) && (other == nil || !strings.Contains(other.Error(), s))
			}
			if leaks(secret) {
				t.Fatalf("ParseURL(%q): error %q contains the secret %q", raw, err, secret)
			}
			if dec, derr := url.PathUnescape(secret); derr == nil && leaks(dec) {
				t.Fatalf("ParseURL(%q): error %q contains the secret %q", raw, err, dec)
			}
			return
		}
		if err := cfg.normalize().validate(); err != nil {
			t.Fatalf("ParseURL(%q) accepted an invalid config: %v", raw, err)
		}
		if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
			t.Fatalf("ParseURL(%q): prefix %q does not end in /", raw, cfg.Prefix)
		}
		other := cfg
		other.SecretKey = "another secret"
		if cfg.String() != other.String() {
			t.Fatalf("Config.String() depends on the secret: %s", cfg)
		}
	})
}
