// Package cli is the quench command: the server and its maintenance
// commands, which open the configured database directly, and the client
// commands, which use the JSON API with QUENCH_URL and QUENCH_TOKEN.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/problem"
)

// Env is the process's outside world, replaceable in tests.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

const usage = `quench: incident management for small service teams

Server and maintenance (use QUENCH_DATA_DIR or QUENCH_DATABASE_URL):
  quench serve                      run the server
  quench migrate                    apply database migrations
  quench user add [--admin] [--init] NAME   create a user, print its password (--init: create the database)
  quench user list | passwd [--keep-tokens] NAME | disable NAME | enable NAME | role NAME ROLE
  quench user link NAME --issuer URL --subject SUB   (single sign-on identity)
  quench token create --user NAME --scopes read,write [--name LABEL] [--expires 720h]
  quench token list | revoke ID
  quench session list [--user NAME] | revoke ID
  quench audit [--limit 50] [--json]
  quench integration add --type alertmanager|grafana|sentry|generic --name NAME [--secret S]
  quench integration list | remove ID | update ID --secret-file FILE
  quench integration test ID|NAME [--severity critical|warning]   (a test alert through the intake and the rules)
  quench heartbeat add NAME --period 1h [--grace 10m] [--label k=v]…   (prints the ping URL once)
  quench heartbeat list | remove ID|NAME
  quench heartbeat edit ID|NAME [--name N] [--period 2h] [--grace 10m] [--label k=v]… [--no-labels]   (the deadline follows the last ping)
  quench heartbeat rotate ID|NAME                      (a new ping URL, shown once; the old one stops working)
  quench rule add --action open|attach|inbox [--match 'severity="critical"'] [--position N]
  quench rule list | remove ID
  quench backup FILE|-              SQLite: a consistent copy, attachments included, while serving (- : stdout)
  quench restore FILE|-             SQLite: put a backup into an empty QUENCH_DATA_DIR (- : stdin)
  quench config check               print the effective configuration (secrets redacted), fail on a bad setting
  quench healthcheck [URL]          exit 0 when the server's /healthz answers (for container HEALTHCHECK)

Client (QUENCH_TOKEN; the server at QUENCH_URL, else QUENCH_BASE_URL, else QUENCH_ADDR; --json for scripts):
  quench incident list [--phase P] [--state live|ended|merged|cancelled] [--service S] [--owner U] [--q TEXT]
  quench incident show N                               (owners, checklist, updates, links, files, alerts)
  quench incident open --title T [--severity S] [--service S] [--source SRC] [--confidential] [--summary TEXT]
                       [--owner U] [--template NAME|none]   (you own the active phase unless --owner names someone)
  quench incident advance N --note TEXT [--override] [--detection-improvement TEXT]
  quench incident reopen N --reason TEXT              (also reopens a cancelled incident)
  quench incident merge N --into M --reason TEXT      (N is a duplicate of M)
  quench incident cancel N --reason TEXT              (a false alarm; active or mitigated only)
  quench incident assign N USER [--phase P]            (USER - : nobody; default: the current phase)
  quench incident update N --body TEXT [--public]      (--body - reads stdin)
  quench incident update N --publish ID | --withdraw ID
  quench incident upload N FILE [--public]
  quench incident check N --text TEXT [--phase P] [--owner U]
  quench incident check N --done K | --undo K          (K: the item's number on the incident, from 1)
  quench incident link N --url URL [--kind K] [--title T]
  quench incident timeline N
  quench incident publish N [--title "customer-facing title"] | unpublish N
  quench alert list [--status firing|resolved] [--unattached] [--dismissed true|any] [--match MATCHERS]
  quench alert declare ID [ID…] [--title T] [--severity S]
  quench alert attach INCIDENT ID [ID…]
  quench alert ack ID [ID…]                            (someone is on it)
  quench alert dismiss ID [ID…] --reason TEXT          (not an incident, until it fires again)
  quench alert unack ID [ID…]                          (take an acknowledgement back)
  quench alert restore ID [ID…]                        (a dismissed alert waits in the inbox again)
  quench alert snooze --match MATCHERS --for 2h [--reason TEXT]   (new matching alerts open no incident meanwhile)
  quench alert snoozes | unsnooze ID
  quench template add NAME --item 'resolved: add to incident log' [--item …] [--severity S] [--service S]
  quench template list | remove ID                      (checklist templates; adding and removing needs an admin token)
  quench channel add --type slack|email|webhook --name NAME --audience team|public (--url URL | --to ADDR,…)
                     [--events E,…] [--severity S] [--service S] [--label 'team="db"'] [--secret whsec_…]
  quench channel list | test ID | remove ID            (an admin token)
  quench delivery list [--state failing,dead] [--incident N] [--channel ID] | retry ID [ID…]
  quench onboard SERVICE [--namespace NS] [--runbook-base URL] [--write DIR]   (admin token; Alertmanager + Prometheus rules)
  quench me [--email ADDR] [--notify-email=true|false] [--name NAME]
  quench review [--since DATE] [--until DATE] [--json]   (the weekly review's agenda as Markdown)
  quench log [--format md|csv|json] [--from DATE] [--to DATE] [--service S] [--severity S] [--phase P] [--source SRC]
  quench component add --name NAME --services S,… [--description TEXT] [--group G] [--position N]
  quench component list | remove ID                      (an admin token)
  quench maintenance add --title T --start RFC3339 --end RFC3339 [--component ID,…] [--body TEXT]
  quench maintenance list | remove ID
  quench bench intake [--senders 16] [--batches 1,10] [--duration 10s] [--alertmanager URL]
  quench bench signin [--clients 200] [--duration 10s]
  quench bench memory [--alerts 1000000] [--batch 10] [--settle 5s]
  quench bench notify [--rates 100,1000] [--duration 10s] [--alertmanager URL --alertmanager-receiver ADDR [--alertmanager-pid PID]]
  quench bench status [--clients 16] [--duration 10s] [--incidents 1000] [--components 50]
  quench version
`

