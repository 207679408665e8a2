// Package oidc is a development OpenID Connect provider: the identity
// provider that `make run` serves for the operator console's development
// login, and that tests use to drive the real client libraries
// (github.com/coreos/go-oidc and golang.org/x/oauth2) through a real
// authorization-code flow with PKCE. It checks no password: its login page
// offers the configured users, and whoever opens it picks one.
//
//	p, err := fakeoidc.New(fakeoidc.Options{
//		Issuer:  "http://127.0.0.1:8080/dev/oidc",
//		Clients: map[string]fakeoidc.Client{"console": {RedirectURIs: []string{"http://127.0.0.1:8080/console/callback"}}},
//		Users:   []fakeoidc.User{{Subject: "admin", Name: "Ada Admin", Email: "ada@example.test", Roles: []string{"admin"}}},
//	})
//	mux.Handle("/dev/oidc/", p) // the Provider sees the full path
//
// # Endpoints
//
// Paths are relative to the issuer URL's path:
//
//	GET  /.well-known/openid-configuration  the discovery document
//	GET  /jwks                              the ES256 signing key (P-256, made by New)
//	GET  /authorize                         the login page
//	POST /authorize                         the chosen user: 303 to the client with code and state
//	POST /token                             the authorization_code grant
//	GET  /logout                            end session: 303 to a registered post_logout_redirect_uri
//
// Another path gets 404, another method 405 with Allow.
//
// # Authorization endpoint
//
// An unknown client_id, or a redirect_uri that is not one of the client's
// registered URIs exactly (or either given more than once), gets a 400
// text page and no redirect. The other
// refusals are redirected to redirect_uri with error (and state), in this
// order: a repeated parameter (invalid_request), response_type not "code"
// (unsupported_response_type), scope without "openid" (invalid_scope),
// code_challenge_method not S256 or code_challenge not 43 base64url
// characters (invalid_request: PKCE with S256 is required of every client).
// A valid GET answers the login page, or, with a login_hint that is a
// user's subject, signs that user in at once (as a provider does for a
// browser already signed in there: a browser test needs no script); a
// valid POST with user=<index of
// Options.Users> issues a one-time code valid 60 s (an invalid user index
// gets a 400 text page) and redirects with code and state, keeping the
// redirect URI's own query. At most 10,000 unexpired codes are outstanding;
// beyond, the redirect carries error=temporarily_unavailable. The granted
// scope is the requested one restricted to openid, profile and email.
//
// # Token endpoint
//
// The client authenticates with HTTP Basic (client_id and secret
// form-encoded, RFC 6749 §2.3.1) or with client_id and client_secret in
// the form; a public client (Client.Secret "") sends client_id alone, or
// Basic with an empty password. Refusals are JSON
// {"error":…,"error_description":…}:
//
//	body not a form of at most 64 KiB, or no grant_type  400 invalid_request
//	grant_type not authorization_code                    400 unsupported_grant_type
//	Basic and client_secret both, or client_id differs   400 invalid_request
//	unknown client, wrong or missing secret, or a secret
//	  sent for a public client                           401 invalid_client (WWW-Authenticate: Basic after Basic)
//	code unknown, used, expired or of another client,
//	  redirect_uri not the authorization request's,
//	  code_verifier missing, malformed or not matching   400 invalid_grant
//
// A code is spent by its first presentation with valid client
// credentials, whether the exchange then succeeds or not. Success is
// {"access_token":…,"token_type":"Bearer","expires_in":300,"id_token":…,"scope":…}
// with an ES256 ID token holding iss, sub, aud, exp (5 minutes), iat,
// auth_time, nonce (when the authorization request had one), name, email
// and roles. The access token opens nothing: there is no userinfo endpoint.
package oidc
