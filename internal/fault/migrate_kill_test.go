package fault

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/quenchhq/quench/internal/testenv"
)

// kill -9 while the schema is being migrated (F11): `quench migrate` or
// `quench serve` on a fresh database is killed 0-500 µs after its log
// shows migration k applied (the next migration is then running, in its
// transaction), for k spread over the migrations, and before the first
// when k is 0. After each kill the database records
// versions 1..V and its schema is exactly the schema of migrations 1..V,
// no more: nothing of the interrupted migration is left behind. Commands
// that write refuse the incomplete schema; a killed serve never answered
// /readyz (probed every millisecond); the next `quench migrate` or `quench serve` finishes the
// migrations, /readyz answers 200 and a delivery is stored (the last
// round runs the suite's whole verify). 8 kills per database, 48 in the
// long form (every migration three times).
func TestKillDuringMigration(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		t0 := time.Now()
		ref := referenceSchemas(t, db)
		latest := len(ref) - 1
		fresh := freshDatabases(t, db)

		// A clean run: the binary's schema is the reference's, and how
		// long the migrations take tells where a kill before the first one
		// lands.
		in := newInstance(t, fresh())
		p := in.launch(t, "migrate")
		p.waitExit(t, exitDeadline)
		if p.waitErr != nil {
			t.Fatalf("quench migrate: %v\n%s", p.waitErr, tail(p.logPath, 20))
		}
		first, total := p.firstAt(), p.endedAt.Sub(p.startedAt)
		in.checkSchema(t, ref, "after a clean migrate", true)
		if v := in.versions(t); v != latest {
			t.Fatalf("a clean migrate reached version %d, the migration files go to %d", v, latest)
		}

		rounds := pick(8, 48)
		var landed []string
		interrupted := 0
		for round := 1; round <= rounds; round++ {
			// Kill when migration k is logged; every combination of the
			// process killed and the one that finishes.
			i := round - 1
			k := i * latest / rounds
			if long() {
				k = i % latest
			}
			killed, restart := "migrate", "migrate"
			if i%2 == 1 {
				killed = "serve"
			}
			if i/2%2 == 1 {
				restart = "serve"
			}
			in := newInstance(t, fresh())
			p := in.launch(t, killed)
			if k == 0 {
				// Before the first migration: process start, opening the
				// database, the lock, schema_migrations.
				time.Sleep(time.Until(p.startedAt.Add(jitter(0, first/2+time.Millisecond))))
			} else if !p.waitLogged(k, exitDeadline) {
				t.Fatalf("kill %d: %s exited or hung before logging migration %d: %v\n%s", round, killed, k, p.waitErr, tail(p.logPath, 20))
			} else {
				// Into migration k+1, which takes a few milliseconds.
				time.Sleep(jitter(0, 500*time.Microsecond))
			}
			at := time.Since(p.startedAt)
			p.kill(t)
			logged := p.lastLogged()

			// What the kill left: versions 1..V, and the schema of exactly
			// those migrations.
			in.settle(t)
			v := in.checkSchema(t, ref, fmt.Sprintf("after kill %d (%s killed at logged version %d)", round, killed, logged), true)
			if p.answered != 0 && v < latest {
				t.Errorf("kill %d: the killed serve answered /readyz %d although the schema was at version %d of %d",
					round, p.answered, v, latest)
			}
			what := "before the first migration"
			switch {
			case v == latest:
				what = "after the last migration"
			case v > 0:
				what = fmt.Sprintf("in migration %d", v+1)
				interrupted++
			}
			landed = append(landed, fmt.Sprintf("v%d", v))
			t.Logf("kill %d: %s killed %s after start (log: version %d applied; trigger %d): database at version %d, %s",
				round, killed, at.Round(10*time.Microsecond), logged, k, v, what)

			// Commands that write refuse the incomplete schema.
			if v < latest {
				out, err := in.run(t, "integration", "add", "--type", "alertmanager", "--name", "too-early")
				if err == nil || !strings.Contains(out, "quench migrate") {
					t.Errorf("kill %d: `quench integration add` on schema version %d: %v, want a refusal that says to run quench migrate:\n%s",
						round, v, err, out)
				}
			}

			// The next start finishes the migrations.
			var s *server
			if restart == "serve" {
				s = in.start(t)
			} else {
				out := in.cli(t, nil, "migrate")
				if want := fmt.Sprintf("schema version %d", latest); !strings.Contains(out, want) {
					t.Errorf("kill %d: quench migrate after the kill: %q, want %q", round, out, want)
				}
			}
			if v := in.checkSchema(t, ref, fmt.Sprintf("after the %s that followed kill %d", restart, round), s == nil); v != latest {
				t.Errorf("kill %d: %s after the kill left version %d, want %d", round, restart, v, latest)
			}
			in.addIntegration(t)
			if s == nil {
				s = in.start(t)
			}
			in.deliverOne(t, s, round == rounds)
			s.kill(t)
			s.checkLog(t)
			p.checkLog(t)
			if t.Failed() {
				t.FailNow()
			}
		}
		t.Logf("%d kills landed at versions %s (%d in a migration after the first); "+
			"a clean migrate of %d migrations took %s, the first applied at %s; %s in all",
			rounds, strings.Join(landed, " "), interrupted, latest, total.Round(time.Millisecond),
			first.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
		if interrupted < rounds/2 {
			t.Errorf("only %d of %d kills landed in a migration after the first: the test did not interrupt migrations", interrupted, rounds)
		}
	})
}

