// Package secutix is the adapter to SecuTix (S-360, by ELCA): a client of
// its REST_RPC JSON API that fetches a ticket file and maps it to a
// pass.Order, one pass.Ticket per sale movement.
//
// The client speaks the API as documented and observed. Every call carries a
// bearer token: by default (Config.Auth "jwt") an HS256 JWT forged for the
// request as SecuTix documents (sub the institution, aud the operator, iss
// the partner, signed with the operator's secret, exp = iat + 30 s); in
// "token" mode the token of POST /tnai/backend-apis/v1/auth (or
// Config.AuthPath; its token at the top or under data), kept until a 401
// or 403. A 401 or 403 is retried once with a new token. The calls are POST
// .../externalOrderService/v1_33/{getFileDetails,
// getFileDetailsFromOrderSecretId, getOrderDetails}. Every answer carries
// an envelope {statusCode, statusDetail, statusMessage, requestId}:
//
//   - "success" is decoded;
//   - "in_progress" is retried after Config.InProgressDelay (10 s), resending
//     the requestId (an integer), up to Config.InProgressRetries times (then
//     KindUnavailable);
//   - an error whose statusDetail (else statusMessage) says an object is
//     missing (NOT_FOUND, DOES_NOT_EXIST, NO_SUCH, or UNKNOWN next to FILE,
//     ORDER, TICKET, …: notFoundWords) is KindNotFound wrapping
//     pass.ErrNotFound; refused credentials are KindUnauthorized; INVALID,
//     MISSING, ILLEGAL or BAD_REQUEST is KindInvalid; anything else is
//     KindUnavailable (docs/secutix.md gives the whole order).
//
// HTTP 429 and 509 (SecuTix's "over quota") become a *pass.RetryAfterError;
// 5xx and network errors are KindUnavailable. The client does not retry
// them: the task queue that calls it backs off (SecuTix documents no
// Retry-After: without one the client asks for DefaultRetryAfter), and
// they pause the service's Quota until then. The Quota keeps the client
// under SecuTix's 60 requests per minute per institution and service,
// whose methods count together: a sliding window (60 calls in any 61 s),
// strict priority (a buyer's call before a webhook's, a webhook's before
// reconciliation's; pass.Priority) and pauses. LocalQuota keeps it in one
// process; instances sharing a PostgreSQL database share the storage
// package's.
//
// Mapping: each pass field is read through a path into SecuTix's JSON
// (Fields: the defaults are the names SecuTix's record shows; a field it
// does not show, such as the seat's row and number, the entrance or the
// performers, has no default and is left empty unless the tenant maps it,
// Config.Fields). A refund order (orderType REFUND_*) or the freeing of a
// reservation or an option cancels the sale movements its movements name
// by their movementId, or, failing that, the sale of the same seat of the
// same performance before it. An unknown ticket
// state is kept (the ticket stays valid) and reported in Order.Warnings. A
// movement that cannot become a valid ticket (no barcode yet, a
// performance the catalogue does not hold), a SIMPLE_PRODUCT line and an
// unpaid hold (a reservation or an option) are left out of the order's
// tickets with a warning each, so that the rest of the file still makes
// its passes; a cancelled one is still mapped, to void its pass (one that
// would make no pass, or is dated by a stand-in, is pass.Ticket.VoidOnly,
// EventUnknown). A file of which no ticket maps fails the call: with
// KindInvalid because of a value walletpass cannot read (the tenant's
// mapping or symbology), else with KindUnavailable when a movement that
// is not cancelled lacks what a pass needs (retried); one whose
// movements are all no tickets is an order without tickets.
//
// The SecuTix sandbox, a fake SecuTix speaking the same wire API, is fake/secutix.
package secutix
