package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/heartbeat"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// Secrets of the fixture's accounts, as an older Quench would have stored
// them (hashed).
const (
	fixturePassword = "correct horse battery"
	fixtureToken    = auth.TokenPrefix + "upgrade-fixture-token-0123456789"
	fixtureSession  = service.SessionPrefix + "upgrade-fixture-session-0123456789"
	fixtureIntake   = "intake-fixture-token-0123456789"
)

// Upgrades lose nothing. For every older schema version v (1 … N-1,
// computed from the embedded migrations, so a new migration is covered
// the day it is added), a database is migrated to v only, filled with
// plain SQL holding data of every kind that schema has, then opened by
// the current code and migrated to N. Every row of every table is still
// there with the same values, and the current code reads each kind back
// (signs in with the old password, token and session, reads the incident,
// its updates, checklist, links, timeline, attachment, the alerts,
// integrations, rules, channels and outbox) and can write on top of it.
//
// The last run starts at N itself: it checks the fixture against the
// current schema, so rows for tables newer than N-1 are known to be right
// before the next migration makes them part of an upgrade.
//
// The fixture is data, not a schema: it is inserted column by column into
// whatever columns the old table has, and a table without fixture rows
// fails the test, so a new table or a new NOT NULL column without default
// asks for a fixture row here.
func TestUpgradeKeepsEverything(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		latest := latestVersion(t, d)
		for from := 1; from <= latest; from++ {
			t.Run(fmt.Sprintf("%s/from-%d", d, from), func(t *testing.T) { upgradeFrom(t, d, from, latest) })
		}
	}
}

func latestVersion(t *testing.T, d store.Dialect) int {
	s, _ := openBare(t, d)
	_, latest, err := s.SchemaVersion(context.Background())
	must(t, err)
	return latest
}

// fixtureRow is one row for the old schema: the values of the columns a
// table has had in any version; columns the table lacks at the old
// version are left out.
type fixtureRow struct {
	table string
	cols  map[string]any
	// sql, when set, is run instead of an INSERT (for seeded rows).
	sql string
}

