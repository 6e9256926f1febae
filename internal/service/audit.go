package service

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// The audit log is written by anyone who can reach the sign-in form, so
// nothing an attacker sends may grow it without bound: every stored field
// is capped, and a flood of refused sign-ins becomes one counted row per
// key and window (tally) instead of a row per attempt.
const (
	// maxAuditName fits the longest user name (64), e-mail address (254)
	// and OpenID subject (255, cut to 254).
	maxAuditName = 254
	// maxAuditRemote fits any IPv6 address with a zone.
	maxAuditRemote = 64
	// maxAuditValue caps each string in an entry's detail.
	maxAuditValue = 200
	// maxUsername is the longest user name there can be (auth.CheckUsername).
	maxUsername = 64
)

// Failed and throttled sign-ins are kept 90 days, long enough to look back
// on an incident; the rest of the audit log stays.
const keepFailures = 90 * 24 * time.Hour

// failureActions are the entries an anonymous caller can cause.
var failureActions = []string{"login_failed", "login_throttled"}

// audit records an entry inside the transaction of the change it describes.
func audit(ctx context.Context, tx *store.Tx, at time.Time, actor, action, target string, c Client, detail map[string]any) error {
	e := capped(&auth.AuditEntry{At: at, Actor: actor, Action: action, Target: target, Remote: c.Host(), Detail: detail})
	return tx.AppendAudit(ctx, e)
}

// capped cuts an entry's free-text fields to their limits.
func capped(e *auth.AuditEntry) *auth.AuditEntry {
	e.Actor, e.Target = text.Line(e.Actor, maxAuditName), text.Line(e.Target, maxAuditName)
	e.Remote = text.Line(e.Remote, maxAuditRemote)
	if len(e.Detail) > 0 {
		d := make(map[string]any, len(e.Detail))
		for k, v := range e.Detail {
			if s, ok := v.(string); ok {
				v = text.Line(s, maxAuditValue)
			}
			d[k] = v
		}
		e.Detail = d
	}
	return e
}

// auditBy records an act of principal p inside tx.
func (s *Service) auditBy(ctx context.Context, tx *store.Tx, p auth.Principal, action, target string, detail map[string]any) error {
	return audit(ctx, tx, s.Now(), p.Name(), action, target, Client{Remote: p.Remote}, detail)
}

// auditAlone records an entry that has no change to go with (a failed
// sign-in); losing it must not fail the request.
func (s *Service) auditAlone(ctx context.Context, actor, action, target string, c Client, detail map[string]any) {
	s.appendAudit(ctx, &auth.AuditEntry{At: s.Now(), Actor: actor, Action: action, Target: target, Remote: c.Host(), Detail: detail})
}

// appendAudit writes e on its own, best effort; e.ID is set when it was
// written.
func (s *Service) appendAudit(ctx context.Context, e *auth.AuditEntry) {
	err := s.store.Write(ctx, func(tx *store.Tx) error { return tx.AppendAudit(ctx, capped(e)) })
	if err != nil {
		s.log.Warn("audit entry not recorded", "action", e.Action, "err", err)
	}
}

// tally folds repeated entries into counted rows. The first entry for a key
// in a window is written at once, so an attack shows in the audit log as it
// starts; later ones only count in memory, and the count is written to that
// row when the window has ended (noticed by the next sign-in or by the
// retention job). Disk writes per key and window are thus two, whatever
// the attempts; a crash loses at most the count of open windows. Each
// replica counts its own.
//
// Why memory, when the throttle's counts are in the database: the throttle
// decides who may sign in, so it must hold across replicas and restarts.
// The counted rows only tell the story of refused attempts, and most of
// them are throttled ones: refused before any password hashing, at the
// cost of one read, as fast as the network allows. A database write for
// each would turn a flood of refused sign-ins into a flood of writes on
// the single SQLite writer, which the intake shares. (The other counted
// rows, unknown names past the fifth per address, pay a hash and a
// throttle write each anyway; they share the mechanism so that a flood
// stays one row.) So the log accounts for floods in memory: every
// replica writes its first attempt of each key and window at once (the
// attack shows as it starts, on every replica it reaches) and its count
// once the window has ended (every replica looks each minute, see
// package jobs; the replica running retention writes open counts too);
// two replicas make two rows whose counts add up to the attempts
// (TestCountedAuditAcrossReplicas). What a crash can lose is the count of
// a replica's open windows (at most the throttle window, 15 minutes, of
// it), never an attempt's outcome nor the start of a flood.
type tally struct {
	mu   sync.Mutex
	rows map[string]*tallyRow
	// due is the earliest end of an open window; zero when there is none.
	due time.Time
}

type tallyRow struct {
	entry   *auth.AuditEntry // as written; ID 0 while the insert runs
	count   int              // entries folded in this window
	written int              // count stored in the row
	until   time.Time        // end of the window
}

// countAudit records e in the counted row for key, opening a row (and a
// window ending at until) when key has none open at e.At.
func (s *Service) countAudit(ctx context.Context, key string, until time.Time, e *auth.AuditEntry) {
	t := s.tally
	t.mu.Lock()
	old := t.rows[key]
	if old != nil && e.At.Before(old.until) {
		old.count++
		t.mu.Unlock()
		return
	}
	r := &tallyRow{count: 1, written: 1, until: until}
	t.rows[key] = r
	t.keepDue(until)
	var final []countWrite
	if old != nil {
		final = old.pending(true, nil)
	}
	t.mu.Unlock()
	s.writeCounts(ctx, final)
	e.Detail = maps.Clone(e.Detail)
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	e.Detail["count"] = 1
	s.appendAudit(ctx, e)
	t.mu.Lock()
	r.entry = e
	t.mu.Unlock()
}

// keepDue notes a window end; call with mu held.
func (t *tally) keepDue(until time.Time) {
	if t.due.IsZero() || until.Before(t.due) {
		t.due = until
	}
}

// countWrite is a count to store on a written row.
type countWrite struct {
	id     int64
	detail map[string]any
}

// pending appends to w the count r has not stored yet, if write is set and
// the row is written; call with the tally's mu held.
func (r *tallyRow) pending(write bool, w []countWrite) []countWrite {
	if !write || r.entry == nil || r.entry.ID == 0 || r.count <= r.written {
		return w
	}
	d := maps.Clone(r.entry.Detail)
	d["count"] = r.count
	r.written = r.count
	return append(w, countWrite{r.entry.ID, d})
}

// FlushAudit writes the counts of counted audit rows: of the windows that
// have ended, or of every window when all is set (the retention job, so
// counts show while a long flood lasts). Sign-ins call it to close ended
// windows; it does nothing until one has ended.
func (s *Service) FlushAudit(ctx context.Context, all bool) {
	now := s.Now()
	t := s.tally
	var writes []countWrite
	t.mu.Lock()
	if !all && (t.due.IsZero() || now.Before(t.due)) {
		t.mu.Unlock()
		return
	}
	t.due = time.Time{}
	for key, r := range t.rows {
		ended := !now.Before(r.until)
		writes = r.pending(ended || all, writes)
		if ended && r.entry != nil {
			delete(t.rows, key)
			continue
		}
		t.keepDue(r.until) // open, or its first row still being written
	}
	t.mu.Unlock()
	s.writeCounts(ctx, writes)
}

func (s *Service) writeCounts(ctx context.Context, writes []countWrite) {
	if len(writes) == 0 {
		return
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		for _, w := range writes {
			if err := tx.SetAuditDetail(ctx, w.id, w.detail); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("audit counts not recorded", "rows", len(writes), "err", err)
	}
}
