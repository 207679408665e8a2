// Package webhook parses the order notifications SecuTix (or the feed in
// front of it) sends: the listener body {ticketId?, saleMovementId?,
// orderSecretToken, state, lastUpdate} and SecuTix's native order webhook
// V2 (the getOrderDetails body). Parsers are strict about what they need
// and tolerant of everything else; every error says what is wrong.
package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// KnownStates are the listener states with a meaning; others are stored
// and logged, not rejected.
var KnownStates = map[string]bool{"PAID": true, "CANCELLED": true, "VALIDATED": true, "MODIFIED": true}

// Listener is the body of POST /api/{tenant}/webhooks/listeners/secutix/orders.
type Listener struct {
	TicketID         int64
	SaleMovementID   int64
	OrderSecretToken string
	State            string
	LastUpdate       time.Time
}

// Error is a parse error: what is wrong with the body, safe to show.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// MaxTokenLen bounds the order secret token.
const MaxTokenLen = 256

// ParseListener parses and validates a listener body. orderSecretToken,
// state and lastUpdate are required and non-null; ticketId and
// saleMovementId are optional positive int64s; lastUpdate is ISO-8601 with
// or without an offset (UTC assumed) or epoch seconds or milliseconds, as a
// string or a number.
func ParseListener(body []byte) (Listener, error) {
	var raw map[string]json.RawMessage
	if err := decodeObject(body, &raw); err != nil {
		return Listener{}, err
	}
	var l Listener
	var err error
	if l.TicketID, err = optionalID(raw, "ticketId"); err != nil {
		return Listener{}, err
	}
	if l.SaleMovementID, err = optionalID(raw, "saleMovementId"); err != nil {
		return Listener{}, err
	}
	if l.OrderSecretToken, err = requiredString(raw, "orderSecretToken", MaxTokenLen); err != nil {
		return Listener{}, err
	}
	if !isToken(l.OrderSecretToken) {
		return Listener{}, errorf("orderSecretToken must be printable characters without spaces")
	}
	state, err := requiredString(raw, "state", 64)
	if err != nil {
		return Listener{}, err
	}
	l.State = strings.ToUpper(strings.TrimSpace(state))
	if !isToken(l.State) {
		return Listener{}, errorf("state must be a word such as PAID, CANCELLED, VALIDATED or MODIFIED")
	}
	lu, ok := raw["lastUpdate"]
	if !ok || string(bytes.TrimSpace(lu)) == "null" {
		return Listener{}, errorf("lastUpdate is required")
	}
	if l.LastUpdate, err = parseTimeValue(lu); err != nil {
		return Listener{}, err
	}
	return l, nil
}

func decodeObject(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errorf("the body must be a JSON object: %s", jsonMsg(err))
	}
	// Only the end of the body may follow: dec.More is false, and
	// dec.Token an error other than io.EOF, before a stray ] or }.
	if _, err := dec.Token(); err != io.EOF {
		return errorf("the body must be a single JSON object")
	}
	return nil
}

// foldKey files the member of raw whose key is name but for its case
// under name, as encoding/json would match it to a field; more than one
// such member is an error (which one encoding/json takes depends on their
// order, which raw does not keep).
func foldKey(raw map[string]json.RawMessage, name string) error {
	var found []string
	for k := range raw {
		if strings.EqualFold(k, name) {
			found = append(found, k)
		}
	}
	switch {
	case len(found) > 1:
		return errorf("%s is given more than once (%s)", name, strings.Join(found, ", "))
	case len(found) == 1 && found[0] != name:
		raw[name] = raw[found[0]]
		delete(raw, found[0])
	}
	return nil
}

func jsonMsg(err error) string {
	s := err.Error()
	return strings.TrimPrefix(s, "json: ")
}

func optionalID(raw map[string]json.RawMessage, key string) (int64, error) {
	v, ok := raw[key]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return 0, nil
	}
	id, err := parseID(v)
	if err != nil {
		return 0, errorf("%s: %s", key, err.Error())
	}
	return id, nil
}

// parseID accepts a JSON integer or a string of digits, positive int64.
func parseID(v json.RawMessage) (int64, error) {
	s := strings.TrimSpace(string(v))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(v, &s); err != nil {
			return 0, errorf("must be an integer")
		}
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errorf("must be a positive 64-bit integer")
	}
	return id, nil
}

func requiredString(raw map[string]json.RawMessage, key string, maxLen int) (string, error) {
	v, ok := raw[key]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return "", errorf("%s is required", key)
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", errorf("%s must be a string", key)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errorf("%s must not be empty", key)
	}
	if len(s) > maxLen {
		return "", errorf("%s is longer than %d characters", key, maxLen)
	}
	return s, nil
}

