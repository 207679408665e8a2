package apple

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"walletpass/pass"
)

// ValidationError lists every reason a pass.json would not install; each
// problem names its field by JSON path.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "pass.json: " + strings.Join(e.Problems, "; ")
}

// ValidatePassJSON checks a pass.json the way Wallet does before it accepts
// a pass: formatVersion 1; the required identifiers; exactly one event
// ticket style; unique field keys across all field arrays, each with a key
// and a value; changeMessage with %@; an authenticationToken of at least 16
// characters with an https webServiceURL (http only when allowHTTP); W3C
// dates with a zone offset; known barcode formats; rgb() colours; and
// icon.png among files. It returns an error of kind pass.KindInvalid
// wrapping a *ValidationError.
func ValidatePassJSON(data []byte, files map[string]bool, allowHTTP bool) error {
	ve := &ValidationError{}
	add := func(format string, args ...any) { ve.Problems = append(ve.Problems, fmt.Sprintf(format, args...)) }
	var p map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		add("not a JSON object: %v", err)
		return wrapValidation(ve)
	}
	if n, ok := p["formatVersion"].(json.Number); !ok || n.String() != "1" {
		add("formatVersion must be the number 1")
	}
	for _, k := range []string{"passTypeIdentifier", "serialNumber", "teamIdentifier", "organizationName", "description"} {
		if s, ok := p[k].(string); !ok || strings.TrimSpace(s) == "" {
			add("%s is required and must be a non-empty string", k)
		}
	}
	styles := 0
	for _, k := range []string{"eventTicket", "boardingPass", "coupon", "generic", "storeCard"} {
		if _, ok := p[k]; ok {
			styles++
		}
	}
	if _, ok := p["eventTicket"].(map[string]any); !ok || styles != 1 {
		add("eventTicket is required and must be the only pass style")
	}
	ws, hasWS := p["webServiceURL"]
	tok, hasTok := p["authenticationToken"]
	if hasWS != hasTok {
		add("webServiceURL and authenticationToken must be set together")
	}
	if hasWS {
		if s, ok := ws.(string); !ok {
			add("webServiceURL must be a string")
		} else if err := checkWebServiceURL(s, allowHTTP); err != nil {
			add("%v", err)
		}
	}
	if hasTok {
		if s, ok := tok.(string); !ok || len(s) < minAuthTokenLength {
			add("authenticationToken must be a string of at least %d characters", minAuthTokenLength)
		}
	}
	checkPoster(add, p, files)
	for _, k := range []string{"relevantDate", "expirationDate"} {
		if v, ok := p[k]; ok {
			checkDate(add, k, v)
		}
	}
	if v, ok := p["voided"]; ok {
		if _, isBool := v.(bool); !isBool {
			add("voided must be a boolean")
		}
	}
	if rd, ok := p["relevantDates"]; ok {
		list, ok := rd.([]any)
		if !ok {
			add("relevantDates must be a list")
		}
		for i, e := range list {
			m, _ := e.(map[string]any)
			if m == nil {
				add("relevantDates[%d] must be an object", i)
				continue
			}
			for _, k := range []string{"date", "relevantDate", "startDate", "endDate"} {
				if v, ok := m[k]; ok {
					checkDate(add, fmt.Sprintf("relevantDates[%d].%s", i, k), v)
				}
			}
			_, start := m["startDate"]
			_, end := m["endDate"]
			if start != end {
				add("relevantDates[%d] must have both startDate and endDate, or neither", i)
			}
		}
	}
	for _, k := range colourKeys {
		if v, ok := p[k]; ok {
			s, _ := v.(string)
			if !rgbRE.MatchString(s) {
				add("%s must be \"rgb(r, g, b)\", got %v", k, v)
			}
		}
	}
	if bc, ok := p["barcodes"]; ok {
		list, _ := bc.([]any)
		if list == nil {
			add("barcodes must be a list")
		}
		legacy := false
		for i, e := range list {
			m, _ := e.(map[string]any)
			switch m["format"] {
			case "PKBarcodeFormatQR", "PKBarcodeFormatPDF417", "PKBarcodeFormatAztec", "PKBarcodeFormatCode128":
				legacy = true
			case "PKBarcodeFormatCode39", "PKBarcodeFormatCodabar", "PKBarcodeFormatEAN13", "PKBarcodeFormatI2of5":
			default:
				add("barcodes[%d].format %v is not a Wallet barcode format", i, m["format"])
			}
			if s, _ := m["message"].(string); s == "" {
				add("barcodes[%d].message is required", i)
			}
			if s, _ := m["messageEncoding"].(string); s == "" {
				add("barcodes[%d].messageEncoding is required", i)
			}
		}
		if len(list) > 0 && !legacy {
			add("barcodes has only iOS 27 formats: iOS 26 and older would show no barcode (list a QR, PDF417, Aztec or Code 128 fallback)")
		}
	}
	seen := map[string]string{} // field key → where it is
	if et, ok := p["eventTicket"].(map[string]any); ok {
		for _, arr := range fieldArrays {
			v, ok := et[arr]
			if !ok {
				continue
			}
			list, ok := v.([]any)
			if !ok {
				add("eventTicket.%s must be a list", arr)
				continue
			}
			for i, e := range list {
				fp := fmt.Sprintf("eventTicket.%s[%d]", arr, i)
				f, _ := e.(map[string]any)
				if f == nil {
					add("%s must be an object", fp)
					continue
				}
				checkKey(add, seen, fp, f)
				val, ok := f["value"]
				if !ok {
					add("%s.value is required", fp)
				}
				if cm, ok := f["changeMessage"]; ok {
					if s, _ := cm.(string); !strings.Contains(s, "%@") {
						add("%s.changeMessage must contain %%@", fp)
					}
				}
				_, ds := f["dateStyle"]
				_, ts := f["timeStyle"]
				if ds || ts {
					checkDate(add, fp+".value", val)
				}
				_, cur := f["currencyCode"]
				_, num := f["numberStyle"]
				if cur && num {
					add("%s: currencyCode and numberStyle cannot be used together", fp)
				}
				if cur || num {
					if _, isNum := val.(json.Number); !isNum {
						add("%s.value must be a number (the field has currencyCode or numberStyle)", fp)
					}
				}
			}
		}
	}
	if up, ok := p["upcomingPassInformation"]; ok {
		checkUpcoming(add, up, seen)
	}
	if !files["icon.png"] {
		add("icon.png is missing from the pass")
	}
	if len(ve.Problems) > 0 {
		return wrapValidation(ve)
	}
	return nil
}

