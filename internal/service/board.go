package service

import (
	"context"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/store"
)

// ClosedOnBoard is how long closed incidents stay on the board; older ones
// are in the incident log.
const ClosedOnBoard = 30 * 24 * time.Hour

// Card is an incident as the board shows it.
type Card struct {
	*incident.Incident
	Checklist incident.ChecklistProgress
	// Owner of the current phase; empty when nobody owns it.
	Owner string
}

// Board is the incidents of the board, by phase.
type Board struct {
	Columns map[incident.Phase][]*Card
}

// Board returns the board p may see, filtered by q; the board shows every
// match, so q's sort and paging do not apply.
func (s *Service) Board(ctx context.Context, p auth.Principal, q IncidentQuery) (*Board, error) {
	publicOnly, err := s.audience(p)
	if err != nil {
		return nil, err
	}
	f := q.filter(publicOnly)
	b := &Board{Columns: map[incident.Phase][]*Card{}}
	err = s.store.Read(ctx, func(tx *store.Tx) error {
		list, err := tx.BoardIncidents(ctx, f, s.Now().Add(-ClosedOnBoard))
		if err != nil {
			return err
		}
		numbers := make([]int64, len(list))
		for i, inc := range list {
			numbers[i] = inc.Number
		}
		progress, err := tx.ChecklistProgress(ctx, numbers, f.PublicOnly)
		if err != nil {
			return err
		}
		for _, inc := range list {
			b.Columns[inc.Phase] = append(b.Columns[inc.Phase], &Card{Incident: inc, Checklist: progress[inc.Number], Owner: inc.Owners[inc.Phase]})
		}
		return nil
	})
	return b, err
}

// Member is a person who can own phases and checklist items.
type Member struct {
	Username    string
	DisplayName string
}

// Members lists enabled accounts for the team's owner pickers.
func (s *Service) Members(ctx context.Context, p auth.Principal) ([]Member, error) {
	if err := require(p, auth.ReadAll, "list team members"); err != nil {
		return nil, err
	}
	var users []*auth.User
	if err := s.store.Read(ctx, func(tx *store.Tx) (err error) { users, err = tx.Users(ctx); return err }); err != nil {
		return nil, err
	}
	out := make([]Member, 0, len(users))
	for _, u := range users {
		if !u.Disabled {
			out = append(out, Member{Username: u.Username, DisplayName: u.Name()})
		}
	}
	return out, nil
}
