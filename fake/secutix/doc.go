// Package secutix is the SecuTix sandbox: a fake SecuTix institution for development, demos and
// tests. It speaks the same REST_RPC wire API as SecuTix (the one package
// secutix's client uses), with the same failure modes, and adds a control
// API to create orders and change tickets, each change being announced to
// walletpass by a webhook, as the SecuTix order feed does.
//
// Mount Handler at "/sandbox/"; every path below is absolute. The client's
// BaseURL for the sandbox is http://HOST/sandbox/secutix.
//
// # SecuTix API
//
// All POST, JSON:
//
//	/sandbox/secutix/tnai/backend-apis/v1/auth
//	    {"operator","partner","secret"} → {"token"} (no lifetime, as SecuTix);
//	    401 for bad credentials
//	/sandbox/secutix/tnseb/backend-apis/externalOrderService/v1_33/getFileDetails
//	    {"fileId":N}
//	/sandbox/secutix/tnseb/backend-apis/externalOrderService/v1_33/getFileDetailsFromOrderSecretId
//	    {"orderSecretId":"…"}
//	/sandbox/secutix/tnseb/backend-apis/externalOrderService/v1_33/getOrderDetails
//	    {"orderId":N,"granularity":"TICKETS"}
//	/sandbox/secutix/tnseb/backend-apis/catalogService/v1_33/getCatalogDetailed
//	    {} → catalogData.seasons[].products[].event.performances[] {id, state,
//	    start, duration (seconds)}; at most once per Config.CatalogInterval
//	    (SecuTix: 10 minutes), else HTTP 509
//	/sandbox/secutix/tnseb/backend-apis/catalogService/v1_33/getPOSConfig
//	    {} → posConfigData {posId, currencyCode, organizationTimeZone}
//	/sandbox/secutix/tnseb/backend-apis/catalogService/v1_33/getLastSetupUpdate
//	    {} → {"lastSetupUpdate": date-time}, later after every catalogue change
//	    (SecuTix does not document this answer's shape; the client reads any)
//	/sandbox/secutix/tnseb/backend-apis/externalOrderHistoryService/v1_33/listTicketsByCriteria
//	    {"ticketFilterCriteria":{"productId","startDate","endDate"},"paginationParameter":{"startPosition","maxResult"}}
//	    → {"truncated", "ticketSummaries":[{ticketId, ticketState, performanceId, …}]}; 5,000 at most
//	/sandbox/secutix/tnco/backend-apis/contactInformationPublicService/v2_21/getContactData
//	    {"contactNumber":N} (an order's contactReference) → {"contactData":{contactNumber, firstName,
//	    lastName, email, languageCode}} (the answer's shape is the sandbox's: SecuTix documents none)
//
// Every API call carries "Authorization: Bearer <token>": a /v1/auth token,
// or a self-signed HS256 JWT as SecuTix documents it (signed with the
// operator's secret; sub = the institution, aud = the operator, iss = the
// partner; iat now, within 5 s, and exp at most 30 s after it). Anything
// else is a 401.
//
// Answers carry the SecuTix envelope {statusCode, statusDetail,
// statusMessage, requestId}; the file methods add fileDetailsData and
// orderDetailsDatas[], getOrderDetails adds orderDetailsData, with
// operationDatas[] (naming their performance, whose date is in the
// catalogue, and their locations) and movementDatas[] (seatId,
// seatCategory, area, barCode, beneficiaryFirstname, beneficiaryLastname
// and tickets[]). Only field names the project's SecuTix wire notes
// record are used; where SecuTix keeps a movement's tickets is not
// documented: the sandbox lists them under "tickets" (ticketId, barcode,
// ticketState, cancellationCause, creationDate, price). It sends no seat
// row or number labels, no e-mail and no event kind: SecuTix's orders do
// not carry them in a known shape. Money is in thousandths, ids are int64,
// dates ISO-8601 with offset and milliseconds.
//
// Failure modes: a missing, unknown or expired bearer token is HTTP 401;
// more than QuotaPerMinute calls to one service (its methods together) in
// a calendar minute (or QuotaWindow) is HTTP 509 without Retry-After, as
// SecuTix answers; an unknown id is HTTP 200
// with {"statusCode":"error","statusDetail":"NOT_FOUND"}; with the
// in-progress fault on, the first request of each new requestId answers
// {"statusCode":"in_progress","requestId":N} (an integer, as SecuTix's) and resending that
// requestId gets the answer; injected faults answer a chosen HTTP status.
//
// # Control API
//
// JSON in and out; errors are RFC 9457 application/problem+json; request
// bodies are limited to 64 KB (413 above).
//
// POST /sandbox/orders creates a paid order (file state CONFIRMED, sale
// order CLOSED, tickets VALID) and sends one PAID webhook per ticket; a
// new event or date joins the catalogue. An empty body or {} makes two
// tickets for a demo concert 30 days from now at 20:00 Europe/Zurich
// (Victoria Hall, Geneva; 85.00 CHF; holders from a demo list). Every
// field is optional:
//
//	{
//	  "demo": "concert",        // or "sports": the demo event of tickets that name none
//	  "count": 3,               // 1-50 tickets from the single "tickets" entry (or demo values)
//	  "currency": "CHF",
//	  "tickets": [{             // at most 50
//	    "event": {"name": "Jazz Night",       // or "names": [{"locale":"fr","value":"Nuit du jazz"}, …]
//	              "start": "2026-07-01T20:00:00+02:00", "end": "…"},  // the performance in the catalogue
//	    "seat": {"area": "Parterre", "category": "Cat 1"},
//	    "holder": {"firstName": "Léa", "lastName": "Favre"},
//	    "price": 85000,         // thousandths
//	    "tariff": "Adulte"
//	  }]
//	}
//
// It answers 201 {"fileId","orderId","orderSecretToken","tickets":[{"ticketId","movementId","barcode"}]}
// (ids unique int64s, barcodes 24 digits, secret tokens 24 URL-safe
// characters) and 400 for an invalid request.
//
// POST /sandbox/orders/{fileId}/tickets/{ticketId}/{action} changes the
// ticket and answers 200 with its new view {"fileId","orderId",
// "orderSecretToken","movementId","ticketId","barcode","state","event",
// "seat","holder","tariff","price","currency"}. The actions:
//
//	modify    body {"seat":{"area","category"},"start","end","holder":{"firstName","lastName"}},
//	          every field optional; an empty body (or {}) moves the ticket to another
//	          seat (a new seatId in another area). start/end move the performance in
//	          the catalogue (getLastSetupUpdate changes); the tickets of the same
//	          operation are notified. → MODIFIED
//	reprint   new ticketId and barcode, same movementId; the old ticket becomes
//	          INVALIDATED. → MODIFIED (with the new ticketId)
//	transfer  optional body {"firstName","lastName"} (else a generated holder);
//	          reissued like reprint so the old holder's barcode stops working. → MODIFIED
//	validate  ticketState CONTROLLED. → VALIDATED
//	cancel    ticketState CANCELLED. → CANCELLED
//	refund    ticketState CANCELLED, plus a REFUND_CLIENT order in the same file whose
//	          movement is on the sale movement's seat (seatId). → CANCELLED
//
// It answers 404 for an unknown file, ticket or action, 409 for an
// impossible transition (anything on a cancelled ticket; anything but
// cancel or refund on a validated one; any action on a ticket id replaced
// by a reprint or transfer) and 400 for bad JSON or values.
//
// POST /sandbox/performances/{performanceId}/reschedule with {"start","end"?}
// (RFC 3339; without end the duration is kept) moves a performance in the
// catalogue as an organiser would in SecuTix's back office:
// getLastSetupUpdate changes and no order webhook is sent. It answers 204,
// 404 for an unknown performance and 400 for a bad time.
//
// GET /sandbox/orders/{fileId} answers the file exactly as getFileDetails
// would (no token needed; for debugging).
//
// GET /sandbox/stats answers {"calls": {method: n, …}, "refused": n}: the
// API calls received per method and how many the quota refused (509).
//
// POST /sandbox/faults sets the API's fault injection and answers the
// current state {"status","remaining","retryAfter","inProgressTimes"}:
//
//	{"status": 503, "count": 2}   the next 2 API calls (auth included) answer HTTP 503
//	{"status": 509, "retryAfter": 7}  the next call answers 509 with Retry-After: 7
//	{"inProgress": true}          in_progress once per new requestId (false: off)
//	{"inProgressTimes": 100}      in_progress 100 times per requestId ("forever")
//	{"reset": true}               clear every fault
//
// # Webhooks
//
// Every change POSTs to Config.WebhookURL, with Config.WebhookHeaders and
// Content-Type: application/json:
//
//	{"ticketId": 10228846000123, "saleMovementId": 10228844000456,
//	 "orderSecretToken": "…", "state": "PAID", "lastUpdate": "2026-05-01T12:00:00.000+02:00"}
//
// States: PAID (create, one per ticket), MODIFIED (modify, reprint,
// transfer), VALIDATED, CANCELLED (cancel, refund). Deliveries run in the
// background, one file's in the order of its changes; a network error or
// a non-2xx answer is retried up to 5 times, the pause doubling from
// Config.WebhookRetryDelay. Close waits for the queued deliveries.
//
// That is the listener format (the contract walletpass replaces). With
// Config.WebhookFormat "v1" or "v2" the sandbox speaks SecuTix's own order
// webhooks instead, once per order change (not per ticket; a scan, which
// closes no order, sends nothing), naming the order the ticket was sold
// in: V1 is a GET of WebhookURL with ${orderId} replaced by the order id;
// V2 is a POST of {"orderDetailsData": …}, the order as getOrderDetails
// shows it when sent, retried 12 times every WebhookRetryDelay (SecuTix:
// every M minutes). SetWebhookURL changes the target later.
//
// Go methods mirror the control API for tests: CreateOrder, Modify,
// Reprint, Transfer, Validate, Cancel, Refund, SetFaults, FailNext,
// SetInProgressOnce, SetInProgress, ExpireTokens, Calls and Order.
package secutix
