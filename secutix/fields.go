package secutix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"walletpass/pass"
)

// A pass field is read from SecuTix's JSON through a path: a scope, then
// keys and [index]es, e.g. "movement.beneficiaryFirstname" or
// "location.siteAddress.locality"; "a | b" tries a, then b, and takes the
// first value that is not empty. The scopes are the JSON objects around one
// ticket:
//
//	file         getFileDetails' fileDetailsData
//	order        the orderDetailsData the ticket was sold in
//	operation    its operationDatas item (the product, tariff and price line)
//	movement     its movementDatas item (the seat or entry right)
//	ticket       the movement's current ticket (its "tickets" list or "ticket" object)
//	location     the operation's first locations item
//	product      the catalogue product of the operation (getCatalogDetailed)
//	performance  the catalogue performance of the operation
//	pos          getPOSConfig's posConfigData
//	contact      the order's contact (getContactData), when the tenant looks it up
//
// A tenant overrides any field's path (config secutix.fields); Fields lists
// the fields and their defaults, which use only names SecuTix is known to
// send.

// Field is a pass field that a path fills.
type Field struct {
	Name    string // as in config: secutix.fields.<Name>
	Default string // the default path; "" means none
	Doc     string
}

// Fields lists every mappable pass field, in the probe's order.
var Fields = []Field{
	{"barcode", "movement.barCode | ticket.barcode | movement.barcode", "the barcode's message"},
	{"ticketId", "ticket.ticketId", "the current ticket's id"},
	{"ticketState", "ticket.ticketState", "VALID, NOT_PRINTED, PRINTED, CONTROLLED, CANCELLED, INVALIDATED"},
	{"holderFirstName", "movement.beneficiaryFirstname | ticket.holderInfo.firstName | ticket.holderInfo.firstname", "the holder's first name"},
	{"holderLastName", "movement.beneficiaryLastname | ticket.holderInfo.lastName | ticket.holderInfo.lastname", "the holder's last name"},
	{"holderEmail", "", "the holder's e-mail (personal data)"},
	{"locale", "", "the holder's language (fr, de-CH …)"},
	{"eventName", "product.externalName | operation.performance | operation.product", "the event's name"},
	{"eventStart", "performance.start", "the start (ISO 8601; without an offset, in the time zone)"},
	{"eventDuration", "performance.duration", "seconds from start to end"},
	{"eventEnd", "", "the end (ISO 8601); else start + duration"},
	{"validityStart", "ticket.validityStartTime | movement.startValidityDate", "the start of the ticket's validity (ISO 8601; a date alone is the start of that day in the time zone): the start of a ticket whose operation names no performance (a season ticket)"},
	{"validityEnd", "ticket.validityEndTime | movement.endValidityDate", "the end of the ticket's validity (ISO 8601; a date alone is the end of that day): the end of such a ticket"},
	{"doors", "", "doors opening (ISO 8601)"},
	{"timeZone", "pos.organizationTimeZone", "the IANA time zone of the event's times"},
	{"eventKind", "", "concert, festival, sports, theatre, conference, movie or generic; else the tenant's eventKind"},
	{"performers", "", "performer names (a list or one name)"},
	{"homeTeam", "", "the home team's name"},
	{"awayTeam", "", "the away team's name"},
	{"league", "", "the league"},
	{"sport", "", "the sport"},
	{"venueName", "location.siteExternalName", "the venue"},
	{"venueRoom", "location.spaceExternalName", "the hall or room inside the venue"},
	{"venueAddress", "location.siteAddress.firstAddressLine", "the street address"},
	{"venueCity", "location.siteAddress.locality", "the city"},
	{"venuePostalCode", "location.siteAddress.zipCode", "the postal code"},
	{"venueCountry", "location.siteAddress.countryCode", "ISO 3166 alpha-2"},
	{"latitude", "", "the venue's latitude"},
	{"longitude", "", "the venue's longitude"},
	{"entrance", "", "the entrance, gate or door"},
	{"seatArea", "movement.area", "the area or zone"},
	{"seatBlock", "", "the block or section"},
	{"seatRow", "", "the row"},
	{"seatNumber", "", "the seat number"},
	{"tariff", "operation.audienceSubCategory | operation.audienceSubCategoryExternalDescription", "the tariff"},
	{"price", "operation.unitPrice | ticket.price", "the price in thousandths"},
	{"currency", "order.catalogCurrency.currencyCode", "ISO 4217"},
	{"productCode", "operation.productCode | ticket.productCode", "the product's code (template rules)"},
	{"productFamily", "operation.productFamilyType", "SINGLE_ENTRY, PASS … (template rules)"},
	{"productFamilySubType", "operation.productFamilySubType", "OPEN_PASS … (template rules)"},
	{"eventId", "operation.eventId", "SecuTix's event id (template rules)"},
	{"comfortVariables", "operation.comfortVariableValues", "the event's comfort variables: NAME=value strings, or objects with a name (or code) and a value (template rules)"},
}

