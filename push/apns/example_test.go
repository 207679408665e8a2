package apns_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	fakeapns "walletpass/fake/apns"
	"walletpass/push/apns"
)

// Push a pass update with token auth to a fake APNs. In production, leave
// Host and RootCAs empty and read TokenKeyPEM from the tenant's .p8 file.
func Example() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	p8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	srv := fakeapns.NewServer(fakeapns.Options{
		RequireToken: true, TokenKey: &key.PublicKey, KeyID: "KEYID12345", TeamID: "TEAMID1234",
		Topic: "pass.dev.walletpass.test",
	})
	defer srv.Close()

	client, err := apns.New(apns.Config{
		TokenKeyPEM: p8, KeyID: "KEYID12345", TeamID: "TEAMID1234",
		Host: srv.URL, RootCAs: srv.CA,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	pushToken := strings.Repeat("ab", 32) // as registered by Wallet
	srv.Respond(pushToken, fakeapns.Answer{}, fakeapns.Answer{Status: 410})
	for range 2 {
		res, err := client.Push(context.Background(), pushToken, "pass.dev.walletpass.test")
		if err != nil {
			fmt.Println(err) // no answer: retry later
			return
		}
		switch res.Outcome {
		case apns.Delivered:
			fmt.Println("delivered")
		case apns.Unregistered:
			fmt.Println("unregistered: delete the registration")
		default:
			fmt.Println(res.Outcome, res.Status, res.Reason)
		}
	}
	// Output:
	// delivered
	// unregistered: delete the registration
}
