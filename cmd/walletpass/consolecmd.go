package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// cmdConsole: walletpass console signout -subject SUB ends every console
// session of an operator (the identity provider's subject, as the audit
// log names them in brackets): a dismissed operator's open sessions, or a
// session cookie that may have been copied. The operator can sign in
// again unless the identity provider refuses them.
func cmdConsole(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "signout" {
		return errUsage{"console: expected signout"}
	}
	fs := newFlags("console signout", stdout)
	cfgPath := configFlag(fs, getenv)
	subject := fs.String("subject", "", "the operator's `subject` at the identity provider")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if strings.TrimSpace(*subject) == "" {
		return errUsage{"console signout: give -subject SUB"}
	}
	_, db, err := configAndStore(ctx, *cfgPath, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.RevokeConsoleSubject(ctx, *subject, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "every console session of %s begun before now is over\n", *subject)
	return nil
}
