package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

const usage = `walletpass turns SecuTix tickets into Apple Wallet and Google Wallet passes.

Usage:
  walletpass serve [-config FILE]                 run the service
  walletpass pass build -ticket FILE [-template NAME] [-tenant ID] [-nfc] -o FILE.pkpass
                                                  sign one pass from a ticket JSON file (-nfc: as an NFC
                                                  tenant, in the poster layout)
  walletpass pass sample [-kind KIND]             print a sample ticket JSON (concert, festival, sports, ..., season)
  walletpass certs dev [-dir DIR] [-pass-type-id ID] [-team-id ID] [-org NAME]
                                                  make or reuse a development PKI
  walletpass certs check [-config FILE] [-tenant ID]
                                                  report on the tenants' certificates (expiry, key,
                                                  pass type and team, the chain up to Apple's root)
  walletpass certs apple-wwdr                     print Apple's WWDR G4 certificate (PEM)
  walletpass migrate [-config FILE]               apply database migrations
  walletpass tasks list [-state pending|running|done|dead]
  walletpass tasks retry (TASK-ID ... | -dead)    revive dead tasks
  walletpass orders timeline (-secret TOKEN | -file ID) [-tenant ID]
                                                  what happened to an order
  walletpass orders links -secret TOKEN [-tenant ID]
                                                  the order page and its signed links
  walletpass orders sync (-secret TOKEN | -file ID) [-tenant ID]
                                                  sync an order with SecuTix now (a change
                                                  SecuTix sent no webhook of)
  walletpass passes export -o FILE [-format csv|json] [-tenant ID]
                                                  every pass with its authentication token and Google
                                                  object id: what another provider needs to take over
  walletpass holders erase (-file ID | -email ADDRESS) [-tenant ID]
                                                  erase holder data (GDPR): passes signed again
                                                  without it, older files and timeline entries
  walletpass console signout -subject SUB         end every console session of an operator
  walletpass performances sync (-id ID | -all) [-tenant ID]
                                                  rewrite a performance's passes now with the
                                                  catalogue's details (a moved show) and its notice;
                                                  -all: every one not ended (a renewed certificate)
  walletpass webhooks deliveries -subscription ID [-limit N] [-tenant ID]
                                                  an outbound subscription's delivery log
  walletpass webhooks replay -subscription ID (-message MSG-ID | -since 24h) [-tenant ID]
                                                  send messages again
  walletpass google counts [-tenant ID]           Google Wallet saves, deletions, passes in wallets
  walletpass token [-tenant ID] [-scope "tickets:read"] [-ttl 1h]
                                                  a development access token for the API
  walletpass apikey create [-tenant ID] [-name NAME] [-scope "tickets:read passes:read"] | list | revoke ID
                                                  the organisers' API keys (stored hashed)
  walletpass sandbox secutix [-listen ADDR] [-webhook-url URL]
                                                  run the SecuTix sandbox alone
  walletpass secutix probe (-file ID | -secret TOKEN) [-tenant ID]
                                                  a dry run against SecuTix: its answer (masked)
                                                  and the pass fields read from it
  walletpass version                              the build: module version, VCS revision, Go

Every command lists its flags with -h.

The configuration file defaults to $WALLETPASS_CONFIG; with none, the embedded
development defaults are used (SQLite and files under ./data, tenant "demo").
`

