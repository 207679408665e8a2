package google_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	fakegoogle "walletpass/fake/google"
)

// TestVerifySaveJWT: a save link is taken only with an iat and from the
// service account the fake knows (any iss when it knows none, as for
// the package's VerifySaveJWT); the save page refuses what the check
// refuses.
func TestVerifySaveJWT(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	knows := fakegoogle.New(fakegoogle.Options{ServiceAccountEmail: saEmail, ServiceAccountPublicKey: &key.PublicKey})
	knowsNone := fakegoogle.New(fakegoogle.Options{})
	claims := func(change func(map[string]any)) string {
		c := map[string]any{"iss": saEmail, "aud": "google", "typ": "savetowallet", "iat": time.Now().Unix(),
			"payload": map[string]any{"eventTicketObjects": []any{map[string]any{"id": objectID}}}}
		if change != nil {
			change(c)
		}
		return signJWT(t, key, "RS256", c)
	}
	tests := []struct {
		name                string
		tok                 string
		pkg, known, unknown bool   // accepted by VerifySaveJWT, by a fake that knows the e-mail, by one that does not
		why                 string // what the save page's refusal names
	}{
		{"valid", claims(nil), true, true, true, ""},
		{"no iat", claims(func(c map[string]any) { delete(c, "iat") }), false, false, false, "iat"},
		{"iat zero", claims(func(c map[string]any) { c["iat"] = 0 }), false, false, false, "iat"},
		{"another service account", claims(func(c map[string]any) { c["iss"] = "other@elsewhere.iam.gserviceaccount.com" }), true, false, true, "iss"},
		{"no iss", claims(func(c map[string]any) { delete(c, "iss") }), false, false, false, "iss"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, v := range []struct {
				who    string
				want   bool
				verify func(string) error
			}{
				{"VerifySaveJWT", tc.pkg, func(tok string) error { _, err := fakegoogle.VerifySaveJWT(tok, &key.PublicKey); return err }},
				{"a fake that knows the e-mail", tc.known, func(tok string) error { _, err := knows.VerifySaveJWT(tok, &key.PublicKey); return err }},
				{"a fake that knows none", tc.unknown, func(tok string) error { _, err := knowsNone.VerifySaveJWT(tok, &key.PublicKey); return err }},
			} {
				if err := v.verify(tc.tok); (err == nil) != v.want {
					t.Errorf("%s: error %v, want accepted %v", v.who, err, v.want)
				}
			}
			if tc.known {
				return
			}
			rec := httptest.NewRecorder()
			knows.SavePage(&key.PublicKey).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/gp/v/save/"+tc.tok, nil))
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.why) {
				t.Errorf("save page: %d %s, want 400 naming %s", rec.Code, rec.Body, tc.why)
			}
		})
	}
}
