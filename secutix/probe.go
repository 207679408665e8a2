package secutix

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"sort"
	"strconv"
	"strings"

	"walletpass/pass"
)

// Probe is what a dry run against an institution saw: the raw answers
// (personal data and secrets masked), the order walletpass made of them,
// where each pass field came from, and how many calls it cost.
type Probe struct {
	Method  string
	Raw     []byte // the order's answer: indented JSON, masked
	Catalog []byte // the catalogue entries of its performances, masked
	POS     []byte // getPOSConfig's posConfigData, masked
	Contact []byte // getContactData's answers by contactReference (ContactLookup), masked
	Order   *pass.Order
	// Fields says, per movement, where each pass field was read.
	Fields []FieldSource
	// MapErr is why the answers could not become an order (nil when they did).
	MapErr error
	Calls  int
	Auth   string // "jwt (sub …, aud …, iss …)" or "token"
}

// FieldSource is one pass field of one movement as the probe explains it:
// the value read (personal data masked) and the path it came from; Path
// is "" when no path gave a value.
type FieldSource struct {
	MovementID int64
	Field      string
	Value      string
	Path       string
}

// personalFields are the pass fields whose values the probe masks.
var personalFields = map[string]bool{"barcode": true, "holderFirstName": true, "holderLastName": true, "holderEmail": true}

// ProbeFile fetches a file by id (or, when fileID is 0, by its order's
// secret) with the catalogue and POS config it needs, as OrderByFileID and
// OrderBySecret do, and returns what SecuTix answered and what walletpass
// made of it. It writes nothing and keeps nothing; it costs at most five
// calls: the file, the POS config, the catalogue, the order's contact
// (with ContactLookup) and, in token mode, /v1/auth (a 401 costs one
// more). A mapping error is returned in
// Probe.MapErr, not as err: the raw answers are what an operator needs
// then. err is the calls' error.
func (c *Client) ProbeFile(ctx context.Context, fileID int64, secret string) (*Probe, error) {
	p := &Probe{Method: MethodGetFileDetails, Auth: c.cfg.Auth}
	if c.cfg.Auth == AuthJWT {
		p.Auth = "jwt (sub " + c.cfg.Institution + ", aud " + c.cfg.Operator + ", iss " + c.cfg.Partner + ")"
	}
	req, subject, hide := map[string]any{"fileId": fileID}, "file", []string(nil)
	if fileID == 0 {
		if strings.TrimSpace(secret) == "" {
			return nil, pass.Errorf(pass.KindInvalid, "secutix: probe: give a file id or an order secret")
		}
		p.Method = MethodGetFileDetailsFromOrderSecretID
		req, subject, hide = map[string]any{"orderSecretId": secret}, "order secret", []string{secret}
	}
	before := c.calls.Load()
	defer func() { p.Calls = int(c.calls.Load() - before) }()
	body, err := c.call(ctx, p.Method, req, subject, hide...)
	if err != nil {
		return p, err
	}
	p.Raw = MaskJSON(body)
	r, err := parseFile(body, fileID)
	if err != nil {
		p.MapErr = err
		return p, nil
	}
	// A dry run: a fresh client's catalogue, never the shared store's.
	dry := &Client{cfg: c.cfg, mapper: c.mapper, log: c.log}
	dry.cfg.Catalogs = nil
	dry.catalog.noStamp = true
	dry.calls.Store(c.calls.Load())
	defer func() { c.calls.Store(dry.calls.Load()) }()
	cat, err := dry.view(ctx, r.performanceIDs())
	if err != nil {
		return p, err
	}
	entries := map[string]any{}
	for id, e := range cat.perfs {
		product := e.product
		if m, ok := product.(map[string]any); ok {
			// Its other performances are not this order's business.
			m = maps.Clone(m)
			delete(m, "event")
			product = m
		}
		entries[strconv.FormatInt(id, 10)] = map[string]any{"product": product, "performance": e.performance}
	}
	p.Catalog, p.POS = maskNode(entries), maskNode(cat.pos)
	if err := dry.lookUpContacts(ctx, r, cat); err != nil {
		return p, err
	}
	if cat.contacts != nil {
		p.Contact = maskNode(cat.contacts)
	}
	p.Order, p.MapErr = c.mapper.order(r, cat)
	p.Fields = c.mapper.sources(r, cat)
	return p, nil
}