// freshDatabases returns a function that makes another empty database of
// db's kind.
func freshDatabases(t *testing.T, db database) func() database {
	return func() database {
		if db.dialect == "postgres" {
			return postgresAt(testenv.FreshPostgres(t))
		}
		return sqliteAt(filepath.Join(t.TempDir(), "data"))
	}
}

// migrationProc is one quench process whose migrations the test watches
// in its log.
type migrationProc struct {
	*server
	startedAt, endedAt time.Time

	mu     sync.Mutex
	logged []time.Duration // when migration i+1 was logged as applied
	more   chan struct{}   // signalled on every migration logged

	// answered is the first /readyz status a serve gave, 0 for none;
	// final once probed is closed.
	answered int
	probed   chan struct{}
}

// launch starts `quench migrate` or `quench serve` without waiting for it.
// A serve is probed on /readyz all along: until its migrations are done it
// must not answer.
func (in *instance) launch(t *testing.T, command string) *migrationProc {
	t.Helper()
	n := in.started.Add(1)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	p := &migrationProc{server: &server{
		name:    fmt.Sprintf("%s-%d", command, n),
		url:     "http://" + addr,
		logPath: filepath.Join(in.dir, fmt.Sprintf("%s-%d.log", command, n)),
		done:    make(chan struct{}),
	}, more: make(chan struct{}, 1), probed: make(chan struct{})}
	logf, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(binary(t), command)
	p.cmd.Env = append(append([]string{}, in.env...), "QUENCH_ADDR="+addr, "QUENCH_BASE_URL="+p.url)
	p.cmd.Dir = in.dir
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.startedAt = time.Now()
	err = p.cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		logf.Close()
		t.Fatalf("start quench %s: %v", command, err)
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer logf.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			logf.Write(append(line, '\n'))
			var e struct {
				Msg     string `json:"msg"`
				Version int    `json:"version"`
			}
			if json.Unmarshal(line, &e) == nil && e.Msg == "migration applied" {
				p.mu.Lock()
				p.logged = append(p.logged, time.Since(p.startedAt))
				p.mu.Unlock()
				select {
				case p.more <- struct{}{}:
				default:
				}
			}
		}
		pr.Close()
	}()
	go func() {
		p.waitErr = p.cmd.Wait()
		p.endedAt = time.Now()
		<-read
		close(p.done)
	}()
	t.Cleanup(func() { in.reap(t, p.server) })
	if command == "serve" {
		go p.probe()
	} else {
		close(p.probed)
	}
	return p
}

// probe asks /readyz every millisecond until the process ends, and keeps
// the first answer.
func (p *migrationProc) probe() {
	defer close(p.probed)
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: time.Second}
	for !p.exited() {
		resp, err := c.Get(p.url + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			p.answered = resp.StatusCode
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// waitLogged waits until the log shows migration k applied; false when the
// process ended first or limit passed.
func (p *migrationProc) waitLogged(k int, limit time.Duration) bool {
	deadline := time.After(limit)
	for {
		if p.lastLogged() >= k {
			return true
		}
		select {
		case <-p.more:
		case <-p.done:
			return p.lastLogged() >= k
		case <-deadline:
			return false
		}
	}
}

func (p *migrationProc) lastLogged() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.logged)
}

// firstAt is when the first migration was logged, after the start.
func (p *migrationProc) firstAt() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.logged) == 0 {
		return 0
	}
	return p.logged[0]
}

// kill kills the process and waits for its probe to end.
func (p *migrationProc) kill(t testing.TB) {
	t.Helper()
	p.server.kill(t)
	<-p.probed
}

