package google

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Caps the fake enforces on lists and strings (see the package comment).
const (
	maxTextModules       = 10
	maxLinks             = 10
	maxImageModules      = 1
	maxMerchantLocations = 10
	maxValueAddedModules = 15
	maxEventIDLen        = 64
	maxGroupingIDLen     = 64
)

var (
	idSuffixRE  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	hexColorRE  = regexp.MustCompile(`^#([0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})$`)
	languageRE  = regexp.MustCompile(`^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$`)
	currencyRE  = regexp.MustCompile(`^[A-Z]{3}$`)
	integerRE   = regexp.MustCompile(`^-?[0-9]+$`)
	allBarcodes = []string{"AZTEC", "CODABAR", "CODE_128", "CODE_39", "DATA_MATRIX", "EAN_13", "EAN_8", "ITF_14", "PDF_417", "QR_CODE", "TEXT_ONLY", "UPC_A"}
)

// Legacy lower-case enum aliases, rewritten to their upper-case names.
var (
	stateAliases = map[string]string{
		"active": "ACTIVE", "completed": "COMPLETED", "expired": "EXPIRED", "inactive": "INACTIVE",
	}
	reviewAliases = map[string]string{
		"underReview": "UNDER_REVIEW", "draft": "DRAFT", "approved": "APPROVED", "rejected": "REJECTED",
	}
	messageTypeAliases = map[string]string{
		"text": "TEXT", "expirationNotification": "EXPIRATION_NOTIFICATION",
	}
	barcodeAliases = map[string]string{
		"aztec": "AZTEC", "code39": "CODE_39", "code128": "CODE_128", "codabar": "CODABAR",
		"dataMatrix": "DATA_MATRIX", "ean8": "EAN_8", "ean13": "EAN_13", "EAN13": "EAN_13",
		"itf14": "ITF_14", "pdf417": "PDF_417", "PDF417": "PDF_417", "qrCode": "QR_CODE",
		"qrcode": "QR_CODE", "upcA": "UPC_A", "textOnly": "TEXT_ONLY",
	}
)

// checkID checks a class or object ID: 400 if it is not
// <issuerId>.<suffix>, 403 if the issuer is not the fake's.
func (s *Server) checkID(field, id string) *apiError {
	issuer, suffix, ok := strings.Cut(id, ".")
	if !ok || !isDecimal(issuer) || !idSuffixRE.MatchString(suffix) {
		return newError(http.StatusBadRequest, "invalidResource",
			"Invalid resource ID: %s %q must be <issuerId>.<suffix> with only letters, digits, '.', '_' or '-' in the suffix.", field, id)
	}
	if issuer != s.issuer {
		return permissionDenied(issuer)
	}
	return nil
}

func permissionDenied(issuer string) *apiError {
	return newError(http.StatusForbidden, "permissionDenied",
		"The caller does not have permission: issuer %s is not authorized for this account.", issuer)
}

