package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/testenv"
)

func runCLI(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) string { return "" }})
	return out.String(), errb.String(), code
}

// TestHelpIsShort: `quench help` fits a terminal (under 40 lines) and lists
// every top-level command exactly once; `quench` alone prints it to stderr
// and fails, as a usage mistake.
func TestHelpIsShort(t *testing.T) {
	help, _, code := runCLI("help")
	if code != 0 {
		t.Fatalf("quench help: exit %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(help, "\n"), "\n")
	if len(lines) >= 40 {
		t.Errorf("quench help has %d lines, want under 40:\n%s", len(lines), help)
	}
	listed := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z]+) +\S`).FindAllStringSubmatch(help, -1) {
		listed[m[1]]++
	}
	root := newRoot(context.Background(), config.Config{}, nil, Env{})
	var names []string
	for _, c := range root.Commands() {
		if c.Hidden {
			continue
		}
		names = append(names, c.Name())
		if listed[c.Name()] != 1 {
			t.Errorf("quench help lists %q %d times, want once", c.Name(), listed[c.Name()])
		}
	}
	for name := range listed {
		if !slices.Contains(names, name) {
			t.Errorf("quench help lists %q, which is no command", name)
		}
	}
	for _, want := range []string{"incident", "completion", "template", "serve", "version"} {
		if !slices.Contains(names, want) {
			t.Errorf("no command %q", want)
		}
	}
	for _, args := range [][]string{{"--help"}, {"-h"}} {
		if out, _, code := runCLI(args...); code != 0 || out != help {
			t.Errorf("quench %s: exit %d, a different text:\n%s", args[0], code, out)
		}
	}
	if out, errs, code := runCLI(); code != 2 || out != "" || errs != help {
		t.Errorf("quench without a command: exit %d, stdout %q, stderr:\n%s", code, out, errs)
	}
	// Help works where the configuration is broken; commands do not run.
	bad := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Run(context.Background(), args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Getenv: func(k string) string { return map[string]string{"QUENCH_SHUTDOWN_TIMEOUT": "soon"}[k] }})
		return out.String(), errb.String(), code
	}
	if out, _, code := bad("incident", "--help"); code != 0 || !strings.Contains(out, "advance") {
		t.Errorf("incident --help with a bad QUENCH_SHUTDOWN_TIMEOUT: exit %d\n%s", code, out)
	}
	if _, errs, code := bad("incident", "list"); code != 2 || !strings.Contains(errs, "configuration") {
		t.Errorf("incident list with a bad QUENCH_SHUTDOWN_TIMEOUT: exit %d %q", code, errs)
	}
	if _, errs, code := runCLI("incidnet"); code != 2 || errs != "quench: unknown command \"incidnet\"\ndid you mean: quench incident\n" {
		t.Errorf("a mistyped command: exit %d\n%s", code, errs)
	}
}

// TestHelpGroupsSayWhatCommandsNeed: `quench help` lists a command under
// "Setting up, on the database" only when it opens the database, and every
// command that needs QUENCH_TOKEN under "Client commands" (template and
// onboard were listed with the database commands and failed with 401).
// Each is run in a folder without a database, with no server to reach.
func TestHelpGroupsSayWhatCommandsNeed(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"QUENCH_DATA_DIR": filepath.Join(dir, "quench-data"), "QUENCH_URL": "http://127.0.0.1:1", "QUENCH_TOKEN": "qt_none"}
	root := newRoot(context.Background(), config.Config{}, nil, Env{})
	n := 0
	for _, c := range root.Commands() {
		if c.GroupID != groupSetup && c.GroupID != groupRespond {
			continue
		}
		args := []string{c.Name()}
		if list, _, err := c.Find([]string{"list"}); err == nil && list != c {
			args = append(args, "list")
		} else if c.Name() == "onboard" {
			args = append(args, "billing")
		}
		var out, errb bytes.Buffer
		code := Run(context.Background(), args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Getenv: func(k string) string { return env[k] }})
		opened := strings.Contains(errb.String(), "no Quench database at")
		if code != 1 || opened != (c.GroupID == groupSetup) {
			t.Errorf("quench %s (group %s): exit %d, looked for the database: %v\n%s", strings.Join(args, " "), c.GroupID, code, opened, errb.String())
		}
		n++
	}
	if n < 15 {
		t.Errorf("only %d commands checked", n)
	}
}

// TestEveryCommandHasHelp: every command and subcommand answers --help
// with its one-line description and its usage, exit 0, and runs nothing.
// A subcommand's help shows the flags it uses.
func TestEveryCommandHasHelp(t *testing.T) {
	root := newRoot(context.Background(), config.Config{}, nil, Env{})
	var walk func(c *cobra.Command, path []string)
	n := 0
	walk = func(c *cobra.Command, path []string) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" {
				continue
			}
			p := append(slices.Clone(path), sub.Name())
			out, errs, code := runCLI(append(p, "--help")...)
			first := sub.Short // cobra's completion commands have a longer text
			if sub.Long != "" {
				first, _, _ = strings.Cut(sub.Long, "\n")
			}
			if code != 0 || errs != "" || !strings.HasPrefix(out, first+"\n") || !strings.Contains(out, "Usage:\n  quench "+strings.Join(p, " ")) {
				t.Errorf("quench %s --help: exit %d %q\n%s", strings.Join(p, " "), code, errs, out)
			}
			if sub.Short == "" || strings.Contains(sub.Short, "\n") {
				t.Errorf("quench %s: short description %q", strings.Join(p, " "), sub.Short)
			}
			n++
			walk(sub, p)
		}
	}
	walk(root, nil)
	if n < 80 {
		t.Errorf("only %d commands have help", n)
	}
	out, _, _ := runCLI("incident", "advance", "--help")
	for _, want := range []string{"--note string", "--detection-improvement string", "--override", "Examples:\n  quench incident advance 3"} {
		if !strings.Contains(out, want) {
			t.Errorf("incident advance --help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "--withdraw") {
		t.Errorf("incident advance --help shows another subcommand's flag:\n%s", out)
	}
	// `quench help incident` is `quench incident --help`.
	a, _, _ := runCLI("help", "incident")
	b, _, _ := runCLI("incident", "--help")
	if a != b || !strings.Contains(a, "advance") {
		t.Errorf("quench help incident:\n%s\nquench incident --help:\n%s", a, b)
	}
}

// TestFlagForms: the forms the hand-made parser took still parse: flags
// after arguments, --flag=value, the standard library's single dash, and
// a flag's value that starts with a dash.
func TestFlagForms(t *testing.T) {
	root := newRoot(context.Background(), config.Config{}, nil, Env{})
	for _, c := range []struct{ in, want []string }{
		{[]string{"incident", "list", "-json", "-limit=5"}, []string{"incident", "list", "--json", "--limit=5"}},
		{[]string{"incident", "update", "3", "-publish", "7"}, []string{"incident", "update", "3", "--publish", "7"}},
		{[]string{"incident", "update", "3", "--body", "-json"}, []string{"incident", "update", "3", "--body", "-json"}},
		{[]string{"incident", "update", "3", "--body", "-"}, []string{"incident", "update", "3", "--body", "-"}},
		{[]string{"audit", "-x"}, []string{"audit", "-x"}},
		{[]string{"incident", "list", "-q", "disk", "-h"}, []string{"incident", "list", "--q", "disk", "-h"}},
		{[]string{"backup", "-"}, []string{"backup", "-"}},
	} {
		if got := goFlags(root, c.in); !slices.Equal(got, c.want) {
			t.Errorf("goFlags(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// Unknown flags are usage mistakes that name the flag.
	if _, errs, code := runCLI("incident", "list", "--colour", "red"); code != 2 || errs != "quench: usage: unknown flag: --colour\n" {
		t.Errorf("unknown flag: exit %d %q", code, errs)
	}
	if _, errs, code := runCLI("incident", "show", "4", "--limit", "many"); code != 2 || errs != "quench: usage: invalid argument \"many\" for \"--limit\" flag\n" {
		t.Errorf("bad flag value: exit %d %q", code, errs)
	}
	// A group without a subcommand names its subcommands.
	if _, errs, code := runCLI("template"); code != 2 || errs != "quench: usage: template add|edit|list|remove\n" {
		t.Errorf("template: exit %d %q", code, errs)
	}
	if _, errs, code := runCLI("template", "change", "1"); code != 2 || !strings.Contains(errs, `unknown template command "change"`) {
		t.Errorf("template change: exit %d %q", code, errs)
	}
}

// TestCompletion: the bash script loads in a real bash and registers
// itself; completing `quench inc` offers incident, `quench incident adv`
// advance, and a subcommand's flags only its own. fish completes the same
// words through its script; zsh loads its script under compinit and
// registers _quench. (./scripts/test installs both shells; elsewhere a
// missing one leaves its script's shape checked only.)
func TestCompletion(t *testing.T) {
	out, _, code := runCLI("__complete", "inc")
	if code != 0 || !strings.HasPrefix(out, "incident\t") {
		t.Errorf("__complete inc: exit %d\n%s", code, out)
	}
	out, _, _ = runCLI("__complete", "incident", "adv")
	if !strings.HasPrefix(out, "advance\t") {
		t.Errorf("__complete incident adv:\n%s", out)
	}
	out, _, _ = runCLI("__complete", "incident", "advance", "3", "--")
	if !strings.Contains(out, "--detection-improvement\t") || strings.Contains(out, "--withdraw") {
		t.Errorf("__complete incident advance 3 --:\n%s", out)
	}

	if testing.Short() {
		t.Skip("builds the quench binary")
	}
	dir := t.TempDir()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(goBin, "build", "-o", filepath.Join(dir, "quench"), "./cmd/quench")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	sh := func(shell string, args ...string) (string, error) {
		c := exec.Command(shell, args...)
		c.Env = env
		out, err := c.CombinedOutput()
		return string(out), err
	}
	if out, err := sh("bash", "-c", "source <(quench completion bash) && complete -p quench"); err != nil || !strings.Contains(out, "-F __start_quench quench") {
		t.Errorf("bash completion: %v\n%s", err, out)
	}
	// What bash shows: the completion function asks quench itself. The
	// script needs the bash-completion package's _get_comp_words_by_ref;
	// where that package is not installed, a minimal one stands in.
	script := `if [ -f /usr/share/bash-completion/bash_completion ]; then source /usr/share/bash-completion/bash_completion
else _get_comp_words_by_ref() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }; fi
source <(quench completion bash)
COMP_WORDS=(quench inc); COMP_CWORD=1; COMP_LINE="quench inc"; COMP_POINT=${#COMP_LINE}
__start_quench quench inc quench 2>/dev/null # compopt complains outside a real completion
printf '%s\n' "${COMPREPLY[@]}"`
	if out, err := sh("bash", "-c", script); err != nil || strings.TrimSpace(out) != "incident" {
		t.Errorf("bash completes quench inc to %q (%v)", out, err)
	}
	for _, c := range []struct{ shell, shape string }{{"zsh", "#compdef quench"}, {"fish", "complete -c quench"}} {
		out, _, code := runCLI("completion", c.shell)
		if code != 0 || !strings.Contains(out, c.shape) || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: exit %d\n%.300s", c.shell, code, out)
		}
		if _, err := exec.LookPath(c.shell); err != nil {
			if testenv.RequireAll() {
				t.Fatalf("%s is not installed but QUENCH_TEST_REQUIRE_ALL=1: run ./scripts/test", c.shell)
			}
			t.Logf("%s is not installed: checked the script's shape only", c.shell)
			continue
		}
		f := filepath.Join(dir, "completion."+c.shell)
		os.WriteFile(f, []byte(out), 0o644)
		if out, err := sh(c.shell, "-n", f); err != nil {
			t.Errorf("%s -n: %v\n%s", c.shell, err, out)
		}
		switch c.shell {
		case "fish":
			out, err := sh("fish", "--no-config", "-c", "source "+f+`; complete -C "quench inc"; complete -C "quench incident adv"`)
			if err != nil || !strings.HasPrefix(out, "incident\t") || !strings.Contains(out, "\nadvance\t") {
				t.Errorf("fish completes quench inc and quench incident adv to %q (%v)", out, err)
			}
		case "zsh":
			out, err := sh("zsh", "-f", "-c", "autoload -U compinit; compinit -u -D; source "+f+"; print -r -- ${_comps[quench]}")
			if err != nil || strings.TrimSpace(out) != "_quench" {
				t.Errorf("zsh registers %q for quench (%v)", out, err)
			}
		}
	}
}
