// Hot path: a hand-written JSON string writer instead of encoding/json.
// Guarded by BenchmarkRender (bench_test.go) and by FuzzRenderTicketStrings
// (fuzz_test.go: any string renders to valid JSON and survives the round
// trip) and TestGoldenPassJSON.

package apple

import (
	"bytes"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// writeJSONString appends s to w as a JSON string literal. Invalid UTF-8 is
// replaced by U+FFFD; control characters and U+2028/U+2029 are escaped, so
// the output is always valid JSON whatever s holds.
func writeJSONString(w *bytes.Buffer, s string) {
	w.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			w.WriteString(s[start:i])
			switch b {
			case '"':
				w.WriteString(`\"`)
			case '\\':
				w.WriteString(`\\`)
			case '\n':
				w.WriteString(`\n`)
			case '\r':
				w.WriteString(`\r`)
			case '\t':
				w.WriteString(`\t`)
			default:
				w.WriteString(`\u00`)
				w.WriteByte(hexDigits[b>>4])
				w.WriteByte(hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			w.WriteString(s[start:i])
			w.WriteString(`\ufffd`)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			w.WriteString(s[start:i])
			w.WriteString(`\u202`)
			w.WriteByte(hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	w.WriteString(s[start:])
	w.WriteByte('"')
}