// Typed views of the fields the fake checks. Fields it does not check are
// left out, so their values are never rejected.
type (
	translated struct {
		Language string `json:"language"`
		Value    string `json:"value"`
	}
	localized struct {
		DefaultValue     *translated   `json:"defaultValue"`
		TranslatedValues []*translated `json:"translatedValues"`
	}
	dateTime struct {
		Date string `json:"date"`
	}
	timeInterval struct {
		Start *dateTime `json:"start"`
		End   *dateTime `json:"end"`
	}
	message struct {
		Header          string        `json:"header"`
		Body            string        `json:"body"`
		LocalizedHeader *localized    `json:"localizedHeader"`
		LocalizedBody   *localized    `json:"localizedBody"`
		MessageType     string        `json:"messageType"`
		DisplayInterval *timeInterval `json:"displayInterval"`
	}
	common struct {
		HexBackgroundColor string            `json:"hexBackgroundColor"`
		NotifyPreference   string            `json:"notifyPreference"`
		Messages           []*message        `json:"messages"`
		TextModulesData    []json.RawMessage `json:"textModulesData"`
		LinksModuleData    *struct {
			Uris []json.RawMessage `json:"uris"`
		} `json:"linksModuleData"`
		ImageModulesData     []json.RawMessage `json:"imageModulesData"`
		MerchantLocations    []json.RawMessage `json:"merchantLocations"`
		ValueAddedModuleData []json.RawMessage `json:"valueAddedModuleData"`
	}
	classFields struct {
		common
		IssuerName   string     `json:"issuerName"`
		EventName    *localized `json:"eventName"`
		ReviewStatus string     `json:"reviewStatus"`
		EventID      string     `json:"eventId"`
		Venue        *struct {
			Name    *localized `json:"name"`
			Address *localized `json:"address"`
		} `json:"venue"`
		DateTime *struct {
			Start     string `json:"start"`
			End       string `json:"end"`
			DoorsOpen string `json:"doorsOpen"`
		} `json:"dateTime"`
		CallbackOptions *struct {
			URL string `json:"url"`
		} `json:"callbackOptions"`
	}
	objectFields struct {
		common
		ClassID string `json:"classId"`
		State   string `json:"state"`
		Barcode *struct {
			Type          string `json:"type"`
			Value         string `json:"value"`
			AlternateText string `json:"alternateText"`
		} `json:"barcode"`
		RotatingBarcode *struct {
			Type           string       `json:"type"`
			ValuePattern   string       `json:"valuePattern"`
			RenderEncoding string       `json:"renderEncoding"`
			TotpDetails    *totpDetails `json:"totpDetails"`
		} `json:"rotatingBarcode"`
		ValidTimeInterval *timeInterval `json:"validTimeInterval"`
		GroupingInfo      *struct {
			GroupingID string `json:"groupingId"`
		} `json:"groupingInfo"`
		FaceValue *struct {
			CurrencyCode string          `json:"currencyCode"`
			Micros       json.RawMessage `json:"micros"`
		} `json:"faceValue"`
		SeatInfo *struct {
			Seat    *localized `json:"seat"`
			Row     *localized `json:"row"`
			Section *localized `json:"section"`
			Gate    *localized `json:"gate"`
		} `json:"seatInfo"`
		TicketType              *localized `json:"ticketType"`
		SmartTapRedemptionValue string     `json:"smartTapRedemptionValue"`
		LinkedObjectIDs         []string   `json:"linkedObjectIds"`
	}
)

// decodeInto decodes a JSON value held as Go values into dst, turning a
// type mismatch into a 400 that names the field (prefixed with prefix).
func decodeInto(v any, dst any, prefix string) *apiError {
	b, err := json.Marshal(v)
	if err != nil {
		return invalidf("Invalid JSON payload received. %v", err)
	}
	err = json.Unmarshal(b, dst)
	var ute *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ute):
		field := ute.Field
		if prefix != "" {
			field = strings.TrimSuffix(prefix+"."+field, ".")
		}
		return invalidf("Invalid value at '%s': got a JSON %s, want %s.", field, ute.Value, jsonKind(ute.Type))
	}
	return invalidf("Invalid JSON payload received. %v", err)
}

// checkNames refuses a member whose name differs only in case from a
// field the fake checks (e.g. "State" for "state"), as Google refuses
// unknown names; encoding/json would otherwise match it to the field. v is
// the decoded JSON and t the typed view it will be decoded into.
func checkNames(v any, t reflect.Type, path string) *apiError {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil // decodeInto reports the type
		}
		fields := make(map[string]reflect.Type)
		jsonFields(t, fields)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if ft, ok := fields[k]; ok {
				if e := checkNames(m[k], ft, p); e != nil {
					return e
				}
				continue
			}
			for name := range fields {
				if strings.EqualFold(name, k) {
					return invalidf("Invalid JSON payload received. Unknown name %q at '%s': did you mean %q?", k, path, name)
				}
			}
		}
	case reflect.Slice:
		if a, ok := v.([]any); ok && t.Elem().Kind() != reflect.Uint8 {
			for i, x := range a {
				if e := checkNames(x, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); e != nil {
					return e
				}
			}
		}
	}
	return nil
}

