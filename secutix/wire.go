package secutix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"walletpass/pass"
)

// This file holds the shapes of SecuTix's REST_RPC JSON as the client reads
// them. Decoding is tolerant: unknown fields are ignored, every field not in
// SecuTix's documented list is optional, ids may come as numbers or numeric
// strings, and names may be plain strings or localized
// {"translations":[{"locale","value"}]} objects.

// envelope is the status part every SecuTix answer carries.
type envelope struct {
	StatusCode    text            `json:"statusCode"`
	StatusDetail  text            `json:"statusDetail"`
	StatusMessage text            `json:"statusMessage"`
	RequestID     json.RawMessage `json:"requestId"`
}

// fileResult is the answer of getFileDetails and getFileDetailsFromOrderSecretId.
type fileResult struct {
	envelope
	FileDetailsData   *fileData   `json:"fileDetailsData"`
	OrderDetailsDatas []orderData `json:"orderDetailsDatas"`
}

// orderResult is the answer of getOrderDetails.
type orderResult struct {
	envelope
	OrderDetailsData *orderData `json:"orderDetailsData"`
}

type fileData struct {
	FileID          flexInt `json:"fileId"`
	FileState       text    `json:"fileState"`
	LastModDateTime text    `json:"lastModDateTime"`
}

type orderData struct {
	OrderID       flexInt `json:"orderId"`
	OrderSecretID text    `json:"orderSecretId"`
	OrderState    text    `json:"orderState"`
	OrderType     text    `json:"orderType"`
	// CreationDateTime orders a file's orders in time: a refund cancels
	// by seat only the sales made before it.
	CreationDateTime text            `json:"creationDateTime"`
	OperationDatas   []operationData `json:"operationDatas"`
	MovementDatas    []movementData  `json:"movementDatas"`
}

// operationData and movementData keep only what structures a file: ids and
// links. Pass fields are read from the same JSON through paths
// (fields.go).
type operationData struct {
	OperationID   flexInt `json:"operationId"`
	FileID        flexInt `json:"fileId"`
	PerformanceID flexInt `json:"performanceId"`
}

type movementData struct {
	MovementID  flexInt    `json:"movementId"`
	OperationID flexInt    `json:"operationId"`
	SeatID      flexInt    `json:"seatId"`
	Tickets     ticketList `json:"tickets"`
	Ticket      ticketList `json:"ticket"`
}

// ticketData is a ticket as SecuTix shows tickets elsewhere (ticketId,
// barcode, ticketState, cancellationCause, creationDate, price …); where
// tickets sit in an order is not documented, so both "tickets" and
// "ticket" are read, each a list or a single object (ticketList).
type ticketData struct {
	TicketID     flexInt `json:"ticketId"`
	CreationDate text    `json:"creationDate"`
}

// ticketList is the tickets under one key of a movement: a list of them,
// or one ticket object. Anything else (null, a string, a number) is no
// ticket, and an element that is not a ticket object is a zero
// ticketData, so that the list keeps the positions of ticketNodes'.
type ticketList []ticketData

// UnmarshalJSON implements json.Unmarshaler; it never fails on valid JSON.
func (l *ticketList) UnmarshalJSON(b []byte) error {
	*l = nil
	b = bytes.TrimSpace(b)
	var raws []json.RawMessage
	switch {
	case len(b) > 0 && b[0] == '[':
		if err := json.Unmarshal(b, &raws); err != nil {
			return err
		}
	case len(b) > 0 && b[0] == '{':
		raws = []json.RawMessage{b}
	default:
		return nil
	}
	for _, r := range raws {
		var t ticketData
		if json.Unmarshal(r, &t) != nil {
			t = ticketData{}
		}
		*l = append(*l, t)
	}
	return nil
}

// ticketNodes is the JSON side of a movement's ticketLists: the
// elements of its "tickets" then of its "ticket", a single object
// counting as a list of one.
func ticketNodes(movement node) []node {
	var out []node
	for _, key := range []string{"tickets", "ticket"} {
		switch v := get(movement, key).(type) {
		case []any:
			out = append(out, v...)
		case map[string]any:
			out = append(out, v)
		}
	}
	return out
}

// translation is one localized value.
type translation struct {
	Locale string `json:"locale"`
	Value  string `json:"value"`
}

// text is a SecuTix string: a plain JSON string (numbers and booleans are
// taken as their literal), null, or a localized object
// {"translations":[{"locale":"fr","value":"…"}]} (a bare array of
// translations is accepted too).
type text struct {
	plain        string
	translations []translation
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *text) UnmarshalJSON(b []byte) error {
	*t = text{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return fmt.Errorf("empty value")
	}
	switch b[0] {
	case 'n':
		return nil // null
	case '"':
		return json.Unmarshal(b, &t.plain)
	case '{':
		var obj struct {
			Translations []translation `json:"translations"`
			Value        *string       `json:"value"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		t.translations = obj.Translations
		if obj.Value != nil {
			t.plain = *obj.Value
		}
		return nil
	case '[':
		return json.Unmarshal(b, &t.translations)
	case 't', 'f':
		var v bool
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		t.plain = strconv.FormatBool(v)
		return nil
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		t.plain = n.String()
		return nil
	}
}

// String returns the plain value, or the English translation, or the first.
func (t text) String() string { return t.pick("") }

// pick returns the value for locale: an exact match (case and "_"/"-"
// insensitive), else the same language, else English, else the first
// non-empty translation, else the plain value.
func (t text) pick(locale string) string {
	if len(t.translations) == 0 {
		return strings.TrimSpace(t.plain)
	}
	want := normLocale(locale)
	lang, _, _ := strings.Cut(want, "-")
	var sameLang, english, first string
	for _, tr := range t.translations {
		v := strings.TrimSpace(tr.Value)
		if v == "" {
			continue
		}
		l := normLocale(tr.Locale)
		ll, _, _ := strings.Cut(l, "-")
		switch {
		case want != "" && l == want:
			return v
		case lang != "" && ll == lang && sameLang == "":
			sameLang = v
		}
		if ll == "en" && english == "" {
			english = v
		}
		if first == "" {
			first = v
		}
	}
	for _, v := range []string{sameLang, english, first} {
		if v != "" {
			return v
		}
	}
	return strings.TrimSpace(t.plain)
}

// normLocale lower-cases a locale and turns "fr_CH" into "fr-ch".
func normLocale(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "_", "-"))
}

// all returns the text's translations by BCP 47 tag (blank ones left
// out); nil for a plain text.
func (t text) all() pass.LocalText {
	var out pass.LocalText
	for _, tr := range t.translations {
		v, tag := strings.TrimSpace(tr.Value), bcp47(tr.Locale)
		if v == "" || tag == "" {
			continue
		}
		if out == nil {
			out = pass.LocalText{}
		}
		out[tag] = v
	}
	return out
}

// bcp47 turns a SecuTix locale ("fr_CH", "de") into BCP 47 ("fr-CH").
func bcp47(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "_", "-")
	lang, region, ok := strings.Cut(s, "-")
	if !ok {
		return strings.ToLower(lang)
	}
	if len(region) == 2 {
		region = strings.ToUpper(region)
	}
	return strings.ToLower(lang) + "-" + region
}

// flexInt is a 64-bit integer sent as a JSON number, a numeric string or null.
type flexInt int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*n = 0
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*n = 0
			return nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// 85000.0 is an integer written as a float.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) || f > 1<<62 || f < -(1<<62) {
			return fmt.Errorf("%q is not a 64-bit integer", s)
		}
		v = int64(f)
	}
	*n = flexInt(v)
	return nil
}