// scopes are the roots a path may start from.
var scopes = map[string]bool{
	"file": true, "order": true, "operation": true, "movement": true, "ticket": true,
	"location": true, "product": true, "performance": true, "pos": true, "contact": true,
}

// maxPathLen bounds a configured path.
const maxPathLen = 500

// path is a parsed path: alternatives, each a scope and steps.
type path []pathAlt

type pathAlt struct {
	src   string // as written, for the probe
	scope string
	steps []step
}

// step is a key or, when key is "", an index.
type step struct {
	key   string
	index int
}

// parsePath parses "scope.key[0].key | scope.key". It returns an error
// naming what is wrong.
func parsePath(s string) (path, error) {
	if len(s) > maxPathLen {
		return nil, fmt.Errorf("longer than %d bytes", maxPathLen)
	}
	var p path
	for alt := range strings.SplitSeq(s, "|") {
		alt = strings.TrimSpace(alt)
		if alt == "" {
			return nil, fmt.Errorf("%q has an empty alternative", s)
		}
		a := pathAlt{src: alt}
		rest := alt
		for i := 0; rest != ""; i++ {
			// A key runs to the next "." or "["; then [n] indexes.
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			key := rest[:end]
			rest = rest[end:]
			if key == "" {
				return nil, fmt.Errorf("%q: an empty key", alt)
			}
			if !validKey(key) {
				return nil, fmt.Errorf("%q: %q is not a JSON key of letters, digits and _", alt, key)
			}
			if i == 0 {
				if !scopes[key] {
					return nil, fmt.Errorf("%q: %q is not a scope (%s)", alt, key, scopeList())
				}
				a.scope = key
			} else {
				a.steps = append(a.steps, step{key: key})
			}
			for strings.HasPrefix(rest, "[") {
				close := strings.IndexByte(rest, ']')
				if close < 0 {
					return nil, fmt.Errorf("%q: an unclosed [", alt)
				}
				n, err := strconv.Atoi(rest[1:close])
				if err != nil || n < 0 || n > 1000 {
					return nil, fmt.Errorf("%q: [%s] is not an index from 0 to 1000", alt, rest[1:close])
				}
				a.steps = append(a.steps, step{index: n})
				rest = rest[close+1:]
			}
			if rest != "" {
				if rest[0] != '.' || len(rest) == 1 {
					return nil, fmt.Errorf("%q: a key must follow each \".\"", alt)
				}
				rest = rest[1:]
			}
		}
		p = append(p, a)
	}
	return p, nil
}

