package cli

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/service"
)

// The command tree. cobra parses the flags, prints each command's --help
// and writes the completion scripts; the commands themselves are the
// runners in the other files, unchanged in what they accept and print.
//
// A group's subcommands share its flag set, as they did before cobra: a
// subcommand accepts every flag of its group (`incident list --json`,
// `incident show 4 --json`), and its --help shows only the ones it uses.

// sub describes one subcommand of a group.
type sub struct {
	use     string // name and arguments, as --help shows them
	short   string // one line
	flags   string // the flags --help shows, space-separated; the others stay accepted
	example string
	aliases []string
}

// group describes a command with subcommands.
type group struct {
	name    string
	aliases []string
	short   string
	usage   string // the error without a subcommand
	define  func(*pflag.FlagSet) runner
	subs    []sub
}

const (
	groupRespond = "respond"
	groupSetup   = "setup"
	groupServer  = "server"
)

var groups = []struct{ id, title string }{
	{groupRespond, "Client commands, through the server (QUENCH_URL, QUENCH_TOKEN; --json for scripts):"},
	{groupSetup, "Setting up, on the database (QUENCH_DATA_DIR or QUENCH_DATABASE_URL):"},
	{groupServer, "Running the server, and tools:"},
}

func clientGroups() []group {
	return []group{
		{name: "incident", aliases: []string{"incidents"}, short: "open, update, advance and close incidents", define: incidentCmd,
			usage: "incident list|show|open|advance|reopen|merge|cancel|assign|update|upload|check|link|timeline|publish|unpublish",
			subs: []sub{
				{use: "list", short: "list incidents, newest first", flags: "json phase state service owner q limit",
					example: "quench incident list --phase active\nquench incident list --state ended --service checkout --json"},
				{use: "show N", short: "an incident with owners, checklist, updates, links, files and alerts", flags: "json"},
				{use: "open --title T", short: "open an incident; you own the active phase unless --owner names someone",
					flags:   "json title severity service source confidential summary owner template",
					example: "quench incident open --title 'Checkout fails' --severity critical --service checkout"},
				{use: "advance N --note TEXT", short: "move an incident to its next phase", flags: "json note to override detection-improvement",
					example: "quench incident advance 3 --note 'rolled back the release'\nquench incident advance 3 --note 'documented' --detection-improvement 'alert on 5xx rate'"},
				{use: "reopen N --reason TEXT", short: "reopen an incident (also a cancelled one)", flags: "json reason"},
				{use: "merge N --into M --reason TEXT", short: "merge duplicate N into M", flags: "json into reason"},
				{use: "cancel N --reason TEXT", short: "cancel a false alarm (active or mitigated only)", flags: "json reason"},
				{use: "assign N USER", short: "make USER own a phase (USER - : nobody; default: the current phase)", flags: "json phase"},
				{use: "update N --body TEXT", short: "post an update (internal unless --public), or publish or withdraw one",
					flags:   "json body public publish withdraw",
					example: "quench incident update 3 --body 'Rollback started'\necho 'We are on it' | quench incident update 3 --body - --public\nquench incident update 3 --publish 7"},
				{use: "upload N FILE", short: "attach a file (internal unless --public)", flags: "json public"},
				{use: "check N --text TEXT", short: "add a checklist item, or tick (--done K) or untick (--undo K) one",
					flags: "json text phase owner done undo", example: "quench incident check 3 --text 'send missing messages' --phase resolved\nquench incident check 3 --done 1"},
				{use: "link N --url URL", short: "link a merge request, dashboard, runbook, …", flags: "json url kind title"},
				{use: "timeline N", short: "the incident's history", flags: "json"},
				{use: "publish N", short: "show the incident on the status page", flags: "json title"},
				{use: "unpublish N", short: "take the incident off the status page", flags: "json"},
			}},
		{name: "alert", aliases: []string{"alerts"}, short: "the alert inbox: list, declare, attach, ack, dismiss, snooze", define: alertCmd,
			usage: "alert list|declare|attach|ack|unack|dismiss|restore|snooze|snoozes|unsnooze",
			subs: []sub{
				{use: "list", short: "list alerts", flags: "json status unattached dismissed match limit",
					example: "quench alert list --status firing --unattached\nquench alert list --match 'service=\"checkout\"'"},
				{use: "declare ID [ID…]", short: "open an incident from alerts", flags: "json title severity"},
				{use: "attach INCIDENT ID [ID…]", short: "attach alerts to an incident", flags: "json"},
				{use: "ack ID [ID…]", short: "someone is on it", flags: "json"},
				{use: "dismiss ID [ID…] --reason TEXT", short: "not an incident, until it fires again", flags: "json reason"},
				{use: "unack ID [ID…]", short: "take an acknowledgement back", flags: "json"},
				{use: "restore ID [ID…]", short: "a dismissed alert waits in the inbox again", flags: "json"},
				{use: "snooze --match MATCHERS --for 2h", short: "new matching alerts open no incident meanwhile", flags: "json match for reason"},
				{use: "snoozes", short: "list snoozes", flags: "json"},
				{use: "unsnooze ID", short: "end a snooze", flags: "json"},
			}},
		{name: "template", aliases: []string{"templates"}, short: "checklist templates added to new incidents", define: templateCmd,
			usage: "template add|edit|list|remove",
			subs: []sub{
				{use: "add NAME --item 'PHASE: text'", short: "add a template (an admin token)", flags: "json item severity service",
					example: "quench template add postmortem --item 'resolved: add to incident log' --severity critical"},
				{use: "edit ID", short: "change a template's name, items, severity or service (an admin token)", flags: "json name item severity service",
					example: "quench template edit 1 --name postmortem --item 'resolved: add to incident log' --item 'resolved: book the review'"},
				{use: "list", short: "list templates", flags: "json"},
				{use: "remove ID", short: "remove a template (an admin token)", flags: "json"},
			}},
		{name: "channel", aliases: []string{"channels"}, short: "notification channels: slack, email, webhook (an admin token)", define: channelCmd,
			usage: "channel add|list|test|remove",
			subs: []sub{
				{use: "add --type slack|email|webhook --name NAME --audience team|public", short: "add a channel",
					flags:   "json type name url to audience events severity service label secret",
					example: "quench channel add --type slack --name ops --audience team --url https://hooks.slack.com/services/…"},
				{use: "list", short: "list channels", flags: "json"},
				{use: "test ID", short: "send a test message and wait for its outcome", flags: "json wait"},
				{use: "remove ID", short: "remove a channel", flags: "json"},
			}},
		{name: "delivery", aliases: []string{"deliveries"}, short: "messages to channels: pending, sent, failing, dead", define: deliveryCmd,
			usage: "delivery list|retry",
			subs: []sub{
				{use: "list", short: "list deliveries", flags: "json state incident channel limit", example: "quench delivery list --state failing,dead"},
				{use: "retry ID [ID…]", short: "send failed deliveries again", flags: "json"},
			}},
		{name: "component", aliases: []string{"components"}, short: "status page components (an admin token)", define: componentCmd,
			usage: "component add|list|remove",
			subs: []sub{
				{use: "add --name NAME --services S,…", short: "add a component", flags: "json name services description group position"},
				{use: "list", short: "list components", flags: "json"},
				{use: "remove ID", short: "remove a component", flags: "json"},
			}},
		{name: "maintenance", short: "scheduled maintenance on the status page", define: maintenanceCmd,
			usage: "maintenance add|list|remove",
			subs: []sub{
				{use: "add --title T --start RFC3339 --end RFC3339", short: "announce a maintenance window", flags: "json title start end component body"},
				{use: "list", short: "list maintenance windows", flags: "json"},
				{use: "remove ID", short: "remove a maintenance window", flags: "json"},
			}},
	}
}

