// Package appletest checks signed passes in tests the way an iPhone and
// Apple's own tooling would, using the real openssl command line.
package appletest

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Verify checks a .pkpass and returns its decoded pass.json:
//   - `openssl cms -verify -binary -inform DER -in signature -content
//     manifest.json -CAfile wwdrPEM -purpose any` succeeds;
//   - every manifest SHA-1 matches its file;
//   - the zip's files are exactly the manifest's keys plus manifest.json
//     and signature;
//   - the signature carries a signingTime attribute, uses SHA-256 and holds
//     two certificates: the pass certificate and the intermediate.
//
// openssl must be installed: a missing openssl fails the test.
func Verify(tb testing.TB, pkpass []byte, wwdrPEM string) map[string]any {
	tb.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		tb.Fatalf("openssl is required to verify passes: %v", err)
	}
	files := Unzip(tb, pkpass)
	var manifest map[string]string
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		tb.Fatalf("manifest.json: %v", err)
	}
	if _, ok := files["signature"]; !ok {
		tb.Fatalf("signature missing")
	}
	var zipNames, want []string
	for name := range files {
		zipNames = append(zipNames, name)
	}
	for name := range manifest {
		want = append(want, name)
	}
	want = append(want, "manifest.json", "signature")
	sort.Strings(zipNames)
	sort.Strings(want)
	if strings.Join(zipNames, ",") != strings.Join(want, ",") {
		tb.Fatalf("zip files = %v, want manifest keys + manifest.json + signature = %v", zipNames, want)
	}
	for name, sum := range manifest {
		got := sha1.Sum(files[name])
		if hex.EncodeToString(got[:]) != sum {
			tb.Fatalf("manifest SHA-1 of %s = %s, file hashes to %x", name, sum, got)
		}
	}
	dir := tb.TempDir()
	for name, data := range map[string][]byte{"manifest.json": files["manifest.json"], "signature": files["signature"]} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	run := func(args ...string) string {
		tb.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			tb.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := run("cms", "-verify", "-binary", "-inform", "DER", "-in", "signature", "-content", "manifest.json",
		"-CAfile", wwdrPEM, "-purpose", "any", "-out", os.DevNull)
	if !strings.Contains(out, "Verification successful") {
		tb.Fatalf("openssl cms -verify did not report success: %s", out)
	}
	printed := run("cms", "-cmsout", "-print", "-inform", "DER", "-in", "signature")
	if !strings.Contains(printed, "signingTime") {
		tb.Fatalf("signature has no signingTime attribute")
	}
	if !strings.Contains(printed, "sha256") {
		tb.Fatalf("signature does not use SHA-256")
	}
	certs := run("pkcs7", "-inform", "DER", "-in", "signature", "-print_certs", "-noout")
	subjects := strings.Count(certs, "subject=")
	if subjects != 2 || !strings.Contains(certs, "Pass Type ID: ") {
		tb.Fatalf("signature should hold the pass certificate and the intermediate, got:\n%s", certs)
	}
	var pj map[string]any
	if err := json.Unmarshal(files["pass.json"], &pj); err != nil {
		tb.Fatalf("pass.json: %v", err)
	}
	return pj
}

// Unzip returns the files of a zip archive by name.
func Unzip(tb testing.TB, data []byte) map[string][]byte {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatalf("not a zip: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatalf("zip %s: %v", f.Name, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatalf("zip %s: %v", f.Name, err)
		}
		if _, dup := files[f.Name]; dup {
			tb.Fatalf("zip has %s twice", f.Name)
		}
		files[f.Name] = b
	}
	return files
}
