package httpapi

import (
	"regexp"
	"testing"
)

// The hand-written checks accept exactly what the patterns they replace
// accept.
var (
	idPattern          = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	passTypePattern    = regexp.MustCompile(`^pass\.[A-Za-z0-9.-]{1,200}$`)
	correlationPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
)

func FuzzIDChecksMatchPatterns(f *testing.F) {
	for _, s := range []string{"", "a", "pass.", "pass.com.example", "pass.x_y", "dev-1.2_3", "a:b", "é", "pass.é",
		"0123456789abcdef0123456789abcdef", string(make([]byte, 129)), "x/y", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := idChars(s, 1, 128, "._-"), idPattern.MatchString(s); got != want {
			t.Errorf("id %q: %v, pattern says %v", s, got, want)
		}
		if got, want := validPassType(s), passTypePattern.MatchString(s); got != want {
			t.Errorf("pass type %q: %v, pattern says %v", s, got, want)
		}
		if got, want := idChars(s, 1, 128, "._:-"), correlationPattern.MatchString(s); got != want {
			t.Errorf("correlation id %q: %v, pattern says %v", s, got, want)
		}
	})
}

func TestPathIDsAndPositiveIDs(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{"dev-1": true, "a.b": true, ".a": true, ".": false, "..": false, "...": false, "": false, "a/b": false} {
		if got := pathID(s); got != want {
			t.Errorf("pathID(%q) = %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]int64{"5": 5, "10037491001": 10037491001, "9223372036854775807": 9223372036854775807} {
		if got, ok := positiveID(s); !ok || got != want {
			t.Errorf("positiveID(%q) = %d %v, want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "0", "+5", "-5", "05", " 5", "5 ", "5x", "9223372036854775808", "1e3"} {
		if got, ok := positiveID(s); ok {
			t.Errorf("positiveID(%q) = %d, want refused", s, got)
		}
	}
}
