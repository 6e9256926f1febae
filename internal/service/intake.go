package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
)

// IngestResult says what one delivery did.
type IngestResult struct {
	Accepted int  `json:"accepted"`
	New      int  `json:"new"`
	Resolved int  `json:"resolved"`
	Replayed bool `json:"replayed,omitempty"`
	// Snoozed counts newly firing alerts a snooze kept in the inbox.
	Snoozed int `json:"snoozed,omitempty"`
	// Opened and Attached list incident numbers; empty, never nil, so
	// the answer has [] and not null when there are none.
	Opened   []int64 `json:"opened"`
	Attached []int64 `json:"attached"`
}

// Ingest stores one delivery of alerts from an integration and routes the
// newly firing ones by the rules. It commits before returning, so a nil
// error means the alerts are durable. deliveryID, when set, makes a replay
// of the same delivery change nothing. Alerts never move incidents between
// phases.
//
// The work is constant per alert, however many alerts an incident holds
// already: counts kept on the incident stand in for its alerts, and the
// alerts a delivery attaches to one incident make one timeline event.
func (s *Service) Ingest(ctx context.Context, integrationID, deliveryID string, alerts []alert.Alert) (*IngestResult, error) {
	return s.IngestDelivery(ctx, integrationID, Delivery{ID: deliveryID}, alerts)
}

// Delivery identifies one request to the intake, for senders that can
// replay: Sentry, whose signature covers the body but not its time.
type Delivery struct {
	// ID is the sender's id of the delivery (Sentry's Request-ID): the
	// same id again is a replay that changes nothing.
	ID string
	// Digest is a hash of the body: the same body under another id is a
	// replay too, and refused (409 replayed_delivery).
	Digest string
}

// errReplayedBody refuses a body delivered before under another id.
var errReplayedBody = problem.New(problem.Conflict, "replayed_delivery", "this body was delivered before under another Request-ID")