// jsonFields adds the JSON names of t's fields (with those of embedded
// structs) and their types to into.
func jsonFields(t reflect.Type, into map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			jsonFields(f.Type, into)
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" {
			into[name] = f.Type
		}
	}
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 { // json.RawMessage
			return "any value"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	}
	return "a number"
}

// validate normalises and checks a candidate resource. res is the
// resource as it would be stored (it is changed in place: aliases are
// rewritten, read-only fields reset); in is the request body (nil for
// addMessage) and old the stored resource (nil on insert).
func (s *Server) validate(st *store, res, in, old map[string]any) *apiError {
	delete(res, "classReference") // read-only: filled in by Google on GET
	normalizeEnum(res, "state", stateAliases)
	normalizeEnum(res, "reviewStatus", reviewAliases)
	if b, ok := res["barcode"].(map[string]any); ok {
		normalizeEnum(b, "type", barcodeAliases)
	}
	if b, ok := res["rotatingBarcode"].(map[string]any); ok {
		normalizeEnum(b, "type", barcodeAliases)
	}
	if msgs, ok := res["messages"].([]any); ok {
		for _, m := range msgs {
			if m, ok := m.(map[string]any); ok {
				normalizeEnum(m, "messageType", messageTypeAliases)
			}
		}
	}

	var c *common
	classID := ""
	if st == s.classes {
		var f classFields
		if e := checkNames(res, reflect.TypeFor[classFields](), ""); e != nil {
			return e
		}
		if e := decodeInto(res, &f, ""); e != nil {
			return e
		}
		if e := s.checkClass(&f, res, in, old); e != nil {
			return e
		}
		c = &f.common
	} else {
		var f objectFields
		if e := checkNames(res, reflect.TypeFor[objectFields](), ""); e != nil {
			return e
		}
		if e := decodeInto(res, &f, ""); e != nil {
			return e
		}
		if e := s.checkObject(&f); e != nil {
			return e
		}
		c = &f.common
		classID = f.ClassID
	}
	if e := checkCommon(c); e != nil {
		return e
	}
	if e := checkImages("", res); e != nil {
		return e
	}
	if st == s.objects {
		cls, ok := s.classes.res[classID]
		if !ok {
			return newError(http.StatusNotFound, "classNotFound",
				"IssuerClassNotFound: class %s of object %v does not exist; insert the class first.", classID, res["id"])
		}
		if cls["reviewStatus"] == "DRAFT" {
			return &apiError{code: http.StatusBadRequest, status: "FAILED_PRECONDITION", reason: "failedPrecondition",
				msg: fmt.Sprintf("Class %s is a DRAFT: objects need a class whose reviewStatus is UNDER_REVIEW (approved).", classID)}
		}
	}

	// Read-only and ephemeral fields.
	res["kind"] = "walletobjects#" + st.kind
	delete(res, "notifyPreference")
	delete(res, "hasUsers")
	if hu, ok := old["hasUsers"]; ok {
		res["hasUsers"] = hu
	}
	if res["reviewStatus"] == "UNDER_REVIEW" {
		res["reviewStatus"] = "APPROVED" // Google approves event ticket classes at once
	}
	return nil
}

func normalizeEnum(m map[string]any, key string, aliases map[string]string) {
	if v, ok := m[key].(string); ok {
		if c, ok := aliases[v]; ok {
			m[key] = c
		}
	}
}

