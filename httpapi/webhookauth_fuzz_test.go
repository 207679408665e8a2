package httpapi

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// FuzzWebhookAuth feeds arbitrary credentials to a tenant's webhook check
// (an Authorization header, the key header, the "key" query parameter),
// in basic and apikey mode: they pass exactly when an independent reading
// of the rules finds the tenant's credentials in them.
func FuzzWebhookAuth(f *testing.F) {
	const user, password, key = "secutix", "pa:ss wörd", "k3y-0123456789abcdef"
	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	for _, s := range [][3]string{
		{basic(user, password), "", ""}, {"basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password)), "", ""},
		{basic(user, password+"x"), "", ""}, {basic(user, ""), "", ""}, {"Basic !!!", "", ""}, {"Bearer " + key, "", ""},
		{"", key, ""}, {"", key + " ", ""}, {"", "", key}, {"", "", url.QueryEscape(key) + "&key=x"}, {"", "wrong", key},
	} {
		f.Add(s[0], s[1], s[2], true)
	}
	modes := []WebhookAuth{
		{Mode: "basic", Username: user, Password: password},
		{Mode: "apikey", Key: key},
		{Mode: "apikey", Header: "X-SecuTix-Key", Key: key},
	}
	// check checks each mode and returns how many let the credentials in.
	check := func(t testing.TB, authz, keyHeader, rawKey string, queryKey bool) int {
		in := 0
		for _, a := range modes {
			rec := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(rec)
			req := httptest.NewRequest(http.MethodPost, "/api/demo/webhooks", nil)
			req.URL.RawQuery = "key=" + rawKey
			if authz != "" {
				req.Header["Authorization"] = []string{authz}
			}
			header := a.Header
			if header == "" {
				header = "X-API-Key"
			}
			if keyHeader != "" {
				req.Header[http.CanonicalHeaderKey(header)] = []string{keyHeader}
			}
			c.Request = req
			got := checkWebhookAuth(c, a, queryKey)
			want := false
			switch a.Mode {
			case "basic":
				scheme, cred, ok := strings.Cut(authz, " ")
				if ok && strings.EqualFold(scheme, "basic") {
					if dec, err := base64.StdEncoding.DecodeString(cred); err == nil {
						u, p, ok := strings.Cut(string(dec), ":")
						want = ok && u == user && p == password
					}
				}
			case "apikey":
				sent := keyHeader
				if sent == "" && queryKey {
					q, _ := url.ParseQuery("key=" + rawKey) // the pairs it can read
					sent = q.Get("key")
				}
				want = sent == key
			}
			if got != want {
				t.Fatalf("%s mode: Authorization %q, %s %q, ?key=%s (query keys %v): %v, want %v", a.Mode, authz, header, keyHeader, rawKey, queryKey, got, want)
			}
			if got {
				in++
			}
		}
		return in
	}
	// The success paths: the password in basic mode, the key in both
	// apikey modes, the key in the query for one of them (the other's
	// header is empty too: both).
	for _, c := range []struct {
		authz, header, query string
		queryKey             bool
		want                 int
	}{{basic(user, password), "", "", false, 1}, {"", key, "", false, 2}, {"", "", url.QueryEscape(key), true, 2}} {
		if n := check(f, c.authz, c.header, c.query, c.queryKey); n != c.want {
			f.Fatalf("%+v: %d modes let it in, want %d", c, n, c.want)
		}
	}
	f.Fuzz(func(t *testing.T, authz, keyHeader, rawKey string, queryKey bool) {
		if strings.ContainsAny(authz+keyHeader, "\r\n\x00") || strings.ContainsAny(rawKey, "#") {
			return // no request carries them
		}
		_ = check(t, authz, keyHeader, rawKey, queryKey)
	})
}
