package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/quenchhq/quench/internal/api"
	"github.com/quenchhq/quench/internal/config"
)

// alertUndoCmd takes inbox triage back through the API: "unack ID…"
// (nobody is on the alerts any more) or "restore ID…" (dismissed alerts
// wait in the inbox again). args starts with the subcommand.
func alertUndoCmd(ctx context.Context, cfg config.Config, env Env, args []string) error {
	use := "alert unack ID [ID…] | alert restore ID [ID…] [--json]"
	if len(args) == 0 || args[0] != "unack" && args[0] != "restore" {
		return usageErr("%s", use)
	}
	fs := flag.NewFlagSet("alert "+args[0], flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the server's JSON")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageErr("%s", use)
	}
	ids := make([]int64, 0, len(pos))
	for _, s := range pos {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return usageErr("%q is not an alert ID", s)
		}
		ids = append(ids, id)
	}
	out := &printer{w: env.Stdout, json: *asJSON}
	var res struct {
		Alerts []api.AlertJSON `json:"alerts"`
	}
	if err := newClient(cfg).do(ctx, "POST", "/api/v1/alerts/"+args[0], map[string]any{"alerts": ids}, out.raw(&res)); err != nil {
		return err
	}
	return out.done(func() {
		for _, a := range res.Alerts {
			if args[0] == "unack" {
				fmt.Fprintf(env.Stdout, "alert %d no longer acknowledged\n", a.ID)
			} else {
				fmt.Fprintf(env.Stdout, "alert %d restored to the inbox\n", a.ID)
			}
		}
	})
}