func checkDate(add func(string, ...any), path string, v any) {
	s, ok := v.(string)
	if !ok {
		add("%s must be a date string", path)
		return
	}
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		add("%s %q is not a W3C date with a time zone offset", path, s)
	}
}

func wrapValidation(ve *ValidationError) error {
	return &pass.Error{Kind: pass.KindInvalid, Message: ve.Error(), Err: ve}
}

// checkPoster applies Apple's poster event ticket rules to a pass that
// opts into the layout: an nfc dictionary with its message, key and an
// explicit requiresAuthentication; the event and venue names; team
// abbreviations for sports and performers for live performances; artwork
// or a background image.
func checkPoster(add func(string, ...any), p map[string]any, files map[string]bool) {
	schemes, _ := p["preferredStyleSchemes"].([]any)
	poster := false
	for _, sc := range schemes {
		poster = poster || sc == "posterEventTicket"
	}
	if !poster {
		return
	}
	nfc, ok := p["nfc"].(map[string]any)
	switch {
	case !ok:
		add("a poster event ticket needs an nfc dictionary (Apple refuses it without)")
	default:
		for _, k := range []string{"message", "encryptionPublicKey"} {
			if s, _ := nfc[k].(string); s == "" {
				add("nfc.%s is required", k)
			}
		}
		if m, _ := nfc["message"].(string); len(m) > 64 {
			add("nfc.message is longer than 64 bytes")
		}
		if _, ok := nfc["requiresAuthentication"].(bool); !ok {
			add("nfc.requiresAuthentication must be set on a poster event ticket")
		}
	}
	sem, _ := p["semantics"].(map[string]any)
	for _, k := range []string{"eventName", "venueName"} {
		if s, _ := sem[k].(string); s == "" {
			add("a poster event ticket needs semantics.%s", k)
		}
	}
	switch sem["eventType"] {
	case "PKEventTypeSports":
		for _, k := range []string{"homeTeamAbbreviation", "awayTeamAbbreviation"} {
			if s, _ := sem[k].(string); s == "" {
				add("a poster sports ticket needs semantics.%s", k)
			}
		}
	case "PKEventTypeLivePerformance":
		if names, _ := sem["performerNames"].([]any); len(names) == 0 {
			add("a poster live performance ticket needs semantics.performerNames")
		}
	}
	if !files["artwork.png"] && !files["background.png"] {
		add("a poster event ticket needs artwork.png or background.png")
	}
}

// checkUpcoming checks iOS 26's upcoming events: a list of objects, each
// of type "event" with a unique identifier and a name, and the back fields
// without which Wallet shows no upcoming events view.
//
// Their back fields' keys are unique across the pass, seen's (the
// eventTicket's fields) included: Wallet refuses a pass in which two
// fields share a key, even in different lists; whether it counts the
// upcoming events' fields too is not on record, so they are kept apart.
func checkUpcoming(add func(format string, args ...any), up any, seen map[string]string) {
	list, ok := up.([]any)
	if !ok {
		add("upcomingPassInformation must be a list")
		return
	}
	ids := map[string]bool{}
	for i, e := range list {
		m, _ := e.(map[string]any)
		if m == nil {
			add("upcomingPassInformation[%d] must be an object", i)
			continue
		}
		if m["type"] != "event" {
			add("upcomingPassInformation[%d].type must be \"event\"", i)
		}
		id, _ := m["identifier"].(string)
		switch {
		case id == "":
			add("upcomingPassInformation[%d].identifier is required", i)
		case ids[id]:
			add("upcomingPassInformation[%d].identifier %q is not unique", i, id)
		}
		ids[id] = true
		if name, _ := m["name"].(string); name == "" {
			add("upcomingPassInformation[%d].name is required", i)
		}
		bf, _ := m["backFields"].([]any)
		if len(bf) == 0 {
			add("upcomingPassInformation[%d].backFields must not be empty", i)
		}
		for j, e := range bf {
			f, _ := e.(map[string]any)
			checkKey(add, seen, fmt.Sprintf("upcomingPassInformation[%d].backFields[%d]", i, j), f)
		}
	}
}

// checkKey checks that the field f at fp has a key no field in seen has,
// and adds it to seen.
func checkKey(add func(format string, args ...any), seen map[string]string, fp string, f map[string]any) {
	key, _ := f["key"].(string)
	if key == "" {
		add("%s.key is required", fp)
	} else if first, dup := seen[key]; dup {
		add("%s: duplicate field key %q (also at %s)", fp, key, first)
	} else {
		seen[key] = fp
	}
}
