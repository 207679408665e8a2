package main

import (
	"io"
	"log/slog"
	"time"
)

// newLogger is the service's log: JSON lines on w at level (debug, info,
// warn, error; config.Validate checked it), durations written as Go
// durations ("1.234ms") rather than integer nanoseconds.
func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv, ReplaceAttr: readableDuration}))
}

func readableDuration(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		d := a.Value.Duration()
		if d > time.Millisecond {
			d = d.Round(time.Microsecond)
		}
		a.Value = slog.StringValue(d.String())
	}
	return a
}