// errUsage marks mistakes in the command line (exit status 2).
var errUsage = errors.New("usage")

// Run executes one command and returns the exit status.
func Run(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return 2
	}
	// Every command's output ends with a newline, even the server's JSON
	// printed as it came (--json) or an export without one; a backup
	// written to stdout is a database file, left as it is.
	if args[0] != "backup" {
		stdout := &lastByte{w: env.Stdout}
		env.Stdout = stdout
		defer stdout.finish()
	}
	cfg, err := config.FromEnv(env.Getenv)
	if err != nil && args[0] != "config" {
		fmt.Fprintf(env.Stderr, "quench: configuration: %v\n", err)
		return 2
	}
	var cmdErr error
	switch args[0] {
	case "serve":
		cmdErr = serve(ctx, cfg, env)
	case "migrate":
		cmdErr = migrate(ctx, cfg, env)
	case "user":
		cmdErr = userCmd(ctx, cfg, env, args[1:])
	case "token":
		cmdErr = tokenCmd(ctx, cfg, env, args[1:])
	case "incident", "incidents":
		cmdErr = incidentCmd(ctx, cfg, env, args[1:])
	case "integration", "integrations":
		cmdErr = integrationCmd(ctx, cfg, env, args[1:])
	case "heartbeat", "heartbeats":
		cmdErr = heartbeatCmd(ctx, cfg, env, args[1:])
	case "rule", "rules":
		cmdErr = ruleCmd(ctx, cfg, env, args[1:])
	case "alert", "alerts":
		cmdErr = alertCmd(ctx, cfg, env, args[1:])
	case "session", "sessions":
		cmdErr = sessionCmd(ctx, cfg, env, args[1:])
	case "audit":
		cmdErr = auditCmd(ctx, cfg, env, args[1:])
	case "template", "templates":
		cmdErr = templateCmd(ctx, cfg, env, args[1:])
	case "channel", "channels":
		cmdErr = channelCmd(ctx, cfg, env, args[1:])
	case "delivery", "deliveries":
		cmdErr = deliveryCmd(ctx, cfg, env, args[1:])
	case "me":
		cmdErr = meCmd(ctx, cfg, env, args)
	case "onboard":
		cmdErr = onboardCmd(ctx, cfg, env, args[1:])
	case "review":
		cmdErr = reviewCmd(ctx, cfg, env, args[1:])
	case "log":
		cmdErr = logCmd(ctx, cfg, env, args[1:])
	case "component", "components":
		cmdErr = componentCmd(ctx, cfg, env, args[1:])
	case "maintenance":
		cmdErr = maintenanceCmd(ctx, cfg, env, args[1:])
	case "bench":
		cmdErr = benchCmd(ctx, cfg, env, args[1:])
	case "backup":
		cmdErr = backup(ctx, cfg, env, args[1:])
	case "restore":
		cmdErr = restore(ctx, cfg, env, args[1:])
	case "config":
		cmdErr = configCmd(cfg, err, env, args[1:])
	case "healthcheck":
		cmdErr = healthcheck(ctx, cfg, env, args[1:])
	case "version", "--version":
		cmdErr = versionCmd(env)
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
	default:
		fmt.Fprintf(env.Stderr, "quench: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case cmdErr == nil:
		return 0
	case errors.Is(cmdErr, errUsage):
		fmt.Fprintf(env.Stderr, "quench: %v\n", cmdErr)
		return 2
	default:
		fmt.Fprintf(env.Stderr, "quench: %s\n", message(cmdErr))
		return 1
	}
}

// message is the client-safe text of an error.
func message(err error) string {
	if p, ok := problem.As(err); ok {
		return p.Message
	}
	return err.Error()
}

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

// parse parses flags that may come before, between or after positional
// arguments (`incident show 4 --json`), returning the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageErr("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// lastByte remembers the last byte written, to end the output with a
// newline.
type lastByte struct {
	w    io.Writer
	last byte
}

func (l *lastByte) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.last = p[len(p)-1]
	}
	return l.w.Write(p)
}

func (l *lastByte) finish() {
	if l.last != 0 && l.last != '\n' {
		l.w.Write([]byte{'\n'})
	}
}
