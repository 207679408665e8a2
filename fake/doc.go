// Package fake is the room of the wire-level fakes: stand-ins for the
// services walletpass cannot reach from a laptop or a test, each speaking
// the real wire protocol as the public record shows it, so that the real
// client libraries drive them unchanged.
//
//	fake/secutix  the SecuTix sandbox (REST_RPC API, control API, webhooks)
//	fake/apns     Apple Push Notification service (HTTP/2 over TLS)
//	fake/fcm      Firebase Cloud Messaging HTTP v1 and its token endpoint
//	fake/google   Google Wallet REST API (walletobjects v1), its token
//	              endpoint, signed save/delete callbacks and a stand-in
//	              for Google's save page
//	fake/oidc     an OpenID Connect provider (discovery, a login page that
//	              offers its users, authorization code with PKCE, ES256
//	              ID tokens): the console's development sign-in
//
// They are product code: `make run` serves them so that a newcomer sees the
// whole flow with no account anywhere, and the tests drive them too. None
// imports package testing, so the shipped binary does not link it.
//
// One constructor convention:
//
//   - New(Options) builds a fake without listening; its Handler (or the
//     value itself) is mounted on a server of the caller's, as `make run`
//     does. New panics on options that are a programming error; the
//     sandbox and the OpenID provider, whose options come from the
//     configuration, return an error.
//   - NewServer(Options) builds a fake and listens on a loopback port (its
//     URL field says where); Close stops it. APNs has only NewServer: it
//     needs its own TLS listener for HTTP/2.
//   - Methods on the value program answers (Respond, Fail, FailNext) and
//     inspect what the fake received (Requests, Messages, Pushes, Calls).
package fake
