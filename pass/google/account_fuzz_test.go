package google_test

import (
	"encoding/json"
	"strings"
	"testing"

	"walletpass/pass"
	"walletpass/pass/google"
)

// FuzzParseServiceAccount reads arbitrary key files: a refusal of kind
// invalid that never shows the private key, or an account with the file's
// e-mail address, key id and an RSA key.
func FuzzParseServiceAccount(f *testing.F) {
	good, err := google.NewServiceAccountJSON("wallet@test.iam.gserviceaccount.com", "")
	if err != nil {
		f.Fatal(err)
	}
	if _, err := google.ParseServiceAccount(good); err != nil {
		f.Fatalf("a generated key file does not parse: %v", err)
	}
	f.Add(good)
	for _, s := range []string{`{}`, `{"type":"service_account","client_email":"a@b.c","private_key":"x"}`, `[]`, `{"type":"user"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var file struct {
			ClientEmail  string `json:"client_email"`
			PrivateKeyID string `json:"private_key_id"`
			PrivateKey   string `json:"private_key"`
		}
		_ = json.Unmarshal(data, &file)
		sa, err := google.ParseServiceAccount(data)
		if err != nil {
			if pass.KindOf(err) != pass.KindInvalid {
				t.Fatalf("error of kind %v: %v", pass.KindOf(err), err)
			}
			if len(file.PrivateKey) >= 16 && strings.Contains(err.Error(), file.PrivateKey) {
				t.Fatalf("the error shows the private key: %v", err)
			}
			return
		}
		if sa.Key == nil || sa.Email != file.ClientEmail || sa.KeyID != file.PrivateKeyID || sa.TokenURI == "" {
			t.Fatalf("account %q (key id %q, token URI %q), file %q (key id %q)", sa.Email, sa.KeyID, sa.TokenURI, file.ClientEmail, file.PrivateKeyID)
		}
	})
}