// IngestDelivery is Ingest with a Delivery's replay protection.
func (s *Service) IngestDelivery(ctx context.Context, integrationID string, d Delivery, alerts []alert.Alert) (*IngestResult, error) {
	alerts = lastPerFingerprint(alerts)
	// Encoded here, not in the transaction: on SQLite every transaction
	// runs on the one writer goroutine.
	enc := make([]store.Encoded, len(alerts))
	for i := range alerts {
		enc[i] = store.EncodeFor(integrationID, &alerts[i])
	}
	var res IngestResult
	var changed map[int64]bool
	var announced *txAnnouncement
	// Grouped: on PostgreSQL concurrent deliveries share a commit, and
	// the announcement of what they changed.
	err := s.store.WriteGrouped(ctx, func(tx *store.Tx) (err error) {
		res, changed, err = s.ingestTx(ctx, tx, integrationID, d, alerts, enc)
		if err == nil {
			announced = s.announceInTx(tx, alertChanges(changed))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	s.publishAlerts(changed, announced)
	return &res, nil
}

// ingestTx is the intake path inside a transaction: the intake endpoint,
// heartbeats and test alerts all come through it. The caller publishes
// the changed incidents once the transaction commits.
func (s *Service) ingestTx(ctx context.Context, tx *store.Tx, integrationID string, d Delivery, alerts []alert.Alert, enc []store.Encoded) (IngestResult, map[int64]bool, error) {
	res := IngestResult{Opened: []int64{}, Attached: []int64{}}
	// On PostgreSQL the integration's row is locked only once the
	// delivery changes stored alerts or may open an incident (lock).
	in, locked, err := tx.IntakeIntegration(ctx, integrationID)
	if err != nil {
		return res, nil, err
	}
	now := s.Now()
	if d.ID != "" {
		fresh, err := tx.RecordDelivery(ctx, in.ID, d.ID, now)
		if err != nil || !fresh {
			res.Replayed = !fresh
			return res, nil, err
		}
	}
	if d.Digest != "" {
		fresh, err := tx.RecordDelivery(ctx, in.ID, "sha256:"+d.Digest, now)
		if err != nil {
			return res, nil, err
		}
		if !fresh {
			return res, nil, errReplayedBody
		}
	}
	g := &ingestion{s: s, tx: tx, ctx: ctx, in: in, locked: locked, now: now, res: &res, groups: map[string]int64{},
		joined: map[int64][]joined{}, counts: newCountChanges()}
	if err := g.apply(alerts, enc); err != nil {
		return res, nil, err
	}
	return res, g.counts.changed, nil
}

// encodeAll encodes alerts for the store, outside any transaction.
func encodeAll(alerts []alert.Alert) []store.Encoded {
	enc := make([]store.Encoded, len(alerts))
	for i := range alerts {
		enc[i] = store.Encode(&alerts[i])
	}
	return enc
}

// alertChanges are the changes to incidents an ingest made; the inbox's
// (paced, inboxMoved) are not among them.
func alertChanges(changed map[int64]bool) []Change {
	var cs []Change
	for n := range changed {
		if n != 0 {
			cs = append(cs, Change{Incident: n, Kind: incident.EventAlertAttached})
		}
	}
	return cs
}

// publishAlerts tells live viewers about incidents an ingest changed;
// announced is what its transaction announced already (announceInTx), or
// nil.
func (s *Service) publishAlerts(changed map[int64]bool, announced *txAnnouncement) {
	if changed[0] { // the inbox's count moved (countChanges.add)
		s.inboxMoved()
	}
	for _, c := range alertChanges(changed) {
		s.publishAnnounced(c, announced)
	}
}

// lastPerFingerprint keeps the last alert of each fingerprint in a payload;
// a payload without repeats, the usual one, is returned as it is.
func lastPerFingerprint(alerts []alert.Alert) []alert.Alert {
	seen := make(map[string]int, len(alerts))
	for i := range alerts {
		seen[alerts[i].Fingerprint] = i
	}
	if len(seen) == len(alerts) {
		return alerts
	}
	clear(seen)
	out := alerts[:0:0]
	for _, a := range alerts {
		if i, ok := seen[a.Fingerprint]; ok {
			out[i] = a
			continue
		}
		seen[a.Fingerprint] = len(out)
		out = append(out, a)
	}
	return out
}

// ingestion is the state of one Ingest transaction.
type ingestion struct {
	s   *Service
	tx  *store.Tx
	ctx context.Context
	in  *alert.Integration
	// locked is set once the integration's row is locked (lock).
	locked bool
	now    time.Time
	res    *IngestResult
	rules  []alert.Rule
	// loaded is set once rules holds the rules.
	loaded bool
	// snoozes are the snoozes holding now, read once per delivery when
	// a rule would first open or join an incident (snoozesLoaded).
	snoozes       []alert.Snooze
	snoozesLoaded bool
	// groups caches the open incident of each group key (0: none), so a
	// delivery of one group looks it up once.
	groups map[string]int64
	// joined lists, per incident, the alerts that joined it, in order;
	// order lists those incidents in the order they were first joined.
	joined map[int64][]joined
	order  []int64
	// openedBy names, per incident opened, the rule that opened it.
	openedBy map[int64]string
	counts   *countChanges
}

// joined is an alert that joined an incident; again when it was attached
// already and fired again.
type joined struct {
	rec   *alert.Record
	again bool
}

// apply stores the delivery's alerts. Alerts whose place does not depend
// on what is stored (the inbox, or the open incident of their group) are
// written first with one INSERT that skips fingerprints already stored:
// a new alert then costs no lookup. The skipped ones, and those a rule
// would open an incident for, are read and handled one by one, in the
// order of the payload.
func (g *ingestion) apply(alerts []alert.Alert, enc []store.Encoded) error {
	// Sized once: this runs on SQLite's one writer goroutine.
	first := make([]store.AlertRow, 0, len(alerts))
	firstAt := make([]int, 0, len(alerts))
	recs := make([]alert.Record, len(alerts))
	var rest []int
	for i := range alerts {
		n, ok, err := g.destinationIfNew(&alerts[i])
		if err != nil {
			return err
		}
		if !ok {
			rest = append(rest, i)
			continue
		}
		rec := &recs[i]
		*rec = alert.Record{Alert: alerts[i], IntegrationID: g.in.ID, FirstSeen: g.now, LastSeen: g.now, Received: 1, Incident: n}
		first = append(first, store.AlertRow{Record: rec, Encoded: enc[i]})
		firstAt = append(firstAt, i)
	}
	if _, err := g.tx.InsertNewAlerts(g.ctx, first); err != nil {
		return err
	}
	for j, row := range first {
		if row.ID == 0 {
			rest = append(rest, firstAt[j])
			continue
		}
		g.res.Accepted++
		g.res.New++
		g.counts.move(nil, row.Record)
		if row.Incident != 0 {
			g.join(row.Record, false)
		}
	}
	if len(rest) > 0 {
		if err := g.lock(); err != nil {
			return err
		}
		slices.Sort(rest)
		fps := make([]string, len(rest))
		for j, i := range rest {
			fps[j] = alerts[i].Fingerprint
		}
		existing, err := g.tx.AlertsToChange(g.ctx, g.in.ID, fps)
		if err != nil {
			return err
		}
		for _, i := range rest {
			if err := g.update(existing[alerts[i].Fingerprint], alerts[i], enc[i]); err != nil {
				return err
			}
		}
	}
	return g.finish()
}

// destinationIfNew says where alert a goes if its fingerprint is new, when
// that is settled without side effects: the inbox (0), or the open
// incident of its group. ok is false when a rule would open an incident
// for it or attach it to one its group does not have (yet): an earlier
// alert of the same payload may open that incident.
func (g *ingestion) destinationIfNew(a *alert.Alert) (n int64, ok bool, err error) {
	if a.Status != alert.Firing {
		return 0, true, nil
	}
	rule, err := g.rule(a)
	if err != nil || rule == nil || rule.Action == alert.ActionInbox {
		return 0, err == nil, err
	}
	if quiet, err := g.snoozed(a); err != nil || quiet {
		return 0, err == nil, err
	}
	if a.GroupKey != "" {
		if n, err = g.openForGroup(a.GroupKey); err != nil || n != 0 {
			return n, err == nil, err
		}
	}
	return 0, false, nil
}

// update stores one alert that was looked up: rec is its stored state, nil
// when it is new.
func (g *ingestion) update(rec *alert.Record, a alert.Alert, enc store.Encoded) error {
	g.res.Accepted++
	var before *alert.Record
	if rec != nil {
		prev := *rec
		before = &prev
	} else {
		rec = &alert.Record{IntegrationID: g.in.ID, FirstSeen: g.now}
		g.res.New++
	}
	wasFiring := before != nil && before.Status == alert.Firing
	rec.Alert, rec.LastSeen = a, g.now
	rec.Received++
	if a.Status == alert.Firing && !wasFiring {
		// Fired again after resolving: a new problem, triaged afresh.
		rec.Triage = alert.Triage{}
	}
	if a.Status == alert.Resolved && wasFiring {
		g.res.Resolved++
	}
	again := false
	if a.Status == alert.Firing && !wasFiring {
		n, ag, err := g.route(rec)
		if err != nil {
			return err
		}
		rec.Incident, again = n, ag
	}
	row := store.AlertRow{Record: rec, Encoded: enc}
	if before != nil {
		if err := g.tx.SaveAlertRow(g.ctx, row); err != nil {
			return err
		}
	} else if err := g.tx.InsertAlertRows(g.ctx, []store.AlertRow{row}); err != nil {
		return err
	}
	g.counts.move(before, rec)
	if a.Status == alert.Firing && !wasFiring && rec.Incident != 0 {
		g.join(rec, again)
	}
	return nil
}

// actor names the sender in the timeline by type only: the integration's
// name is internal and goes into the internal alert events.
func (g *ingestion) actor() string { return g.in.Type }

// rule is the first rule matching a newly firing alert, nil for none.
func (g *ingestion) rule(a *alert.Alert) (*alert.Rule, error) {
	if !g.loaded {
		rules, err := g.tx.Rules(g.ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			g.rules = append(g.rules, *r)
		}
		g.loaded = true
	}
	return alert.Route(g.rules, g.in.ID, a), nil
}

// snoozed reports whether a snooze keeps newly firing alert a in the
// inbox, and counts it. The snoozes are read once per delivery, and only
// by one whose rules would open or join an incident.
func (g *ingestion) snoozed(a *alert.Alert) (bool, error) {
	if !g.snoozesLoaded {
		list, err := g.tx.Snoozes(g.ctx, g.now)
		if err != nil {
			return false, err
		}
		for _, sn := range list {
			g.snoozes = append(g.snoozes, *sn)
		}
		g.snoozesLoaded = true
	}
	if len(g.snoozes) == 0 || alert.Snoozed(g.snoozes, g.now, a.Labels) == nil {
		return false, nil
	}
	g.res.Snoozed++
	return true, nil
}

// openForGroup is the open incident of a group (0: none), looked up once
// per delivery and group.
func (g *ingestion) openForGroup(key string) (int64, error) {
	if n, ok := g.groups[key]; ok {
		return n, nil
	}
	n, err := g.tx.OpenIncidentForGroup(g.ctx, g.in.ID, key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	g.groups[key] = n
	return n, nil
}

// route decides where a newly firing alert goes and returns the incident
// to attach it to (0: the inbox). An alert still attached to an open
// incident stays there (again); otherwise the first matching rule decides.
func (g *ingestion) route(rec *alert.Record) (n int64, again bool, err error) {
	if rec.Incident != 0 {
		inc, err := g.tx.IncidentToJoin(g.ctx, rec.Incident)
		if err != nil {
			return 0, false, err
		}
		if inc.EndState == incident.Merged && inc.MergedInto != 0 {
			// Its alerts moved to the target at the merge; one that
			// slipped past it (stored before merges held
			// intake out, 2026-12) follows them.
			if inc, err = g.tx.IncidentToJoin(g.ctx, inc.MergedInto); err != nil {
				return 0, false, err
			}
		}
		if inc.Phase != incident.Closed && !inc.Ended() {
			return inc.Number, inc.Number == rec.Incident, nil
		}
	}
	rule, err := g.rule(&rec.Alert)
	if err != nil || rule == nil || rule.Action == alert.ActionInbox {
		return 0, false, err
	}
	if quiet, err := g.snoozed(&rec.Alert); err != nil || quiet {
		return 0, false, err
	}
	if rec.GroupKey != "" {
		if n, err := g.openForGroup(rec.GroupKey); err != nil || n != 0 {
			return n, false, err
		}
	}
	if rule.Action != alert.ActionOpen {
		return 0, false, nil
	}
	inc := g.s.incidentFromAlert(&rec.Alert, g.in, rule, g.actor(), g.now)
	// The created event is public: which integration and rule opened the
	// incident stays in the internal alert event. The incident is stored
	// counting the alert that opens it, which the caller attaches.
	opener := store.AlertCounts{Attached: 1, Firing: 1, Truncated: int64(rec.Truncated)}
	if err := g.s.insertIncidentWithAlerts(g.ctx, g.tx, inc, nil, opener); err != nil {
		return 0, false, err
	}
	g.counts.stored(inc.Number, opener)
	if err := g.s.addTemplateItems(g.ctx, g.tx, inc, TemplatesAuto); err != nil {
		return 0, false, err
	}
	g.res.Opened = append(g.res.Opened, inc.Number)
	if g.openedBy == nil {
		g.openedBy = map[int64]string{}
	}
	g.openedBy[inc.Number] = rule.Name
	if rec.GroupKey != "" {
		g.groups[rec.GroupKey] = inc.Number
	}
	return inc.Number, false, nil
}

// join notes that rec joined its incident, for the delivery's event.
func (g *ingestion) join(rec *alert.Record, again bool) {
	n := rec.Incident
	if _, ok := g.joined[n]; !ok {
		g.order = append(g.order, n)
		if !slices.Contains(g.res.Opened, n) {
			g.res.Attached = append(g.res.Attached, n)
		}
	}
	g.joined[n] = append(g.joined[n], joined{rec, again})
}

// maxEventAlerts bounds the alerts one alert-attached event lists; the
// incident's alerts are all in its alert list.
const maxEventAlerts = 20

// finish writes what the delivery did to incidents: one alert-attached
// event per incident its alerts joined, then the counts and hints.
func (g *ingestion) finish() error {
	for _, n := range g.order {
		list := g.joined[n]
		data := map[string]any{"integration": g.in.Name}
		if list[0].again {
			data["again"] = true
		}
		if rule := g.openedBy[n]; rule != "" {
			data["opened_by_rule"] = rule
		}
		if len(list) > 1 {
			data["count"] = len(list)
			named := make([]map[string]any, 0, min(len(list), maxEventAlerts))
			for _, j := range list[:min(len(list), maxEventAlerts)] {
				e := map[string]any{"alert": j.rec.ID, "title": j.rec.Title, "status": j.rec.Status, "fingerprint": j.rec.Fingerprint}
				if j.again {
					e["again"] = true
				}
				named = append(named, e)
			}
			data["alerts"] = named
		}
		if t := int64(list[0].rec.Truncated); t > 0 {
			data["truncated_alerts"] = t
		}
		if err := g.s.appendAlertEvent(g.ctx, g.tx, list[0].rec, g.actor(), g.now, data); err != nil {
			return err
		}
		recs := make([]*alert.Record, len(list))
		for i, j := range list {
			recs[i] = j.rec
		}
		if err := g.s.addRunbookLinks(g.ctx, g.tx, n, recs, g.actor(), g.now); err != nil {
			return err
		}
	}
	// "Last alert" is for people; once a second is precise enough and
	// spares a write per delivery in a storm.
	if g.now.Sub(g.in.LastAlertAt) >= time.Second {
		g.counts.lastAlert[g.in.ID] = g.now
	}
	return g.counts.writeOrDefer(g.ctx, g.tx, g.s, g.actor(), g.now)
}

// countChanges gathers how a transaction changes the alert counts kept on
// incidents and integrations, to write each once.
type countChanges struct {
	incidents map[int64]*alertCounts
	// counted holds, per incident opened by this transaction, the counts
	// it was stored with: they are not added again.
	counted map[int64]store.AlertCounts
	inbox   map[string]int64 // firing alerts in the inbox, per integration
	// changed lists the incidents whose alerts changed, for live viewers.
	changed map[int64]bool
	// lastAlert holds when to record as an integration's last delivery.
	lastAlert map[string]time.Time
	// s, actor and now are for the hint's event when the counts are
	// written at the commit (intake_pg.go).
	s     *Service
	actor string
	now   time.Time
}

type alertCounts struct {
	attached, firing int64
	// truncated is the most alerts of its group a sender left out of the
	// delivery of an alert now in the incident.
	truncated int64
}

func newCountChanges() *countChanges {
	return &countChanges{incidents: map[int64]*alertCounts{}, inbox: map[string]int64{}, changed: map[int64]bool{}, lastAlert: map[string]time.Time{}}
}

// stored notes that incident n was stored with counts c already.
func (t *countChanges) stored(n int64, c store.AlertCounts) {
	if t.counted == nil {
		t.counted = map[int64]store.AlertCounts{}
	}
	t.counted[n] = c
}

// move counts an alert going from its stored state before (nil: new) to
// after.
func (t *countChanges) move(before, after *alert.Record) {
	if before != nil {
		if before.Incident == after.Incident && countedStatus(before) == countedStatus(after) {
			if c := t.incident(after.Incident); c != nil {
				c.truncated = max(c.truncated, int64(after.Truncated))
			}
			return
		}
		t.add(before.IntegrationID, before.Incident, countedStatus(before), -1)
		if before.Incident != 0 {
			t.changed[before.Incident] = true
		}
	}
	t.add(after.IntegrationID, after.Incident, countedStatus(after), 1)
	if c := t.incident(after.Incident); c != nil {
		c.truncated = max(c.truncated, int64(after.Truncated))
		t.changed[after.Incident] = true
	}
}

// countedStatus is the status an alert counts with: a dismissed alert in
// the inbox no longer waits there, so it counts as not firing.
func countedStatus(r *alert.Record) alert.Status {
	if r.Incident == 0 && r.Dismissed() {
		return alert.Resolved
	}
	return r.Status
}

func (t *countChanges) incident(n int64) *alertCounts {
	if n == 0 {
		return nil
	}
	c := t.incidents[n]
	if c == nil {
		c = &alertCounts{}
		t.incidents[n] = c
	}
	return c
}

func (t *countChanges) add(integration string, n int64, st alert.Status, d int64) {
	firing := int64(0)
	if st == alert.Firing {
		firing = d
	}
	if c := t.incident(n); c != nil {
		c.attached += d
		c.firing += firing
		return
	}
	if firing != 0 {
		t.inbox[integration] += firing
		t.changed[0] = true
	}
}

// write stores the counts, one statement per integration and incident, in
// ascending order, integrations first (so two PostgreSQL transactions,
// intake's among them, which locks its integration first, lock rows in the
// same order), and keeps each incident's alerts-resolved hint.
func (t *countChanges) write(ctx context.Context, tx *store.Tx, s *Service, actor string, now time.Time) error {
	ids := make([]string, 0, len(t.inbox)+len(t.lastAlert))
	for id := range t.inbox {
		ids = append(ids, id)
	}
	for id := range t.lastAlert {
		if _, ok := t.inbox[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if t.inbox[id] == 0 && t.lastAlert[id].IsZero() {
			continue
		}
		if err := tx.NoteDelivery(ctx, id, t.inbox[id], t.lastAlert[id]); err != nil {
			return err
		}
	}
	numbers := make([]int64, 0, len(t.incidents))
	for n := range t.incidents {
		numbers = append(numbers, n)
	}
	slices.Sort(numbers)
	for _, n := range numbers {
		c := t.incidents[n]
		if pre, ok := t.counted[n]; ok {
			// Opened by this transaction with counts of its own: what is
			// left to add.
			c.attached -= pre.Attached
			c.firing -= pre.Firing
			if c.truncated <= pre.Truncated {
				c.truncated = 0
			}
		}
		if c.attached == 0 && c.firing == 0 && c.truncated == 0 {
			continue
		}
		// Firing alerts joining (a storm) add to a slot on PostgreSQL,
		// without waiting for the incident's row; they leave the hint
		// false, and the call says when it is not (store/alertcounts.go).
		if shared, err := tx.AddAlertCountsShared(ctx, n, c.attached, c.firing, c.truncated); err != nil || shared {
			if err != nil {
				return err
			}
			continue
		}
		after, err := tx.AddAlertCounts(ctx, n, c.attached, c.firing, c.truncated)
		if err != nil {
			return err
		}
		if err := s.syncAlertsHint(ctx, tx, n, after, actor, now); err != nil {
			return err
		}
	}
	return nil
}

// appendAlertEvent records that rec joined its incident; extra adds to the
// event's data. The event is internal: alert labels name hosts and systems.
func (s *Service) appendAlertEvent(ctx context.Context, tx *store.Tx, rec *alert.Record, actor string, at time.Time, extra map[string]any) error {
	data := map[string]any{"alert": rec.ID, "title": rec.Title, "status": rec.Status, "fingerprint": rec.Fingerprint}
	for k, v := range extra {
		data[k] = v
	}
	return s.record(ctx, tx, nil, &incident.Event{Incident: rec.Incident, At: at, Actor: actor, Kind: incident.EventAlertAttached, Internal: true, Data: data})
}

// syncAlertsHint keeps the "alerts resolved — mitigated?" hint true
// exactly while an active incident has alerts and none of them fires,
// read from the counts intake keeps; the timeline says so once each time
// it becomes true. It never moves phases.
func (s *Service) syncAlertsHint(ctx context.Context, tx *store.Tx, n int64, c store.AlertCounts, actor string, at time.Time) error {
	all := c.Attached > 0 && c.Firing == 0 && c.Phase == incident.Active
	if all == c.AlertsResolved {
		return nil
	}
	// Read without FOR UPDATE: the counts' update (AddAlertCounts) holds
	// the row already. FOR UPDATE would wait for every transaction whose
	// events name the incident (their foreign key takes FOR KEY SHARE)
	// while they wait to update its counts after this one: a deadlock
	// whenever the hint flipped during a storm
	// (TestStormCountsOnSlotsAcrossReplicas).
	inc, err := tx.Incident(ctx, n)
	if err != nil {
		return err
	}
	inc.AlertsResolved = all
	if err := tx.SaveIncident(ctx, inc, inc.Phase, false); err != nil {
		return err
	}
	if !all {
		return nil
	}
	return s.record(ctx, tx, inc, &incident.Event{Incident: n, At: at, Actor: actor, Kind: incident.EventAlertsResolved,
		Data: map[string]any{"alerts": c.Attached, "hint": "all alerts resolved: mitigated?"}})
}

// incidentFromAlert drafts the incident a rule opens for an alert.
func (s *Service) incidentFromAlert(a *alert.Alert, in *alert.Integration, rule *alert.Rule, actor string, now time.Time) *incident.Incident {
	d := incident.Draft{
		Title:           a.Title,
		Severity:        severityOf(rule.Severity, a.Labels["severity"]),
		DetectionSource: incident.SourceAlert,
		Visibility:      incident.Visibility(rule.Visibility),
	}
	switch in.Type {
	case alert.TypeSentry:
		d.DetectionSource = incident.SourceException
	case alert.TypeReport:
		d.DetectionSource = incident.SourceCustomer
	}
	if svc := a.Labels["service"]; svc != "" {
		d.Services = []string{svc}
	}
	if name := a.Labels["alertname"]; name != "" {
		d.Labels = map[string]string{"alertname": name}
	}
	if IsTest(a.Labels) {
		// A test alert's incident says so wherever it is shown.
		if d.Labels == nil {
			d.Labels = map[string]string{}
		}
		d.Labels[TestLabel] = "true"
		d.Title = "[test] " + d.Title
	}
	if d.Normalize() != nil {
		// A rule's odd severity or visibility must not lose the alert.
		d.Severity, d.Visibility = severityOf("", a.Labels["severity"]), incident.Public
		if d.Title == "" {
			d.Title = "alert " + a.Fingerprint
		}
		d.Normalize()
	}
	return &incident.Incident{
		Title: d.Title, Severity: d.Severity, Services: d.Services, Labels: d.Labels, DetectionSource: d.DetectionSource,
		Visibility: d.Visibility, Phase: incident.Active, EnteredAt: map[incident.Phase]time.Time{incident.Active: now},
		Notes: map[incident.Phase]string{}, CreatedBy: actor, CreatedAt: now, UpdatedAt: now,
	}
}

// severityOf maps a rule override or an alert's severity label, in the
// words monitoring setups commonly use, to an incident severity.
func severityOf(override, label string) incident.Severity {
	if override != "" {
		return incident.Severity(override)
	}
	switch strings.ToLower(label) {
	case "critical", "page", "p1", "fatal", "emergency", "sev1":
		return incident.Critical
	case "major", "error", "high", "important", "p2", "sev2":
		return incident.Major
	}
	return incident.Minor
}

// AlertQuery filters the alert inbox.
type AlertQuery struct {
	// Status, when set, keeps firing or resolved alerts.
	Status alert.Status
	// Integration, when set, keeps the alerts of one integration.
	Integration string
	// Unattached keeps alerts that are part of no incident.
	Unattached bool
	// Matchers keep alerts whose labels match all of them.
	Matchers []alert.Matcher
	// Dismissed says what to do with dismissed alerts: leave them out
	// (HideDismissed, the default), keep only them, or show them too.
	Dismissed     Dismissed
	Limit, Offset int
}

// Dismissed picks dismissed alerts in an alert list.
type Dismissed string

const (
	HideDismissed Dismissed = ""
	OnlyDismissed Dismissed = "only"
	AnyDismissed  Dismissed = "any"
)

// ParseDismissed reads the dismissed filter of a query: false (or empty)
// hides dismissed alerts, true keeps only them, any shows both.
func ParseDismissed(v string) (Dismissed, error) {
	switch v {
	case "", "false":
		return HideDismissed, nil
	case "true", "only":
		return OnlyDismissed, nil
	case "any":
		return AnyDismissed, nil
	}
	return "", problem.Invalidf("dismissed must be false, true or any")
}

// maxAlertScan bounds how many alerts a label-matcher query inspects.
const maxAlertScan = 5000

// Alerts lists stored alerts for the team.
func (s *Service) Alerts(ctx context.Context, p auth.Principal, q AlertQuery) ([]*alert.Record, error) {
	if err := require(p, auth.ReadAll, "read alerts"); err != nil {
		return nil, err
	}
	f := store.AlertFilter{Status: q.Status, Integration: q.Integration, Unattached: q.Unattached, Limit: q.Limit, Offset: q.Offset}
	switch q.Dismissed {
	case OnlyDismissed:
		f.Dismissed = store.DismissedOnly
	case AnyDismissed:
		f.Dismissed = store.DismissedAny
	}
	if len(q.Matchers) > 0 {
		f.Limit, f.Offset = maxAlertScan, 0
	}
	var list []*alert.Record
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { list, err = tx.Alerts(ctx, f); return err })
	if err != nil || len(q.Matchers) == 0 {
		return list, err
	}
	out := list[:0]
	for _, r := range list {
		ok := true
		for _, m := range q.Matchers {
			ok = ok && m.Matches(r.Labels)
		}
		if ok {
			out = append(out, r)
		}
	}
	lo := min(q.Offset, len(out))
	hi := len(out)
	if q.Limit > 0 {
		hi = min(lo+q.Limit, len(out))
	}
	return out[lo:hi], nil
}

// IncidentAlerts lists the alerts attached to an incident, for the team.
func (s *Service) IncidentAlerts(ctx context.Context, p auth.Principal, number int64) ([]*alert.Record, error) {
	if err := require(p, auth.ReadAll, "read alerts"); err != nil {
		return nil, err
	}
	var list []*alert.Record
	err := s.store.Read(ctx, func(tx *store.Tx) error {
		if _, err := visibleIncident(ctx, tx, number, false, false); err != nil {
			return err
		}
		var err error
		list, err = tx.IncidentAlerts(ctx, number)
		return err
	})
	return list, err
}

// NewestIncidentAlerts lists the newest limit alerts attached to an
// incident, for the team, and how many it has in all.
func (s *Service) NewestIncidentAlerts(ctx context.Context, p auth.Principal, number int64, limit int) ([]*alert.Record, int, error) {
	if err := require(p, auth.ReadAll, "read alerts"); err != nil {
		return nil, 0, err
	}
	var list []*alert.Record
	var total int
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) {
		if _, err := visibleIncident(ctx, tx, number, false, false); err != nil {
			return err
		}
		list, total, err = tx.NewestIncidentAlerts(ctx, number, limit)
		return err
	})
	return list, total, err
}

// AlertSummary is what intake keeps about an incident's alerts.
type AlertSummary struct {
	// Attached and Firing count the alerts attached now, and those firing.
	Attached, Firing int64
	// Truncated is the most alerts of the incident's group a sender said
	// it left out of one delivery (Alertmanager's max_alerts).
	Truncated int64
}

// IncidentAlertSummary reads an incident's alert counts, for the team.
func (s *Service) IncidentAlertSummary(ctx context.Context, p auth.Principal, number int64) (AlertSummary, error) {
	if err := require(p, auth.ReadAll, "read alerts"); err != nil {
		return AlertSummary{}, err
	}
	var c store.AlertCounts
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) {
		if _, err := visibleIncident(ctx, tx, number, false, false); err != nil {
			return err
		}
		c, err = tx.IncidentAlertCounts(ctx, number)
		return err
	})
	return AlertSummary{Attached: c.Attached, Firing: c.Firing, Truncated: c.Truncated}, err
}

