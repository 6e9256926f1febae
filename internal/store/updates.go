package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/quenchhq/quench/internal/incident"
)

const updateColumns = `id, incident_number, author, body, visibility, created_at, updated_at`

func scanUpdate(row scanner) (*incident.Update, error) {
	var u incident.Update
	var created, updated int64
	err := row.Scan(&u.ID, &u.Incident, &u.Author, &u.Body, &u.Visibility, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &u, err
}

// InsertUpdate stores a new update and sets its ID.
func (t *Tx) InsertUpdate(ctx context.Context, u *incident.Update) error {
	return t.q.QueryRowContext(ctx, `INSERT INTO updates (incident_number, author, body, visibility, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		u.Incident, u.Author, u.Body, u.Visibility, micros(u.CreatedAt), micros(u.UpdatedAt)).Scan(&u.ID)
}

// Update reads one update of an incident.
func (t *Tx) Update(ctx context.Context, number, id int64) (*incident.Update, error) {
	return scanUpdate(t.q.QueryRowContext(ctx, `SELECT `+updateColumns+` FROM updates WHERE incident_number = $1 AND id = $2`, number, id))
}

// Updates lists an incident's updates, oldest first; publicOnly leaves out
// internal ones.
func (t *Tx) Updates(ctx context.Context, number int64, publicOnly bool) ([]*incident.Update, error) {
	q := `SELECT ` + updateColumns + ` FROM updates WHERE incident_number = $1`
	if publicOnly {
		q += ` AND visibility = 'public'`
	}
	return collect(scanUpdate)(t.q.QueryContext(ctx, q+` ORDER BY id`, number))
}

// SetUpdateVisibility publishes or withdraws an update.
func (t *Tx) SetUpdateVisibility(ctx context.Context, u *incident.Update) error {
	_, err := t.q.ExecContext(ctx, `UPDATE updates SET visibility = $1, updated_at = $2 WHERE id = $3`,
		u.Visibility, micros(u.UpdatedAt), u.ID)
	return err
}

const itemColumns = `id, incident_number, text, phase, owner, done, done_by, done_at, created_by, created_at, visibility`

func scanItem(row scanner) (*incident.ChecklistItem, error) {
	var it incident.ChecklistItem
	var owner sql.NullString
	var doneAt sql.NullInt64
	var created int64
	err := row.Scan(&it.ID, &it.Incident, &it.Text, &it.Phase, &owner, &it.Done, &it.DoneBy, &doneAt, &it.CreatedBy, &created, &it.Visibility)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	it.Owner, it.DoneAt, it.CreatedAt = owner.String, fromNullMicros(doneAt), fromMicros(created)
	return &it, err
}

// InsertChecklistItem stores a new item and sets its ID.
func (t *Tx) InsertChecklistItem(ctx context.Context, it *incident.ChecklistItem) error {
	it.Visibility = contentVisibility(it.Visibility)
	cols := `incident_number, text, phase, owner, done, done_by, done_at, created_by, created_at, visibility`
	a := args{it.Incident, it.Text, it.Phase, nullString(it.Owner), it.Done, it.DoneBy, nullMicros(it.DoneAt), it.CreatedBy, micros(it.CreatedAt), it.Visibility}
	id, err := t.insertID(ctx, "checklist_items", &cols, &a)
	if err != nil {
		return err
	}
	err = t.q.QueryRowContext(ctx, `INSERT INTO checklist_items (`+cols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10`+id+`) RETURNING id`, a...).Scan(&it.ID)
	return ownerError(err)
}

// ChecklistItem reads one item of an incident.
func (t *Tx) ChecklistItem(ctx context.Context, number, id int64) (*incident.ChecklistItem, error) {
	return scanItem(t.q.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM checklist_items WHERE incident_number = $1 AND id = $2`, number, id))
}

// Checklist lists an incident's items in creation order.
func (t *Tx) Checklist(ctx context.Context, number int64) ([]*incident.ChecklistItem, error) {
	return collect(scanItem)(t.q.QueryContext(ctx, `SELECT `+itemColumns+` FROM checklist_items WHERE incident_number = $1 ORDER BY id`, number))
}

// SaveChecklistItem writes an item's mutable fields.
func (t *Tx) SaveChecklistItem(ctx context.Context, it *incident.ChecklistItem) error {
	_, err := t.q.ExecContext(ctx, `UPDATE checklist_items SET text = $1, phase = $2, owner = $3, done = $4, done_by = $5, done_at = $6,
		visibility = $8 WHERE id = $7`,
		it.Text, it.Phase, nullString(it.Owner), it.Done, it.DoneBy, nullMicros(it.DoneAt), it.ID, contentVisibility(it.Visibility))
	return ownerError(err)
}

// DeleteChecklistItem removes an item; the timeline keeps its text.
func (t *Tx) DeleteChecklistItem(ctx context.Context, id int64) error {
	_, err := t.q.ExecContext(ctx, `DELETE FROM checklist_items WHERE id = $1`, id)
	return err
}

const linkColumns = `id, incident_number, kind, url, title, created_by, created_at, visibility`

func scanLink(row scanner) (*incident.Link, error) {
	var l incident.Link
	var created int64
	err := row.Scan(&l.ID, &l.Incident, &l.Kind, &l.URL, &l.Title, &l.CreatedBy, &created, &l.Visibility)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	l.CreatedAt = fromMicros(created)
	return &l, err
}

// InsertLink stores a new link and sets its ID.
func (t *Tx) InsertLink(ctx context.Context, l *incident.Link) error {
	l.Visibility = contentVisibility(l.Visibility)
	cols := `incident_number, kind, url, title, created_by, created_at, visibility`
	a := args{l.Incident, l.Kind, l.URL, l.Title, l.CreatedBy, micros(l.CreatedAt), l.Visibility}
	id, err := t.insertID(ctx, "links", &cols, &a)
	if err != nil {
		return err
	}
	return t.q.QueryRowContext(ctx, `INSERT INTO links (`+cols+`) VALUES ($1, $2, $3, $4, $5, $6, $7`+id+`) RETURNING id`, a...).Scan(&l.ID)
}

// SetLinkVisibility makes a link public or internal.
func (t *Tx) SetLinkVisibility(ctx context.Context, id int64, vis incident.Visibility) error {
	res, err := t.q.ExecContext(ctx, `UPDATE links SET visibility = $1 WHERE id = $2`, contentVisibility(vis), id)
	return affected(res, err)
}

// contentVisibility is the stored visibility of a link or checklist item:
// internal unless it says public.
func contentVisibility(v incident.Visibility) incident.Visibility {
	if v == incident.Public {
		return incident.Public
	}
	return incident.Internal
}

// Link reads one link of an incident.
func (t *Tx) Link(ctx context.Context, number, id int64) (*incident.Link, error) {
	return scanLink(t.q.QueryRowContext(ctx, `SELECT `+linkColumns+` FROM links WHERE incident_number = $1 AND id = $2`, number, id))
}

// Links lists an incident's links in creation order.
func (t *Tx) Links(ctx context.Context, number int64) ([]*incident.Link, error) {
	return collect(scanLink)(t.q.QueryContext(ctx, `SELECT `+linkColumns+` FROM links WHERE incident_number = $1 ORDER BY id`, number))
}

// DeleteLink removes a link; the timeline keeps it.
func (t *Tx) DeleteLink(ctx context.Context, id int64) error {
	_, err := t.q.ExecContext(ctx, `DELETE FROM links WHERE id = $1`, id)
	return err
}

// collect scans every row with scan; use as collect(scanX)(q.QueryContext(…)).
func collect[T any](scan func(scanner) (*T, error)) func(*sql.Rows, error) ([]*T, error) {
	return func(rows *sql.Rows, err error) ([]*T, error) {
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []*T
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
}

// HasLinkURL reports whether an incident has a link of kind to url.
func (t *Tx) HasLinkURL(ctx context.Context, number int64, kind incident.LinkKind, url string) (bool, error) {
	var n int64
	err := t.q.QueryRowContext(ctx, `SELECT count(*) FROM links WHERE incident_number = $1 AND kind = $2 AND url = $3`, number, kind, url).Scan(&n)
	return n > 0, err
}
