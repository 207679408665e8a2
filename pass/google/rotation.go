package google

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/walletobjects/v1"
)

// Rotation is a tenant's rotating barcodes: TOTP (RFC 6238, SHA-1, eight
// digits) with a secret per pass, HMAC-SHA256(Key, serial number) cut to
// 20 bytes, so that a gate system holding Key derives it too. The barcode
// reads "<ticket barcode>-<the step's Unix seconds>-<code>".
type Rotation struct {
	Key    []byte
	Period time.Duration // default 30 s
}

// totpDigits is the length of the codes.
const totpDigits = 8

func (r *Rotation) period() time.Duration {
	if r.Period <= 0 {
		return 30 * time.Second
	}
	return r.Period
}

// Secret is the TOTP secret of the pass with this serial number.
func (r *Rotation) Secret(serial string) []byte {
	m := hmac.New(sha256.New, r.Key)
	m.Write([]byte(serial))
	return m.Sum(nil)[:20]
}

// barcode is the rotating barcode of a pass whose ticket barcode is
// value. It has no alternate text: Google prints that under the code,
// and the ticket barcode there would put on every screenshot the value
// that does not rotate, which the rotation keeps off the screen. Nor a
// label made from the ticket: its number is on the pass already
// (ticketNumber), and a tenant's barcodes may be their ticket numbers.
// The alternate text is sent as null: a PATCH merges the barcode into the
// one Google holds, and the alternate text of an object sent before (an
// older release wrote the ticket barcode there) must go.
func (r *Rotation) barcode(serial, value string) *walletobjects.RotatingBarcode {
	return &walletobjects.RotatingBarcode{
		Type:         "QR_CODE",
		ValuePattern: strings.ReplaceAll(value, "{", "") + "-{totp_timestamp_seconds}-{totp_value_0}",
		TotpDetails: &walletobjects.RotatingBarcodeTotpDetails{
			Algorithm:    "TOTP_SHA1",
			PeriodMillis: r.period().Milliseconds(),
			Parameters: []*walletobjects.RotatingBarcodeTotpDetailsTotpParameters{{
				Key: hex.EncodeToString(r.Secret(serial)), ValueLength: totpDigits,
			}},
		},
		NullFields: []string{"AlternateText"},
	}
}

// Code is the TOTP code of a secret at a moment (RFC 6238: HMAC-SHA1 over
// the step count, dynamic truncation, eight digits).
func Code(secret []byte, at time.Time, period time.Duration) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/int64(period/time.Second)))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", totpDigits, v%100000000)
}

// Check reads what a gate scanned from a rotating barcode of the pass
// with this serial number: it returns the ticket's barcode when the code
// is the one of its step and the step is the current one or the one
// before or after (clock skew), and ok false otherwise.
func (r *Rotation) Check(serial, scanned string, now time.Time) (barcode string, ok bool) {
	i := strings.LastIndexByte(scanned, '-')
	if i < 0 {
		return "", false
	}
	code := scanned[i+1:]
	j := strings.LastIndexByte(scanned[:i], '-')
	if j < 0 {
		return "", false
	}
	barcode = scanned[:j]
	sec, err := strconv.ParseInt(scanned[j+1:i], 10, 64)
	if err != nil || len(code) != totpDigits || barcode == "" {
		return "", false
	}
	step := int64(r.period() / time.Second)
	if d := now.Unix()/step - sec/step; d < -1 || d > 1 {
		return "", false
	}
	want := Code(r.Secret(serial), time.Unix(sec, 0), r.period())
	return barcode, subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1
}