// loadFreeAlerts reads alerts that may join an incident: not attached to
// one that is still open.
func loadFreeAlerts(ctx context.Context, tx *store.Tx, ids []int64) ([]*alert.Record, error) {
	if len(ids) == 0 {
		return nil, problem.Unprocessablef("name at least one alert")
	}
	out, err := lockedAlerts(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	for _, rec := range out {
		id := rec.ID
		if rec.Incident != 0 {
			inc, err := tx.Incident(ctx, rec.Incident)
			if err != nil {
				return nil, err
			}
			if inc.Phase != incident.Closed {
				return nil, problem.New(problem.Conflict, "alert_attached", "alert %d already belongs to incident #%d", id, rec.Incident).With("incident", rec.Incident)
			}
		}
	}
	return out, nil
}

// DeclareIncident opens an incident from inbox alerts; d's empty fields
// default from the first alert.
func (s *Service) DeclareIncident(ctx context.Context, p auth.Principal, ids []int64, d incident.Draft) (*incident.Incident, error) {
	if err := require(p, auth.WriteIncidents, "declare incidents"); err != nil {
		return nil, err
	}
	var inc *incident.Incident
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		recs, err := loadFreeAlerts(ctx, tx, ids)
		if err != nil {
			return err
		}
		first := recs[0]
		in, err := tx.Integration(ctx, first.IntegrationID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if in == nil {
			in = &alert.Integration{Type: alert.TypeGeneric}
		}
		base := s.incidentFromAlert(&first.Alert, in, &alert.Rule{}, p.Name(), s.Now())
		if d.Title == "" {
			d.Title = base.Title
		}
		if d.Severity == "" {
			d.Severity = base.Severity
		}
		if d.Services == nil {
			d.Services = base.Services
		}
		if d.Labels == nil {
			d.Labels = base.Labels
		}
		if d.DetectionSource == "" && slices.ContainsFunc(recs, isReport) {
			d.DetectionSource = incident.SourceCustomer
		}
		if d.DetectionSource == "" {
			d.DetectionSource = base.DetectionSource
		}
		if err := d.Normalize(); err != nil {
			return err
		}
		d.Owners = ownByDefault(p, d.Owners)
		now := s.Now()
		inc = &incident.Incident{Title: d.Title, Summary: d.Summary, Severity: d.Severity, Services: d.Services, Labels: d.Labels,
			DetectionSource: d.DetectionSource, Visibility: d.Visibility, Phase: incident.Active, Owners: d.Owners,
			EnteredAt: map[incident.Phase]time.Time{incident.Active: now}, Notes: map[incident.Phase]string{},
			CreatedBy: p.Name(), CreatedAt: now, UpdatedAt: now}
		if err := s.insertIncident(ctx, tx, inc, map[string]any{"declared_from_alerts": ids}); err != nil {
			return err
		}
		if err := s.addTemplateItems(ctx, tx, inc, d.Template); err != nil {
			return err
		}
		return attachAll(ctx, tx, s, recs, inc.Number, p.Name(), now)
	})
	if err != nil {
		return nil, err
	}
	s.publish(Change{Incident: inc.Number, Kind: incident.EventCreated, Public: !inc.Confidential()})
	s.inboxMoved()
	return inc, nil
}

