package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/build"
	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/crash"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/jobs"
	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/notify/email"
	"github.com/quenchhq/quench/internal/oidc"
	"github.com/quenchhq/quench/internal/server"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/web"
)

// openStore opens the configured database. With migrate (serve) it brings
// the schema up to date; without (every maintenance command) it refuses a
// schema other than this binary's, so a newer quench run for a chore never
// upgrades the schema under a running older server.
func openStore(ctx context.Context, cfg config.Config, env Env, migrate bool) (*store.Store, error) {
	if !migrate && cfg.DatabaseURL == "" {
		if err := needDatabase(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	log := newLogger(cfg, env.Stderr)
	st, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Synchronous: cfg.Synchronous, Log: log})
	if err != nil {
		return nil, err
	}
	if migrate {
		_, err = st.Migrate(ctx)
	} else {
		err = st.CheckSchema(ctx)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// needDatabase refuses a data folder without a database: a maintenance
// command run in the wrong folder would otherwise create a second, empty
// database there and change nothing the server sees.
func needDatabase(dataDir string) error {
	path := filepath.Join(dataDir, "quench.db")
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return fmt.Errorf("no Quench database at %s: run this where `quench serve` runs, or set QUENCH_DATA_DIR (or QUENCH_DATABASE_URL) to the server's; `quench migrate` (or `user add --init`) creates a new one there", abs)
}

// serveGCPercent is the server's GOGC unless the environment sets one.
const serveGCPercent = 150

func serve(ctx context.Context, cfg config.Config, env Env) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	// Garbage collection at Go's default pace (GOGC=100) took a fifth of
	// the server's CPU under an alert storm, and every CPU second spent on
	// it is one the senders and the writer wait for. GOGC=150 runs a third
	// fewer collections for about 5 MiB more at peak in `quench bench
	// intake` (docs/benchmarks.md). GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	log := newLogger(cfg, env.Stderr)
	info := build.Read()
	// Panics and the causes of 500s are logged at ERROR; with SENTRY_DSN
	// they go to Sentry too, and whatever is queued is sent before exit.
	reports, err := crash.New(crash.Options{DSN: cfg.SentryDSN, Environment: cfg.SentryEnvironment, Release: "quench@" + info.Version})
	if err != nil {
		return err
	}
	defer reports.Flush(5 * time.Second)
	log = slog.New(reports.Handler(log.Handler()))
	log.Info("starting quench", "version", info.Version, "revision", info.Revision, "go", info.GoVersion, "config", cfg.Redacted(),
		"error_reports", reports.Enabled())
	st, err := openStore(ctx, cfg, env, true)
	if err != nil {
		return err
	}
	defer st.Close()
	guard, err := notify.NewGuard(cfg.OutboundAllow)
	if err != nil {
		return fmt.Errorf("QUENCH_OUTBOUND_ALLOW: %w", err)
	}
	svc := service.New(st, service.Options{Log: log, PrivateInstance: !cfg.PublicViewing, BaseURL: cfg.BaseURL,
		Email: cfg.SMTP.Enabled(), Guard: guard, Nudges: nudges(cfg)})
	created := false
	if cfg.AdminUser != "" {
		if created, err = svc.EnsureAdmin(ctx, cfg.AdminUser, cfg.AdminPassword); err != nil {
			return fmt.Errorf("create admin %s: %w", cfg.AdminUser, err)
		}
	}
	users, err := svc.CountUsers(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	where := "SQLite in " + cfg.DataDir
	if st.Dialect() == store.Postgres {
		where = "PostgreSQL"
	}
	fmt.Fprintf(env.Stdout, "Quench is running at %s (%s).\n", cfg.BaseURL, where)
	login := cfg.BaseURL + "/login"
	switch {
	case created:
		fmt.Fprintf(env.Stdout, "Sign in at %s as %s with the password from QUENCH_ADMIN_PASSWORD.\n", login, cfg.AdminUser)
	case users == 0:
		fmt.Fprintf(env.Stdout, "No users yet. Create the first admin with: quench user add --admin NAME  (it prints a password), then sign in at %s\n", login)
	default:
		fmt.Fprintf(env.Stdout, "Sign in at %s. For the CLI and scripts: quench token create --user NAME --scopes read,write\n", login)
	}
	var sso web.SSO
	if oc, ok, err := oidc.ConfigFromEnv(env.Getenv, cfg.BaseURL); err != nil {
		return err
	} else if ok {
		p, err := oidc.New(ctx, oc)
		if err != nil {
			return err
		}
		sso = p
		log.Info("single sign-on", "issuer", oc.Issuer)
	}
	reg := prometheus.NewRegistry()
	h, err := server.New(svc, server.Options{Log: log, BaseURL: cfg.BaseURL, Registry: reg, SSO: sso, TrustedProxies: cfg.TrustedProxies})
	if err != nil {
		return err
	}
	ctx, stop := signalContext(ctx)
	defer stop()
	// Background loops end with ctx; waited for before the store closes,
	// so their leases are given up for the other replicas.
	var loops sync.WaitGroup
	defer func() { stop(); loops.Wait() }()
	// Live pages hear of changes made on other replicas (PostgreSQL).
	svc.EnableChangeFeed()
	loops.Go(func() { svc.RunChangeFeed(ctx) })
	// Periodic jobs run on one replica at a time (jobs.Leases).
	leases := jobs.NewLeases(svc, log)
	loops.Go(func() { jobs.Retention(ctx, svc, log, leases, time.Hour) })
	loops.Go(func() { jobs.Nudges(ctx, svc, log, leases, time.Minute) })
	loops.Go(func() { jobs.ReviewAgenda(ctx, svc, log, leases, time.Minute) })
	// Each due heartbeat is claimed in the transaction that fires it, so
	// every replica may check.
	loops.Go(func() { jobs.Heartbeats(ctx, svc, log, jobs.HeartbeatCheckEvery) })
	outbox := jobs.NewOutbox(svc, log, jobs.ChannelNotifiers(guard.Client(notify.AttemptTimeout), smtpConfig(cfg.SMTP)),
		jobs.NewOutboxMetrics(reg, svc))
	outboxDone := make(chan struct{})
	go func() { defer close(outboxDone); outbox.Run(ctx) }()
	defer func() { stop(); <-outboxDone }()
	log.Info("listening", "addr", ln.Addr().String())
	err = server.Serve(ctx, ln, h, log, cfg.ShutdownTimeout)
	log.Info("stopped")
	return err
}

// nudges turns the configured thresholds into the service's.
func nudges(cfg config.Config) service.Nudges {
	n := service.Nudges{Unowned: cfg.UnownedAfter, Stuck: map[incident.Phase]time.Duration{}}
	for ph, d := range cfg.StuckAfter {
		n.Stuck[incident.Phase(ph)] = d
	}
	return n
}

func smtpConfig(s config.SMTP) email.Config {
	return email.Config{Host: s.Host, Port: s.Port, Username: s.Username, Password: s.Password, From: s.From, TLS: s.TLS}
}

func migrate(ctx context.Context, cfg config.Config, env Env) error {
	st, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Synchronous: cfg.Synchronous, Log: newLogger(cfg, env.Stderr)})
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	cur, _, _ := st.SchemaVersion(ctx)
	fmt.Fprintf(env.Stdout, "applied %d migration(s); schema version %d\n", n, cur)
	return nil
}

