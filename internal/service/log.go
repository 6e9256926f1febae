package service

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/review"
	"github.com/quenchhq/quench/internal/store"
)

// LogFormat is a format of the incident log's export.
type LogFormat string

// The export formats.
const (
	LogMarkdown LogFormat = "md"
	LogCSV      LogFormat = "csv"
	LogJSON     LogFormat = "json"
)

// ParseLogFormat reads an export format; "" is JSON.
func ParseLogFormat(s string) (LogFormat, error) {
	switch f := LogFormat(s); f {
	case "":
		return LogJSON, nil
	case LogMarkdown, LogCSV, LogJSON:
		return f, nil
	}
	return "", problem.Invalidf("unknown format %q: use md, csv or json", s)
}

// ContentType is the format's media type.
func (f LogFormat) ContentType() string {
	switch f {
	case LogMarkdown:
		return "text/markdown; charset=utf-8"
	case LogCSV:
		return "text/csv; charset=utf-8"
	}
	return "application/json; charset=utf-8"
}

// ExportLog writes the incident log, every incident p may see that q
// selects (q's paging is ignored), to w in format f. It streams: one
// incident is in memory at a time, whatever their number, and there is
// no cap. Nothing is written to w before the first incident has been read
// (or the list turned out empty), so an error before then (the viewer may
// not read, the database is busy) can still be answered as an error; an
// error after the first write leaves w cut short, and the caller must not
// make that look complete. baseURL makes incident links absolute.
// Anonymous viewers get the public incidents: their fields and phase
// notes are public, and updates are in no format.
func (s *Service) ExportLog(ctx context.Context, p auth.Principal, q IncidentQuery, f LogFormat, baseURL string, w io.Writer) error {
	publicOnly, err := s.audience(p)
	if err != nil {
		return err
	}
	if _, err := ParseLogFormat(string(f)); err != nil {
		return err
	}
	exported := s.Now()
	var enc logEncoder
	switch f {
	case LogMarkdown:
		enc = &markdownLog{w: w, baseURL: baseURL, at: exported, q: q}
	case LogCSV:
		enc = &csvLog{w: csv.NewWriter(w)}
	default:
		enc = &jsonLog{w: w, baseURL: baseURL}
	}
	started := false
	n := 0
	return s.store.Read(ctx, func(tx *store.Tx) error {
		err := tx.EachIncident(ctx, q.filter(publicOnly), func(inc *incident.Incident) error {
			if !started {
				started = true
				if err := enc.start(); err != nil {
					return err
				}
			}
			n++
			return enc.incident(inc)
		})
		if err != nil {
			return err
		}
		if !started {
			if err := enc.start(); err != nil {
				return err
			}
		}
		return enc.end(n)
	})
}

type logEncoder interface {
	start() error
	incident(*incident.Incident) error
	end(n int) error
}

// jsonLog writes {"incidents": [ … ], "count": n}, each incident in the
// one JSON shape of an incident (IncidentJSON).
type jsonLog struct {
	w       io.Writer
	baseURL string
	n       int
}

func (j *jsonLog) start() error {
	_, err := io.WriteString(j.w, "{\"incidents\": [")
	return err
}