func databaseGroups() []group {
	return []group{
		{name: "user", short: "accounts: add, list, passwd, disable, enable, role, link", define: userCmd,
			usage: "user add|list|passwd|disable|enable|role",
			subs: []sub{
				{use: "add NAME", short: "create a user and print its password (--init: create the database)",
					flags: "admin role password-stdin display-name email init", example: "quench user add --admin --init ana"},
				{use: "list", short: "list users"},
				{use: "passwd NAME", short: "set a new password; revokes the user's API tokens unless --keep-tokens", flags: "password-stdin keep-tokens"},
				{use: "disable NAME", short: "disable a user"},
				{use: "enable NAME", short: "enable a user"},
				{use: "role NAME ROLE", short: "make a user responder or admin"},
				{use: "link NAME --issuer URL --subject SUB", short: "link a single sign-on identity", flags: "issuer subject"},
			}},
		{name: "token", short: "API tokens: create, list, revoke", define: tokenCmd,
			usage: "token create|list|revoke",
			subs: []sub{
				{use: "create --user NAME --scopes read,write", short: "create a token and print it once", flags: "user scopes name expires",
					example: "quench token create --user ana --scopes read,write --name laptop --expires 720h"},
				{use: "list", short: "list tokens"},
				{use: "revoke ID", short: "revoke a token"},
			}},
		{name: "session", aliases: []string{"sessions"}, short: "browser sessions: list, revoke", define: sessionCmd,
			usage: "session list | revoke ID",
			subs: []sub{
				{use: "list", short: "list sessions", flags: "user"},
				{use: "revoke ID", short: "end a session"},
			}},
		{name: "integration", aliases: []string{"integrations"}, short: "alert sources: alertmanager, grafana, sentry, generic", define: integrationCmd,
			usage: "integration add|list|update|test|remove",
			subs: []sub{
				{use: "add --type alertmanager|grafana|sentry|generic --name NAME", short: "add an integration and print its URL and token", flags: "type name secret",
					example: "quench integration add --type alertmanager --name prod"},
				{use: "list", short: "list integrations"},
				{use: "update ID --secret-file FILE", short: "change an integration's secret", flags: "secret-file"},
				{use: "test ID|NAME", short: "a test alert through the intake and the rules", flags: "severity"},
				{use: "remove ID", short: "remove an integration"},
			}},
		{name: "heartbeat", aliases: []string{"heartbeats"}, short: "check-in URLs for cron jobs; a missed one fires an alert", define: heartbeatCmd,
			usage: "heartbeat add|list|edit|rotate|remove",
			subs: []sub{
				{use: "add NAME --period 1h", short: "add a heartbeat and print its ping URL once", flags: "period grace label",
					example: "quench heartbeat add nightly-backup --period 24h --grace 30m --label team=db"},
				{use: "list", short: "list heartbeats"},
				{use: "edit ID|NAME", short: "change name, period, grace or labels; the deadline follows the last ping", flags: "name period grace label no-labels",
					example: "quench heartbeat edit nightly-backup --period 2h --grace 15m"},
				{use: "rotate ID|NAME", short: "a new ping URL, shown once; the old one stops working"},
				{use: "remove ID|NAME", short: "remove a heartbeat"},
			}},
		{name: "rule", aliases: []string{"rules"}, short: "what alerts do: open, attach or wait in the inbox", define: ruleCmd,
			usage: "rule add|list|remove",
			subs: []sub{
				{use: "add --action open|attach|inbox", short: "add a rule", flags: "action match position name integration severity visibility",
					example: "quench rule add --action open --match 'severity=\"critical\"'"},
				{use: "list", short: "list rules in order"},
				{use: "remove ID", short: "remove a rule"},
			}},
	}
}