// errUsage marks a command-line mistake (exit status 2).
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func exitCode(err error) int {
	var u errUsage
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// oneLine keeps the CLI's error to one line.
func oneLine(err error) string {
	s := err.Error()
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// Run executes the command line args. It is main without the process: the
// end-to-end tests call it directly.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	err := run(ctx, args, stdout, stderr, getenv)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// groups are the commands that take a subcommand: "walletpass tasks -h"
// prints the usage.
var groups = map[string]bool{"pass": true, "passes": true, "webhooks": true, "certs": true, "tasks": true, "orders": true, "google": true,
	"apikey": true, "sandbox": true, "secutix": true, "holders": true, "performances": true, "console": true}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	if groups[cmd] && len(rest) > 0 && isHelpArg(rest[0]) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr, getenv)
	case "pass":
		if len(rest) == 0 {
			return errUsage{"pass: expected build or sample"}
		}
		switch rest[0] {
		case "build":
			return cmdPassBuild(ctx, rest[1:], stdout, stderr, getenv)
		case "sample":
			return cmdPassSample(rest[1:], stdout, stderr)
		}
		return errUsage{fmt.Sprintf("pass: unknown command %q (build, sample)", rest[0])}
	case "certs":
		if len(rest) == 0 {
			return errUsage{"certs: expected dev, check or apple-wwdr"}
		}
		switch rest[0] {
		case "dev":
			return cmdCertsDev(rest[1:], stdout, stderr)
		case "check":
			return cmdCertsCheck(rest[1:], stdout, stderr, getenv)
		case "apple-wwdr":
			return cmdCertsAppleWWDR(rest[1:], stdout)
		}
		return errUsage{fmt.Sprintf("certs: unknown command %q (dev, check, apple-wwdr)", rest[0])}
	case "migrate":
		return cmdMigrate(ctx, rest, stdout, stderr, getenv)
	case "tasks":
		return cmdTasks(ctx, rest, stdout, stderr, getenv)
	case "orders":
		return cmdOrders(ctx, rest, stdout, stderr, getenv)
	case "webhooks":
		return cmdWebhooks(ctx, rest, stdout, getenv)
	case "passes":
		if len(rest) == 0 || rest[0] != "export" {
			return errUsage{"passes: expected export"}
		}
		return cmdPassesExport(ctx, rest[1:], stdout, stderr, getenv)
	case "google":
		return cmdGoogle(ctx, rest, stdout, stderr, getenv)
	case "holders":
		return cmdHolders(ctx, rest, stdout, stderr, getenv)
	case "performances":
		return cmdPerformances(ctx, rest, stdout, getenv)
	case "sandbox":
		return cmdSandbox(ctx, rest, stdout, stderr)
	case "secutix":
		return cmdSecuTix(ctx, rest, stdout, stderr, getenv)
	case "token":
		return cmdToken(rest, stdout, stderr, getenv)
	case "apikey":
		return cmdAPIKey(ctx, rest, stdout, stderr, getenv)
	case "version":
		return cmdVersion(ctx, rest, stdout, stderr)
	case "console":
		return cmdConsole(ctx, rest, stdout, getenv)
	}
	if isHelpArg(cmd) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	return errUsage{fmt.Sprintf("unknown command %q (walletpass -h lists them)", cmd)}
}

// newFlags returns a flag set that reports errors instead of exiting.
// newFlags makes a command's flag set. Its output is stdout: it is only
// written to when -h or --help asks for the flags (exit 0); a mistake is
// one line on stderr (main), naming how to list them.
func newFlags(name string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	return fs
}

// errHelp ends a command whose flags were asked for: Run answers nil.
var errHelp = errors.New("help shown")

// parseFlags parses a command's flags; the command takes no arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	rest, err := parseFlagsArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errUsage{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), rest[0])}
	}
	return nil
}

// parseFlagsArgs parses a command's flags and returns its arguments.
func parseFlagsArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	out := fs.Output()
	fs.SetOutput(io.Discard) // flag would print the usage after an error too
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(out, "Usage: walletpass %s [flags]\n\nFlags:\n", fs.Name())
		fs.PrintDefaults()
		return nil, errHelp
	}
	if err != nil {
		return nil, errUsage{fmt.Sprintf("%s: %s (walletpass %s -h lists the flags)", fs.Name(), err, fs.Name())}
	}
	return fs.Args(), nil
}

func isHelpArg(s string) bool {
	switch s {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

func configFlag(fs *flag.FlagSet, getenv func(string) string) *string {
	return fs.String("config", getenv("WALLETPASS_CONFIG"), "configuration `file` (default: $WALLETPASS_CONFIG, else the development defaults)")
}