// withService runs fn with a service on the configured database, acting as
// the operator: these commands need shell access to the server, not a token.
// The schema must already be this binary's: `quench migrate` or
// `quench serve` put it there.
func withService(ctx context.Context, cfg config.Config, env Env, fn func(*service.Service) error) error {
	return withServiceInit(ctx, cfg, env, false, fn)
}

// withServiceInit is withService that, with init, creates the database
// if the data folder holds none; an existing one is never migrated.
func withServiceInit(ctx context.Context, cfg config.Config, env Env, init bool, fn func(*service.Service) error) error {
	create := init && cfg.DatabaseURL == "" && needDatabase(cfg.DataDir) != nil
	st, err := openStore(ctx, cfg, env, create)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(service.New(st, service.Options{Log: newLogger(config.Config{LogLevel: "warn", LogFormat: "text"}, env.Stderr)}))
}

func readPassword(env Env, fromStdin bool) (pw string, generated bool, err error) {
	if !fromStdin {
		return auth.NewSecret("")[:20], true, nil
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", false, fmt.Errorf("read password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), false, nil
}

func userCmd(fs *pflag.FlagSet) runner {
	admin := fs.Bool("admin", false, "make the user an admin")
	role := fs.String("role", "responder", "responder or admin")
	pwStdin := fs.Bool("password-stdin", false, "read the password from stdin")
	display := fs.String("display-name", "", "display name")
	email := fs.String("email", "", "e-mail address")
	issuer := fs.String("issuer", "", "identity provider issuer (user link)")
	subject := fs.String("subject", "", "subject at the identity provider (user link)")
	keepTokens := fs.Bool("keep-tokens", false, "passwd: leave the user's API tokens alive (default: revoke them)")
	initDB := fs.Bool("init", false, "add: create the database if the data folder holds none")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args[1:]
		need := func(n int) error {
			if len(pos) != n {
				return usageErr("user %s takes %d argument(s)", args[0], n)
			}
			return nil
		}
		if *initDB && args[0] != "add" {
			return usageErr("--init is for user add")
		}
		return withServiceInit(ctx, cfg, env, *initDB, func(svc *service.Service) error {
			switch args[0] {
			case "add":
				if err := need(1); err != nil {
					return err
				}
				r := auth.Role(*role)
				if *admin {
					r = auth.RoleAdmin
				}
				pw, generated, err := readPassword(env, *pwStdin)
				if err != nil {
					return err
				}
				u, err := svc.CreateUser(ctx, service.System, service.NewUser{Username: pos[0], Role: r, Password: pw, DisplayName: *display, Email: *email})
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "created %s %s\n", u.Role, u.Username)
				if generated {
					fmt.Fprintf(env.Stdout, "password: %s\n", pw)
				}
				return nil
			case "list":
				users, err := svc.Users(ctx, service.System)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "USER\tROLE\tSTATUS\tNAME\tCREATED")
				for _, u := range users {
					status := "enabled"
					if u.Disabled {
						status = "disabled"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Username, u.Role, status, u.DisplayName, u.CreatedAt.Format(time.DateOnly))
				}
				return tw.Flush()
			case "passwd":
				if err := need(1); err != nil {
					return err
				}
				pw, generated, err := readPassword(env, *pwStdin)
				if err != nil {
					return err
				}
				if _, err := svc.UpdateUser(ctx, service.System, pos[0], service.UserPatch{Password: &pw, KeepTokens: *keepTokens}); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "password of %s changed; sessions ended", pos[0])
				if !*keepTokens {
					fmt.Fprint(env.Stdout, ", API tokens revoked")
				}
				fmt.Fprintln(env.Stdout)
				if generated {
					fmt.Fprintf(env.Stdout, "password: %s\n", pw)
				}
				return nil
			case "disable", "enable":
				if err := need(1); err != nil {
					return err
				}
				disabled := args[0] == "disable"
				if _, err := svc.UpdateUser(ctx, service.System, pos[0], service.UserPatch{Disabled: &disabled}); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "%s %sd\n", pos[0], args[0])
				return nil
			case "link":
				if err := need(1); err != nil {
					return err
				}
				if *issuer == "" || *subject == "" {
					return usageErr("user link NAME --issuer URL --subject SUB")
				}
				if err := svc.LinkIdentity(ctx, service.System, pos[0], *issuer, *subject); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "%s now signs in as %s at %s\n", pos[0], *subject, *issuer)
				return nil
			case "role":
				if err := need(2); err != nil {
					return err
				}
				r := auth.Role(pos[1])
				if _, err := svc.UpdateUser(ctx, service.System, pos[0], service.UserPatch{Role: &r}); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "%s is now %s\n", pos[0], r)
				return nil
			}
			return usageErr("unknown user command %q", args[0])
		})
	}
}

