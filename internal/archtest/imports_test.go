package archtest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "walletpass"

// allowed lists, for each package of the module, the packages of the
// module its non-test files may import. A package missing here may
// import none. The rules are docs/architecture.md's package map:
//   - the domain (pass) imports nothing of the module;
//   - adapters import the domain and the toolboxes (internal/…), never
//     each other, but for the few named here with their reason;
//   - workers imports the domain only;
//   - only cmd/walletpass wires concrete things together.
var allowed = map[string][]string{
	"pass":                  {},
	"workers":               {"pass"},
	"auth":                  {"pass"},
	"pass/apple":            {"pass"},
	"pass/google":           {"pass", "internal/httpx", "internal/strs"},
	"push/apns":             {"pass", "internal/httpx", "internal/strs"},
	"push/fcm":              {"pass", "internal/httpx"},
	"secutix":               {"pass", "internal/httpx", "internal/strs"},
	"storage":               {"pass"},
	"storage/blob":          {"pass"},
	"storage/s3":            {"pass"},
	"storage/blob/blobtest": {"pass"},
	"outbound":              {"pass", "internal/httpx"},
	"console":               {"pass", "internal/httpx"},
	"config":                {"internal/httpx"}, // trusted proxies, checked as the limits read them
	// The HTTP layer verifies tokens (auth), parses SecuTix's webhook
	// payloads (secutix/webhook) and renders sample passes for the
	// preview route (pass/apple).
	"httpapi":              {"pass", "auth", "internal/httpx", "internal/strs", "pass/apple", "secutix/webhook"},
	"pass/apple/appletest": {"certs", "pass", "pass/apple", "templates"},
	"tools/loadgen":        {"internal/loadgen"},
	// The fakes `make run` serves listen through internal/loopback, not
	// httptest (which links package testing).
	"fake/apns":      {"internal/loopback"},
	"fake/fcm":       {"internal/loopback"},
	"fake/google":    {"internal/loopback"},
	"cmd/walletpass": nil, // the wiring: anything
}

// goList runs go list in the module root with the arguments.
func goList(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

func TestImportRules(t *testing.T) {
	t.Parallel()
	out := goList(t, "-f", "{{.ImportPath}} {{join .Imports \",\"}}", "./...")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		path, imports, _ := strings.Cut(line, " ")
		pkg := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
		may, listed := allowed[pkg]
		if listed && may == nil {
			continue
		}
		for _, imp := range strings.Split(imports, ",") {
			rest, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			if !slices.Contains(may, rest) {
				t.Errorf("%s imports %s, which the dependency rules do not allow", pkg, rest)
			}
		}
	}
}

// TestShippedBinaryHasNoTestCode: the binary does not link package
// testing (the fakes that `make run` serves are product code).
func TestShippedBinaryHasNoTestCode(t *testing.T) {
	t.Parallel()
	deps := strings.Fields(goList(t, "-deps", "./cmd/walletpass"))
	for _, d := range deps {
		if d == "testing" || strings.HasPrefix(d, "testing/") {
			t.Errorf("cmd/walletpass depends on %s", d)
		}
	}
	if !slices.Contains(deps, module+"/fake/secutix") {
		t.Errorf("the dependency list looks wrong (no fake/secutix): %v", deps)
	}
}