func (s *Server) checkClass(f *classFields, res, in, old map[string]any) *apiError {
	if f.IssuerName == "" {
		return missing("issuerName")
	}
	if f.EventName == nil {
		return missing("eventName")
	}
	if e := checkLocalized("eventName", f.EventName); e != nil {
		return e
	}

	_, sent := in["reviewStatus"]
	switch {
	case f.ReviewStatus == "":
		return missing("reviewStatus")
	case !sent:
		// PATCH or addMessage without reviewStatus keeps the stored one.
	case f.ReviewStatus == "APPROVED" || f.ReviewStatus == "REJECTED":
		return invalidf("Invalid reviewStatus %q: only Google sets it; send UNDER_REVIEW (or DRAFT).", f.ReviewStatus)
	case f.ReviewStatus == "DRAFT":
		if old != nil && old["reviewStatus"] != "DRAFT" {
			return invalidf("Invalid reviewStatus \"DRAFT\": class %v has left DRAFT and cannot go back.", res["id"])
		}
	case f.ReviewStatus != "UNDER_REVIEW":
		return invalidf("Invalid value at 'reviewStatus': %q is not one of UNDER_REVIEW, DRAFT.", f.ReviewStatus)
	}

	if n := utf8.RuneCountInString(f.EventID); n > maxEventIDLen {
		return invalidf("Invalid value at 'eventId': %d characters, the maximum is %d.", n, maxEventIDLen)
	}
	if v := f.Venue; v != nil {
		if v.Name == nil {
			return missing("venue.name")
		}
		if e := checkLocalized("venue.name", v.Name); e != nil {
			return e
		}
		if v.Address == nil {
			return missing("venue.address")
		}
		if e := checkLocalized("venue.address", v.Address); e != nil {
			return e
		}
	}
	if cb := f.CallbackOptions; cb != nil && cb.URL != "" {
		// Google calls it for saves and deletions; it asks for HTTPS (the
		// fake also takes http, for development on a laptop).
		u, err := url.Parse(cb.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return invalidf("Invalid value at 'callbackOptions.url': %q is not an absolute HTTPS URL.", cb.URL)
		}
	}
	if dt := f.DateTime; dt != nil {
		for _, p := range []struct{ field, v string }{
			{"dateTime.start", dt.Start}, {"dateTime.end", dt.End}, {"dateTime.doorsOpen", dt.DoorsOpen},
		} {
			if p.v == "" {
				continue
			}
			if _, _, ok := parseDateTime(p.v); !ok {
				return invalidDateTime(p.field, p.v)
			}
		}
	}
	return nil
}

