package store

import (
	"context"
	"database/sql"

	"github.com/quenchhq/quench/internal/incident"
)

const attachmentColumns = `a.id, a.incident_number, a.update_id, a.visibility, a.filename, a.content_type, a.size, a.sha256,
	a.width, a.height, a.uploaded_by, a.created_at`

// attachmentVisibility is an attachment's effective visibility: its
// update's when it has one.
const attachmentVisibility = `COALESCE(u.visibility, a.visibility)`

func scanAttachment(row scanner) (*incident.Attachment, error) {
	var a incident.Attachment
	var update sql.NullInt64
	var created int64
	var own, eff string
	if err := noRows(row.Scan(&a.ID, &a.Incident, &update, &own, &a.Filename, &a.ContentType, &a.Size, &a.SHA256,
		&a.Width, &a.Height, &a.UploadedBy, &created, &eff)); err != nil {
		return nil, err
	}
	a.Update, a.Visibility, a.CreatedAt = update.Int64, incident.Visibility(eff), fromMicros(created)
	return &a, nil
}

// InsertAttachment stores a file.
func (t *Tx) InsertAttachment(ctx context.Context, a *incident.Attachment, data []byte) error {
	var update any
	if a.Update != 0 {
		update = a.Update
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO attachments (id, incident_number, update_id, visibility, filename, content_type, size,
		sha256, width, height, data, uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		a.ID, a.Incident, update, a.Visibility, a.Filename, a.ContentType, a.Size, a.SHA256, a.Width, a.Height, data, a.UploadedBy, micros(a.CreatedAt))
	return err
}

// Attachment reads an attachment's description (not its content).
func (t *Tx) Attachment(ctx context.Context, id string) (*incident.Attachment, error) {
	return scanAttachment(t.q.QueryRowContext(ctx, `SELECT `+attachmentColumns+`, `+attachmentVisibility+`
		FROM attachments a LEFT JOIN updates u ON u.id = a.update_id WHERE a.id = $1`, id))
}

// AttachmentData reads an attachment's content.
func (t *Tx) AttachmentData(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	err := noRows(t.q.QueryRowContext(ctx, `SELECT data FROM attachments WHERE id = $1`, id).Scan(&b))
	return b, err
}

// Attachments lists an incident's attachments, oldest first; publicOnly
// leaves out those that are internal now.
func (t *Tx) Attachments(ctx context.Context, number int64, publicOnly bool) ([]*incident.Attachment, error) {
	q := `SELECT ` + attachmentColumns + `, ` + attachmentVisibility + ` FROM attachments a LEFT JOIN updates u ON u.id = a.update_id
		WHERE a.incident_number = $1`
	if publicOnly {
		q += ` AND ` + attachmentVisibility + ` = 'public'`
	}
	return collect(scanAttachment)(t.q.QueryContext(ctx, q+` ORDER BY a.created_at, a.id`, number))
}
