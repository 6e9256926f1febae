package service

import (
	"context"
	"net/mail"
	"strings"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// ProfilePatch is what people change about themselves; nil fields stay.
type ProfilePatch struct {
	DisplayName *string
	Email       *string
	// NotifyEmail turns e-mail about one's own work (a phase one now
	// owns, an incident entering it, a checklist item) on or off.
	NotifyEmail *bool
}

// Profile is a person's own settings.
type Profile struct {
	User        *auth.User
	NotifyEmail bool
}

// CheckEmail accepts a bare address ("ana@example.com") or nothing.
func CheckEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", problem.Unprocessablef("%q is not an e-mail address (write just the address)", text.Line(s, 100))
	}
	return s, nil
}

// MyProfile reads the principal's own settings.
func (s *Service) MyProfile(ctx context.Context, p auth.Principal) (*Profile, error) {
	if p.IsAnonymous() {
		return nil, errLogin
	}
	var out Profile
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) {
		if out.User, err = tx.UserByID(ctx, p.User.ID); err != nil {
			return err
		}
		r, err := tx.RecipientByID(ctx, p.User.ID)
		out.NotifyEmail = r.Notify
		return err
	})
	return &out, err
}

// UpdateProfile changes the principal's own name, address and e-mail
// preference. A token needs the write scope: a read-only token in a
// dashboard must not be able to redirect someone's mail.
func (s *Service) UpdateProfile(ctx context.Context, p auth.Principal, c ProfilePatch) (*Profile, error) {
	if p.IsAnonymous() {
		return nil, errLogin
	}
	if p.Token != nil && !p.Can(auth.WriteIncidents) && !p.Can(auth.Administer) {
		return nil, forbidden("change the profile with a token without the write scope")
	}
	if c.Email != nil {
		e, err := CheckEmail(*c.Email)
		if err != nil {
			return nil, err
		}
		c.Email = &e
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		u, err := tx.UserByID(ctx, p.User.ID)
		if err != nil {
			return err
		}
		if c.DisplayName != nil {
			u.DisplayName = text.Line(*c.DisplayName, 200)
		}
		if c.Email != nil && *c.Email != u.Email {
			if err := s.auditBy(ctx, tx, p, "email_changed", u.Username, nil); err != nil {
				return err
			}
			u.Email = *c.Email
		}
		u.UpdatedAt = s.Now()
		if err := tx.SaveUser(ctx, u); err != nil {
			return err
		}
		if c.NotifyEmail != nil {
			return tx.SetUserNotify(ctx, u.ID, *c.NotifyEmail)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.MyProfile(ctx, p)
}
