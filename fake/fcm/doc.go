// Package fcm is a fake Firebase Cloud Messaging HTTP v1 endpoint for
// tests and local development. It serves
// POST /v1/projects/{project}/messages:send with the body
// {"validate_only"?: bool, "message": {...}}, answers like FCM (so that
// the Firebase Admin SDK's messaging.IsUnregistered and friends work on its
// errors), records every message and lets a test program the answers per
// registration token. [NewServer] starts it on a loopback port;
// [New] returns it as an http.Handler to mount on another server,
// also behind http.StripPrefix.
//
// The checks run in this order. Each refusal is Google's error JSON
// {"error":{"code":…,"message":…,"status":…,"details":[…]}}, whose details
// hold an FcmError {"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError",
// "errorCode":…} when the table names an FCM code, and a google.rpc.BadRequest
// field violation when it names a field (after the comma):
//
//	non-POST                              405 UNIMPLEMENTED, Allow: POST
//	path not /v1/projects/{p}/messages:send
//	                                      404 NOT_FOUND
//	{p} != Options.ProjectID (when set)   403 PERMISSION_DENIED, SENDER_ID_MISMATCH
//	RequireAuth and no bearer token that
//	  is AccessToken or one the token
//	  endpoint issued                     401 UNAUTHENTICATED, no FCM code
//	body over MaxRequestBody (64 KiB)     400 INVALID_ARGUMENT
//	body not one JSON object, validate_only
//	  not a bool, message not an object   400 INVALID_ARGUMENT
//	token, topic or condition not a string 400 INVALID_ARGUMENT, message.token (...)
//	not exactly one of them non-empty     400 INVALID_ARGUMENT, message
//	notification not an object, or its
//	  title or body not a string          400 INVALID_ARGUMENT, message.notification(.title)
//	data not an object of strings         400 INVALID_ARGUMENT, message.data
//	token over MaxTokenLen (4096) bytes   400 INVALID_ARGUMENT, message.token: "The
//	                                      registration token is not a valid FCM
//	                                      registration token"
//	payload over MaxPayload (4096) bytes  400 INVALID_ARGUMENT, message: "Message is
//	  (the compact JSON of the message    too big"
//	  without token, topic, condition)
//
// Then a request for a token given to [Handler.Unregister] gets 404
// NOT_FOUND with FCM code UNREGISTERED. Otherwise it takes the next answer
// programmed with [Handler.Respond] for its token (an INVALID_ARGUMENT
// answer is the invalid-token one above), or succeeds: 200
// {"name":"projects/{p}/messages/{id}"}, with the id "fake_message_id" for
// validate_only. Every request to a send URL (a POST with the right path),
// accepted or refused, is recorded as a [Message] with the answer it got.
//
// The project check uses SENDER_ID_MISMATCH rather than a bare
// PERMISSION_DENIED: with no credentials to compare, a wrong project is the
// fake's sender-id mismatch, and both messaging.IsSenderIDMismatch and
// errorutils.IsPermissionDenied hold for it. The auth check answers
// UNAUTHENTICATED without an FCM code, like Google's front end for a
// missing or bad OAuth token; THIRD_PARTY_AUTH_ERROR is FCM's answer about
// APNs or Web Push credentials and can be programmed with Respond.
//
// # Token endpoint
//
// POST /token is an OAuth 2 token endpoint for a service account (the
// jwt-bearer grant): given an RS256 JWT assertion with iss, scope and an
// unexpired exp (signed by Options.TokenKey when set) it issues an access
// token that RequireAuth accepts; otherwise it answers 400 with an OAuth 2
// error ("invalid_grant", "unsupported_grant_type"), and 405 to a non-POST.
// Issued tokens outlive Reset. [ServiceAccountJSON] writes a key file
// whose token_uri points at it, so the production credential path of
// package fcm can be tested end to end.
package fcm
