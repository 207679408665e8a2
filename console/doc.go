// Package console is the operator console: server-rendered pages at
// /console/ where an operator finds any order (by file id, order secret,
// serial number, barcode or holder e-mail), sees its whole life on one
// page (passes, versions, devices, Google Wallet, the order's timeline),
// acts on it (sync again, push again), and watches and mends the task
// queue.
//
// Operators sign in with OpenID Connect (authorization code with PKCE,
// through go-oidc and x/oauth2) at the identity provider of the
// deployment; in development, at the built-in one (fake/oidc). Their roles
// come from a claim of the ID token: "admin" sees every tenant,
// "operator:<tenant>" one tenant. The session is a signed cookie (HMAC
// SHA-256, HttpOnly, SameSite=Lax, Secure over https), valid for a few
// hours; every form carries the session's CSRF token, compared in
// constant time, and cross-site form posts are refused. Every action, and
// every sign-in and sign-out, goes to the audit log.
//
// The pages are plain HTML with one small style sheet: no script is needed
// to use them, they fit a phone, and they speak English, French and
// German (the browser's language, or the one chosen).
package console
