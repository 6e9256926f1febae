// Package cli is the quench command: the server and its maintenance
// commands, which open the configured database directly, and the client
// commands, which use the JSON API with QUENCH_URL and QUENCH_TOKEN.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

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

// errUsage marks mistakes in the command line (exit status 2).
var errUsage = errors.New("usage")

// errShown is a usage mistake whose message is already printed.
var errShown = errors.New("shown")

// runner runs one command with its positional arguments; a subcommand's
// runner gets the subcommand's name first (`show`, `4`). Flags are
// defined before it runs, on the cobra command's flag set.
type runner func(ctx context.Context, cfg config.Config, env Env, args []string) error

// Run executes one command and returns the exit status.
func Run(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, overview(newRoot(ctx, config.Config{}, nil, env)))
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
	// Help and completion need no configuration; `config check` reports it.
	helpOnly := args[0] == "help" || slices.Contains(args, "--help") || slices.Contains(args, "-h")
	if err != nil && !helpOnly && !slices.Contains([]string{"config", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd}, args[0]) {
		fmt.Fprintf(env.Stderr, "quench: configuration: %v\n", err)
		return 2
	}
	if args[0] == "--version" {
		args = []string{"version"}
	}
	root := newRoot(ctx, cfg, err, env)
	root.SetArgs(goFlags(root, args))
	cmdErr := root.Execute()
	switch {
	case cmdErr == nil:
		return 0
	case errors.Is(cmdErr, errShown):
		return 2
	case errors.Is(cmdErr, errUsage):
		fmt.Fprintf(env.Stderr, "quench: %v\n", cmdErr)
		return 2
	default:
		fmt.Fprintf(env.Stderr, "quench: %s\n", message(cmdErr))
		return 1
	}
}

// goFlags rewrites the single-dash long flags the standard flag package
// accepted (`-json`, `-limit=5`) into the double-dash form, so scripts
// written for the hand-made parser keep working. Only names the command
// defines are rewritten, and never a flag's value.
func goFlags(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil {
		return args
	}
	out := slices.Clone(args)
	for i := 0; i < len(out); i++ {
		a := out[i]
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "--") {
			name, _, hasValue := strings.Cut(a[2:], "=")
			if f := cmd.Flags().Lookup(name); f != nil && !hasValue && f.NoOptDefVal == "" {
				i++ // its value
			}
			continue
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		name, _, hasValue := strings.Cut(a[1:], "=")
		if name == "help" {
			out[i] = "--help"
			continue
		}
		f := cmd.Flags().Lookup(name)
		if f == nil {
			continue
		}
		out[i] = "-" + a
		if !hasValue && f.NoOptDefVal == "" {
			i++
		}
	}
	return out
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