func (s *Server) checkObject(f *objectFields) *apiError {
	if f.ClassID == "" {
		return missing("classId")
	}
	if e := s.checkID("classId", f.ClassID); e != nil {
		return e
	}
	switch f.State {
	case "":
		return missing("state")
	case "ACTIVE", "COMPLETED", "EXPIRED", "INACTIVE":
	default:
		return invalidf("Invalid value at 'state': %q is not one of ACTIVE, COMPLETED, EXPIRED, INACTIVE.", f.State)
	}
	if b := f.Barcode; b != nil {
		switch {
		case b.Type == "":
			return missing("barcode.type")
		case !slices.Contains(allBarcodes, b.Type):
			return invalidf("Invalid value at 'barcode.type': %q is not one of %s.", b.Type, strings.Join(allBarcodes, ", "))
		case b.Value == "":
			return missing("barcode.value")
		case b.Type == "TEXT_ONLY" && b.AlternateText != "":
			return invalidf("Invalid value at 'barcode.alternateText': it may not be set with barcode type TEXT_ONLY.")
		}
	}
	if b := f.RotatingBarcode; b != nil {
		switch {
		case b.Type == "":
			return missing("rotatingBarcode.type")
		case b.Type != "QR_CODE" && b.Type != "PDF_417":
			return invalidf("Invalid value at 'rotatingBarcode.type': %q; rotating barcodes support only QR_CODE and PDF_417.", b.Type)
		case b.ValuePattern == "":
			return missing("rotatingBarcode.valuePattern")
		case b.RenderEncoding != "" && b.RenderEncoding != "RENDER_ENCODING_UNSPECIFIED" && (b.RenderEncoding != "UTF_8" || b.Type != "QR_CODE"):
			return invalidf("Invalid value at 'rotatingBarcode.renderEncoding': %q; only UTF_8, with QR_CODE.", b.RenderEncoding)
		}
		if e := checkTOTP(b.ValuePattern, b.TotpDetails); e != nil {
			return e
		}
	}
	if e := checkInterval("validTimeInterval", f.ValidTimeInterval); e != nil {
		return e
	}
	if g := f.GroupingInfo; g != nil {
		if n := utf8.RuneCountInString(g.GroupingID); n > maxGroupingIDLen {
			return invalidf("Invalid value at 'groupingInfo.groupingId': %d characters, the maximum is %d.", n, maxGroupingIDLen)
		}
	}
	if fv := f.FaceValue; fv != nil {
		if !currencyRE.MatchString(fv.CurrencyCode) {
			return invalidf("Invalid value at 'faceValue.currencyCode': %q is not an ISO 4217 code.", fv.CurrencyCode)
		}
		if len(fv.Micros) > 0 {
			m := strings.Trim(string(fv.Micros), `"`)
			if !integerRE.MatchString(m) {
				return invalidf("Invalid value at 'faceValue.micros': %s is not an integer.", fv.Micros)
			}
			if _, err := strconv.ParseInt(m, 10, 64); err != nil {
				return invalidf("Invalid value at 'faceValue.micros': %s is out of range.", fv.Micros)
			}
		}
	}
	if si := f.SeatInfo; si != nil {
		for _, p := range []struct {
			field string
			v     *localized
		}{{"seatInfo.seat", si.Seat}, {"seatInfo.row", si.Row}, {"seatInfo.section", si.Section}, {"seatInfo.gate", si.Gate}} {
			if p.v != nil {
				if e := checkLocalized(p.field, p.v); e != nil {
					return e
				}
			}
		}
	}
	if f.TicketType != nil {
		if e := checkLocalized("ticketType", f.TicketType); e != nil {
			return e
		}
	}
	for i := 0; i < len(f.SmartTapRedemptionValue); i++ {
		if f.SmartTapRedemptionValue[i] >= utf8.RuneSelf {
			return invalidf("Invalid value at 'smartTapRedemptionValue': only ASCII characters are supported.")
		}
	}
	for i, id := range f.LinkedObjectIDs {
		if e := s.checkID(fmt.Sprintf("linkedObjectIds[%d]", i), id); e != nil {
			return e
		}
	}
	return nil
}

func checkCommon(c *common) *apiError {
	if c.HexBackgroundColor != "" && !hexColorRE.MatchString(c.HexBackgroundColor) {
		return invalidf("Invalid value at 'hexBackgroundColor': %q is not #rrggbb or #rgb.", c.HexBackgroundColor)
	}
	switch c.NotifyPreference {
	case "", "NOTIFICATION_SETTINGS_FOR_UPDATES_UNSPECIFIED", "NOTIFY_ON_UPDATE":
	default:
		return invalidf("Invalid value at 'notifyPreference': %q is not one of NOTIFY_ON_UPDATE, NOTIFICATION_SETTINGS_FOR_UPDATES_UNSPECIFIED.", c.NotifyPreference)
	}
	for i, m := range c.Messages {
		if e := checkMessage(fmt.Sprintf("messages[%d]", i), m); e != nil {
			return e
		}
	}
	nLinks := 0
	if c.LinksModuleData != nil {
		nLinks = len(c.LinksModuleData.Uris)
	}
	for _, l := range []struct {
		field  string
		n, max int
	}{
		{"messages", len(c.Messages), MaxMessages},
		{"textModulesData", len(c.TextModulesData), maxTextModules},
		{"linksModuleData.uris", nLinks, maxLinks},
		{"imageModulesData", len(c.ImageModulesData), maxImageModules},
		{"merchantLocations", len(c.MerchantLocations), maxMerchantLocations},
		{"valueAddedModuleData", len(c.ValueAddedModuleData), maxValueAddedModules},
	} {
		if l.n > l.max {
			return invalidf("Too many items in '%s': %d, the maximum is %d.", l.field, l.n, l.max)
		}
	}
	return nil
}