func tokenCmd(fs *pflag.FlagSet) runner {
	user := fs.String("user", "", "owner of the token")
	scopes := fs.String("scopes", "", "comma-separated: read, write, ingest, admin")
	name := fs.String("name", "", "label to recognise the token by")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h (default: no expiry)")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args[1:]
		return withService(ctx, cfg, env, func(svc *service.Service) error {
			switch args[0] {
			case "create":
				if *user == "" || *scopes == "" || len(pos) > 0 {
					return usageErr("token create --user NAME --scopes read,write[,ingest,admin] [--name LABEL] [--expires 720h]")
				}
				sc, err := auth.ParseScopes(*scopes)
				if err != nil {
					return err
				}
				if *name == "" {
					*name = "cli"
				}
				secret, _, err := svc.CreateToken(ctx, service.System, service.NewToken{Username: *user, Name: *name, Scopes: sc, TTL: *expires})
				if err != nil {
					return err
				}
				fmt.Fprintln(env.Stdout, secret)
				return nil
			case "list":
				tokens, err := svc.Tokens(ctx, service.System)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSER\tNAME\tSCOPES\tCREATED\tLAST USED\tSTATUS")
				for _, t := range tokens {
					status := "active"
					switch {
					case !t.RevokedAt.IsZero():
						status = "revoked"
					case !t.ExpiresAt.IsZero() && time.Now().After(t.ExpiresAt):
						status = "expired"
					case !t.ExpiresAt.IsZero():
						status = "expires " + t.ExpiresAt.Format(time.DateOnly)
					}
					used := "never"
					if !t.LastUsedAt.IsZero() {
						used = t.LastUsedAt.Format(time.DateTime)
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Username, t.Name, auth.JoinScopes(t.Scopes), t.CreatedAt.Format(time.DateOnly), used, status)
				}
				return tw.Flush()
			case "revoke":
				if len(pos) != 1 {
					return usageErr("token revoke ID")
				}
				id, err := strconv.ParseInt(pos[0], 10, 64)
				if err != nil {
					return usageErr("token ID must be a number")
				}
				if err := svc.RevokeToken(ctx, service.System, id); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "token %d revoked\n", id)
				return nil
			}
			return usageErr("unknown token command %q", args[0])
		})
	}
}
