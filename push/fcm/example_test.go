package fcm_test

import (
	"context"
	"fmt"

	fakefcm "walletpass/fake/fcm"
	"walletpass/push/fcm"
)

// Notify the organiser's app through a fake FCM. In production, leave
// Endpoint empty and set CredentialsJSON to the project's service-account
// key file.
func Example() {
	srv := fakefcm.NewServer(fakefcm.Options{ProjectID: "walletpass-dev"})
	defer srv.Close()

	ctx := context.Background()
	client, err := fcm.New(ctx, fcm.Config{ProjectID: "walletpass-dev", Endpoint: srv.Endpoint})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	token := "registration-token-from-the-app"
	srv.Respond(token, fakefcm.Answer{}, fakefcm.Answer{ErrorCode: fakefcm.Unregistered})
	n := fcm.Notification{Title: "Doors open", Body: "Gate B, from 19:00", Data: map[string]string{"event": "42"}}
	for range 2 {
		outcome, reason, err := client.Send(ctx, token, n)
		switch {
		case err != nil:
			fmt.Println(err) // see the error's kind: pass.KindInvalid will not get better
		case outcome == fcm.Delivered:
			fmt.Println("delivered")
		case outcome == fcm.Unregistered:
			fmt.Println("unregistered: forget the token")
		default:
			fmt.Println(outcome, reason)
		}
	}
	// Output:
	// delivered
	// unregistered: forget the token
}
