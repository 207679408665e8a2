package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// versionInfo is what the binary knows of its own build: the module
// version the go command stamped (a pseudo-version from the VCS, or
// "(devel)"), and the VCS revision, its time and whether the tree had
// uncommitted changes.
type versionInfo struct {
	Version   string
	Revision  string
	Time      string
	Modified  bool
	GoVersion string
}

func buildVersion() versionInfo {
	v := versionInfo{Version: "(devel)", Revision: "unknown", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func (v versionInfo) String() string {
	s := fmt.Sprintf("walletpass %s (revision %s", v.Version, v.Revision)
	if v.Time != "" {
		s += ", " + v.Time
	}
	if v.Modified {
		s += ", modified"
	}
	return s + ") " + v.GoVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// cmdVersion is `walletpass version`.
func cmdVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlags("version", stdout)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, buildVersion())
	return nil
}
