// Command walletpass turns SecuTix tickets into Apple Wallet and Google
// Wallet passes and keeps them up to date.
//
//	walletpass serve [-config FILE]
//	walletpass pass build -ticket t.json [-template default] [-tenant demo] -o t.pkpass
//	walletpass pass sample [-kind concert]
//	walletpass certs dev [-dir DIR] [-pass-type-id ID] [-team-id ID]
//	walletpass certs check [-config FILE] [-tenant ID]
//	walletpass migrate [-config FILE]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "walletpass: %s\n", oneLine(err))
		os.Exit(exitCode(err))
	}
}
