// Package secutix is the adapter to SecuTix (S-360, by ELCA): a client of
// its REST_RPC JSON API that fetches a ticket file and maps it to a
// pass.Order, one pass.Ticket per sale movement.
//
// The client speaks the API as documented and observed: POST /tnai/backend-apis/v1/auth for a bearer
// token (cached, renewed 30 s before it expires, renewed once more on HTTP
// 401), then POST .../externalOrderService/v1_33/{getFileDetails,
// getFileDetailsFromOrderSecretId, getOrderDetails}. Every answer carries
// an envelope {statusCode, statusDetail, statusMessage, requestId}:
//
//   - "success" is decoded;
//   - "in_progress" is retried after Config.InProgressDelay, resending the
//     requestId, up to Config.InProgressRetries times (then KindUnavailable);
//   - an error whose statusDetail says NOT_FOUND, UNKNOWN or DOES_NOT_EXIST is
//     KindNotFound wrapping pass.ErrNotFound; INVALID, MISSING, ILLEGAL or
//     BAD_REQUEST is KindInvalid; anything else is KindUnavailable.
//
// HTTP 429 and 509 (SecuTix's "over quota") become a *pass.RetryAfterError;
// 5xx and network errors are KindUnavailable. The client does not retry
// them: the task queue that calls it backs off. A client-side token bucket
// per endpoint (golang.org/x/time/rate) keeps under SecuTix's 60 requests
// per minute per endpoint.
//
// Mapping: fields SecuTix documents are read by their real names; the
// fields our research could not confirm (performanceStartDate, area, block,
// row, seatNumber, entrance, holder, tickets, eventKind, performers, …) are
// read when present and otherwise left empty. A refund or cancellation
// order in the file cancels the sale movements its movements name (by
// cancelledMovementId, else by their own movementId). A movement that
// cannot become a valid ticket fails the whole call with KindInvalid naming
// it, rather than being dropped.
//
// The SecuTix sandbox, a fake SecuTix speaking the same wire API, is fake/secutix.
package secutix