func isToken(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' {
			return false
		}
	}
	return s != ""
}

func parseTimeValue(v json.RawMessage) (time.Time, error) {
	s := strings.TrimSpace(string(v))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(v, &s); err != nil {
			return time.Time{}, errorf("lastUpdate must be a string or a number")
		}
	}
	t, err := ParseLastUpdate(s)
	if err != nil {
		return time.Time{}, err
	}
	return t, nil
}

var layouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// ParseLastUpdate reads ISO-8601 with or without an offset (UTC when
// absent) or Unix epoch seconds (up to 11 digits) or milliseconds (12 to
// 14 digits). Years outside 2000–2200 are refused.
func ParseLastUpdate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errorf("lastUpdate must not be empty")
	}
	if len(s) > 64 {
		return time.Time{}, errorf("lastUpdate is too long")
	}
	var t time.Time
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch digits := len(strings.TrimLeft(s, "-")); {
		case n <= 0:
			return time.Time{}, errorf("lastUpdate %q is not a time", s)
		case digits <= 11:
			t = time.Unix(n, 0)
		case digits <= 14:
			t = time.UnixMilli(n)
		default:
			return time.Time{}, errorf("lastUpdate %q has too many digits for epoch seconds or milliseconds", s)
		}
	} else if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "eE") && f > 0 && f < 1e11 {
		t = time.UnixMilli(int64(f * 1000))
	} else {
		ok := false
		for _, layout := range layouts {
			if p, err := time.Parse(layout, s); err == nil {
				t, ok = p, true
				break
			}
		}
		if !ok {
			return time.Time{}, errorf("lastUpdate %q is neither ISO-8601 nor epoch seconds or milliseconds", s)
		}
	}
	if y := t.UTC().Year(); y < 2000 || y > 2200 {
		return time.Time{}, errorf("lastUpdate %q is out of range", s)
	}
	return t.UTC(), nil
}

// V2Order is what a native order webhook V2 tells: which order changed,
// and the order itself (Details: {"orderDetailsData": …}, as
// getOrderDetails answers), which can be mapped without a call.
type V2Order struct {
	OrderID       int64
	OrderSecretID string
	Details       json.RawMessage
}

// ParseV2 parses SecuTix's order webhook V2 body: {"orderDetailsData":
// {...}} (tolerating a bare orderDetailsData object or an array of either).
// Each order needs an orderId or an orderSecretId.
func ParseV2(body []byte) ([]V2Order, error) {
	trimmed := bytes.TrimSpace(body)
	var items []json.RawMessage
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, errorf("the body must be an order-details object or a list of them: %s", jsonMsg(err))
		}
	} else {
		items = []json.RawMessage{trimmed}
	}
	if len(items) == 0 {
		return nil, errorf("the body holds no order")
	}
	if len(items) > 100 {
		return nil, errorf("the body holds more than 100 orders")
	}
	var out []V2Order
	for i, it := range items {
		var raw map[string]json.RawMessage
		if err := decodeObject(it, &raw); err != nil {
			return nil, errorf("order %d: %s", i, err.Error())
		}
		// The keys are read as the sync's parser reads them: case
		// folded (encoding/json); two spellings of one are ambiguous.
		for _, k := range []string{"orderDetailsData", "orderId", "orderSecretId"} {
			if err := foldKey(raw, k); err != nil {
				return nil, errorf("order %d: %s", i, err.Error())
			}
		}
		details := bytes.TrimSpace(it)
		if inner, ok := raw["orderDetailsData"]; ok {
			details = bytes.TrimSpace(inner)
			raw = nil
			if err := decodeObject(inner, &raw); err != nil {
				return nil, errorf("order %d: orderDetailsData: %s", i, err.Error())
			}
			for _, k := range []string{"orderId", "orderSecretId"} {
				if err := foldKey(raw, k); err != nil {
					return nil, errorf("order %d: orderDetailsData: %s", i, err.Error())
				}
			}
		}
		id, err := optionalID(raw, "orderId")
		if err != nil {
			return nil, errorf("order %d: %s", i, err.Error())
		}
		var secret string
		if v, ok := raw["orderSecretId"]; ok && string(bytes.TrimSpace(v)) != "null" {
			if secret, err = requiredString(raw, "orderSecretId", MaxTokenLen); err != nil || !isToken(secret) {
				return nil, errorf("order %d: orderSecretId must be a non-empty token", i)
			}
		}
		if id == 0 && secret == "" {
			return nil, errorf("order %d: orderId or orderSecretId is required", i)
		}
		out = append(out, V2Order{OrderID: id, OrderSecretID: secret,
			Details: append(append([]byte(`{"orderDetailsData":`), details...), '}')})
	}
	return out, nil
}
