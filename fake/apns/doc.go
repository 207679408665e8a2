// Package apns is a fake Apple Push Notification service for tests and
// local development. It speaks HTTP/2 over TLS like APNs, serves
// POST /3/device/{token}, checks the credentials the way APNs does
// (Pass Type ID client certificate and/or ES256 provider token), records
// every push it answers and lets a test program the answers per device
// token.
//
// With Options.ClientCAs set, the fake checks a client certificate in the
// TLS handshake, as APNs does: one that does not chain to ClientCAs or is
// not valid now (expired, from another CA) fails the handshake with the
// bad_certificate alert, and the client gets no HTTP answer. (APNs may
// send a more precise alert, such as certificate_expired; crypto/tls sends
// bad_certificate for any certificate its caller refuses.) A connection
// without a certificate is accepted: a provider token may follow.
//
// The checks of a request run in this order, each answering like APNs
// with a JSON body {"reason":"..."} and an apns-id header:
//
//	non-POST                         405 MethodNotAllowed
//	path other than /3/device/{t}    404 BadPath
//	not HTTP/2                       505 HTTP2Required (APNs would not talk HTTP/1 at all)
//	RequireClientCert: no client
//	  certificate                    403 BadCertificate
//	RequireToken: no authorization  403 MissingProviderToken
//	  bad JWT, alg, kid, iss or
//	  signature                      403 InvalidProviderToken
//	  iat older than one hour        403 ExpiredProviderToken
//	neither a client certificate
//	  nor an authorization header
//	  (whatever the Options)         403 MissingProviderToken
//	no device token                  400 MissingDeviceToken
//	token not 64-200 hex digits      400 BadDeviceToken
//	no apns-topic                    400 MissingTopic
//	apns-topic != Options.Topic      400 DeviceTokenNotForTopic
//	apns-topic != the client
//	  certificate's UID (its pass
//	  type identifier)               400 TopicDisallowed
//	unknown apns-push-type           400 InvalidPushType
//	apns-priority not 1, 5 or 10     400 BadPriority
//	apns-push-type background with
//	  apns-priority 10               400 BadPriority
//	body over 4096 bytes             413 PayloadTooLarge
//	empty body                       400 PayloadEmpty
//	body not a JSON object           400 BadPayload
//
// A request that passes them all takes the next answer programmed with
// [Server.Respond] for its token, or 200. A 410 answer carries a
// "timestamp" (milliseconds since the epoch) like APNs's.
package apns
