package fcm

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
)

// FuzzParseServiceAccount reads arbitrary service-account key files: the
// account, or problems that never quote the private key, never a panic.
func FuzzParseServiceAccount(f *testing.F) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		f.Fatal(err)
	}
	good, err := json.Marshal(map[string]string{"type": "service_account", "client_email": "fcm@example.iam.gserviceaccount.com",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": "https://oauth2.googleapis.com/token"})
	if err != nil {
		f.Fatal(err)
	}
	if _, probs := parseServiceAccount(good); len(probs) != 0 {
		f.Fatalf("a key file: %v", probs)
	}
	for _, s := range []string{string(good), `{}`, `{"type":"service_account","client_email":"a","private_key":"x","token_uri":"http://example.com"}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var file struct {
			PrivateKey string `json:"private_key"`
		}
		_ = json.Unmarshal(data, &file)
		_, probs := parseServiceAccount(data)
		for _, p := range probs {
			if len(file.PrivateKey) >= 16 && strings.Contains(p, file.PrivateKey) {
				t.Fatalf("a problem quotes the private key: %s", p)
			}
			if strings.TrimSpace(p) == "" {
				t.Fatal("an empty problem")
			}
		}
	})
}
