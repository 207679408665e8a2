package apple

import (
	"bytes"
	"fmt"
	"sort"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxStringsFile is the largest pass.strings file ParseStrings accepts.
const MaxStringsFile = 1 << 20

// ParseStrings parses an Apple .strings file (`"key" = "value";` lines, with
// /* */ and // comments) as found in xx.lproj/pass.strings. It accepts UTF-8
// with or without a byte-order mark and UTF-16 with a byte-order mark. The
// error names the line of the first problem.
func ParseStrings(data []byte) (map[string]string, error) {
	if len(data) > MaxStringsFile {
		return nil, fmt.Errorf("larger than %d bytes", MaxStringsFile)
	}
	data, err := stringsToUTF8(data)
	if err != nil {
		return nil, err
	}
	p := stringsParser{s: data, line: 1}
	out := map[string]string{}
	for {
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.i >= len(p.s) {
			return out, nil
		}
		k, err := p.quoted()
		if err != nil {
			return nil, err
		}
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if !p.eat('=') {
			return nil, p.errorf("expected = after key %q", k)
		}
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		v, err := p.quoted()
		if err != nil {
			return nil, err
		}
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if !p.eat(';') {
			return nil, p.errorf("expected ; after the value of %q", k)
		}
		out[k] = v
	}
}

func stringsToUTF8(b []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		b = b[3:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		le := b[0] == 0xFF
		b = b[2:]
		if len(b)%2 != 0 {
			return nil, fmt.Errorf("UTF-16 data has an odd length")
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			if le {
				u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
			} else {
				u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			}
		}
		var out []byte
		for i := 0; i < len(u); i++ {
			r := rune(u[i])
			if r >= 0xD800 && r < 0xDC00 && i+1 < len(u) && u[i+1] >= 0xDC00 && u[i+1] < 0xE000 {
				r = (r-0xD800)<<10 + (rune(u[i+1]) - 0xDC00) + 0x10000
				i++
			}
			out = utf8.AppendRune(out, r)
		}
		return out, nil
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("not valid UTF-8")
	}
	return b, nil
}

type stringsParser struct {
	s    []byte
	i    int
	line int
}

func (p *stringsParser) errorf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", p.line, fmt.Sprintf(format, args...))
}

func (p *stringsParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *stringsParser) skipSpace() error {
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\n':
			p.line++
			p.i++
		case c == ' ' || c == '\t' || c == '\r':
			p.i++
		case c == '/' && p.i+1 < len(p.s) && p.s[p.i+1] == '/':
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		case c == '/' && p.i+1 < len(p.s) && p.s[p.i+1] == '*':
			end := bytes.Index(p.s[p.i+2:], []byte("*/"))
			if end < 0 {
				return p.errorf("unterminated comment")
			}
			p.line += bytes.Count(p.s[p.i:p.i+2+end], []byte("\n"))
			p.i += end + 4
		default:
			return nil
		}
	}
	return nil
}

func (p *stringsParser) quoted() (string, error) {
	if !p.eat('"') {
		return "", p.errorf("expected a quoted string")
	}
	var b []byte
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return string(b), nil
		case '\n':
			p.line++
			b = append(b, c)
		case '\\':
			if p.i >= len(p.s) {
				return "", p.errorf("unterminated string")
			}
			e := p.s[p.i]
			p.i++
			switch e {
			case 'n':
				b = append(b, '\n')
			case 't':
				b = append(b, '\t')
			case 'r':
				b = append(b, '\r')
			case '"', '\\', '\'':
				b = append(b, e)
			case 'U', 'u':
				if p.i+4 > len(p.s) {
					return "", p.errorf("short \\U escape")
				}
				var r rune
				for _, h := range p.s[p.i : p.i+4] {
					var v byte
					switch {
					case h >= '0' && h <= '9':
						v = h - '0'
					case h >= 'a' && h <= 'f':
						v = h - 'a' + 10
					case h >= 'A' && h <= 'F':
						v = h - 'A' + 10
					default:
						return "", p.errorf("bad \\U escape")
					}
					r = r<<4 | rune(v)
				}
				p.i += 4
				b = utf8.AppendRune(b, r)
			default:
				return "", p.errorf("unknown escape \\%c", e)
			}
		default:
			b = append(b, c)
		}
	}
	return "", p.errorf("unterminated string")
}

// FormatStrings renders translations as a pass.strings file, escaping
// quotes, backslashes and control characters; keys are written sorted.
func FormatStrings(m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		b.WriteString(quoteStrings(k))
		b.WriteString(" = ")
		b.WriteString(quoteStrings(m[k]))
		b.WriteString(";\n")
	}
	return b.Bytes()
}

// UTF16Strings is FormatStrings as Apple asks pass.strings to be encoded
// when they hold anything but ASCII: UTF-16 little-endian with a
// byte-order mark.
func UTF16Strings(m map[string]string) []byte {
	u := utf16.Encode([]rune(string(FormatStrings(m))))
	out := make([]byte, 2, 2+2*len(u))
	out[0], out[1] = 0xFF, 0xFE
	for _, c := range u {
		out = append(out, byte(c), byte(c>>8))
	}
	return out
}

func quoteStrings(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\U%04x`, r)
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
