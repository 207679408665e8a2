package secutix

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"walletpass/pass"
)

// Probe is what a dry run against an institution saw: the raw answer
// (personal data and secrets masked), the order walletpass made of it, and
// how many calls it cost.
type Probe struct {
	Method string
	Raw    []byte // indented JSON, masked
	Order  *pass.Order
	// MapErr is why the answer could not become an order (nil when it did).
	MapErr error
	Calls  int
	Auth   string // "jwt (sub …, aud …, iss …)" or "token"
}

// ProbeFile fetches a file by id (or, when fileID is 0, by its order's
// secret), as OrderByFileID and OrderBySecret do, and returns what SecuTix
// answered and what walletpass made of it. It writes nothing and caches
// nothing; it costs one call (two when the first token is refused). A
// mapping error is returned in Probe.MapErr, not as err: the raw answer is
// what an operator needs then. err is the call's error.
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
	body, err := c.call(ctx, p.Method, req, subject, hide...)
	p.Calls = int(c.calls.Load() - before)
	if err != nil {
		return p, err
	}
	p.Raw = MaskJSON(body)
	p.Order, p.MapErr = c.mapper.decodeFile(body, fileID)
	return p, nil
}

// personal names the JSON keys whose values are secrets or personal data
// (lower case): a probe's output masks them.
var personal = map[string]bool{
	"ordersecretid": true, "ordersecrettoken": true, "barcode": true, "barcodes": true,
	"beneficiaryfirstname": true, "beneficiarylastname": true, "firstname": true, "lastname": true,
	"email": true, "contactemail": true, "holder": true, "holderinfo": true, "contactreference": true,
	"culturalcontactnumber": true, "phone": true, "mobile": true, "birthdate": true, "idnumber": true,
	"filecontacts": true, "token": true,
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
			x[k] = mask(x[k], hide || personal[strings.ToLower(k)])
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