func (j *jsonLog) incident(inc *incident.Incident) error {
	b, err := json.MarshalIndent(NewIncidentJSON(inc, j.baseURL), "  ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n  "
	if j.n == 0 {
		sep = "\n  "
	}
	j.n++
	if _, err := io.WriteString(j.w, sep); err != nil {
		return err
	}
	_, err = j.w.Write(b)
	return err
}

func (j *jsonLog) end(n int) error {
	_, err := fmt.Fprintf(j.w, "\n], \"count\": %d}\n", n)
	return err
}

// csvLog writes one row per incident. The columns before the owners are
// the export's first version's; new columns are added at the end.
type csvLog struct{ w *csv.Writer }

// CSVCell keeps spreadsheet programs from running a cell as a formula.
func CSVCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (c *csvLog) start() error {
	return c.w.Write([]string{"number", "title", "severity", "services", "detection_source", "visibility", "phase", "opened_at",
		"mitigated_at", "resolved_at", "closed_at", "mitigation", "fix", "root_cause_improvement", "detection_improvement",
		"active_owner", "mitigated_owner", "resolved_owner", "end_state", "ended_at", "end_reason", "merged_into"})
}

func (c *csvLog) incident(inc *incident.Incident) error {
	entered := func(p incident.Phase) string {
		if t, ok := inc.EnteredAt[p]; ok {
			return t.UTC().Format(time.RFC3339)
		}
		return ""
	}
	row := []string{strconv.FormatInt(inc.Number, 10), inc.Title, string(inc.Severity), strings.Join(inc.Services, " "),
		string(inc.DetectionSource), string(inc.Visibility), string(inc.Phase), inc.CreatedAt.UTC().Format(time.RFC3339),
		entered(incident.Mitigated), entered(incident.Resolved), entered(incident.Closed),
		inc.Notes[incident.Mitigated], inc.Notes[incident.Resolved], inc.Notes[incident.Closed], inc.DetectionImprovement,
		inc.Owners[incident.Active], inc.Owners[incident.Mitigated], inc.Owners[incident.Resolved], string(inc.EndState), "", inc.EndReason, ""}
	if inc.Ended() {
		row[len(row)-3] = inc.EndedAt.UTC().Format(time.RFC3339)
	}
	if inc.MergedInto != 0 {
		row[len(row)-1] = strconv.FormatInt(inc.MergedInto, 10)
	}
	for i := range row {
		row[i] = CSVCell(row[i])
	}
	return c.w.Write(row) // buffered, 4 KiB at a time
}

func (c *csvLog) end(int) error {
	c.w.Flush()
	return c.w.Error()
}

// markdownLog writes the log as the talk keeps it: per incident its
// title, dates, owners, the note of every phase and the detection
// improvement.
type markdownLog struct {
	w       io.Writer
	baseURL string
	at      time.Time
	q       IncidentQuery
}

func (m *markdownLog) start() error {
	_, err := fmt.Fprintf(m.w, "# Incident log\n\nExported %s%s.\n", m.at.UTC().Format("2006-01-02 15:04 UTC"), m.q.describe())
	return err
}

// describe lists q's filters for a reader: ", opened 2026-11-01 – 2026-11-30, service umb".
func (q IncidentQuery) describe() string {
	var parts []string
	day := func(t time.Time) string { return t.UTC().Format(time.DateOnly) }
	switch {
	case !q.From.IsZero() && !q.To.IsZero():
		parts = append(parts, "opened "+day(q.From)+" – "+day(q.To.Add(-time.Microsecond)))
	case !q.From.IsZero():
		parts = append(parts, "opened since "+day(q.From))
	case !q.To.IsZero():
		parts = append(parts, "opened before "+day(q.To))
	}
	for _, f := range [][2]string{{"service", q.Service}, {"severity", string(q.Severity)}, {"detection source", string(q.Source)},
		{"owner", q.Owner}, {"search", q.Text}, {"state", q.State}} {
		if f[1] != "" {
			parts = append(parts, f[0]+" "+f[1])
		}
	}
	if len(q.Phases) > 0 {
		ph := make([]string, len(q.Phases))
		for i, p := range q.Phases {
			ph[i] = string(p)
		}
		parts = append(parts, "phase "+strings.Join(ph, " or "))
	}
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}

func (m *markdownLog) incident(inc *incident.Incident) error {
	var b strings.Builder
	stamp := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
	fmt.Fprintf(&b, "\n## [#%d](%s/incidents/%d) %s\n\n", inc.Number, m.baseURL, inc.Number, oneLine(inc.Title))
	services := strings.Join(inc.Services, ", ")
	if services == "" {
		services = "none"
	}
	fmt.Fprintf(&b, "- %s, %s, %s; services: %s; detected by: %s\n", inc.Severity, inc.Phase, inc.Visibility, services, inc.DetectionSource)
	fmt.Fprintf(&b, "- Opened %s by %s\n", stamp(inc.CreatedAt), orNobody(inc.CreatedBy))
	switch {
	case inc.EndState == incident.Merged && inc.MergedInto != 0:
		fmt.Fprintf(&b, "- **Merged** into [#%d](%s/incidents/%d) %s: %s\n", inc.MergedInto, m.baseURL, inc.MergedInto, stamp(inc.EndedAt), oneLine(inc.EndReason))
	case inc.EndState == incident.Merged:
		fmt.Fprintf(&b, "- **Merged** into another incident %s\n", stamp(inc.EndedAt))
	case inc.EndState == incident.Cancelled:
		fmt.Fprintf(&b, "- **Cancelled** %s: %s\n", stamp(inc.EndedAt), oneLine(inc.EndReason))
	}
	var owners []string
	for _, p := range incident.OwnedPhases {
		owners = append(owners, string(p)+" "+orNobody(inc.Owners[p]))
	}
	fmt.Fprintf(&b, "- Owners: %s\n", strings.Join(owners, ", "))
	for _, p := range incident.Phases[1:] {
		at, ok := inc.EnteredAt[p]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "\n### %s %s, after %s: the %s\n\n", p.Title(), stamp(at), review.Words(at.Sub(inc.CreatedAt)), p.NoteName())
		b.WriteString(quote(inc.Notes[p]))
	}
	if inc.DetectionImprovement != "" {
		b.WriteString("\n### Detection improvement\n\n" + quote(inc.DetectionImprovement))
	} else if inc.DetectionSource.NeedsDetectionImprovement() && !inc.Ended() {
		b.WriteString("\n### Detection improvement\n\n> not yet\n")
	}
	_, err := io.WriteString(m.w, b.String())
	return err
}

func (m *markdownLog) end(n int) error {
	if n == 0 {
		_, err := io.WriteString(m.w, "\nNo incidents match.\n")
		return err
	}
	return nil
}

// quote sets a person's Markdown apart as a block quote, so its headings
// cannot break the log's structure.
func quote(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	if s == "" {
		return "> (no note)\n"
	}
	return "> " + strings.ReplaceAll(s, "\n", "\n> ") + "\n"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func orNobody(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}
