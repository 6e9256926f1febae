package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/status"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// The status page: what customers see, computed from published incidents
// only (package status), its components, planned maintenance and
// settings. Managing them is for admins; reading the page is for anyone,
// whatever QUENCH_PUBLIC_VIEWING says: it is the surface for customers.

// statusCacheTTL bounds how long a computed page is served without
// looking at the database again. Changes made through this process drop
// the page at once; the TTL is for changes other replicas make.
const statusCacheTTL = 5 * time.Second

// statusCache holds the computed page. gen counts changes: every committed
// change to an incident (Service.publish) and to the page's own data bumps
// it, and a page computed at an older gen is computed again.
//
// It also keeps what customers may know of each incident on the page, so
// a change to a few incidents reads those again, not the whole window: the
// incidents this process changed are in dirty (every change goes through
// Service.publish with its incident). A full read happens on the first
// computation, when the day (and with it the window) moves, and when the
// time to live runs out, which is how changes made on other replicas come
// in.
type statusCache struct {
	gen   atomic.Uint64
	mu    sync.Mutex
	page  *status.Page
	built uint64
	at    time.Time
	key   []byte
	// building is closed when the page being computed is ready; nil
	// while nobody computes.
	building chan struct{}
	// incidents are the page's incidents by number, as of since.
	incidents map[int64]*status.Incident
	since     time.Time
	dirty     map[int64]bool
}

func (c *statusCache) invalidate() { c.gen.Add(1) }

// changed records that incident n changed (0: something else did).
func (c *statusCache) changed(n int64) {
	if n != 0 {
		c.mu.Lock()
		if c.dirty == nil {
			c.dirty = map[int64]bool{}
		}
		c.dirty[n] = true
		c.mu.Unlock()
	}
	c.gen.Add(1)
}

// StatusPage returns the status page as customers see it. It is computed
// once per change (and at least every statusCacheTTL, and when the day
// turns or planned work starts or ends) and shared by every request in the
// meantime: the same *status.Page until something changes, so callers may
// cache what they render from it by its address.
//
// After a change, one request computes the page and the others wait for
// it: they must not see what the change replaced. When all that happened
// is the time to live running out (no change is known here), the page
// they have is served while it is computed again in the background, so a
// refresh holds nobody up.
func (s *Service) StatusPage(ctx context.Context) (*status.Page, error) {
	c := &s.status
	for {
		c.mu.Lock()
		now := s.Now()
		gen := c.gen.Load()
		current := c.page != nil && c.built == gen && now.Before(c.page.Expires) && !now.Before(c.at)
		if current && (now.Sub(c.at) < statusCacheTTL || c.building != nil) {
			page := c.page
			c.mu.Unlock()
			return page, nil
		}
		if wait := c.building; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		b := &statusBuild{now: now, gen: gen, since: historyStart(now), done: make(chan struct{})}
		c.building = b.done
		if !current && c.incidents != nil && c.since.Equal(b.since) {
			b.base, b.dirty = c.incidents, c.dirty
		}
		c.dirty = nil
		if current {
			page := c.page
			c.mu.Unlock()
			go s.refreshStatusPage(context.WithoutCancel(ctx), b)
			return page, nil
		}
		c.mu.Unlock()
		return s.refreshStatusPage(ctx, b)
	}
}

// statusBuild is one computation of the page: as of gen, at now; from
// base with the dirty incidents read again, or (base nil) from a full
// read.
type statusBuild struct {
	now, since time.Time
	gen        uint64
	base       map[int64]*status.Incident
	dirty      map[int64]bool
	done       chan struct{}
}

// refreshStatusPage computes the page and keeps it, then closes b.done.
func (s *Service) refreshStatusPage(ctx context.Context, b *statusBuild) (*status.Page, error) {
	page, incidents, err := s.buildStatusPage(ctx, b)
	c := &s.status
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.page, c.built, c.at, c.incidents, c.since = page, b.gen, b.now, incidents, b.since
	} else {
		// The changes are still to be read.
		for n := range b.dirty {
			if c.dirty == nil {
				c.dirty = map[int64]bool{}
			}
			c.dirty[n] = true
		}
		if ctx.Err() == nil {
			s.log.Warn("status page not computed", "err", err)
		}
	}
	c.building = nil
	close(b.done)
	return page, err
}

// historyStart is the first day of the status page's history at now.
func historyStart(now time.Time) time.Time {
	now = now.UTC()
	return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(status.HistoryDays - 1))
}

