package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/api"
	"github.com/quenchhq/quench/internal/config"
)

// onboardCmd prints (or writes) what brings a service's alerts to Quench:
// the Alertmanager route and receiver, pointing at the service's
// integration (created if missing), and a starter Prometheus rules file.
// It needs an admin token: the server creates the integration.
func onboardCmd(fs *pflag.FlagSet) runner {
	namespace := fs.String("namespace", "", "Kubernetes namespace of the service")
	runbooks := fs.String("runbook-base", "", "where runbooks live (runbook_url = URL/alertname); default: the incident log")
	dir := fs.String("write", "", "write alertmanager-SERVICE.yml and rules-SERVICE.yml into this folder instead of printing them")
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args
		if len(pos) != 1 {
			return usageErr("usage: quench onboard SERVICE [--namespace NS] [--runbook-base URL] [--write DIR]")
		}
		out := &printer{w: env.Stdout, json: *asJSON}
		var o api.OnboardingJSON
		body := map[string]any{"service": pos[0], "namespace": *namespace, "runbook_base": *runbooks}
		if err := newClient(cfg).do(ctx, "POST", "/api/v1/onboarding", body, out.raw(&o)); err != nil {
			return err
		}
		if out.json {
			return out.done(nil)
		}
		note := fmt.Sprintf("# Integration %q (%s), intake URL %s", o.Integration.Name, o.Integration.ID, o.Integration.URL)
		if o.Created {
			note += "\n# created now: its token is in the receiver below and is not shown again."
		} else {
			note += "\n# existed already: put the token shown when it was created into the credentials_file below."
		}
		if *dir == "" {
			fmt.Fprintf(env.Stdout, "%s\n\n# ---- alertmanager.yml ----\n%s\n# ---- rules for Prometheus (rules-%s.yml) ----\n%s", note, o.Alertmanager, o.Service, o.Rules)
			return nil
		}
		am := filepath.Join(*dir, "alertmanager-"+o.Service+".yml")
		rules := filepath.Join(*dir, "rules-"+o.Service+".yml")
		// The receiver may hold the integration's token: readable by its owner.
		if err := os.WriteFile(am, []byte(o.Alertmanager), 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(rules, []byte(o.Rules), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s\nwrote %s (amtool check-config %s)\nwrote %s (promtool check rules %s)\n", note, am, am, rules, rules)
		return nil
	}
}
