package fcm

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Detail types of a Google API error that FCM uses.
const (
	fcmErrorType   = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
	badRequestType = "type.googleapis.com/google.rpc.BadRequest"
)

// invalidTokenMessage is FCM's message for a registration token it cannot
// parse.
const invalidTokenMessage = "The registration token is not a valid FCM registration token"

// apiError is an answer in Google's error format. Status 200 means no
// error.
type apiError struct {
	status  int
	fcmCode string // errorCode of the FcmError detail, "" for none
	message string
	field   string // the field of a BadRequest field violation, "" for none
}

// code is the FcmError code, or the platform status when there is none;
// "" for a success.
func (e apiError) code() string {
	if e.status == http.StatusOK {
		return ""
	}
	if e.fcmCode != "" {
		return e.fcmCode
	}
	return platformStatus(e.status)
}

// invalid is a 400 INVALID_ARGUMENT about the request as a whole.
func invalid(msg string) apiError {
	return apiError{status: http.StatusBadRequest, fcmCode: InvalidArgument, message: msg}
}

// invalidField is a 400 INVALID_ARGUMENT with a field violation.
func invalidField(field, msg string) apiError {
	return apiError{status: http.StatusBadRequest, fcmCode: InvalidArgument, message: msg, field: field}
}

// invalidToken is FCM's answer for a registration token it cannot parse.
func invalidToken() apiError {
	return invalidField("message.token", invalidTokenMessage)
}

// codeError is the error for a programmed (normalized, non-200) answer.
func codeError(a Answer) apiError {
	e := apiError{status: a.Status, fcmCode: a.ErrorCode}
	switch a.ErrorCode {
	case Unregistered:
		e.message = "Requested entity was not found."
	case QuotaExceeded:
		e.message = "Quota exceeded for sending messages to this device."
	case Unavailable:
		e.message = "The service is currently unavailable."
	case Internal:
		e.message = "Internal error encountered."
	case InvalidArgument:
		return apiError{status: a.Status, fcmCode: InvalidArgument, message: invalidTokenMessage, field: "message.token"}
	case SenderIDMismatch:
		e.message = "SenderId mismatch"
	case ThirdPartyAuthError:
		e.message = "Auth error from APNS or Web Push Service"
	default:
		e.message = "Programmed error " + a.ErrorCode + "."
	}
	return e
}

// platformStatus is the google.rpc status name of an HTTP status.
func platformStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusConflict:
		return "ABORTED"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusInternalServerError:
		return "INTERNAL"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	default:
		return "UNKNOWN"
	}
}

// The JSON shape of a Google API error.
type (
	errorBody struct {
		Error errorStatus `json:"error"`
	}
	errorStatus struct {
		Code    int           `json:"code"`
		Message string        `json:"message"`
		Status  string        `json:"status"`
		Details []errorDetail `json:"details,omitempty"`
	}
	errorDetail struct {
		Type            string           `json:"@type"`
		ErrorCode       string           `json:"errorCode,omitempty"`
		FieldViolations []fieldViolation `json:"fieldViolations,omitempty"`
	}
	fieldViolation struct {
		Field       string `json:"field"`
		Description string `json:"description"`
	}
)

// writeError writes e in Google's error format, with a Retry-After header
// when retryAfter is positive.
func writeError(w http.ResponseWriter, e apiError, retryAfter time.Duration) {
	body := errorBody{Error: errorStatus{Code: e.status, Message: e.message, Status: platformStatus(e.status)}}
	if e.fcmCode != "" {
		body.Error.Details = append(body.Error.Details, errorDetail{Type: fcmErrorType, ErrorCode: e.fcmCode})
	}
	if e.field != "" {
		body.Error.Details = append(body.Error.Details, errorDetail{Type: badRequestType,
			FieldViolations: []fieldViolation{{Field: e.field, Description: e.message}}})
	}
	if retryAfter > 0 {
		secs := max(int64((retryAfter+time.Second-1)/time.Second), 1)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(body)
}