func (s *Service) buildStatusPage(ctx context.Context, b *statusBuild) (*status.Page, map[int64]*status.Incident, error) {
	in := status.Input{Now: b.now}
	var numbers []int64 // nil: all of them
	if b.base != nil {
		numbers = []int64{}
		for n := range b.dirty {
			numbers = append(numbers, n)
		}
	}
	var incidents []*incident.Incident
	var updates []*incident.Update
	var key []byte
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) {
		if in.Settings, key, err = readStatusSettings(ctx, tx); err != nil {
			return err
		}
		if in.Components, err = tx.Components(ctx); err != nil {
			return err
		}
		if len(numbers) > 0 || numbers == nil {
			if incidents, err = tx.PublishedIncidents(ctx, b.since, numbers); err != nil {
				return err
			}
			if updates, err = tx.PublishedUpdates(ctx, b.since, numbers); err != nil {
				return err
			}
		}
		in.Maintenance, err = tx.Maintenance(ctx, b.now)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	byNumber := make(map[int64]*status.Incident, len(b.base)+len(incidents))
	for n, si := range b.base {
		if !b.dirty[n] {
			byNumber[n] = si
		}
	}
	fresh := make(map[int64]*status.Incident, len(incidents))
	for _, inc := range incidents {
		si := customerIncident(key, inc)
		byNumber[inc.Number], fresh[inc.Number] = si, si
	}
	for _, u := range updates {
		if si := fresh[u.Incident]; si != nil {
			if si.Ended != "" && len(si.Updates) > 0 {
				continue // an ended incident shows its last public update only
			}
			si.Updates = append(si.Updates, status.Update{ID: u.ID, Body: u.Body, At: u.CreatedAt})
		}
	}
	for _, si := range byNumber {
		in.Incidents = append(in.Incidents, si)
	}
	return status.Build(in), byNumber, nil
}

// customerIncident is what customers may know of a published incident.
// A merged or cancelled incident reads as resolved when it ended; a merged
// one names the incident it continues in only when customers see that
// one too.
func customerIncident(key []byte, inc *incident.Incident) *status.Incident {
	si := &status.Incident{ID: publicID(key, inc.Number), Title: inc.CustomerTitle(), Severity: inc.Severity, Phase: inc.Phase,
		Services: inc.Services, Started: inc.CreatedAt, Mitigated: inc.EnteredAt[incident.Mitigated],
		Resolved: inc.EnteredAt[incident.Resolved], PublishedAt: inc.PublishedAt}
	if inc.Ended() {
		si.Ended, si.Phase = inc.EndState, incident.Resolved
		if si.Resolved.IsZero() || si.Resolved.After(inc.EndedAt) {
			si.Resolved = inc.EndedAt
		}
		if inc.EndState == incident.Merged && inc.MergedInto != 0 {
			si.MergedInto, si.MergedIntoTitle = publicID(key, inc.MergedInto), inc.MergedIntoTitle
		}
	}
	return si
}

// publicID names an incident for customers. Incident numbers are the
// team's: on the status page their gaps would count the incidents
// customers are not shown.
func publicID(key []byte, number int64) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "incident\x00%d", number)
	return strings.ToLower(base32.StdEncoding.EncodeToString(m.Sum(nil))[:12])
}

// Status page settings, by their stored names.
const (
	settingName        = "instance_name"
	settingLogo        = "logo_url"
	settingOrg         = "org_url"
	settingAutoPublish = "auto_publish_critical"
	settingKey         = "signing_key"
)

// readStatusSettings reads the settings and the signing key of
// subscribers' links and public IDs (made by the migration).
func readStatusSettings(ctx context.Context, tx *store.Tx) (status.Settings, []byte, error) {
	m, at, err := tx.StatusSettings(ctx)
	if err != nil {
		return status.Settings{}, nil, err
	}
	key, err := hex.DecodeString(m[settingKey])
	if err != nil || len(key) < 16 {
		return status.Settings{}, nil, errors.New("status page: the signing key is missing or malformed")
	}
	return status.Settings{Name: m[settingName], LogoURL: m[settingLogo], OrgURL: m[settingOrg],
		AutoPublishCritical: m[settingAutoPublish] == "true", UpdatedAt: at}, key, nil
}

// signingKey returns the key that signs subscribers' links.
func (s *Service) signingKey(ctx context.Context) ([]byte, error) {
	c := &s.status
	c.mu.Lock()
	key := c.key
	c.mu.Unlock()
	if key != nil {
		return key, nil
	}
	err := s.store.ReadOne(ctx, func(tx *store.Tx) (err error) { _, key, err = readStatusSettings(ctx, tx); return err })
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.key = key
	c.mu.Unlock()
	return key, nil
}

