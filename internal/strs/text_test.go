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
