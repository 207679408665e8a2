package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	fakesecutix "walletpass/fake/secutix"
)

// cmdSandbox is `walletpass sandbox secutix`: the SecuTix sandbox alone,
// for pointing a walletpass (or anything else) at a fake institution.
func cmdSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "secutix" {
		return errUsage{"sandbox: expected secutix"}
	}
	fs := newFlags("sandbox secutix", stdout)
	listen := fs.String("listen", "127.0.0.1:8091", "`address` to listen on")
	tenant := fs.String("tenant", "demo", "tenant `id` the sandbox plays the institution of")
	webhookURL := fs.String("webhook-url", "", "where to send change notifications (`URL`; empty: none)")
	operator := fs.String("operator", "DEMO_SANDBOX", "accepted `operator`")
	partner := fs.String("partner", "walletpass", "accepted `partner`")
	secret := fs.String("secret", "sandbox-secret-demo", "accepted `secret`")
	quota := fs.Int("quota", 60, "requests per minute per service before HTTP 509")
	format := fs.String("webhook-format", "listener", "the webhooks' `format`: listener, v1 (the URL holds ${orderId}) or v2")
	catalog := fs.Duration("catalog-interval", 10*time.Minute, "least `time` between two getCatalogDetailed calls (SecuTix: 10m; 0: no limit)")
	stateFile := fs.String("state", "", "keep the orders across restarts in this `file` (default: in memory only)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	log := newLogger(stderr, "info")
	sb, err := fakesecutix.New(fakesecutix.Config{Tenant: *tenant, Institution: *tenant, Operator: *operator, Partner: *partner,
		Secret: *secret, WebhookURL: *webhookURL, WebhookFormat: *format, QuotaPerMinute: *quota, Log: log,
		CatalogInterval: noLimit(*catalog), StateFile: *stateFile})
	if err != nil {
		return err
	}
	defer sb.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/sandbox/", sb.Handler())
	// Slow clients get no more time than walletpass's own server gives.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "SecuTix sandbox is serving on http://%s\n  API base URL: http://%s/sandbox/secutix\n  create an order: curl -s -X POST http://%s/sandbox/orders -d '{}'\n",
		ln.Addr(), ln.Addr(), ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// noLimit turns a flag's 0 ("no limit") into the sandbox's negative value.
func noLimit(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
