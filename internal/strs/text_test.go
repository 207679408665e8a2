package strs_test

import (
	"testing"

	"walletpass/internal/strs"
)

func TestJoinNonEmpty(t *testing.T) {
	t.Parallel()
	if got := strs.JoinNonEmpty(", ", " a ", "", "  ", "b"); got != "a, b" {
		t.Errorf("JoinNonEmpty = %q", got)
	}
}

func TestVisibleASCII(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{"ABC-123_x.y~": true, "": false, "a b": false, "a\nb": false, "é": false, "a\x7f": false} {
		if got := strs.VisibleASCII(s); got != want {
			t.Errorf("VisibleASCII(%q) = %v, want %v", s, got, want)
		}
	}
}
