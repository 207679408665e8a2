// Package fcm is the adapter that notifies the organiser's app through
// Firebase Cloud Messaging (the HTTP v1 API), with the Firebase Admin SDK's
// firebase.google.com/go/v4/messaging client.
//
// One [Client] serves one Firebase project. In production it signs in with
// a service-account key (Config.CredentialsJSON), which the Google auth
// library exchanges for OAuth 2 access tokens at the key's token_uri. In
// tests and development, Config.Endpoint points it at the fake FCM (fake/fcm);
// without a key it then sends no Authorization header. The endpoint must
// include "/v1": the client posts to <endpoint>/projects/<id>/messages:send.
// The Firebase library reads no environment variable for the endpoint, and
// New never falls back to Application Default Credentials.
//
// # The request
//
// Send posts one message to one registration token: the notification's
// title and body, its data (string values), and android.priority "high" so
// that Android shows it at once. There is no APNs configuration: FCM's
// defaults show the notification on iOS.
//
// # Outcomes and errors
//
// The Firebase client retries a 503 and a network failure up to four
// times, after 0, 1, 2 and 4 s (longer if a Retry-After says so; not at
// all if the Retry-After is over two minutes), and nothing else; each Send
// is bounded by Config.Timeout. Send then maps the answer with the
// messaging package's helpers:
//
//	Delivered    200; the string result is the message name
//	Unregistered 404 UNREGISTERED; 400 INVALID_ARGUMENT about the token
//	             ("The registration token is not a valid FCM registration
//	             token", or a field violation on message.token); an empty
//	             token or one over 4096 bytes, without any request
//	Retry        429 QUOTA_EXCEEDED, 503 UNAVAILABLE, 500 INTERNAL, any
//	             other 5xx; no answer within Config.Timeout
//	             ("DEADLINE_EXCEEDED") or FCM unreachable ("UNAVAILABLE")
//	ConfigError  403 SENDER_ID_MISMATCH, 401 THIRD_PARTY_AUTH_ERROR (and
//	             its older name APNS_AUTH_ERROR, as the Firebase client
//	             reads it), and
//	             without an FCM code 401 UNAUTHENTICATED, 403
//	             PERMISSION_DENIED, 404 NOT_FOUND (a wrong endpoint); the
//	             token endpoint refusing the service-account key (a 4xx but
//	             408 and 429; reason "CREDENTIALS_REFUSED: invalid_grant" or
//	             the like), found at once rather than after the Firebase
//	             client's network retries
//
// The reason is FCM's error code, or the error's status when it has none.
// [Client.Deliver] answers the same with FCM's Retry-After (a 429
// QUOTA_EXCEEDED carries one), so that the caller waits as long as asked.
// Send returns an error, with Outcome Retry, only for what is none of
// these: any other INVALID_ARGUMENT (a malformed or too big message:
// pass.KindInvalid), a done ctx (pass.KindUnavailable) or an answer FCM
// does not give (pass.KindInternal). Config problems found by [New] are
// pass.KindInvalid. Key material never appears in an error or in the
// String form of a Config or Client; registration tokens are shortened in
// errors.
package fcm