func fixture(now time.Time) []fixtureRow {
	us := func(d time.Duration) int64 { return now.Add(d).UnixMicro() }
	png := []byte("\x89PNG\r\n\x1a\nfixture screenshot bytes")
	sum := sha256.Sum256(png)
	msg, _ := json.Marshal(notify.Message{ID: "msg-upgrade-1", Event: notify.Event("incident.opened"), At: now.Add(-time.Hour),
		Actor: "ana", Incident: notify.Incident{Number: 1, Title: "Spot instances fail to launch"}, Headline: "#1 opened"})
	return []fixtureRow{
		{table: "users", cols: map[string]any{"id": 1, "username": "ana", "display_name": "Ana", "email": "ana@example.com", "role": "admin",
			"password_hash": testenv.CheapHasher.Hash(fixturePassword), "disabled": false, "created_at": us(-48 * time.Hour), "updated_at": us(-48 * time.Hour),
			"notify_email": false}},
		{table: "users", cols: map[string]any{"id": 2, "username": "bo", "display_name": "Bo", "email": "", "role": "responder",
			"password_hash": testenv.CheapHasher.Hash(fixturePassword), "disabled": false, "created_at": us(-47 * time.Hour), "updated_at": us(-47 * time.Hour),
			"notify_email": true}},
		{table: "tokens", cols: map[string]any{"id": 1, "user_id": 1, "name": "laptop", "hash": auth.HashToken(fixtureToken),
			"scopes": "read,write,admin", "created_at": us(-46 * time.Hour), "expires_at": nil, "last_used_at": us(-2 * time.Hour), "revoked_at": nil}},
		{table: "counters", sql: `UPDATE counters SET value = 1 WHERE name = 'incident'`},
		{table: "incidents", cols: map[string]any{"number": 1, "title": "Spot instances fail to launch",
			"summary": "CI jobs wait for runners.", "severity": "critical", "services": `["runners"]`, "labels": `{"team":"ci"}`,
			"detection_source": "customer", "visibility": "public", "phase": "resolved",
			"active_owner": "ana", "mitigated_owner": "bo", "resolved_owner": nil,
			"active_at": us(-30 * time.Hour), "mitigated_at": us(-29 * time.Hour), "resolved_at": us(-20 * time.Hour), "closed_at": nil,
			"mitigated_note": "raised the spot price limit", "resolved_note": "limit set in GitOps", "closed_note": "",
			"detection_improvement": "", "alerts_resolved": true, "created_by": "ana", "created_at": us(-30 * time.Hour), "updated_at": us(-20 * time.Hour)}},
		{table: "incident_services", cols: map[string]any{"service": "runners", "incident_number": 1}},
		{table: "updates", cols: map[string]any{"id": 1, "incident_number": 1, "author": "ana", "body": "UnfulfillableCapacity since 09:12",
			"visibility": "internal", "created_at": us(-29*time.Hour - 30*time.Minute), "updated_at": us(-29*time.Hour - 30*time.Minute)}},
		{table: "updates", cols: map[string]any{"id": 2, "incident_number": 1, "author": "bo", "body": "CI jobs are delayed",
			"visibility": "public", "created_at": us(-29*time.Hour - 20*time.Minute), "updated_at": us(-29*time.Hour - 20*time.Minute)}},
		{table: "checklist_items", cols: map[string]any{"id": 1, "incident_number": 1, "text": "set the limit in GitOps", "phase": "mitigated",
			"owner": "bo", "done": true, "done_by": "bo", "done_at": us(-21 * time.Hour), "created_by": "ana", "created_at": us(-29 * time.Hour)}},
		{table: "links", cols: map[string]any{"id": 1, "incident_number": 1, "kind": "runbook", "url": "https://wiki.example.com/runners",
			"title": "Runner runbook", "created_by": "ana", "created_at": us(-29 * time.Hour)}},
		{table: "events", cols: map[string]any{"id": 1, "incident_number": 1, "at": us(-30 * time.Hour), "actor": "ana", "kind": "created",
			"update_id": nil, "internal": false, "data": `{}`}},
		{table: "events", cols: map[string]any{"id": 2, "incident_number": 1, "at": us(-29*time.Hour - 30*time.Minute), "actor": "ana",
			"kind": "update_posted", "update_id": 1, "internal": false, "data": `{}`}},
		{table: "events", cols: map[string]any{"id": 3, "incident_number": 1, "at": us(-29 * time.Hour), "actor": "bo", "kind": "transitioned",
			"update_id": nil, "internal": false, "data": `{"from":"active","to":"mitigated","note":"raised the spot price limit"}`}},
		{table: "events", cols: map[string]any{"id": 4, "incident_number": 1, "at": us(-28 * time.Hour), "actor": "", "kind": "alert_attached",
			"update_id": nil, "internal": true, "data": `{"alert_id":1,"title":"SpotLaunchFailed"}`}},
		{table: "integrations", cols: map[string]any{"id": "int-upgrade", "type": "alertmanager", "name": "prod",
			"token_hash": auth.HashToken(fixtureIntake), "secret": "", "created_by": "ana", "created_at": us(-40 * time.Hour),
			"last_alert_at": us(-28 * time.Hour), "deleted_at": nil}},
		{table: "alerts", cols: map[string]any{"id": 1, "integration_id": "int-upgrade", "fingerprint": "fp-upgrade-1", "status": "firing",
			"title": "SpotLaunchFailed", "labels": `{"alertname":"SpotLaunchFailed","severity":"critical"}`, "annotations": `{"summary":"spot launch fails"}`,
			"links": `[{"kind":"source","url":"http://prometheus.example:9090/graph"}]`, "group_key": `{}:{alertname="SpotLaunchFailed"}`,
			"starts_at": us(-28 * time.Hour), "ends_at": nil, "first_seen": us(-28 * time.Hour), "last_seen": us(-27 * time.Hour),
			"received": 3, "incident_number": 1, "alertname": "SpotLaunchFailed"}},
		// SQLite finds alerts by a hash of their key (schema 7): the rows
		// an older Quench's writer would have merged.
		{table: "alert_keys", sql: `INSERT INTO alert_keys (k, alert_id) SELECT quench_alert_key(integration_id, fingerprint), id FROM alerts`},
		{table: "alert_keys", sql: `UPDATE counters SET value = (SELECT max(id) FROM alerts) WHERE name = 'alert_keys'`},
		{table: "deliveries", cols: map[string]any{"integration_id": "int-upgrade", "request_id": "req-upgrade-1", "received_at": us(-28 * time.Hour)}},
		{table: "rules", cols: map[string]any{"id": 3, "position": 500, "name": "database alerts wait", "matchers": `team="db"`,
			"action": "inbox", "integration_id": "int-upgrade", "severity": "", "visibility": "", "created_at": us(-39 * time.Hour)}},
		{table: "sessions", cols: map[string]any{"id": "sess-upgrade", "hash": auth.HashToken(fixtureSession), "user_id": 1, "csrf": "csrf-upgrade",
			"via": "password", "user_agent": "Firefox", "remote": "192.0.2.7", "created_at": us(-time.Hour), "last_seen_at": us(-time.Minute),
			"expires_at": us(29 * 24 * time.Hour), "revoked_at": nil}},
		{table: "identities", cols: map[string]any{"issuer": "https://id.example.com", "subject": "bo-123", "user_id": 2,
			"email": "bo@example.com", "created_at": us(-40 * time.Hour), "last_login_at": us(-3 * time.Hour)}},
		{table: "audit", cols: map[string]any{"id": 1, "at": us(-time.Hour), "actor": "ana", "action": "signin", "target": "",
			"remote": "192.0.2.7", "detail": `{"via":"password"}`}},
		{table: "attachments", cols: map[string]any{"id": "att-upgrade", "incident_number": 1, "update_id": 1, "visibility": "internal",
			"filename": "graph.png", "content_type": "image/png", "size": len(png), "sha256": hex.EncodeToString(sum[:]),
			"width": 0, "height": 0, "data": png, "uploaded_by": "ana", "created_at": us(-29 * time.Hour)}},
		{table: "channels", cols: map[string]any{"id": 1, "type": "webhook", "name": "statusbot", "url": "https://status.example.com/hook",
			"recipients": `[]`, "secret": "whsec_dXBncmFkZS1maXh0dXJlLXNlY3JldA==", "audience": "public", "events": `["incident.opened"]`,
			"filter": `{"severities":["critical"]}`, "disabled": false, "created_at": us(-35 * time.Hour), "updated_at": us(-35 * time.Hour)}},
		{table: "outbox", cols: map[string]any{"id": 1, "key": "msg-upgrade-1", "channel_id": 1, "user_id": nil, "incident": 1, "update_id": nil,
			"lane": "c1:i1", "event": "incident.opened", "message": string(msg), "state": "sent", "attempts": 1,
			"next_attempt_at": us(-30 * time.Hour), "lease_until": nil, "leased_by": "", "last_error": "",
			"created_at": us(-30 * time.Hour), "updated_at": us(-30 * time.Hour), "sent_at": us(-30 * time.Hour)}},
		{table: "nudges", cols: map[string]any{"incident": 1, "kind": "incident.stuck", "phase": "resolved",
			"entered_at": us(-20 * time.Hour), "sent_at": us(-2 * time.Hour)}},
		{table: "reviews", cols: map[string]any{"id": 1, "held_at": us(-3 * time.Hour), "since": us(-7 * 24 * time.Hour), "until": us(-3 * time.Hour),
			"attendees": `["ana","bo"]`, "minutes": "spot prices: **follow up**", "recorded_by": "ana"}},
		{table: "review_decisions", cols: map[string]any{"id": 1, "review_id": 1, "incident_number": 1, "text": "follow up: add CA monitoring"}},
		{table: "job_leases", cols: map[string]any{"name": "retention", "holder": "quench-0/1/upgrade", "lease_until": us(time.Hour)}},
		{table: "signin_failures", cols: map[string]any{"id": 1, "key": "user:bo", "at": us(-time.Minute)}},
		{table: "components", cols: map[string]any{"id": 1, "name": "CI runners", "description": "Jobs start within a minute",
			"group_name": "Build", "position": 1, "services": `["runners"]`, "created_at": us(-38 * time.Hour), "updated_at": us(-38 * time.Hour)}},
		{table: "maintenance", cols: map[string]any{"id": 1, "title": "Runner image upgrade", "body": "Jobs may queue briefly.",
			"starts_at": us(20 * time.Hour), "ends_at": us(22 * time.Hour), "components": `[1]`, "created_by": "ana", "created_at": us(-2 * time.Hour)}},
		{table: "subscribers", cols: map[string]any{"id": 1, "email": "customer@example.com", "components": `[1]`,
			"created_at": us(-10 * time.Hour), "confirm_sent_at": us(-10 * time.Hour), "confirmed_at": us(-9 * time.Hour)}},
		{table: "status_requests", cols: map[string]any{"kind": "report", "remote": "5d41402abc4b2a76", "at": us(-time.Minute)}},
		{table: "reports", cols: map[string]any{"id": 1, "alert_id": 1, "component_id": 1, "contact": "customer@example.com",
			"created_at": us(-28 * time.Hour), "notified_at": nil}},
		{table: "heartbeats", cols: map[string]any{"id": "hb-upgrade", "name": "nightly-backup", "secret_hash": auth.HashToken("hb_upgrade-fixture"),
			"period": 3600, "grace": 600, "labels": `{"service":"backup"}`, "state": "down", "deadline": us(-2 * time.Hour),
			"last_ping_at": us(-3*time.Hour - 10*time.Minute), "started_at": nil, "failed_at": us(-90 * time.Minute), "down_since": us(-90 * time.Minute),
			"last_log": "pg_dump: connection refused", "pings": 41, "created_by": "ana", "created_at": us(-40 * time.Hour), "deleted_at": nil}},
		{table: "review_schedule", cols: map[string]any{"id": 1, "weekday": 2, "minute": 600, "timezone": "Europe/Berlin",
			"updated_by": "ana", "updated_at": us(-5 * time.Hour)}},
		{table: "snoozes", cols: map[string]any{"id": 1, "matchers": `alertname="SpotLaunchFailed", team="ci"`, "reason": "capacity test",
			"created_by": "ana", "created_at": us(-time.Hour), "ends_at": us(2 * time.Hour)}},
		{table: "checklist_templates", cols: map[string]any{"id": 1, "name": "database", "severity": "", "service": "db",
			"items": `[{"phase":"resolved","text":"document recovery procedure"}]`, "created_by": "ana", "created_at": us(-4 * time.Hour)}},
		{table: "incident_alert_counts", cols: map[string]any{"incident_number": 1, "slot": 3, "attached": 0, "firing": 0}},
	}
}

