package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
)

const templateColumns = `id, name, severity, service, items, created_by, created_at`

func scanTemplate(row scanner) (*incident.Template, error) {
	var t incident.Template
	var items string
	var created int64
	if err := noRows(row.Scan(&t.ID, &t.Name, &t.Severity, &t.Service, &items, &t.CreatedBy, &created)); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(items), &t.Items); err != nil {
		return nil, fmt.Errorf("checklist template %d items: %w", t.ID, err)
	}
	t.CreatedAt = fromMicros(created)
	return &t, nil
}

// Templates lists the checklist templates by name.
// Callers must not change what is returned: the SQLite writer keeps it
// (tablecache.go).
func (t *Tx) Templates(ctx context.Context) ([]*incident.Template, error) {
	read := func() ([]*incident.Template, error) {
		return collect(scanTemplate)(t.q.QueryContext(ctx, `SELECT `+templateColumns+` FROM checklist_templates ORDER BY name, id`))
	}
	if t.cached(tableTemplates) {
		return t.caches.templates.get(read)
	}
	return read()
}

// TemplateByName reads one template.
func (t *Tx) TemplateByName(ctx context.Context, name string) (*incident.Template, error) {
	return scanTemplate(t.q.QueryRowContext(ctx, `SELECT `+templateColumns+` FROM checklist_templates WHERE name = $1`, name))
}

// InsertTemplate stores a template and sets its ID; a taken name is a
// conflict.
func (t *Tx) InsertTemplate(ctx context.Context, tpl *incident.Template) error {
	items, err := json.Marshal(tpl.Items)
	if err != nil {
		return err
	}
	cols := `name, severity, service, items, created_by, created_at`
	a := args{tpl.Name, tpl.Severity, tpl.Service, string(items), tpl.CreatedBy, micros(tpl.CreatedAt)}
	id, err := t.insertID(ctx, "checklist_templates", &cols, &a)
	if err != nil {
		return err
	}
	t.touch(tableTemplates)
	err = t.q.QueryRowContext(ctx, `INSERT INTO checklist_templates (`+cols+`) VALUES ($1, $2, $3, $4, $5, $6`+id+`) RETURNING id`, a...).Scan(&tpl.ID)
	if IsUnique(err) {
		return problem.Wrap(problem.Conflict, "template_exists", err, "a checklist template named %q exists", tpl.Name)
	}
	return err
}

// TemplateByID reads one template.
func (t *Tx) TemplateByID(ctx context.Context, id int64) (*incident.Template, error) {
	return scanTemplate(t.q.QueryRowContext(ctx, `SELECT `+templateColumns+` FROM checklist_templates WHERE id = $1`, id))
}

// UpdateTemplate stores a template's name, severity, service and items;
// who created it and when stay. A taken name is a conflict.
func (t *Tx) UpdateTemplate(ctx context.Context, tpl *incident.Template) error {
	items, err := json.Marshal(tpl.Items)
	if err != nil {
		return err
	}
	res, err := t.q.ExecContext(ctx, `UPDATE checklist_templates SET name = $1, severity = $2, service = $3, items = $4 WHERE id = $5`,
		tpl.Name, tpl.Severity, tpl.Service, string(items), tpl.ID)
	if IsUnique(err) {
		return problem.Wrap(problem.Conflict, "template_exists", err, "a checklist template named %q exists", tpl.Name)
	}
	return affected(res, err)
}

// DeleteTemplate removes a template; incidents keep the items it added.
func (t *Tx) DeleteTemplate(ctx context.Context, id int64) error {
	t.touch(tableTemplates)
	res, err := t.q.ExecContext(ctx, `DELETE FROM checklist_templates WHERE id = $1`, id)
	return affected(res, err)
}

// Setup holds the facts the first-run checklist is derived from.
type Setup struct {
	People, Integrations, Alerts, Incidents bool
}

// SetupFacts reads whether each first-run step has happened: a second
// account, an integration, an alert received, an incident opened. The
// built-in integrations (customers' reports, heartbeats) do not count as
// one set up. Each is one EXISTS probe, so the board pays nothing for it on a big database.
func (t *Tx) SetupFacts(ctx context.Context) (Setup, error) {
	var s Setup
	err := t.q.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM users WHERE id <> (SELECT MIN(id) FROM users)),
		EXISTS (SELECT 1 FROM integrations WHERE deleted_at IS NULL AND type NOT IN ('report', 'heartbeat')),
		EXISTS (SELECT 1 FROM alerts WHERE integration_id <> 'report'),
		EXISTS (SELECT 1 FROM incidents)`).Scan(&s.People, &s.Integrations, &s.Alerts, &s.Incidents)
	return s, err
}
