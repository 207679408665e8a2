package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestClockAdvice: an instance warns when its clock is surely more than
// half the instances' tolerance off the database server's; not when the
// measurement cannot tell, nor when the clock could not be read.
func TestClockAdvice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                string
		offset, uncertainty time.Duration
		err                 error
		warn                bool
	}{
		{"the same clock", 0, time.Millisecond, nil, false},
		{"within the tolerance", 90 * time.Millisecond, time.Millisecond, nil, false},
		{"ahead", 300 * time.Millisecond, 2 * time.Millisecond, nil, true},
		{"behind", -2 * time.Second, 2 * time.Millisecond, nil, true},
		{"a slow measurement", 150 * time.Millisecond, 100 * time.Millisecond, nil, false},
		{"no answer", time.Hour, 0, errors.New("down"), false},
	} {
		got := clockAdvice(tc.offset, tc.uncertainty, tc.err)
		if (got != "") != tc.warn {
			t.Errorf("%s: advice %q, want a warning %v", tc.name, got, tc.warn)
		}
		if tc.warn && !strings.Contains(got, tc.offset.String()) {
			t.Errorf("%s: advice %q does not say the offset %s", tc.name, got, tc.offset)
		}
	}
}
