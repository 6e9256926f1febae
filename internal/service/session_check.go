package service

import (
	"context"
	"errors"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
)

// Recheck asks again whether p's session or token still holds, for a
// request that outlives the moment it was authenticated (the live stream):
// a revoked or expired session or token, or a disabled user, ends it with
// the same Unauthenticated problem a new request would get. It looks up by
// ID because the secret is not kept after authentication, and it records no
// use: an open stream alone does not keep an idle session alive. The
// principal comes back as it is now, so a changed role or scope counts.
// Anonymous viewers have nothing to end and come back as they are.
func (s *Service) Recheck(ctx context.Context, p auth.Principal) (auth.Principal, error) {
	now := s.Now()
	switch {
	case p.Session != nil:
		var sess *auth.Session
		var u *auth.User
		err := s.store.ReadOne(ctx, func(tx *store.Tx) (err error) {
			if sess, err = tx.Session(ctx, p.Session.ID); err != nil {
				return err
			}
			u, err = tx.UserByID(ctx, sess.UserID)
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			return auth.Principal{}, errBadSession
		}
		if err != nil {
			return auth.Principal{}, err
		}
		if !sess.Usable(now) || now.Sub(sess.LastSeenAt) > SessionIdle || u.Disabled {
			return auth.Principal{}, errBadSession
		}
		return auth.Principal{User: u, Session: sess, Remote: p.Remote}, nil
	case p.Token != nil:
		var tk *auth.Token
		var u *auth.User
		err := s.store.ReadOne(ctx, func(tx *store.Tx) (err error) {
			if tk, err = tx.Token(ctx, p.Token.ID); err != nil {
				return err
			}
			u, err = tx.UserByID(ctx, tk.UserID)
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			return auth.Principal{}, errBadToken
		}
		if err != nil {
			return auth.Principal{}, err
		}
		if !tk.Usable(now) || u.Disabled {
			return auth.Principal{}, errBadToken
		}
		return auth.Principal{User: u, Token: tk, Remote: p.Remote}, nil
	}
	return p, nil
}