// AttachAlerts adds inbox alerts to an incident that is not closed.
func (s *Service) AttachAlerts(ctx context.Context, p auth.Principal, number int64, ids []int64) (*incident.Incident, error) {
	if err := require(p, auth.WriteIncidents, "attach alerts"); err != nil {
		return nil, err
	}
	var inc *incident.Incident
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		// What is wrong with the incident is said first; then the
		// alerts (and their integrations) are locked before the
		// incident, in intake's order (lockedAlerts), and the incident
		// is looked at again, locked.
		if inc, err = visibleIncident(ctx, tx, number, false, false); err != nil {
			return err
		}
		if err := canTakeAlerts(inc); err != nil {
			return err
		}
		recs, err := loadFreeAlerts(ctx, tx, ids)
		if err != nil {
			return err
		}
		if inc, err = visibleIncident(ctx, tx, number, false, true); err != nil {
			return err
		}
		if err := canTakeAlerts(inc); err != nil {
			return err
		}
		if err := attachAll(ctx, tx, s, recs, number, p.Name(), s.Now()); err != nil {
			return err
		}
		if inc, err = tx.Incident(ctx, number); err != nil {
			return err
		}
		return s.customersFirst(ctx, tx, inc, recs, p.Name(), s.Now())
	})
	if err != nil {
		return nil, err
	}
	s.publish(Change{Incident: number, Kind: incident.EventAlertAttached})
	s.inboxMoved()
	return inc, nil
}

