package google

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/mail"
	"time"

	"walletpass/pass"
)

// ServiceAccount is a Google Cloud service-account key, as downloaded in
// JSON: it authenticates the API calls and signs the save links.
type ServiceAccount struct {
	Email    string
	KeyID    string
	TokenURI string
	Key      *rsa.PrivateKey
	// JSON is the key file as read.
	JSON []byte
}

// DefaultTokenURI is Google's OAuth 2.0 token endpoint.
const DefaultTokenURI = "https://oauth2.googleapis.com/token"

// MaxKeyFile is the largest service-account key file accepted.
const MaxKeyFile = 64 << 10

// ParseServiceAccount reads a service-account key file. It returns an error
// of kind pass.KindInvalid naming what is wrong; the key itself never
// appears in an error.
func ParseServiceAccount(data []byte) (*ServiceAccount, error) {
	if len(data) > MaxKeyFile {
		return nil, pass.Errorf(pass.KindInvalid, "service account key: %d bytes, the limit is %d", len(data), MaxKeyFile)
	}
	var f struct {
		Type         string `json:"type"`
		ClientEmail  string `json:"client_email"`
		PrivateKeyID string `json:"private_key_id"`
		PrivateKey   string `json:"private_key"`
		TokenURI     string `json:"token_uri"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, pass.Errorf(pass.KindInvalid, "service account key: not a JSON key file")
	}
	if f.Type != "service_account" {
		return nil, pass.Errorf(pass.KindInvalid, "service account key: type is %q, want service_account", f.Type)
	}
	if _, err := mail.ParseAddress(f.ClientEmail); err != nil {
		return nil, pass.Errorf(pass.KindInvalid, "service account key: client_email is missing or malformed")
	}
	block, _ := pem.Decode([]byte(f.PrivateKey))
	if block == nil {
		return nil, pass.Errorf(pass.KindInvalid, "service account key: private_key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		if k1, err1 := x509.ParsePKCS1PrivateKey(block.Bytes); err1 == nil {
			k, err = k1, nil
		}
	}
	if err != nil {
		return nil, pass.Errorf(pass.KindInvalid, "service account key: private_key is not a PKCS#8 RSA key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, pass.Errorf(pass.KindInvalid, "service account key: private_key is not an RSA key")
	}
	if f.TokenURI == "" {
		f.TokenURI = DefaultTokenURI
	}
	return &ServiceAccount{Email: f.ClientEmail, KeyID: f.PrivateKeyID, TokenURI: f.TokenURI, Key: rk, JSON: data}, nil
}

// NewServiceAccountJSON makes a service-account key file for development
// and tests: a fresh RSA key, the given email and token endpoint.
func NewServiceAccountJSON(email, tokenURI string) ([]byte, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	return json.MarshalIndent(map[string]string{
		"type":           "service_account",
		"project_id":     "walletpass-dev",
		"private_key_id": fmt.Sprintf("%x", id),
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   email,
		"client_id":      "1",
		"token_uri":      tokenURI,
	}, "", "  ")
}

// SaveClaims are the claims of a save link.
type SaveClaims struct {
	Iss     string      `json:"iss"`
	Aud     string      `json:"aud"`
	Typ     string      `json:"typ"`
	Iat     int64       `json:"iat"`
	Origins []string    `json:"origins"`
	Payload SavePayload `json:"payload"`
}

// SavePayload names the objects to save, by id only.
type SavePayload struct {
	EventTicketObjects []ObjectRef `json:"eventTicketObjects"`
}

// ObjectRef is an object named by id.
type ObjectRef struct {
	ID string `json:"id"`
}

// MaxSaveJWT is the longest save JWT we hand out: Google's own tools
// refuse longer ones, which some browsers cannot open.
const MaxSaveJWT = 1800

// SaveJWT signs a "skinny" save JWT (RS256) for objects that already exist:
// iss is the service account, aud "google", typ "savetowallet", origins at
// the top level. It returns an error of kind pass.KindInvalid if the token
// would be longer than MaxSaveJWT.
func SaveJWT(sa *ServiceAccount, objectIDs []string, origins []string, now time.Time) (string, error) {
	signing, err := unsignedSaveJWT(sa, objectIDs, origins, now)
	if err != nil {
		return "", err
	}
	if n := saveJWTLen(sa, signing); n > MaxSaveJWT {
		return "", pass.Errorf(pass.KindInvalid, "google: the save link for %d objects is %d characters, over Google's %d",
			len(objectIDs), n, MaxSaveJWT)
	}
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, sa.Key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("google: sign save link: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// SaveJWTFits reports whether SaveJWT's token for objectIDs at now stays
// within MaxSaveJWT, without signing it.
func SaveJWTFits(sa *ServiceAccount, objectIDs []string, origins []string, now time.Time) bool {
	signing, err := unsignedSaveJWT(sa, objectIDs, origins, now)
	return err == nil && saveJWTLen(sa, signing) <= MaxSaveJWT
}

// unsignedSaveJWT is a save JWT's header and claims, encoded.
func unsignedSaveJWT(sa *ServiceAccount, objectIDs []string, origins []string, now time.Time) (string, error) {
	if origins == nil {
		origins = []string{}
	}
	c := SaveClaims{Iss: sa.Email, Aud: "google", Typ: "savetowallet", Iat: now.Unix(), Origins: origins}
	for _, id := range objectIDs {
		c.Payload.EventTicketObjects = append(c.Payload.EventTicketObjects, ObjectRef{ID: id})
	}
	header := map[string]string{"alg": "RS256", "typ": "JWT"}
	if sa.KeyID != "" {
		header["kid"] = sa.KeyID
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	cj, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(hj) + "." + enc.EncodeToString(cj), nil
}

// saveJWTLen is the length of the token signing makes: an RS256
// signature is as long as the key's modulus.
func saveJWTLen(sa *ServiceAccount, signing string) int {
	return len(signing) + 1 + base64.RawURLEncoding.EncodedLen(sa.Key.Size())
}

// DefaultSaveURL is where a save JWT is opened.
const DefaultSaveURL = "https://pay.google.com/gp/v/save/"

// pemKey is the account's key as PEM, the form the OAuth 2.0 JWT flow
// takes.
func pemKey(sa *ServiceAccount) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(sa.Key)
	if err != nil {
		return nil // an *rsa.PrivateKey always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// SaveLinkFits reports whether one save link (SaveURL) can name the
// objects of every pass in serials: a larger order needs a link per
// ticket. false for a tenant without a Google Wallet issuer.
func (s *Syncer) SaveLinkFits(tenant string, serials []string) bool {
	tn, err := s.tenant(tenant)
	if err != nil {
		return false
	}
	ids := make([]string, len(serials))
	for i, serial := range serials {
		ids[i] = ObjectID(tn.Issuer.IssuerID, tenant, serial)
	}
	return SaveJWTFits(tn.Account, ids, tn.Origins, s.now())
}
