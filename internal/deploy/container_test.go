package deploy

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// The binary the image ships, run the way OpenShift runs the image: an
// arbitrary UID that exists nowhere, group 0, a data folder that belongs
// to root and that group 0 may write. It is static, serves /healthz,
// answers its own HEALTHCHECK (quench healthcheck), writes its database,
// and stops cleanly on SIGTERM. This needs no container tool; the image
// itself is tested by TestContainerImage where podman can run.
func TestStaticBinaryArbitraryUID(t *testing.T) {
	need(t, os.Geteuid() == 0, "running the binary as another UID needs root")
	bin := filepath.Join(imageRoot(t), "rootfs", "quench")
	checkStatic(t, bin)

	uid := arbitraryUID()
	data := groupZeroFolder(t)
	addr := freeAddr(t)
	env := []string{"QUENCH_ADDR=" + addr, "QUENCH_DATA_DIR=" + data, "QUENCH_LOG_FORMAT=json", "HOME=/", "PATH=/"}
	as := func(cmd *exec.Cmd) *exec.Cmd {
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uid, Gid: 0, Groups: []uint32{}},
			Pdeathsig:  syscall.SIGKILL,
		}
		return cmd
	}
	var logs bytes.Buffer
	serve := as(exec.Command(bin, "serve"))
	serve.Stdout, serve.Stderr = &logs, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	exited := func() error {
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("quench serve exited: %v\n%s", err, logs.String())
		default:
			return nil
		}
	}
	defer func() {
		if exited() == nil {
			serve.Process.Kill()
			<-done
		}
	}()
	waitHealthy(t, "http://"+addr+"/healthz", exited)
	waitHealthy(t, "http://"+addr+"/readyz", exited)

	if out, err := as(exec.Command(bin, "healthcheck")).CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "ok: ") {
		t.Errorf("quench healthcheck as UID %d: %v %s", uid, err, out)
	}
	checkOwner(t, filepath.Join(data, "quench.db"), uid)

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("quench serve after SIGTERM: %v\n%s", err, logs.String())
	}
	done <- nil
	t.Logf("UID %d, group 0: /healthz and /readyz answered, quench.db written, clean stop", uid)
}

// The image built from the Containerfile by podman: a non-root user by
// default, a /data volume and a HEALTHCHECK that needs no shell or curl.
// Run as an arbitrary UID in group 0 on a root-owned, group-writable
// volume (as OpenShift does), it serves /healthz, passes its health check,
// writes its database to the volume and stops with status 0.
//
// The build stage's output comes from scripts/container-rootfs, run by
// imageRoot exactly as the build stage runs it, handed to podman with
// --build-context build=…: this machine cannot pull the golang base
// image, and the final stage, the image users run, is built as it is.
func TestContainerImage(t *testing.T) {
	_, err := exec.LookPath("podman")
	need(t, err == nil, "podman is not installed")
	need(t, os.Geteuid() == 0, "podman runs as root here")
	root := repoRoot(t)
	context := imageRoot(t)
	pm := newPodman(t)

	tag := fmt.Sprintf("localhost/quench-test:%d", rand.Uint32())
	pm.run("build", "--format", "docker", "--build-context", "build="+context, "-t", tag, "-f", filepath.Join(root, "Containerfile"), root)
	var cfg struct {
		User        string
		Entrypoint  []string
		Cmd         []string
		Env         []string
		Volumes     map[string]any
		Healthcheck struct{ Test []string }
	}
	// The JSON of .Config leaves the HEALTHCHECK out; asked for, it is there.
	if err := json.Unmarshal([]byte(pm.run("image", "inspect", "--format", "{{json .Config}}", tag)), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(pm.run("image", "inspect", "--format", "{{json .Config.Healthcheck}}", tag)), &cfg.Healthcheck); err != nil {
		t.Fatal(err)
	}
	user, group, _ := strings.Cut(cfg.User, ":")
	if user == "" || user == "0" || user == "root" || group != "0" {
		t.Errorf("image user %q: want a non-root UID in group 0", cfg.User)
	}
	if !slices.Equal(cfg.Healthcheck.Test, []string{"CMD", "/quench", "healthcheck"}) {
		t.Errorf("HEALTHCHECK %q", cfg.Healthcheck.Test)
	}
	if _, ok := cfg.Volumes["/data"]; !ok || !slices.Contains(cfg.Env, "QUENCH_DATA_DIR=/data") {
		t.Errorf("volumes %v, env %v: want the data folder /data as a volume", cfg.Volumes, cfg.Env)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/quench"}) || !slices.Equal(cfg.Cmd, []string{"serve"}) {
		t.Errorf("entrypoint %q, cmd %q", cfg.Entrypoint, cfg.Cmd)
	}

	uid := arbitraryUID()
	data := groupZeroFolder(t)
	addr := freeAddr(t)
	name := fmt.Sprintf("quench-test-%d", rand.Uint32())
	var nofile, nproc syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
	syscall.Getrlimit(6 /* RLIMIT_NPROC */, &nproc)
	pm.run("run", "-d", "--name", name, "--network", "host", "--user", fmt.Sprintf("%d:0", uid),
		// Health checks run on demand below: no systemd timer here.
		"--health-interval", "disable",
		// podman raises these limits by default, which needs
		// CAP_SYS_RESOURCE; keep the test's own.
		"--ulimit", fmt.Sprintf("nofile=%d:%d", nofile.Cur, nofile.Max),
		"--ulimit", fmt.Sprintf("nproc=%d:%d", min(nproc.Cur, 4096), min(nproc.Max, 4096)),
		"-v", data+":/data", "-e", "QUENCH_ADDR="+addr, tag)
	t.Cleanup(func() { pm.try("rm", "-f", "-t", "0", name) })
	defer func() {
		if t.Failed() {
			t.Logf("container log:\n%s", pm.try("logs", name))
		}
	}()
	waitHealthy(t, "http://"+addr+"/healthz", func() error {
		if state := strings.TrimSpace(pm.try("inspect", "--format", "{{.State.Status}}", name)); state != "running" && state != "created" {
			return fmt.Errorf("container %s", state)
		}
		return nil
	})
	pm.run("healthcheck", "run", name)
	checkOwner(t, filepath.Join(data, "quench.db"), uid)
	pm.run("stop", "-t", "30", name)
	if code := strings.TrimSpace(pm.run("inspect", "--format", "{{.State.ExitCode}}", name)); code != "0" {
		t.Errorf("exit code %s after podman stop, want 0", code)
	}
	t.Logf("image %s as UID %d, group 0: /healthz answered, health check passed, quench.db on the volume, clean stop", tag, uid)
}

// podman runs with its own storage and state in the test's temp folder,
// so tests leave nothing in the machine's podman.
type podman struct {
	t    *testing.T
	args []string
}

func newPodman(t *testing.T) *podman {
	state := t.TempDir()
	args := []string{"--root", filepath.Join(state, "storage"), "--runroot", filepath.Join(state, "run"),
		"--tmpdir", filepath.Join(state, "tmp"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	// crun 1.8 (Debian 12) refuses hosts that mount cgroup v1 and v2
	// side by side, as this one does; runc does not.
	if _, err := exec.LookPath("runc"); err == nil {
		args = append(args, "--runtime", "runc")
	}
	return &podman{t: t, args: args}
}

func (p *podman) command(args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command("podman", append(append([]string{}, p.args...), args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("podman %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), err
}

func (p *podman) run(args ...string) string {
	p.t.Helper()
	out, err := p.command(args...)
	if err != nil {
		p.t.Fatal(err)
	}
	return out
}

// try runs a command whose failure does not matter (cleanup, logs).
func (p *podman) try(args ...string) string {
	out, err := p.command(args...)
	if err != nil {
		return err.Error()
	}
	return out
}

// arbitraryUID is a UID no account has, in the range OpenShift gives
// projects.
func arbitraryUID() uint32 { return 1_000_000_000 + rand.Uint32N(1_000_000) }

// groupZeroFolder is a data folder as OpenShift mounts one: owned by root,
// writable by group 0, inside folders anyone may enter.
func groupZeroFolder(t *testing.T) string {
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(base, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(data, 0o770); err != nil { // past the umask
		t.Fatal(err)
	}
	return data
}

func checkOwner(t *testing.T, path string, uid uint32) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("the database was not written: %v", err)
	}
	if owner := st.Sys().(*syscall.Stat_t).Uid; owner != uid {
		t.Errorf("%s belongs to UID %d, want %d", path, owner, uid)
	}
}

// checkStatic makes sure the binary needs no loader and no libraries: the
// image has none.
func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s asks for a program interpreter: not static", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", path, libs)
	}
}
