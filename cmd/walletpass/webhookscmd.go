package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// cmdWebhooks is `walletpass webhooks deliveries|replay`: the delivery
// log of a subscription, and sending its messages again.
func cmdWebhooks(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "deliveries" && args[0] != "replay") {
		return errUsage{"webhooks: expected deliveries or replay"}
	}
	sub := args[0]
	fs := newFlags("webhooks "+sub, stdout)
	cfgPath := configFlag(fs, getenv)
	tenant := fs.String("tenant", "", "tenant `id` (default: the first tenant)")
	subscription := fs.String("subscription", "", "the subscription's `id` (wh_…)")
	limit := fs.Int("limit", 50, "deliveries: at most this many, newest first")
	msgID := fs.String("message", "", "replay: this message `id` (msg_…) only")
	since := fs.Duration("since", 0, "replay: the messages made in this last `duration` (e.g. 24h)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *subscription == "" {
		return errUsage{"webhooks " + sub + ": give -subscription"}
	}
	if *limit < 1 {
		return errUsage{"webhooks " + sub + ": -limit is at least 1"}
	}
	if sub == "replay" && (*msgID == "") == (*since == 0) {
		return errUsage{"webhooks replay: give -message or -since"}
	}
	t, db, err := tenantStore(ctx, *cfgPath, *tenant, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Subscription(ctx, t.ID, *subscription); err != nil {
		return fmt.Errorf("webhooks %s: tenant %s has no subscription %s", sub, t.ID, *subscription)
	}
	if sub == "replay" {
		n, err := db.ReplayMessages(ctx, t.ID, *subscription, *msgID, time.Now().Add(-*since))
		if err != nil {
			return err
		}
		if n == 0 && *msgID != "" {
			return fmt.Errorf("webhooks replay: subscription %s has no message %s", *subscription, *msgID)
		}
		fmt.Fprintf(stdout, "%d messages queued again for %s\n", n, *subscription)
		return nil
	}
	msgs, err := db.Messages(ctx, t.ID, *subscription, *limit)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MESSAGE\tEVENT\tPASS\tSTATE\tATTEMPTS\tLAST ANSWER\tCREATED\tDELIVERED")
	for _, m := range msgs {
		answer := "-"
		if m.LastStatus != 0 {
			answer = fmt.Sprint(m.LastStatus)
		}
		if m.LastError != "" && m.State != "delivered" {
			answer += " " + oneLineString(m.LastError, 60)
		}
		delivered := "-"
		if !m.DeliveredAt.IsZero() {
			delivered = m.DeliveredAt.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", m.ID, m.Type, m.Stream, m.State, m.Attempts, answer,
			m.CreatedAt.Local().Format(time.DateTime), delivered)
	}
	return tw.Flush()
}