// sources explains, for every movement of r, where each pass field comes
// from.
func (m mapper) sources(r *rawFile, cat *catView) []FieldSource {
	var out []FieldSource
	for i := range r.orders {
		if cancellingOrder(r.orders[i]) {
			continue
		}
		for j := range r.orders[i].MovementDatas {
			sc, _ := r.scope(i, j, cat)
			id := int64(r.orders[i].MovementDatas[j].MovementID)
			for _, f := range Fields {
				fs := FieldSource{MovementID: id, Field: f.Name}
				if h, ok := m.fields.lookup(sc, f.Name); ok {
					fs.Path = h.src
					fs.Value = textOf(h.v).pick(m.locale)
					if list, isList := h.v.([]any); isList && fs.Value == "" {
						fs.Value = "[" + strconv.Itoa(len(list)) + " items]"
					}
					if personalFields[f.Name] {
						fs.Value = MaskValue(fs.Value)
					}
				}
				out = append(out, fs)
			}
		}
	}
	return out
}

// maskNode is MaskJSON of a decoded value.
func maskNode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`"(unprintable)"`)
	}
	return MaskJSON(b)
}

// personal names the JSON keys whose values are secrets or personal data
// (lower case): a probe's output masks them.
var personal = map[string]bool{
	"ordersecretid": true, "ordersecrettoken": true, "barcode": true, "barcodes": true,
	"beneficiaryfirstname": true, "beneficiarylastname": true, "firstname": true, "lastname": true,
	"email": true, "contactemail": true, "holder": true, "holderinfo": true, "contactreference": true,
	"culturalcontactnumber": true, "phone": true, "mobile": true, "birthdate": true, "idnumber": true,
	"filecontacts": true, "token": true, "emailaddress": true, "phonenumber": true, "address": true,
}

// isPersonal reports whether key names a secret or personal data: as
// encoding/json matches a key to a field, case folded ("ORDERSECRETID",
// and "orderſecretId" with a long s, fill OrderSecretID as well).
func isPersonal(key string) bool {
	if personal[strings.ToLower(key)] {
		return true
	}
	for p := range personal {
		if strings.EqualFold(key, p) {
			return true
		}
	}
	return false
}

// MaskJSON returns body indented, with the value of every key that holds
// a secret or personal data replaced by its first two characters and its
// length ("ja…(16)"); objects and arrays under such a key are masked
// whole. A body that is not JSON comes back as a length only.
func MaskJSON(body []byte) []byte {
	var v any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return []byte(`"(not JSON: ` + strconv.Itoa(len(body)) + ` bytes)"`)
	}
	out, _ := json.MarshalIndent(mask(v, false), "", "  ")
	return out
}

func mask(v any, hide bool) any {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			x[k] = mask(x[k], hide || isPersonal(k))
		}
		return x
	case []any:
		for i := range x {
			x[i] = mask(x[i], hide)
		}
		return x
	case string:
		if hide {
			return MaskValue(x)
		}
		return x
	case json.Number:
		if hide {
			return MaskValue(x.String())
		}
		return x
	}
	return v
}

// MaskValue is how the probe shows a secret or personal value: its first
// characters (at most two, a quarter of it) and its length; "" stays "".
func MaskValue(s string) string {
	if s == "" {
		return ""
	}
	r := []rune(s)
	keep := min(2, len(r)/4)
	return string(r[:keep]) + "…(" + strconv.Itoa(len(r)) + ")"
}
