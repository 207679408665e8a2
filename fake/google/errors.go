package google

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is an answer in Google's JSON error shape.
type apiError struct {
	code   int    // HTTP status
	status string // canonical status, e.g. INVALID_ARGUMENT; "" derives it from code
	reason string // errors[0].reason
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.code, e.reason, e.msg) }

// newError builds an apiError whose canonical status follows from code.
func newError(code int, reason, format string, args ...any) *apiError {
	return &apiError{code: code, reason: reason, msg: fmt.Sprintf(format, args...)}
}

// invalidf is a 400 INVALID_ARGUMENT with reason "invalid".
func invalidf(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "invalid", format, args...)
}

// missing is a 400 for a required field that is absent or empty.
func missing(field string) *apiError {
	return newError(http.StatusBadRequest, "required", "Missing required field %q.", field)
}

// canonicalStatus maps an HTTP status to the google.rpc.Code name Google
// puts in error.status.
func canonicalStatus(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ALREADY_EXISTS"
	case http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	case http.StatusInternalServerError:
		return "INTERNAL"
	}
	switch {
	case code >= 500:
		return "UNKNOWN"
	case code >= 400:
		return "FAILED_PRECONDITION"
	}
	return "OK"
}

// defaultReason is the errors[0].reason used for a programmed failure.
func defaultReason(code int) string {
	switch code {
	case http.StatusTooManyRequests:
		return "rateLimitExceeded"
	case http.StatusUnauthorized:
		return "authError"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "notFound"
	case http.StatusConflict:
		return "conflict"
	}
	if code >= 500 {
		return "backendError"
	}
	return "badRequest"
}

// defaultMessage is the message used for a programmed failure.
func defaultMessage(code int) string {
	switch code {
	case http.StatusTooManyRequests:
		return "Quota exceeded for quota metric 'Read/Write requests' of service 'walletobjects.googleapis.com' (programmed failure)."
	case http.StatusInternalServerError:
		return "Internal error encountered (programmed failure)."
	case http.StatusServiceUnavailable:
		return "The service is currently unavailable (programmed failure)."
	}
	return fmt.Sprintf("%s (programmed failure).", http.StatusText(code))
}

type errorItem struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Domain  string `json:"domain"`
}

type errorDetail struct {
	Code    int         `json:"code"`
	Message string      `json:"message"`
	Status  string      `json:"status"`
	Errors  []errorItem `json:"errors"`
}

// body renders e as Google's JSON error document.
func (e *apiError) body() []byte {
	st := e.status
	if st == "" {
		st = canonicalStatus(e.code)
	}
	b, _ := json.Marshal(struct {
		Error errorDetail `json:"error"`
	}{errorDetail{
		Code:    e.code,
		Message: e.msg,
		Status:  st,
		Errors:  []errorItem{{Reason: e.reason, Message: e.msg, Domain: "global"}},
	}})
	return b
}