// checkMessage checks one message; field names it in errors.
func checkMessage(field string, m *message) *apiError {
	if m == nil {
		return invalidf("Invalid value at '%s': want an object.", field)
	}
	switch m.MessageType {
	case "", "MESSAGE_TYPE_UNSPECIFIED", "TEXT", "TEXT_AND_NOTIFY", "EXPIRATION_NOTIFICATION":
	default:
		return invalidf("Invalid value at '%s.messageType': %q is not one of TEXT, TEXT_AND_NOTIFY, EXPIRATION_NOTIFICATION.", field, m.MessageType)
	}
	if m.Header == "" && m.Body == "" && m.LocalizedHeader == nil && m.LocalizedBody == nil {
		return invalidf("Invalid value at '%s': a message needs a header or a body.", field)
	}
	if m.LocalizedHeader != nil {
		if e := checkLocalized(field+".localizedHeader", m.LocalizedHeader); e != nil {
			return e
		}
	}
	if m.LocalizedBody != nil {
		if e := checkLocalized(field+".localizedBody", m.LocalizedBody); e != nil {
			return e
		}
	}
	return checkInterval(field+".displayInterval", m.DisplayInterval)
}

// checkLocalized checks a LocalizedString: defaultValue with language and
// value, and the same for each translated value.
func checkLocalized(field string, l *localized) *apiError {
	if l.DefaultValue == nil {
		return missing(field + ".defaultValue")
	}
	if e := checkTranslated(field+".defaultValue", l.DefaultValue); e != nil {
		return e
	}
	for i, t := range l.TranslatedValues {
		f := fmt.Sprintf("%s.translatedValues[%d]", field, i)
		if t == nil {
			return invalidf("Invalid value at '%s': want an object.", f)
		}
		if e := checkTranslated(f, t); e != nil {
			return e
		}
	}
	return nil
}

func checkTranslated(field string, t *translated) *apiError {
	switch {
	case t.Language == "":
		return missing(field + ".language")
	case !languageRE.MatchString(t.Language):
		return invalidf("Invalid value at '%s.language': %q is not a BCP 47 language tag.", field, t.Language)
	case t.Value == "":
		return missing(field + ".value")
	}
	return nil
}

// checkInterval checks a TimeInterval: each end that is set has a date
// that parses; offsets on both or neither; end not before start.
func checkInterval(field string, ti *timeInterval) *apiError {
	if ti == nil {
		return nil
	}
	var ts [2]time.Time
	var offs [2]bool
	for i, p := range []struct {
		name string
		dt   *dateTime
	}{{"start", ti.Start}, {"end", ti.End}} {
		if p.dt == nil {
			continue
		}
		f := field + "." + p.name + ".date"
		if p.dt.Date == "" {
			return missing(f)
		}
		t, off, ok := parseDateTime(p.dt.Date)
		if !ok {
			return invalidDateTime(f, p.dt.Date)
		}
		ts[i], offs[i] = t, off
	}
	if ti.Start == nil || ti.End == nil {
		return nil
	}
	if offs[0] != offs[1] {
		return invalidf("Invalid value at '%s': start and end must both have a UTC offset or both have none.", field)
	}
	if ts[1].Before(ts[0]) {
		return invalidf("Invalid value at '%s': end %s is before start %s.", field, ti.End.Date, ti.Start.Date)
	}
	return nil
}

func invalidDateTime(field, v string) *apiError {
	return invalidf("Invalid value at '%s': %q is not an ISO 8601 date-time like 2026-05-01T19:00:00+02:00 or 2026-05-01T19:00:00.", field, v)
}