func validKey(k string) bool {
	for _, r := range k {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func scopeList() string {
	names := make([]string, 0, len(scopes))
	for s := range scopes {
		names = append(names, s)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// fieldPaths is the path of every field that has one.
type fieldPaths map[string]path

// compileFields merges a tenant's overrides over the defaults. An override
// of "" removes the field's path. It returns an error naming every unknown
// field and malformed path.
func compileFields(overrides map[string]string) (fieldPaths, error) {
	known := make(map[string]bool, len(Fields))
	out := make(fieldPaths, len(Fields))
	var probs []string
	for _, f := range Fields {
		known[f.Name] = true
		if f.Default != "" {
			p, err := parsePath(f.Default)
			if err != nil {
				panic("secutix: default path of " + f.Name + ": " + err.Error())
			}
			out[f.Name] = p
		}
	}
	names := make([]string, 0, len(overrides))
	for n := range overrides {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		src := overrides[name]
		if !known[name] {
			probs = append(probs, fmt.Sprintf("fields.%s is not a pass field", name))
			continue
		}
		if strings.TrimSpace(src) == "" {
			delete(out, name)
			continue
		}
		p, err := parsePath(src)
		if err != nil {
			probs = append(probs, fmt.Sprintf("fields.%s: %v", name, err))
			continue
		}
		out[name] = p
	}
	if len(probs) > 0 {
		return nil, pass.Errorf(pass.KindInvalid, "secutix: config: %s", strings.Join(probs, "; "))
	}
	return out, nil
}

// ValidateFields checks a tenant's field overrides as New would.
func ValidateFields(overrides map[string]string) error {
	_, err := compileFields(overrides)
	return err
}

// node is decoded JSON (json.Number for numbers).
type node = any

// decodeNode decodes JSON keeping numbers exact.
func decodeNode(b []byte) (node, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v node
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// get follows key in an object.
func get(n node, key string) node {
	if m, ok := n.(map[string]any); ok {
		return m[key]
	}
	return nil
}

// at returns item i of an array.
func at(n node, i int) node {
	if a, ok := n.([]any); ok && i >= 0 && i < len(a) {
		return a[i]
	}
	return nil
}

// ticketScope is the JSON around one ticket, by scope name.
type ticketScope map[string]node

// hit is what a path found: the value and the alternative it came from.
type hit struct {
	v   node
	src string
}

// lookup returns the first non-empty value of the field's path.
func (fp fieldPaths) lookup(sc ticketScope, field string) (hit, bool) {
	for _, a := range fp[field] {
		if v := a.resolve(sc); !emptyNode(v) {
			return hit{v: v, src: a.src}, true
		}
	}
	return hit{}, false
}

// catalogueScopes are the scopes the catalogue and the POS configuration
// fill, whatever the order.
var catalogueScopes = map[string]bool{"product": true, "performance": true, "pos": true}

// lookupCatalogue is lookup in a scope that holds only the catalogue: it
// finds the field only when an alternative of the catalogue resolves
// before any alternative of the order could (then the catalogue alone
// decides the field for every ticket of the performance).
func (fp fieldPaths) lookupCatalogue(sc ticketScope, field string) (hit, bool) {
	for _, a := range fp[field] {
		if !catalogueScopes[a.scope] {
			return hit{}, false
		}
		if v := a.resolve(sc); !emptyNode(v) {
			return hit{v: v, src: a.src}, true
		}
	}
	return hit{}, false
}

// resolve follows the alternative's steps from its scope.
func (a pathAlt) resolve(sc ticketScope) node {
	v := sc[a.scope]
	for _, s := range a.steps {
		if s.key != "" {
			v = get(v, s.key)
		} else {
			v = at(v, s.index)
		}
	}
	return v
}

// emptyNode reports whether v holds nothing: null, "", {} or [], or a
// translations object whose values are all blank.
func emptyNode(v node) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case map[string]any:
		if len(x) == 0 {
			return true
		}
		if _, ok := x["translations"]; ok {
			return textOf(x).pick("") == ""
		}
		return false
	case []any:
		return len(x) == 0
	}
	return false
}

// textOf reads a node as SecuTix text: strings, numbers and booleans as
// their literal, translations objects (or a bare array of translations) as
// translations; anything else as "".
func textOf(v node) text {
	switch x := v.(type) {
	case string:
		return text{plain: x}
	case json.Number:
		return text{plain: x.String()}
	case bool:
		return text{plain: strconv.FormatBool(x)}
	case map[string]any:
		// {"translations":[…]}, perhaps with a plain "value" (as
		// text.UnmarshalJSON reads it, without encoding the node again).
		t := text{translations: translationsOf(x["translations"])}
		if v, ok := x["value"].(string); ok {
			t.plain = v
		}
		return t
	case []any:
		return text{translations: translationsOf(x)}
	}
	return text{}
}

// translationsOf reads a decoded array of {"locale","value"} objects;
// items of another shape are skipped.
func translationsOf(n node) []translation {
	list, _ := n.([]any)
	var out []translation
	for _, item := range list {
		m, _ := item.(map[string]any)
		loc, _ := m["locale"].(string)
		val, _ := m["value"].(string)
		if m != nil {
			out = append(out, translation{Locale: loc, Value: val})
		}
	}
	return out
}

// intOf reads a node as a 64-bit integer (a number or a numeric string).
func intOf(v node) (int64, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strconv.Quote(x)
	default:
		return 0, fmt.Errorf("not a number")
	}
	var n flexInt
	if err := n.UnmarshalJSON([]byte(s)); err != nil {
		return 0, err
	}
	return int64(n), nil
}