// run runs one quench command that may fail and returns its output.
func (in *instance) run(t testing.TB, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(in.env, "QUENCH_LOG_LEVEL=warn")
	cmd.Dir = in.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// settle waits, on PostgreSQL, until the killed process's sessions are
// gone: a statement it sent may still run, and its transaction is rolled
// back (or, had its COMMIT been sent before the kill, committed) only then.
func (in *instance) settle(t testing.TB) {
	t.Helper()
	if in.db.dialect != "postgres" {
		return
	}
	db := in.db.open(t)
	defer db.Close()
	deadline := time.Now().Add(exitDeadline)
	for {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed quench's %d PostgreSQL session(s) still there %s later", n, exitDeadline)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// inspect opens the database for the checks. When no quench runs on it,
// on SQLite, it opens a copy of the files: the recovery of the WAL a kill
// left is then the next quench's, as after a real crash, not the test's.
func (in *instance) inspect(t testing.TB, exited bool) (*sql.DB, bool) {
	t.Helper()
	if in.db.dialect == "postgres" || !exited {
		return in.db.open(t), true
	}
	if _, err := os.Stat(filepath.Join(in.db.dataDir, "quench.db")); errors.Is(err, os.ErrNotExist) {
		return nil, false
	}
	dir := filepath.Join(t.TempDir(), "copy")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"quench.db", "quench.db-wal", "quench.db-shm"} {
		b, err := os.ReadFile(filepath.Join(in.db.dataDir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return sqliteAt(dir).open(t), true
}

// versions returns the highest version recorded in schema_migrations of
// the live database, 0 when there is none.
func (in *instance) versions(t testing.TB) int {
	t.Helper()
	db := in.db.open(t)
	defer db.Close()
	var v int
	if err := db.QueryRow(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// checkSchema checks that the database records versions 1..V, with the
// names of the migration files, and that its schema is the reference's at
// V; when no quench runs on it (exited), the number of rows of every table
// too. It returns V, 0 for a database without a schema (or, on SQLite,
// without a file yet).
func (in *instance) checkSchema(t testing.TB, ref []schemaState, when string, exited bool) int {
	t.Helper()
	rows := exited
	db, ok := in.inspect(t, exited)
	if !ok {
		return 0
	}
	defer db.Close()
	ctx := context.Background()
	recorded, err := recordedMigrations(ctx, db, in.db.dialect)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	v := len(recorded)
	for i, name := range recorded {
		if i+1 >= len(ref) || ref[i+1].name != name {
			t.Fatalf("%s: schema_migrations records %v, want a prefix of the migration files", when, recorded)
		}
	}
	got, err := schemaOf(ctx, db, in.db.dialect, rows)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	want := ref[v].schema
	if !rows {
		want = ref[v].withoutRows()
	}
	if extra, missing := diff(got, want); len(extra)+len(missing) > 0 {
		t.Errorf("%s: the database records version %d but its schema is not that of migrations 1..%d "+
			"(half-migrated): %d extra, %d missing; extra %q, missing %q",
			when, v, v, len(extra), len(missing), first(extra, 5), first(missing, 5))
	}
	return v
}

// deliverOne posts one Alertmanager delivery and checks its alerts are
// stored in an incident; with all, runs the suite's whole verify
// (integrity and index checks included).
func (in *instance) deliverOne(t testing.TB, s *server, all bool) {
	t.Helper()
	l := newLedger(fmt.Sprintf("mig%d", time.Now().UnixNano()%1e6))
	d := l.newDelivery(0)
	r := do(context.Background(), newClient(1), "POST", s.url+"/api/v1/intake/alertmanager/"+in.integration, in.intakeToken, d.body)
	l.addDelivery(d, r)
	if r.status != http.StatusOK {
		t.Fatalf("a delivery after the migration finished: %d %v %s", r.status, r.err, r.body)
	}
	if all {
		in.verify(t, l)
		return
	}
	db := in.db.open(t)
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM alerts WHERE integration_id = $1 AND incident_number IS NOT NULL`, in.integration).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(d.fps) {
		t.Errorf("a delivery of %d alerts was acknowledged; %d are stored in an incident", len(d.fps), n)
	}
}

// schemaState is the schema after the migrations up to one version.
type schemaState struct {
	name   string // the migration's name, as schema_migrations records it
	schema []string
}

func (s schemaState) withoutRows() []string {
	return slices.DeleteFunc(slices.Clone(s.schema), func(l string) bool { return strings.HasPrefix(l, "rows ") })
}

// referenceSchemas applies the migration files one by one, each in its own
// transaction, to a scratch database and records the schema after each:
// element v is the schema of migrations 1..v (element 0: none).
func referenceSchemas(t *testing.T, d database) []schemaState {
	t.Helper()
	dir := filepath.Join("..", "store", "migrations", d.dialect)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var db *sql.DB
	if d.dialect == "postgres" {
		db, err = sql.Open("pgx", testenv.FreshPostgres(t))
	} else {
		registerStubAlertKey()
		db, err = sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "reference.db")+"?_pragma=foreign_keys(1)&_txlock=immediate")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	s, err := schemaOf(ctx, db, d.dialect, true)
	if err != nil {
		t.Fatal(err)
	}
	out := []schemaState{{schema: s}}
	for i, e := range entries {
		num, name, _ := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		if v, err := strconv.Atoi(num); err != nil || v != i+1 {
			t.Fatalf("migration file %s out of order", e.Name())
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, string(b)); err != nil {
			t.Fatalf("reference: %s: %v", e.Name(), err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		s, err := schemaOf(ctx, db, d.dialect, true)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, schemaState{name: name, schema: s})
	}
	return out
}

var stubOnce sync.Once

// registerStubAlertKey gives the reference's SQLite the function that
// quench registers for migration 7, which fills alert_keys from the
// alerts already stored; the reference has none, so it is never called.
func registerStubAlertKey() {
	stubOnce.Do(func() {
		sqlite.MustRegisterDeterministicScalarFunction("quench_alert_key", 2, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
			return nil, errors.New("quench_alert_key: not in the fault tests")
		})
	})
}

// recordedMigrations lists the names schema_migrations records, in order
// of version; none when the table does not exist yet.
func recordedMigrations(ctx context.Context, db *sql.DB, dialect string) ([]string, error) {
	probe := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if dialect == "postgres" {
		probe = `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
	}
	var n int
	if err := db.QueryRowContext(ctx, probe).Scan(&n); err != nil || n == 0 {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			return nil, err
		}
		if v != len(out)+1 {
			return nil, fmt.Errorf("schema_migrations has version %d after %d", v, len(out))
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// schemaOf describes every table, column, index, constraint, trigger and
// function of the database, one line each, sorted, and with rows the
// number of rows of each table. The migrator's own schema_migrations is
// left out.
func schemaOf(ctx context.Context, db *sql.DB, dialect string, withRows bool) ([]string, error) {
	q := `SELECT type || ' ' || name || ' on ' || tbl_name || ': ' || COALESCE(sql, '') FROM sqlite_master
		WHERE tbl_name <> 'schema_migrations' AND name NOT LIKE 'sqlite_stat%'`
	tables := `SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'schema_migrations' AND name NOT LIKE 'sqlite_stat%'`
	if dialect == "postgres" {
		q = `SELECT 'relation ' || relname || ' ' || relkind::text FROM pg_class
			WHERE relnamespace = current_schema()::regnamespace AND relname NOT LIKE 'schema_migrations%'
		UNION ALL SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' null=' || is_nullable ||
			' default=' || COALESCE(column_default, '') FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name <> 'schema_migrations'
		UNION ALL SELECT 'index ' || indexdef FROM pg_indexes
			WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'
		UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
			WHERE connamespace = current_schema()::regnamespace AND conrelid::regclass::text <> 'schema_migrations'
		UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
			WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace
		UNION ALL SELECT 'function ' || proname || ' ' || md5(prosrc) FROM pg_proc
			WHERE pronamespace = current_schema()::regnamespace`
		tables = `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'`
	}
	out, err := queryStrings(ctx, db, q)
	if err != nil {
		return nil, fmt.Errorf("read the schema: %w", err)
	}
	if withRows {
		names, err := queryStrings(ctx, db, tables)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			var n int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM "`+name+`"`).Scan(&n); err != nil {
				return nil, fmt.Errorf("count %s: %w", name, err)
			}
			out = append(out, fmt.Sprintf("rows %s %d", name, n))
		}
	}
	slices.Sort(out)
	return out, nil
}

func queryStrings(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// diff returns the lines only in got and the lines only in want.
func diff(got, want []string) (extra, missing []string) {
	for _, l := range got {
		if !slices.Contains(want, l) {
			extra = append(extra, l)
		}
	}
	for _, l := range want {
		if !slices.Contains(got, l) {
			missing = append(missing, l)
		}
	}
	return extra, missing
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }
