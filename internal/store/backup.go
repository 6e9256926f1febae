package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Backups (SQLite): one SQLite database file holding everything Quench
// keeps, attachments included (they live in the attachments table, not in
// files). `VACUUM INTO` writes it from a single read transaction, so it is
// a consistent snapshot of the moment it started while the server goes on
// writing (WAL readers never block the writer). On PostgreSQL, pg_dump does
// the same job; see the README.

// dbFile is the database's name inside the data folder.
const dbFile = "quench.db"

// BackupInfo describes a backup file.
type BackupInfo struct {
	Path            string
	Bytes           int64
	SchemaVersion   int
	Incidents       int64
	Attachments     int64
	AttachmentBytes int64
}

func (b BackupInfo) String() string {
	return fmt.Sprintf("schema version %d, %d incident(s), %d attachment(s) of %d byte(s); %d bytes in %s",
		b.SchemaVersion, b.Incidents, b.Attachments, b.AttachmentBytes, b.Bytes, b.Path)
}

// Backup copies the SQLite database in dataDir to dest, a file that must
// not exist yet, while a server may be running on it. The copy is written
// beside dest under a temporary name, checked (integrity, schema) and
// synced before it takes dest's name, so dest is either absent or whole.
// It is readable by its owner only: it holds password and token hashes.
func Backup(ctx context.Context, dataDir, dest string) (BackupInfo, error) {
	src := filepath.Join(dataDir, dbFile)
	if _, err := os.Stat(src); err != nil {
		return BackupInfo{}, fmt.Errorf("no Quench database at %s: %w", src, err)
	}
	if _, err := os.Lstat(dest); err == nil {
		return BackupInfo{}, fmt.Errorf("%s exists: a backup never overwrites a file, choose a new name", dest)
	}
	// VACUUM INTO writes into a file that does not exist or is empty.
	f, err := os.CreateTemp(filepath.Dir(dest), filepath.Base(dest)+".partial-*")
	if err != nil {
		return BackupInfo{}, err
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp) // gone after the rename; a leftover on failure
	// VACUUM INTO only reads the live database (SQLite refuses it on a
	// query_only connection, although it writes nothing there). The busy
	// timeout covers the moment a checkpoint holds its lock.
	db, err := sql.Open("sqlite", "file:"+uriPath(src)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return BackupInfo{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO $1`, tmp); err != nil {
		return BackupInfo{}, fmt.Errorf("copy %s: %w", src, err)
	}
	db.Close()
	if err := os.Chmod(tmp, 0o600); err != nil {
		return BackupInfo{}, err
	}
	if err := syncFile(tmp); err != nil {
		return BackupInfo{}, err
	}
	info, err := inspect(ctx, tmp)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("the copy failed its check: %w", err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return BackupInfo{}, err
	}
	if err := syncDir(filepath.Dir(dest)); err != nil {
		return BackupInfo{}, err
	}
	info.Path = dest
	return info, nil
}

// Restore puts the backup src into dataDir, which must be empty or not
// exist: restoring never mixes with, or replaces, a live database. The
// backup is checked first (integrity, a schema this quench can run or
// migrate) and copied under a temporary name, so an interrupted restore
// leaves no quench.db behind. A backup from an older Quench is restored as
// it is; `quench serve` or `quench migrate` brings it forward.
func Restore(ctx context.Context, src, dataDir string) (BackupInfo, error) {
	entries, err := os.ReadDir(dataDir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return BackupInfo{}, fmt.Errorf("create data directory: %w", err)
		}
	case err != nil:
		return BackupInfo{}, err
	case len(entries) > 0:
		return BackupInfo{}, fmt.Errorf("the data folder %s is not empty (%s…): restore into an empty folder, never over a database", dataDir, entries[0].Name())
	}
	info, err := inspect(ctx, src)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("%s is not a usable Quench backup: %w", src, err)
	}
	dest := filepath.Join(dataDir, dbFile)
	tmp := dest + ".restoring"
	if err := copyFile(src, tmp); err != nil {
		os.Remove(tmp)
		return BackupInfo{}, err
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.Remove(tmp)
		return BackupInfo{}, err
	}
	if err := syncDir(dataDir); err != nil {
		return BackupInfo{}, err
	}
	info.Path = dest
	return info, nil
}

// inspect checks a database file that no one else has open: SQLite's
// integrity and foreign-key checks pass, and its recorded migrations are a
// prefix of this binary's. It reports what the file holds.
func inspect(ctx context.Context, path string) (BackupInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return BackupInfo{}, err
	}
	// Read-only and immutable: the check never writes to the file, not
	// even a journal next to it.
	db, err := sql.Open("sqlite", "file:"+uriPath(path)+"?mode=ro&immutable=1")
	if err != nil {
		return BackupInfo{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check(1)`).Scan(&res); err != nil {
		return BackupInfo{}, err
	}
	if res != "ok" {
		return BackupInfo{}, fmt.Errorf("integrity check: %s", res)
	}
	rows, err := db.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return BackupInfo{}, err
	}
	bad := rows.Next()
	rows.Close()
	if bad {
		return BackupInfo{}, errors.New("foreign key check failed")
	}
	s := &Store{dialect: SQLite}
	known, err := s.migrations()
	if err != nil {
		return BackupInfo{}, err
	}
	applied, err := s.applied(ctx, db)
	if err != nil {
		return BackupInfo{}, err
	}
	n, err := matchSchema(applied, known)
	if err != nil {
		return BackupInfo{}, err
	}
	if n == 0 {
		return BackupInfo{}, errors.New("it holds no Quench schema")
	}
	info := BackupInfo{Path: path, Bytes: st.Size(), SchemaVersion: n}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents`).Scan(&info.Incidents); err != nil {
		return BackupInfo{}, err
	}
	if n >= 4 { // attachments arrived with schema 4
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM attachments`).Scan(&info.Attachments, &info.AttachmentBytes); err != nil {
			return BackupInfo{}, err
		}
	}
	return info, nil
}

func copyFile(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