// canTakeAlerts refuses alerts attached by hand to an incident that is
// closed, merged or cancelled.
func canTakeAlerts(inc *incident.Incident) error {
	if inc.Phase == incident.Closed {
		return problem.New(problem.Conflict, "incident_closed", "incident #%d is closed; reopen it or declare a new one", inc.Number)
	}
	if err := notMerged(inc, "alerts"); err != nil {
		return err
	}
	if inc.EndState == incident.Cancelled {
		return problem.New(problem.Conflict, "incident_cancelled", "incident #%d was cancelled; reopen it or declare a new one", inc.Number)
	}
	return nil
}

func attachAll(ctx context.Context, tx *store.Tx, s *Service, recs []*alert.Record, number int64, actor string, now time.Time) error {
	t := newCountChanges()
	for _, rec := range recs {
		before := *rec
		rec.Incident = number
		// Part of an incident now: no longer dismissed.
		rec.DismissedBy, rec.DismissedAt, rec.DismissReason = "", time.Time{}, ""
		if err := tx.SaveAlert(ctx, rec); err != nil {
			return err
		}
		if err := s.appendAlertEvent(ctx, tx, rec, actor, now, nil); err != nil {
			return err
		}
		t.move(&before, rec)
	}
	if err := s.addRunbookLinks(ctx, tx, number, recs, actor, now); err != nil {
		return err
	}
	return t.write(ctx, tx, s, actor, now)
}
