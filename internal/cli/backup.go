package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/store"
)

var errPostgresBackup = errors.New("QUENCH_DATABASE_URL is set: back up PostgreSQL with pg_dump, which includes the attachments (see README, Backup and restore)")

// backup copies the SQLite database, attachments included, to a new file
// while the server may be running. "-" writes the copy to stdout, for
// images without tar (kubectl cp) or a shell.
func backup(ctx context.Context, cfg config.Config, env Env, args []string) error {
	if len(args) != 1 {
		return usageErr("backup FILE|-")
	}
	if cfg.DatabaseURL != "" {
		return errPostgresBackup
	}
	if args[0] != "-" {
		info, err := store.Backup(ctx, cfg.DataDir, args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "backup written: %s\n", info)
		return nil
	}
	// The copy is made in the data folder, whose volume holds the
	// database already, not in the temporary folder: a container's /tmp
	// is often small (256 MiB in deploy/kubernetes) and would cap the
	// database one can back up.
	dir, err := os.MkdirTemp(cfg.DataDir, ".backup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	info, err := store.Backup(ctx, cfg.DataDir, filepath.Join(dir, "quench.db"))
	if err != nil {
		return err
	}
	if err := copyOut(env.Stdout, info.Path); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "backup written to stdout: %s\n", info)
	return nil
}

func copyOut(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// restore puts a backup into an empty data folder; "-" reads it from
// stdin.
func restore(ctx context.Context, cfg config.Config, env Env, args []string) error {
	if len(args) != 1 {
		return usageErr("restore FILE|-")
	}
	if cfg.DatabaseURL != "" {
		return errPostgresBackup
	}
	src := args[0]
	if src == "-" {
		dir, err := os.MkdirTemp("", "quench-restore-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		src = filepath.Join(dir, "quench.db")
		f, err := os.OpenFile(src, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, env.Stdin)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("read the backup from stdin: %w", err)
		}
	}
	info, err := store.Restore(ctx, src, cfg.DataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "restored: %s\n", info)
	fmt.Fprintln(env.Stdout, "start `quench serve` on this folder; it migrates an older schema first")
	return nil
}
