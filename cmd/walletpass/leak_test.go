package main

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The SQLite driver and net/http keep no goroutines after Close and
	// Shutdown; anything left running is a leak of ours.
	goleak.VerifyTestMain(m)
}