// parseDateTime parses an ISO 8601 extended date-time with an offset
// (RFC 3339, offset seconds allowed) or without one (local date-time,
// taken as UTC for comparisons). Fractional seconds are allowed.
func parseDateTime(s string) (t time.Time, hasOffset, ok bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z07:00:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true, true
		}
	}
	if t, err := time.Parse("2006-01-02T15:04:05", s); err == nil {
		return t, false, true
	}
	return time.Time{}, false, false
}

// checkImages walks a resource and checks every image source: a
// "sourceUri" object needs a "uri" that is an absolute http(s) URL.
func checkImages(path string, v any) *apiError {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if k == "sourceUri" {
				if e := checkImageURI(p, v[k]); e != nil {
					return e
				}
				continue
			}
			if e := checkImages(p, v[k]); e != nil {
				return e
			}
		}
	case []any:
		for i, x := range v {
			if e := checkImages(fmt.Sprintf("%s[%d]", path, i), x); e != nil {
				return e
			}
		}
	}
	return nil
}

func checkImageURI(field string, v any) *apiError {
	m, ok := v.(map[string]any)
	if !ok {
		return invalidf("Invalid value at '%s': want an object.", field)
	}
	raw, ok := m["uri"].(string)
	if !ok || raw == "" {
		if _, present := m["uri"]; present && !ok {
			return invalidf("Invalid value at '%s.uri': want a string.", field)
		}
		return missing(field + ".uri")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalidf("Invalid value at '%s.uri': %q is not an absolute http(s) URL.", field, raw)
	}
	return nil
}

// totpDetails is a rotating barcode's TOTP setup.
type totpDetails struct {
	Algorithm    string          `json:"algorithm"`
	PeriodMillis json.RawMessage `json:"periodMillis"`
	Parameters   []struct {
		Key         string `json:"key"`
		ValueLength int    `json:"valueLength"`
	} `json:"parameters"`
}

// totpValueRE finds the TOTP values a rotating barcode's pattern names.
var totpValueRE = regexp.MustCompile(`\{totp_value_(\d+)\}`)

// checkTOTP checks a rotating barcode's totpDetails as Google documents
// them: TOTP_SHA1 only, periodMillis (when given) an int64 (proto3 JSON: a
// string or a number), each parameter a Base16 key and a value length, one for every
// {totp_value_n} of the pattern.
func checkTOTP(pattern string, d *totpDetails) *apiError {
	uses := totpValueRE.FindAllStringSubmatch(pattern, -1)
	if d == nil {
		if len(uses) > 0 {
			return missing("rotatingBarcode.totpDetails")
		}
		return nil
	}
	if d.Algorithm != "TOTP_SHA1" {
		return invalidf("Invalid value at 'rotatingBarcode.totpDetails.algorithm': %q; only TOTP_SHA1.", d.Algorithm)
	}
	if len(d.PeriodMillis) > 0 && string(d.PeriodMillis) != "null" {
		// An int64 in proto3 JSON: a string, or a number.
		period := strings.Trim(string(d.PeriodMillis), `"`)
		if ms, err := strconv.ParseInt(period, 10, 64); err != nil || ms <= 0 {
			return invalidf("Invalid value at 'rotatingBarcode.totpDetails.periodMillis': %s.", d.PeriodMillis)
		}
	}
	for i, p := range d.Parameters {
		if _, err := hex.DecodeString(p.Key); err != nil || p.Key == "" {
			return invalidf("Invalid value at 'rotatingBarcode.totpDetails.parameters[%d].key': want Base16.", i)
		}
		if p.ValueLength <= 0 {
			return invalidf("Invalid value at 'rotatingBarcode.totpDetails.parameters[%d].valueLength'.", i)
		}
	}
	for _, u := range uses {
		if n, _ := strconv.Atoi(u[1]); n >= len(d.Parameters) {
			return invalidf("Invalid value at 'rotatingBarcode.valuePattern': {totp_value_%d} has no totpDetails.parameters[%d].", n, n)
		}
	}
	return nil
}
