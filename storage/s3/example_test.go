package s3_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"walletpass/storage/s3"
)

func ExampleParseURL() {
	cfg, err := s3.ParseURL("s3://AKIAEXAMPLE:wJalr%2FK7MDENG@s3.eu-central-1.amazonaws.com/tickets/walletpass/prod?region=eu-central-1&style=virtual")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg) // the secret key is redacted
	// Output:
	// s3.Config{Endpoint:"s3.eu-central-1.amazonaws.com" Secure:true Region:"eu-central-1" Bucket:"tickets" Prefix:"walletpass/prod/" AccessKey:"AKIAEXAMPLE" SecretKey:REDACTED PathStyle:virtual Timeout:0s CreateBucket:false}
}

func ExampleStore_PresignGet() {
	ctx := context.Background()
	cfg, err := s3.ParseURL(os.Getenv("WALLETPASS_S3"))
	if err != nil {
		log.Fatal(err)
	}
	store, err := s3.New(ctx, cfg) // fails unless the bucket exists and takes the keys
	if err != nil {
		log.Fatal(err)
	}
	key := "demo/passes/0123456789abcdef0123456789abcdef/v3.pkpass"
	if err := store.Put(ctx, key, []byte("PK…"), "application/vnd.apple.pkpass"); err != nil {
		log.Fatal(err)
	}
	u, err := store.PresignGet(ctx, key, 10*time.Minute, "ticket.pkpass", "application/vnd.apple.pkpass")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u) // a browser downloads ticket.pkpass from the bucket directly
}
