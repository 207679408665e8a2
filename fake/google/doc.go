// Package google is a fake Google Wallet REST API (walletobjects v1)
// for event ticket classes and objects, for tests and local development.
// It speaks the real wire protocol, so the generated client
// google.golang.org/api/walletobjects/v1 works against it unchanged:
//
//	srv := fakegoogle.NewServer(fakegoogle.Options{})
//	defer srv.Close()
//	svc, err := walletobjects.NewService(ctx,
//		option.WithEndpoint(srv.URL+"/"), option.WithoutAuthentication())
//
// It also serves the OAuth 2.0 token endpoint POST /token for service
// accounts (the JWT-bearer grant), so a key file whose token_uri is
// srv.TokenURL() drives the real auth flow (see [ServiceAccountKeyJSON]).
//
// # Endpoints
//
// For {kind} eventTicketClass and eventTicketObject, under
// /walletobjects/v1/:
//
//	POST  {kind}                    insert; 200 with the stored resource
//	GET   {kind}/{id}               get
//	PUT   {kind}/{id}               update: replaces the whole resource
//	PATCH {kind}/{id}               patch: merges the fields sent
//	POST  {kind}/{id}/addMessage    {"message":{...}} → {"resource":{...}}
//	GET   eventTicketClass?issuerId=N    list (maxResults and token page)
//	GET   eventTicketObject?classId=ID   list
//
// PATCH merges the body into the stored resource, as Google documents
// PATCH for its APIs: a field sent replaces the stored one, except that a
// nested object sent (e.g. barcode, seatInfo, venue, a LocalizedString)
// is merged into the stored nested object, recursively, so the nested
// fields it leaves out are kept; a null removes the field, at any depth;
// a list sent replaces the stored list whole; absent fields are kept. A
// client that means a nested field to go must send it as null. Stored
// resources are generic JSON, so fields the fake does not know survive
// every round trip; they never hold nulls (a null in an insert or update
// body means absent). The fake sets "kind"
// (walletobjects#eventTicketClass/Object), drops the ephemeral
// notifyPreference and the read-only classReference and hasUsers from
// request bodies (see [Server.SetHasUsers]), and does not fill
// classReference in answers. Legacy lower-case enum aliases (state
// "active", reviewStatus "underReview", barcode type "qrCode", messageType
// "text", ...) are stored as their upper-case names. A class written with
// reviewStatus UNDER_REVIEW is stored as APPROVED at once, as Google does
// for event tickets. The query parameters alt, prettyPrint, fields and
// strict are accepted and ignored.
//
// # Checks
//
// Errors use Google's JSON shape
// {"error":{"code":400,"message":"...","status":"INVALID_ARGUMENT","errors":[{"reason":"invalid","message":"...","domain":"global"}]}},
// which the client returns as a *googleapi.Error with that Code and
// Message. Requests are checked in this order; the first failing check
// answers:
//
//	programmed failure (Server.Fail) that matches  its status (e.g. 429
//	                                 RESOURCE_EXHAUSTED, 500 INTERNAL,
//	                                 503 UNAVAILABLE), optional Retry-After
//	path /token                      the token endpoint, see below
//	unknown path, or method not
//	  listed above                   404 NOT_FOUND
//	RequireAuth and no valid,
//	  unexpired access token         401 UNAUTHENTICATED
//	body over MaxBodyBytes (1 MiB)   413
//	body not one JSON object         400 INVALID_ARGUMENT
//	list: issuerId/classId missing
//	  or malformed                   400; foreign issuer 403; unknown class 404
//	id (path, or body on insert):
//	  missing                        400
//	  not <issuerId>.<suffix>, suffix
//	  [A-Za-z0-9._-]+                400 "Invalid resource ID"
//	  another issuer                 403 PERMISSION_DENIED
//	get/update/patch/addMessage of
//	  a missing resource             404 NOT_FOUND (reason classNotFound,
//	                                 "IssuerClassNotFound: ..." for a class;
//	                                 resourceNotFound for an object)
//	update/patch: body id differs
//	  from the path id               400
//	insert: id exists                409 ALREADY_EXISTS
//	addMessage: message missing      400; then the message checks below
//	addMessage: already MaxMessages  400
//	field types (e.g. state a number,
//	  messages not a list)           400 naming the field
//
// then, all 400 INVALID_ARGUMENT naming the field, for a class:
//
//	issuerName missing
//	eventName missing, or defaultValue.language/value missing (same for
//	  each translatedValues item; language must look like a BCP 47 tag)
//	reviewStatus missing (insert, update); sent as APPROVED or REJECTED
//	  (Google sets those); not UNDER_REVIEW or DRAFT; DRAFT sent for a
//	  class that has left DRAFT
//	eventId over 64 characters
//	venue without name or address (each a LocalizedString as above)
//	dateTime.start/end/doorsOpen not an ISO 8601 date-time: RFC 3339 with
//	  an offset (offset seconds allowed) or a local date-time
//	  2006-01-02T15:04:05, fractional seconds allowed in both
//
// and for an object:
//
//	classId missing (400), malformed (400) or of another issuer (403)
//	state missing or not ACTIVE, COMPLETED, EXPIRED or INACTIVE
//	barcode without type, type not QR_CODE, PDF_417, AZTEC, CODE_128,
//	  CODE_39, CODABAR, DATA_MATRIX, EAN_8, EAN_13, ITF_14, UPC_A or
//	  TEXT_ONLY, no value, or TEXT_ONLY with alternateText
//	rotatingBarcode without type, type not QR_CODE or PDF_417, no
//	  valuePattern, renderEncoding other than UTF_8 with QR_CODE; a
//	  {totp_value_n} without totpDetails.parameters[n]; totpDetails with
//	  an algorithm other than TOTP_SHA1, a periodMillis that is not a
//	  positive int64, a key that is not Base16 or no valueLength
//	validTimeInterval: start/end.date missing or not a date-time (as
//	  above), an offset on one end only, end before start
//	groupingInfo.groupingId over 64 characters (the fake's own cap)
//	faceValue.currencyCode not three capital letters; micros not an int64
//	seatInfo.seat/row/section/gate and ticketType: LocalizedString as above
//	smartTapRedemptionValue not ASCII
//	linkedObjectIds item malformed (400) or of another issuer (403)
//
// then, for both kinds:
//
//	hexBackgroundColor not #rrggbb or #rgb
//	notifyPreference not NOTIFY_ON_UPDATE or
//	  NOTIFICATION_SETTINGS_FOR_UPDATES_UNSPECIFIED
//	each message: messageType not TEXT, TEXT_AND_NOTIFY,
//	  EXPIRATION_NOTIFICATION or MESSAGE_TYPE_UNSPECIFIED; neither header
//	  nor body (plain or localized); displayInterval as validTimeInterval
//	more than 10 messages, 10 textModulesData, 10 linksModuleData.uris,
//	  1 imageModulesData (Google shows only one; the fake refuses more),
//	  10 merchantLocations or 15 valueAddedModuleData
//	any image's sourceUri without uri, or uri not an absolute http(s) URL
//
// then, for an object:
//
//	its class does not exist         404 NOT_FOUND, reason classNotFound
//	its class is DRAFT               400 FAILED_PRECONDITION
//
// and last the notification quota: a pass accepts NotifyLimit (3)
// notifying changes, that is addMessage with messageType TEXT_AND_NOTIFY
// or update/patch with notifyPreference NOTIFY_ON_UPDATE, within any
// NotifyWindow (24 h) of the fake's clock (Options.Now). A class's
// notifying change reaches every object of the class, so it counts for
// each of them (and is refused when one of them is at the limit). Another
// one gets 429 RESOURCE_EXHAUSTED, reason quotaExceeded, with a message
// that contains "QuotaExceededException" (the exception name Google
// documents); the change is not applied. Refused changes do not count.
//
// # Token endpoint
//
// POST /token takes grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
// and assertion=<JWT>, and answers
// {"access_token":"ya29.fake-...","token_type":"Bearer","expires_in":3600}
// or, with 400, an OAuth error {"error":"...","error_description":"..."}:
// unsupported_grant_type for another grant type; invalid_request without
// an assertion; invalid_grant for a JWT that is malformed, not RS256, not
// signed by Options.ServiceAccountPublicKey, whose iss is not
// Options.ServiceAccountEmail (when set), whose aud is not an http(s) URL
// of the fake's host ending in /token, without iat and exp, or whose exp
// is not after iat, more than an hour after it, or outside the fake's
// clock with five minutes of skew; invalid_scope when scope lacks
// https://www.googleapis.com/auth/wallet_object.issuer. Access tokens live
// TokenLifetime (1 h) of the fake's clock.
//
// # Callbacks
//
// GET /gp/m/issuer/keys ([Server.CallbackKeysPath]) serves, without
// authentication, the root key document of signed save/delete callbacks
// (protocol ECv2SigningOnly). [Server.SignCallback] signs a callback body
// as Google does, [Server.SendCallback] posts it and
// [Server.RotateCallbackKeys] replaces the keys.
//
// # Test controls
//
// [Server.Fail] and [Server.FailNext] program error answers,
// [Server.Requests] returns what was asked, [Server.Class],
// [Server.Object], [Server.EventTicketClass] and [Server.EventTicketObject]
// return what is stored, and [Server.ObjectNotifications] and
// [Server.ClassNotifications] return the accepted notifying changes.
// [Server.DeleteObject] makes the fake forget one object (what a client
// meets once an object it wrote is gone) and [Server.Reset] everything.
// The fake is an http.Handler ([Server.Handler], [NewHandler]), so it can
// also run on a real listener for local development.
package google
