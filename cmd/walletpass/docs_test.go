package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDocsCommands: every walletpass command line the README and docs/
// show (in code blocks and code spans) names a command that exists, and
// every flag it gives is one of that command's flags, so the docs cannot
// keep a command after it is renamed or a flag after it is dropped.
func TestDocsCommands(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join("..", "..", "README.md"))
	env := testEnv(t.TempDir(), nil)
	flagsOf := map[string][]string{} // "orders timeline" → its flags, from its -h
	missing := map[string]bool{}     // commands that do not exist (reported once)
	checked, flagsChecked := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range docCommands(string(data)) {
			words, flags := splitDocCommand(c.text)
			if len(words) == 0 {
				continue
			}
			key := strings.Join(words, " ")
			if len(words) == 1 && groups[key] {
				checked++ // a group named alone: "the apikey commands"
				continue
			}
			if missing[key] {
				continue
			}
			known, ok := flagsOf[key]
			if !ok {
				var out, errOut bytes.Buffer
				if err := Run(context.Background(), append(slices.Clone(words), "-h"), &out, &errOut, env); err != nil ||
					!strings.Contains(out.String(), "Usage: walletpass "+key) {
					t.Errorf("%s:%d: `walletpass %s`: no such command (-h: %v, %q)", filepath.Base(f), c.line, key, err, errOut.String())
					missing[key] = true
					continue
				}
				known = helpFlags.FindAllString(out.String(), -1)
				for i := range known {
					known[i] = strings.TrimSpace(known[i])
				}
				flagsOf[key] = known
			}
			// A command whose -h lists no flags (or lists them in a form
			// helpFlags no longer reads) has none the docs may give.
			for _, fl := range flags {
				if !slices.Contains(known, fl) {
					t.Errorf("%s:%d: `walletpass %s` has no flag %s (it has %v)", filepath.Base(f), c.line, key, fl, known)
				}
				flagsChecked++
			}
			checked++
		}
	}
	t.Logf("%d command lines, %d flags checked", checked, flagsChecked)
	if checked < 20 {
		t.Errorf("found %d walletpass command lines in the docs; the extraction is broken", checked)
	}
	if flagsChecked < 20 {
		t.Errorf("checked %d flags of walletpass command lines in the docs; the extraction is broken", flagsChecked)
	}
}

// helpFlags finds the flags a command's -h lists ("  -tenant id").
var helpFlags = regexp.MustCompile(`(?m)^  -[a-z][a-z0-9-]*`)

type docCommand struct {
	line int
	text string // from the first word after "walletpass"
}

var (
	codeSpan   = regexp.MustCompile("`[^`\n]+`")
	docInvoker = regexp.MustCompile(`(?:^|[\s($])(?:\./bin/)?walletpass ([^)#]*)`)
	docFlag    = regexp.MustCompile(`^-[a-z][a-z0-9-]*$`)
	docWord    = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

// docCommands finds the walletpass command lines of a Markdown text: in
// fenced shell blocks, and in code spans that start with the command.
func docCommands(md string) []docCommand {
	var out []docCommand
	fenced, shell := false, false
	for i, l := range strings.Split(md, "\n") {
		if lang, ok := strings.CutPrefix(strings.TrimSpace(l), "```"); ok {
			fenced = !fenced
			shell = fenced && slices.Contains([]string{"", "sh", "bash", "shell", "console"}, lang)
			continue
		}
		if fenced {
			if !shell {
				continue
			}
			for _, m := range docInvoker.FindAllStringSubmatch(l, -1) {
				out = append(out, docCommand{i + 1, m[1]})
			}
			continue
		}
		for _, span := range codeSpan.FindAllString(l, -1) {
			span = strings.Trim(span, "`")
			for _, prefix := range []string{"walletpass ", "./bin/walletpass "} {
				if rest, ok := strings.CutPrefix(span, prefix); ok {
					out = append(out, docCommand{i + 1, rest})
				}
			}
		}
	}
	return out
}

// splitDocCommand parses "orders timeline -secret TOKEN (or -file ID)"
// into its command words and its flags. The command is one word, or two
// for a group; an argument in angle brackets or capitals is a value.
func splitDocCommand(s string) (words, flags []string) {
	for i, tok := range strings.Fields(s) {
		tok = strings.TrimLeft(tok, "([\\|")
		tok = strings.TrimRight(tok, ")]\\|,;:.")
		if strings.HasPrefix(tok, "-") {
			name, _, _ := strings.Cut(tok, "=")
			if name = "-" + strings.TrimLeft(name, "-"); docFlag.MatchString(name) && name != "-h" && name != "-help" {
				flags = append(flags, name)
			}
			continue
		}
		if i == len(words) && len(words) < 2 && docWord.MatchString(tok) &&
			(len(words) == 0 || groups[words[0]]) {
			words = append(words, tok)
		}
	}
	return words, flags
}

// TestDocCommandExtraction: what TestDocsCommands reads of a text, so
// that a broken extraction cannot pass it by finding nothing to check.
func TestDocCommandExtraction(t *testing.T) {
	t.Parallel()
	md := "Run `walletpass orders timeline -secret TOKEN` (or `walletpass holders erase (-file ID \\| -email ADDRESS)`);\n" +
		"the walletpass service limits bodies.\n" +
		"```nginx\nclient_max_body_size 2m;  # walletpass limits each body\n```\n" +
		"```sh\nTOKEN=$(./bin/walletpass token -scope tickets:read)   # a token\n./bin/walletpass tasks retry -dead\n```\n"
	var got []string
	for _, c := range docCommands(md) {
		words, flags := splitDocCommand(c.text)
		got = append(got, fmt.Sprintf("%d %s %s", c.line, strings.Join(words, " "), strings.Join(flags, " ")))
	}
	want := []string{"1 orders timeline -secret", "1 holders erase -file -email", "7 token -scope", "8 tasks retry -dead"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
