package s3_test

import (
	"fmt"
	"log"

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
