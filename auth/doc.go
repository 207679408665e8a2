// Package auth authenticates the organiser's systems when they call our
// external API (GET /api/{tenantId}/external/secutix/orders/getTicketsUrl/{fileId}).
//
// Two credentials are accepted, both in "Authorization: Bearer <credential>":
//
//   - an OAuth2 access token, a JWT issued by the organiser's identity
//     provider. A Verifier checks it against one tenant's issuer, audience
//     and JWKS URL: RS256 or ES256 signature by a key from the JWKS (selected
//     by kid), exp/nbf/iat with a leeway, the exact issuer, the audience, the
//     required scope (from "scope" or "scp") and, when the token names one,
//     the tenant. The JWKS is cached for its Cache-Control max-age and
//     refetched when a token names an unknown kid, at most once per 10 s;
//   - a tenant API key ("wpk_" and 43 base64url characters). NewAPIKey makes
//     one and the hash to store; HashAPIKey and EqualHash check a presented
//     key against the stored hash. LooksLikeAPIKey tells a key from a JWT.
//
// BearerToken extracts the credential from the header and Challenge builds
// the WWW-Authenticate value of a 401 or 403 answer (RFC 6750).
//
// Errors are *pass.Error values: KindUnauthorized for a missing or invalid
// token, KindForbidden for a valid token that lacks the scope or names
// another tenant, KindUnavailable when the identity provider's keys cannot
// be fetched, KindInvalid for a bad configuration. Their public messages
// never contain the token.
//
// DevIssuer is a development identity provider: an ES256 key kept in a PEM
// file, a JWKS handler and a token minter, so that a local run has working
// tokens without a real identity provider.
package auth