// StatusSettings returns the status page's settings, for admins.
func (s *Service) StatusSettings(ctx context.Context, p auth.Principal) (status.Settings, error) {
	if err := require(p, auth.Administer, "manage the status page"); err != nil {
		return status.Settings{}, err
	}
	var st status.Settings
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { st, _, err = readStatusSettings(ctx, tx); return err })
	return st, err
}

// SaveStatusSettings changes the status page's settings.
func (s *Service) SaveStatusSettings(ctx context.Context, p auth.Principal, st status.Settings) (status.Settings, error) {
	if err := require(p, auth.Administer, "manage the status page"); err != nil {
		return st, err
	}
	st.Name = text.Line(st.Name, 100)
	var err error
	if st.LogoURL, err = webURL(st.LogoURL, "logo_url"); err != nil {
		return st, err
	}
	if st.OrgURL, err = webURL(st.OrgURL, "org_url"); err != nil {
		return st, err
	}
	now := s.Now()
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		for name, v := range map[string]string{settingName: st.Name, settingLogo: st.LogoURL, settingOrg: st.OrgURL,
			settingAutoPublish: strconv.FormatBool(st.AutoPublishCritical)} {
			if err := tx.SetStatusSetting(ctx, name, v, now); err != nil {
				return err
			}
		}
		return s.auditBy(ctx, tx, p, "status_settings_changed", st.Name, map[string]any{"auto_publish_critical": st.AutoPublishCritical})
	})
	if err != nil {
		return st, err
	}
	s.statusChanged()
	st.UpdatedAt = now
	return st, nil
}

// webURL checks an optional http(s) address of a setting.
func webURL(raw, name string) (string, error) {
	raw = text.Line(raw, 0)
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(raw) > incident.MaxURLBytes {
		return "", problem.Unprocessablef("%s must be an http or https address", name)
	}
	return raw, nil
}

// ComponentInput is what an admin supplies for a component; nil fields
// stay as they are (all but Name may be nil when creating).
type ComponentInput struct {
	Name        *string
	Description *string
	Group       *string
	Position    *int
	Services    *[]string
}

func (in ComponentInput) apply(c *status.Component) error {
	if in.Name != nil {
		c.Name = text.Line(*in.Name, 100)
	}
	if c.Name == "" {
		return problem.Unprocessablef("name is required")
	}
	if in.Description != nil {
		c.Description = text.Line(*in.Description, 500)
	}
	if in.Group != nil {
		c.Group = text.Line(*in.Group, 100)
	}
	if in.Position != nil {
		c.Position = *in.Position
	}
	if in.Services != nil {
		svc, err := incident.NormalizeServices(*in.Services)
		if err != nil {
			return err
		}
		c.Services = svc
	}
	return nil
}

// CreateComponent adds a component to the status page.
func (s *Service) CreateComponent(ctx context.Context, p auth.Principal, in ComponentInput) (*status.Component, error) {
	if err := require(p, auth.Administer, "manage the status page"); err != nil {
		return nil, err
	}
	c := &status.Component{CreatedAt: s.Now(), UpdatedAt: s.Now()}
	if err := in.apply(c); err != nil {
		return nil, err
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertComponent(ctx, c); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "component_created", c.Name, map[string]any{"component": c.ID, "services": c.Services})
	})
	if err != nil {
		return nil, err
	}
	s.statusChanged()
	return c, nil
}

// UpdateComponent changes a component.
func (s *Service) UpdateComponent(ctx context.Context, p auth.Principal, id int64, in ComponentInput) (*status.Component, error) {
	if err := require(p, auth.Administer, "manage the status page"); err != nil {
		return nil, err
	}
	var c *status.Component
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		if c, err = tx.Component(ctx, id); err != nil {
			return missing(err, "component %d not found", id)
		}
		if err := in.apply(c); err != nil {
			return err
		}
		c.UpdatedAt = s.Now()
		if err := tx.SaveComponent(ctx, c); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "component_changed", c.Name, map[string]any{"component": c.ID, "services": c.Services})
	})
	if err != nil {
		return nil, err
	}
	s.statusChanged()
	return c, nil
}

// DeleteComponent removes a component from the status page.
func (s *Service) DeleteComponent(ctx context.Context, p auth.Principal, id int64) error {
	if err := require(p, auth.Administer, "manage the status page"); err != nil {
		return err
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteComponent(ctx, id); err != nil {
			return missing(err, "component %d not found", id)
		}
		return s.auditBy(ctx, tx, p, "component_deleted", strconv.FormatInt(id, 10), nil)
	})
	if err == nil {
		s.statusChanged()
	}
	return err
}