var benchGroup = group{name: "bench", short: "measure intake, sign-in, memory, notifications, the status page",
	usage: benchUsage,
	subs: []sub{
		{use: "intake", short: "durable intake: Alertmanager webhooks from concurrent senders", flags: "*"},
		{use: "signin", short: "sign-ins per second", flags: "*"},
		{use: "memory", short: "the server's memory with many alerts", flags: "*"},
		{use: "notify", short: "notification throughput through the outbox", flags: "*"},
		{use: "status", short: "the status page under load", flags: "*"},
		{use: "serve", short: "the server bench notify starts (internal)", flags: "*"},
	}}

var benchDefine = map[string]func(*pflag.FlagSet) runner{
	"intake": benchIntake, "signin": benchSignIn, "memory": benchMemory, "notify": benchNotify, "status": benchStatus, "serve": benchServe,
}

// newRoot builds the command tree for one run.
func newRoot(ctx context.Context, cfg config.Config, cfgErr error, env Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "quench",
		Short: "incident management for small service teams",
		Args:  cobra.ArbitraryArgs,
		// Errors are printed by Run, with the exit status it chooses.
		SilenceErrors: true, SilenceUsage: true, SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				fmt.Fprint(env.Stderr, overview(cmd))
				return errShown
			}
			fmt.Fprintf(env.Stderr, "quench: unknown command %q\n", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				// A near miss: the suggestion is all it takes.
				fmt.Fprintf(env.Stderr, "did you mean: quench %s\n", strings.Join(s, ", "))
				return errShown
			}
			fmt.Fprintf(env.Stderr, "\n%s", overview(cmd))
			return errShown
		},
	}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		// `invalid argument "x" for "--senders" flag`, without the parser's
		// strconv.ParseInt detail.
		msg, _, _ := strings.Cut(err.Error(), ": strconv.")
		return usageErr("%s", msg)
	})
	for _, g := range groups {
		root.AddGroup(&cobra.Group{ID: g.id, Title: g.title})
	}
	root.SetHelpCommandGroupID(groupServer)
	root.SetCompletionCommandGroupID(groupServer)
	defaultHelp := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		if c == root {
			fmt.Fprint(env.Stdout, overview(root))
			return
		}
		defaultHelp(c, args)
	})

	run := func(r runner, prefix ...string) func(*cobra.Command, []string) error {
		return func(_ *cobra.Command, args []string) error {
			return r(ctx, cfg, env, append(slices.Clone(prefix), args...))
		}
	}
	single := func(groupID, use, short string, r runner, example string) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, GroupID: groupID, Args: cobra.ArbitraryArgs, RunE: run(r), Example: indent(example)}
	}
	withFlags := func(define func(*pflag.FlagSet) runner, groupID, use, short, example string, prefix ...string) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, GroupID: groupID, Args: cobra.ArbitraryArgs, Example: indent(example)}
		c.RunE = run(define(c.Flags()), prefix...)
		return c
	}

	for _, g := range clientGroups() {
		// Every client command, templates and onboarding included, needs
		// QUENCH_TOKEN, not the database.
		c := g.command(groupRespond, run)
		if g.name == "incident" {
			for _, sub := range c.Commands() {
				if strings.Contains(sub.Use, " N") {
					sub.ValidArgsFunction = incidentNumbers(ctx, cfg)
				}
			}
		}
		root.AddCommand(c)
	}
	for _, g := range databaseGroups() {
		root.AddCommand(g.command(groupSetup, run))
	}
	root.AddCommand(
		withFlags(meCmd, groupRespond, "me", "your e-mail, name and whether incidents e-mail you", "quench me --email ana@example.com --notify-email=true", "me"),
		withFlags(reviewCmd, groupRespond, "review", "the weekly review's agenda as Markdown", "quench review --since 2026-11-23"),
		withFlags(logCmd, groupRespond, "log", "the incident log: Markdown, CSV or JSON", "quench log --format csv --from 2026-01-01 > incidents.csv"),
		withFlags(onboardCmd, groupRespond, "onboard SERVICE", "Alertmanager receiver and Prometheus rules for a service (an admin token)",
			"quench onboard checkout --namespace shop --write ./monitoring"),
		withFlags(auditCmd, groupSetup, "audit", "the audit log, newest first", ""),
		single(groupServer, "serve", "run the server", func(ctx context.Context, cfg config.Config, env Env, _ []string) error { return serve(ctx, cfg, env) }, ""),
		single(groupServer, "migrate", "apply database migrations", func(ctx context.Context, cfg config.Config, env Env, _ []string) error { return migrate(ctx, cfg, env) }, ""),
		single(groupServer, "backup FILE|-", "SQLite: a consistent copy, attachments included, while serving (- : stdout)", backup, "quench backup /var/backups/quench.db"),
		single(groupServer, "restore FILE|-", "SQLite: put a backup into an empty QUENCH_DATA_DIR (- : stdin)", restore, ""),
		single(groupServer, "config check", "print the effective configuration (secrets redacted), fail on a bad setting",
			func(_ context.Context, cfg config.Config, env Env, args []string) error {
				return configCmd(cfg, cfgErr, env, args)
			}, ""),
		single(groupServer, "healthcheck [URL]", "exit 0 when the server's /healthz answers (for a container HEALTHCHECK)", healthcheck, ""),
		single(groupServer, "version", "print the version", func(_ context.Context, _ config.Config, env Env, _ []string) error { return versionCmd(env) }, ""),
	)
	bench := benchGroup.command(groupServer, run)
	for _, c := range bench.Commands() {
		c.RunE = run(benchDefine[c.Name()](c.Flags()), c.Name())
		if c.Name() == "serve" {
			c.Hidden = true
		}
	}
	root.AddCommand(bench)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Short = "a command's help: quench help incident is quench incident --help"
		case "completion":
			c.Short = "print a completion script: bash, zsh, fish, powershell"
		}
	}
	return root
}

