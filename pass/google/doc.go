// Package google keeps Google Wallet event tickets in line with our passes:
// one EventTicketClass per performance and one EventTicketObject per pass
// (per ticket and holder), inserted when the buyer first asks for them (or
// on payment when the tenant wants it) and patched on every change, with
// the lifecycle's states and messages. It also signs the "skinny" save
// links (RS256 JWTs naming object ids only).
//
// The calls go through the real client, google.golang.org/api/walletobjects/v1,
// at most RequestsPerSecond per tenant; errors keep the pass error kinds so
// that the task queue retries 429 and 5xx answers with backoff (the Go
// client itself never retries).
package google
