package apple

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"walletpass/pass"
)

// fieldLists are the field arrays of a pass style, in the order Wallet
// shows them.
var fieldLists = []string{"headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields"}

// hiddenKeys are the pass.json keys PassFields leaves out: the secret that
// authenticates a device, and identifiers that never change.
var hiddenKeys = map[string]bool{"authenticationToken": true, "webServiceURL": true, "serialNumber": true,
	"passTypeIdentifier": true, "teamIdentifier": true, "formatVersion": true}

// maxFieldsJSON bounds the pass.json PassFields reads.
const maxFieldsJSON = 1 << 20

// PassFields reads a pass (a .pkpass, or the stored form, which holds its
// pass.json) as a flat list of what it shows and says, for comparing two
// versions: each field of the style as "<list>.<key>" → "label: value",
// every other value by its path ("relevantDate", "semantics.venueName",
// "locations.0.latitude"). A barcode's or NFC message and text are masked
// (they let the holder in); the authentication token and the fixed
// identifiers are left out. Keys come sorted.
func PassFields(pkpass []byte) ([]pass.Field, error) {
	zr, err := zip.NewReader(bytes.NewReader(pkpass), int64(len(pkpass)))
	if err != nil {
		return nil, fmt.Errorf("pass fields: not a pass: %w", err)
	}
	var raw []byte
	for _, f := range zr.File {
		if f.Name != "pass.json" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("pass fields: %w", err)
		}
		raw, err = io.ReadAll(io.LimitReader(rc, maxFieldsJSON))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("pass fields: %w", err)
		}
	}
	var pj map[string]any
	if err := json.Unmarshal(raw, &pj); err != nil {
		return nil, fmt.Errorf("pass fields: pass.json: %w", err)
	}
	out := map[string]string{}
	for k, v := range pj {
		switch {
		case hiddenKeys[k]:
		case k == "barcode" || k == "barcodes" || k == "nfc":
			flatten(out, k, maskMessages(v))
		case isStyle(k):
			style, _ := v.(map[string]any)
			for sk, sv := range style {
				list, ok := sv.([]any)
				if !ok || !isFieldList(sk) {
					flatten(out, k+"."+sk, sv)
					continue
				}
				for i, it := range list {
					f, _ := it.(map[string]any)
					key, _ := f["key"].(string)
					if key == "" {
						key = strconv.Itoa(i)
					}
					label, _ := f["label"].(string)
					val := fmt.Sprint(f["value"])
					if label != "" {
						val = label + ": " + val
					}
					out[sk+"."+key] = val
				}
			}
		default:
			flatten(out, k, v)
		}
	}
	fs := make([]pass.Field, 0, len(out))
	for k, v := range out {
		fs = append(fs, pass.Field{Key: k, Value: v})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Key < fs[j].Key })
	return fs, nil
}

func isStyle(k string) bool {
	switch k {
	case "eventTicket", "boardingPass", "coupon", "generic", "storeCard":
		return true
	}
	return false
}

func isFieldList(k string) bool {
	for _, l := range fieldLists {
		if l == k {
			return true
		}
	}
	return false
}

// flatten adds v under path: scalars as they are, objects and arrays by
// their keys and indexes.
func flatten(out map[string]string, path string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, sv := range x {
			flatten(out, path+"."+k, sv)
		}
	case []any:
		for i, sv := range x {
			flatten(out, path+"."+strconv.Itoa(i), sv)
		}
	case nil:
		out[path] = "null"
	case string:
		out[path] = x
	default:
		b, _ := json.Marshal(x)
		out[path] = string(b)
	}
}

// maskMessages masks the "message" and "altText" of a barcode, a list of
// them or an NFC payload.
func maskMessages(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := map[string]any{}
		for k, sv := range x {
			if k == "message" || k == "altText" || k == "encryptionPublicKey" {
				if s, ok := sv.(string); ok {
					sv = maskText(s)
				}
			}
			c[k] = sv
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, sv := range x {
			c[i] = maskMessages(sv)
		}
		return c
	}
	return v
}

// maskText keeps the ends of a secret: enough to tell two apart.
func maskText(s string) string {
	if len(s) <= 8 {
		return strings.Repeat("•", len(s))
	}
	return s[:3] + "…" + s[len(s)-3:]
}
