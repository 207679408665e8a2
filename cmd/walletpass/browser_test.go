package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"walletpass/pass/apple/appletest"
)

// chromium returns the path of Debian's chromium. In CI a missing browser
// fails the test; on a laptop without it the test is skipped.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is required in CI (.ci/run installs it)")
	}
	t.Skip("chromium not installed")
	return ""
}

// TestBrowserDownloadsPreview is `make run` and a person clicking a sample
// pass: the real server, a real headless Chromium following the preview
// link, and the downloaded file verified with openssl.
func TestBrowserDownloadsPreview(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	dataDir := t.TempDir()
	base, stop := startServe(t, dataDir)
	defer stop()

	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(home, "profile"),
		base+"/api/demo/preview/default?kind=concert")
	cmd.Env = append(os.Environ(), "HOME="+home)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Chromium writes a .crdownload file and renames it when complete; it
	// may keep running afterwards, so stop it once the pass is there.
	file := filepath.Join(home, "Downloads", "default-concert.pkpass")
	var data []byte
	for data == nil {
		if b, err := os.ReadFile(file); err == nil {
			data = b
			break
		}
		select {
		case err := <-exited:
			if b, rerr := os.ReadFile(file); rerr == nil {
				data = b
				break
			}
			t.Fatalf("chromium exited (%v) without downloading the pass:\n%s", err, out.String())
		case <-ctx.Done():
			t.Fatalf("chromium did not download the pass in time:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	<-exited
	pj := appletest.Verify(t, data, filepath.Join(dataDir, "pki", "wwdr.pem"))
	if pj["passTypeIdentifier"] != "pass.dev.walletpass.demo" {
		t.Errorf("passTypeIdentifier = %v", pj["passTypeIdentifier"])
	}
}