// Components lists the status page's components, for the team (they show
// which services each stands for).
func (s *Service) Components(ctx context.Context, p auth.Principal) ([]*status.Component, error) {
	if err := require(p, auth.ReadAll, "see components"); err != nil {
		return nil, err
	}
	var out []*status.Component
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { out, err = tx.Components(ctx); return err })
	return out, err
}

// MaintenanceInput is planned work an admin announces.
type MaintenanceInput struct {
	Title      string
	Body       string
	Start, End time.Time
	Components []int64
}

// MaxMaintenanceBody caps the text of planned work.
const MaxMaintenanceBody = 8 << 10

// CreateMaintenance announces planned work on the status page.
func (s *Service) CreateMaintenance(ctx context.Context, p auth.Principal, in MaintenanceInput) (*status.Maintenance, error) {
	if err := require(p, auth.Administer, "manage the status page"); err != nil {
		return nil, err
	}
	m := &status.Maintenance{Title: text.Line(in.Title, incident.MaxTitleBytes), Body: text.Clean(strings.TrimSpace(in.Body), 0),
		Start: in.Start.UTC().Truncate(time.Microsecond), End: in.End.UTC().Truncate(time.Microsecond), CreatedBy: p.Name(), CreatedAt: s.Now()}
	switch {
	case m.Title == "":
		return nil, problem.Unprocessablef("title is required")
	case len(m.Body) > MaxMaintenanceBody:
		return nil, problem.Unprocessablef("body is longer than %d bytes", MaxMaintenanceBody)
	case m.Start.IsZero() || m.End.IsZero():
		return nil, problem.Unprocessablef("starts_at and ends_at are required")
	case !m.End.After(m.Start):
		return nil, problem.Unprocessablef("ends_at must be after starts_at")
	case !m.End.After(m.CreatedAt):
		return nil, problem.Unprocessablef("the work would be over already")
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		for _, id := range in.Components {
			if _, err := tx.Component(ctx, id); err != nil {
				return missing(err, "component %d not found", id)
			}
			m.Components = append(m.Components, id)
		}
		if err := tx.InsertMaintenance(ctx, m); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "maintenance_created", m.Title, map[string]any{"maintenance": m.ID})
	})
	if err != nil {
		return nil, err
	}
	s.statusChanged()
	return m, nil
}

// Maintenance lists planned work that is not over, for the team.
func (s *Service) Maintenance(ctx context.Context, p auth.Principal) ([]*status.Maintenance, error) {
	if err := require(p, auth.ReadAll, "see planned maintenance"); err != nil {
		return nil, err
	}
	var out []*status.Maintenance
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { out, err = tx.Maintenance(ctx, s.Now()); return err })
	return out, err
}

// DeleteMaintenance withdraws planned work.
func (s *Service) DeleteMaintenance(ctx context.Context, p auth.Principal, id int64) error {
	if err := require(p, auth.Administer, "manage the status page"); err != nil {
		return err
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteMaintenance(ctx, id); err != nil {
			return missing(err, "maintenance %d not found", id)
		}
		return s.auditBy(ctx, tx, p, "maintenance_deleted", strconv.FormatInt(id, 10), nil)
	})
	if err == nil {
		s.statusChanged()
	}
	return err
}

// publication applies the status page's rules to an incident changed by a
// patch: a critical public incident is published by itself when the
// setting says so and nobody said otherwise, and publishing stamps the
// time. changes is the patch's record, completed here.
func (s *Service) publication(ctx context.Context, tx *store.Tx, inc *incident.Incident, patch incident.Patch, changes map[string]incident.Change) error {
	if _, sev := changes["severity"]; sev && inc.Severity == incident.Critical && !inc.OnStatusPage && !inc.Confidential() && patch.OnStatusPage == nil {
		st, _, err := readStatusSettings(ctx, tx)
		if err != nil {
			return err
		}
		if st.AutoPublishCritical {
			inc.OnStatusPage = true
			changes["on_status_page"] = incident.Change{From: false, To: true}
		}
	}
	if c, ok := changes["on_status_page"]; ok && c.To == true {
		inc.PublishedAt = s.Now()
	}
	return nil
}

// autoPublish publishes a new incident when it is critical, public and
// the setting says so.
func (s *Service) autoPublish(ctx context.Context, tx *store.Tx, inc *incident.Incident) error {
	if inc.Severity != incident.Critical || inc.Confidential() || inc.OnStatusPage {
		return nil
	}
	st, _, err := readStatusSettings(ctx, tx)
	if err != nil || !st.AutoPublishCritical {
		return err
	}
	inc.OnStatusPage, inc.PublishedAt = true, inc.CreatedAt
	return nil
}