// actionable names, per incident subcommand, the incidents it can act on,
// as queries of GET /api/v1/incidents (a phase filter keeps live
// incidents only); the others offer the live ones (neither merged nor
// cancelled). A closed incident can only be reopened, a merged one not
// even that, and only an active or mitigated one can be cancelled.
var actionable = map[string][]string{
	"advance": {"phase=active,mitigated,resolved"},
	"merge":   {"phase=active,mitigated,resolved"},
	"cancel":  {"phase=active,mitigated"},
	"reopen":  {"phase=mitigated,resolved,closed", "state=cancelled"},
}

// incidentNumbers completes an incident's number with the newest
// incidents the command can act on that the token may read, each with its
// phase and title; without a server or a token it offers nothing rather
// than file names.
func incidentNumbers(ctx context.Context, cfg config.Config) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			if cmd.Name() == "upload" && len(args) == 1 {
				return nil, cobra.ShellCompDirectiveDefault // the file
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		queries, ok := actionable[cmd.Name()]
		if !ok {
			queries = []string{"state=live"}
		}
		var found []service.IncidentJSON
		for _, q := range queries {
			var page struct {
				Incidents []service.IncidentJSON `json:"incidents"`
			}
			if err := newClient(cfg).do(ctx, "GET", "/api/v1/incidents?"+q+"&limit=50", nil, &page); err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			found = append(found, page.Incidents...)
		}
		slices.SortFunc(found, func(a, b service.IncidentJSON) int { return cmp.Compare(b.Number, a.Number) })
		var out []cobra.Completion
		for _, inc := range found {
			state := string(inc.Phase)
			if inc.EndState != nil {
				state = string(*inc.EndState)
			}
			if n := strconv.FormatInt(inc.Number, 10); strings.HasPrefix(n, strings.TrimPrefix(toComplete, "#")) {
				out = append(out, cobra.CompletionWithDesc(n, state+": "+inc.Title))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// command builds a group's cobra command and its subcommands.
func (g group) command(groupID string, run func(runner, ...string) func(*cobra.Command, []string) error) *cobra.Command {
	parent := &cobra.Command{
		Use: g.name, Aliases: g.aliases, Short: g.short, GroupID: groupID, Args: cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("unknown %s command %q; %s", g.name, args[0], g.usage)
			}
			return usageErr("%s", g.usage)
		},
	}
	// A group runs only to say which subcommands it has: its usage shows
	// `quench incident [command]` alone; the subcommands keep cobra's.
	usage := parent.UsageTemplate()
	parent.SetUsageTemplate(strings.Replace(usage, "{{if .Runnable}}\n  {{.UseLine}}{{end}}", "", 1))
	for _, s := range g.subs {
		c := &cobra.Command{Use: s.use, Short: s.short, Aliases: s.aliases, Args: cobra.ArbitraryArgs, Example: indent(s.example)}
		c.SetUsageTemplate(usage)
		if g.define != nil {
			c.RunE = run(g.define(c.Flags()), c.Name())
			shown := strings.Fields(s.flags)
			if s.flags != "*" {
				c.Flags().VisitAll(func(f *pflag.Flag) {
					if !slices.Contains(shown, f.Name) {
						f.Hidden = true
					}
				})
			}
		}
		parent.AddCommand(c)
	}
	return parent
}

// indent puts a command's examples under the "Examples:" heading.
func indent(example string) string {
	if example == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(example, "\n", "\n  ")
}

// overview is `quench help`: every top-level command once, by group, one
// line each; `quench COMMAND --help` has the rest.
func overview(root *cobra.Command) string {
	var b strings.Builder
	b.WriteString("quench: incident management for small service teams\n")
	b.WriteString("Usage: quench COMMAND [SUBCOMMAND] [ARGUMENTS] [--flags]\n")
	b.WriteString("       quench COMMAND --help     its subcommands, flags and examples\n")
	for _, g := range groups {
		fmt.Fprintf(&b, "\n%s\n", g.title)
		for _, c := range root.Commands() {
			if c.GroupID != g.id || c.Hidden {
				continue
			}
			fmt.Fprintf(&b, "  %-12s %s\n", c.Name(), c.Short)
		}
	}
	return b.String()
}