// changedByMigration lists "table.column" values a migration rewrites on
// purpose (none yet); everything else must come through unchanged.
var changedByMigration = map[string]bool{}

func upgradeFrom(t *testing.T, d store.Dialect, from, latest int) {
	ctx := context.Background()
	old, opt := openBare(t, d)
	if n, err := store.MigrateTo(ctx, old, from); err != nil || n != from {
		t.Fatalf("migrate to %d: %d %v", from, n, err)
	}
	must(t, old.Close())

	db := rawDB(t, d, opt)
	now := time.Now().UTC().Truncate(time.Second)
	schema := columnsOf(t, db, d)
	for _, r := range fixture(now) {
		cols, ok := schema[r.table]
		if !ok {
			continue // the table arrives with a later version
		}
		if r.sql != "" {
			_, err := db.ExecContext(ctx, r.sql)
			must(t, err)
			continue
		}
		insertRow(t, db, d, r.table, r.cols, cols)
	}
	if d == store.Postgres {
		// What an older Quench's inserts would have left: identity
		// sequences past the rows.
		for table, cols := range schema {
			if cols["id"].identity {
				_, err := db.ExecContext(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', 'id'), (SELECT MAX(id) FROM %s))`, table, table))
				must(t, err)
			}
		}
	}
	before := dumpAll(t, db, d)
	for table, dump := range before {
		if len(dump.rows) == 0 {
			t.Errorf("table %s has no rows at schema %d: add a row for it to the upgrade fixture", table, from)
		}
	}

	// The current code takes over: it migrates, as quench serve does.
	s, err := store.Open(ctx, opt)
	must(t, err)
	t.Cleanup(func() { s.Close() })
	applied, err := s.Migrate(ctx)
	must(t, err)
	if applied != latest-from {
		t.Fatalf("applied %d migrations from %d, want %d", applied, from, latest-from)
	}
	must(t, s.CheckSchema(ctx))
	// A new connection: PostgreSQL refuses the old one's cached plans of
	// SELECT * now that tables have new columns.
	db.Close()
	after := dumpAll(t, rawDB(t, d, opt), d)
	compareDumps(t, before, after)
	readBack(t, s, schema, now)
}

// rawDB is a plain connection to the test's database, for the fixture and
// the dumps: nothing of Quench's own code stands between.
func rawDB(t *testing.T, d store.Dialect, opt store.Options) *sql.DB {
	var db *sql.DB
	var err error
	if d == store.Postgres {
		db, err = sql.Open("pgx", opt.URL)
	} else {
		db, err = sql.Open("sqlite", "file:"+filepath.Join(opt.DataDir, "quench.db")+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	}
	must(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

type column struct{ identity bool }

// columnsOf lists every table of the database with the columns a row
// can be inserted into: generated ones are left out (alerts.alertname was
// one until schema 16).
func columnsOf(t *testing.T, db *sql.DB, d store.Dialect) map[string]map[string]column {
	ctx := context.Background()
	q := `SELECT m.name, p.name, 'NO' FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`
	if d == store.Postgres {
		q = `SELECT c.table_name, c.column_name, c.is_identity FROM information_schema.columns c
			JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
			WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.is_generated = 'NEVER'`
	}
	rows, err := db.QueryContext(ctx, q)
	must(t, err)
	defer rows.Close()
	out := map[string]map[string]column{}
	for rows.Next() {
		var table, name, identity string
		must(t, rows.Scan(&table, &name, &identity))
		if out[table] == nil {
			out[table] = map[string]column{}
		}
		out[table][name] = column{identity: identity == "YES"}
	}
	must(t, rows.Err())
	return out
}

// insertRow inserts the fixture values of the columns the table has.
func insertRow(t *testing.T, db *sql.DB, d store.Dialect, table string, values map[string]any, have map[string]column) {
	var names, marks []string
	var args []any
	override := ""
	for _, name := range sortedKeys(values) {
		c, ok := have[name]
		if !ok {
			continue // a column of a later version
		}
		if c.identity {
			override = " OVERRIDING SYSTEM VALUE"
		}
		names = append(names, name)
		args = append(args, values[name])
		marks = append(marks, fmt.Sprintf("$%d", len(args)))
	}
	q := fmt.Sprintf(`INSERT INTO %s (%s)%s VALUES (%s)`, table, strings.Join(names, ", "), override, strings.Join(marks, ", "))
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("fixture: %s: %v", q, err)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tableDump is a table's rows, each column rendered as text.
type tableDump struct {
	cols []string
	rows []map[string]string
}

func dumpAll(t *testing.T, db *sql.DB, d store.Dialect) map[string]tableDump {
	out := map[string]tableDump{}
	for table := range columnsOf(t, db, d) {
		rows, err := db.QueryContext(context.Background(), `SELECT * FROM `+table)
		must(t, err)
		cols, err := rows.Columns()
		must(t, err)
		dump := tableDump{cols: cols}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			must(t, rows.Scan(ptrs...))
			row := map[string]string{}
			for i, c := range cols {
				row[c] = render(vals[i])
			}
			dump.rows = append(dump.rows, row)
		}
		must(t, rows.Err())
		rows.Close()
		out[table] = dump
	}
	return out
}

func render(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return "x'" + hex.EncodeToString(v) + "'"
	case string:
		return fmt.Sprintf("%q", v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(v)
	}
}

// compareDumps checks that every table, column and row before the upgrade
// is there after it, with the same values.
func compareDumps(t *testing.T, before, after map[string]tableDump) {
	t.Helper()
	for _, table := range sortedKeys(before) {
		b := before[table]
		a, ok := after[table]
		if !ok {
			t.Errorf("the upgrade dropped table %s (%d rows)", table, len(b.rows))
			continue
		}
		var cols []string
		for _, c := range b.cols {
			if changedByMigration[table+"."+c] {
				continue
			}
			if !slices.Contains(a.cols, c) {
				t.Errorf("the upgrade dropped column %s.%s", table, c)
				continue
			}
			cols = append(cols, c)
		}
		key := func(row map[string]string) string {
			var parts []string
			for _, c := range cols {
				parts = append(parts, c+"="+row[c])
			}
			return strings.Join(parts, " ")
		}
		have := map[string]int{}
		for _, row := range a.rows {
			have[key(row)]++
		}
		lost := 0
		for _, row := range b.rows {
			k := key(row)
			if have[k] == 0 {
				lost++
				if lost <= 3 {
					t.Errorf("table %s lost or changed the row %s", table, k)
				}
				continue
			}
			have[k]--
		}
		if lost > 3 {
			t.Errorf("table %s: %d rows lost or changed in all", table, lost)
		}
	}
}

// readBack reads every kind the old schema held with the current code,
// then writes on top of it.
func readBack(t *testing.T, s *store.Store, schema map[string]map[string]column, now time.Time) {
	t.Helper()
	ctx := context.Background()
	has := func(table string) bool { _, ok := schema[table]; return ok }
	svc := service.New(s, service.Options{Log: slog.New(slog.DiscardHandler), Hasher: testenv.CheapHasher})

	p, err := svc.AuthenticateToken(ctx, fixtureToken)
	if err != nil || p.User.Username != "ana" || !p.Can(auth.ReadAll) {
		t.Fatalf("the old token no longer works: %v", err)
	}
	if _, _, err := svc.Login(ctx, "bo", fixturePassword, service.Client{Remote: "192.0.2.8"}); err != nil {
		t.Errorf("the old password no longer works: %v", err)
	}
	users, err := svc.Users(ctx, p)
	must(t, err)
	if len(users) != 2 {
		t.Errorf("%d users, want 2", len(users))
	}

	inc, err := svc.Incident(ctx, p, 1)
	must(t, err)
	if inc.Title != "Spot instances fail to launch" || inc.Phase != incident.Resolved || inc.Owners[incident.Mitigated] != "bo" ||
		inc.Notes[incident.Resolved] != "limit set in GitOps" || !slices.Equal(inc.Services, []string{"runners"}) || inc.Labels["team"] != "ci" {
		t.Errorf("incident #1 reads back as %+v", inc)
	}
	updates, err := svc.Updates(ctx, p, 1)
	must(t, err)
	if len(updates) != 2 || updates[0].Body != "UnfulfillableCapacity since 09:12" || updates[0].Visibility != incident.Internal {
		t.Errorf("updates read back as %+v", updates)
	}
	items, err := svc.Checklist(ctx, p, 1)
	must(t, err)
	if len(items) != 1 || !items[0].Done || items[0].Owner != "bo" {
		t.Errorf("checklist reads back as %+v", items)
	}
	links, err := svc.Links(ctx, p, 1)
	must(t, err)
	if len(links) != 1 || links[0].URL != "https://wiki.example.com/runners" {
		t.Errorf("links read back as %+v", links)
	}
	timeline, err := svc.Timeline(ctx, p, 1)
	must(t, err)
	if len(timeline) != 4 || timeline[1].Update == nil || timeline[3].Kind != incident.EventAlertAttached {
		t.Errorf("timeline reads back as %+v", timeline)
	}

	if has("sessions") {
		if sp, err := svc.AuthenticateSession(ctx, fixtureSession); err != nil || sp.User.Username != "ana" {
			t.Errorf("the old session no longer works: %v", err)
		}
		entries, err := svc.Audit(ctx, p, 50, 0)
		must(t, err)
		if !slices.ContainsFunc(entries, func(e *auth.AuditEntry) bool { return e.Action == "signin" && e.Remote == "192.0.2.7" }) {
			t.Errorf("the old audit entry is gone: %+v", entries)
		}
	}
	if has("integrations") {
		in, err := svc.IntegrationForIntake(ctx, "int-upgrade")
		if err != nil || in.Name != "prod" {
			t.Errorf("integration: %+v %v", in, err)
		}
		alerts, err := svc.IncidentAlerts(ctx, p, 1)
		must(t, err)
		if len(alerts) != 1 || alerts[0].Fingerprint != "fp-upgrade-1" || alerts[0].Received != 3 || alerts[0].Labels["severity"] != "critical" {
			t.Errorf("alerts read back as %+v", alerts)
		}
		rules, err := svc.Rules(ctx, p)
		must(t, err)
		if !slices.ContainsFunc(rules, func(r *alert.Rule) bool { return r.Name == "database alerts wait" && r.Integration == "int-upgrade" }) {
			t.Errorf("rules read back as %+v", rules)
		}
		// An alert arriving now joins the old incident's group.
		res, err := svc.Ingest(ctx, "int-upgrade", "", []alert.Alert{{Status: alert.Firing, Fingerprint: "fp-upgrade-2",
			Labels: map[string]string{"alertname": "SpotLaunchFailed", "severity": "critical"}, GroupKey: `{}:{alertname="SpotLaunchFailed"}`,
			Title: "SpotLaunchFailed", StartsAt: now}})
		if err != nil {
			t.Errorf("intake after the upgrade: %v", err)
		} else if res == nil {
			t.Errorf("intake after the upgrade: no result")
		}
	}
	if has("attachments") {
		atts, err := svc.Attachments(ctx, p, 1)
		must(t, err)
		if len(atts) != 1 {
			t.Fatalf("attachments read back as %+v", atts)
		}
		_, data, err := svc.Attachment(ctx, p, atts[0].ID)
		must(t, err)
		if !bytes.HasPrefix(data, []byte("\x89PNG")) || int64(len(data)) != atts[0].Size {
			t.Errorf("attachment data reads back as %q", data)
		}
	}
	if has("channels") {
		chans, err := svc.Channels(ctx, p)
		must(t, err)
		if len(chans) != 1 || chans[0].Name != "statusbot" || chans[0].Audience != notify.Public {
			t.Errorf("channels read back as %+v", chans)
		}
		dels, err := svc.Deliveries(ctx, p, service.DeliveryQuery{Incident: 1})
		must(t, err)
		if !slices.ContainsFunc(dels, func(d *notify.Delivery) bool { return d.Key == "msg-upgrade-1" && d.State == notify.Sent }) {
			t.Errorf("outbox reads back as %+v", dels)
		}
	}

	if has("heartbeats") {
		hb, err := svc.Heartbeat(ctx, p, "nightly-backup")
		if err != nil || hb.State != heartbeat.Down || hb.Period != time.Hour || hb.Labels["service"] != "backup" || hb.Pings != 41 {
			t.Errorf("heartbeat reads back as %+v %v", hb, err)
		}
		// Its key still pings, and the alert it resolves goes through
		// the built-in heartbeat integration.
		if _, err := svc.PingHeartbeat(ctx, "hb_upgrade-fixture", heartbeat.Success, ""); err != nil {
			t.Errorf("ping after the upgrade: %v", err)
		}
	}

	// New work lands on top: numbers and ids continue after the old rows.
	next, err := svc.OpenIncident(ctx, p, incident.Draft{Title: "after the upgrade", Severity: incident.Minor})
	if err != nil || next.Number < 2 {
		t.Fatalf("open an incident after the upgrade: %+v %v", next, err)
	}
	if _, err := svc.PostUpdate(ctx, p, 1, "written after the upgrade", incident.Internal); err != nil {
		t.Fatalf("post an update after the upgrade: %v", err)
	}
	if _, _, err := svc.CreateToken(ctx, p, service.NewToken{Username: "bo", Name: "new", Scopes: []auth.Scope{auth.ScopeRead}}); err != nil {
		t.Fatalf("create a token after the upgrade: %v", err)
	}
}
