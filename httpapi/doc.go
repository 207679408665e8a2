// Package httpapi is walletpass's HTTP layer (Gin): one route table, the
// middleware every request goes through (correlation id, body limits,
// panics and errors as RFC 9457 problem+json), and thin handlers that bind,
// validate, call the domain and render.
package httpapi
