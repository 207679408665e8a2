// Package apns is the adapter that wakes Apple Wallet up when a pass
// changes: it sends the pass-update push through the Apple Push
// Notification service (APNs), so that the device asks our PassKit web
// service for the serial numbers that changed and downloads the new pass.
//
// One [Client] serves one credential (one tenant). It holds one
// github.com/sideshow/apns2 client over one net/http HTTP/2-only transport
// limited to one connection per host, so every push of the tenant shares a
// single TLS connection, as Apple asks ("don't repeatedly open and close
// connections"); at most Config.Concurrency pushes are in flight on it.
// Two credentials are supported:
//
//   - certificate auth: TLS client authentication with the Pass Type ID
//     certificate and key that sign the passes (the documented way for
//     Wallet), over TLS 1.2 so that APNs's refusal of the certificate
//     arrives in the handshake (see New);
//   - token auth: an ES256 JWT made from a .p8 key (kid = KeyID, iss =
//     TeamID), cached and renewed by apns2/token every 50 minutes. It only
//     works if the key belongs to the team that owns the pass type.
//
// # The request
//
// Push sends POST <Host>/3/device/<push token> with apns-topic set to the
// pass type identifier and the body {} (Wallet ignores alert, badge and
// sound; what the user sees comes from the pass's changeMessage). It sets
// apns-push-type: background and apns-priority: 5. The push only tells
// Wallet to fetch the update and shows nothing by itself, which is what
// Apple's "background" type describes, and Apple documents priority 10 as
// an error for that type. Without an explicit type apns2 would send
// "alert", which Apple meant for pushes that show something. Both are
// reported to work for passes, so the choice
// follows Apple's header rules.
//
// # Outcomes and errors
//
// Push returns a nil error for every APNs answer; the [Outcome] says what
// the caller should do with the registration:
//
//	Delivered    200
//	Unregistered 410, or 400 BadDeviceToken/ExpiredToken: delete the registration
//	             (unless it was refreshed after Result.Timestamp); also a push
//	             token that is not 64-200 hex digits, without any request
//	Retry        429 (back off RetryAfterTooManyRequests: APNs sends no
//	             Retry-After), 5xx, 400 IdleTimeout, a status APNs does not
//	             answer (1xx-3xx but 200) and no answer (RetryAfterUnavailable)
//	ConfigError  any other 4xx: 400 DeviceTokenNotForTopic/TopicDisallowed,
//	             403 BadCertificate/InvalidProviderToken/..., 413: keep the
//	             registration, fix the tenant's configuration; a 403 or a
//	             topic refused for our certificate (TopicDisallowed,
//	             BadTopic, MissingTopic) has RetryAfter pass.ConfigRetry,
//	             as a fixed configuration (or a renewed provider token)
//	             may be accepted, the rest none; also our certificate
//	             refused in the TLS handshake (an expired, revoked or
//	             unknown one: a TLS alert about the certificate, no HTTP
//	             answer), as a 403 BadCertificate with Status 0
//
// Push returns an error only when it got no answer: a canceled context
// (errors.Is(err, context.Canceled) holds), a network failure (a
// connection refused, reset or cut, a TLS alert not about our certificate)
// or the per-push timeout (a *pass.RetryAfterError of kind
// pass.KindUnavailable, with Outcome Retry), or a local mistake such as an
// empty topic (pass.KindInvalid). Config problems found by [New] are
// pass.KindInvalid.
//
// The first ConfigError of each kind is logged once per Client (that is,
// per tenant) when Config.Logger is set. Key material never appears in an
// error, a log line or the String form of a Config or Client; push tokens
// are shortened in logs and errors.
package apns
