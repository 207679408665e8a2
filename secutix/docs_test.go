package secutix

import (
	"os"
	"strings"
	"testing"
)

// TestFieldsDocumented: docs/secutix.md lists every mappable field with
// its default path, so the table operators write mappings from is true.
func TestFieldsDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../docs/secutix.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, f := range Fields {
		def := "—"
		if f.Default != "" {
			def = "`" + strings.ReplaceAll(f.Default, "|", `\|`) + "`"
		}
		if row := "| `" + f.Name + "` | " + def + " |"; !strings.Contains(doc, row) {
			t.Errorf("docs/secutix.md lacks the row %q", row)
		}
	}
}
