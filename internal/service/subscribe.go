package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/status"
	"github.com/quenchhq/quench/internal/store"
)

// E-mail subscriptions to the status page, with double opt-in: the form
// stores the address unconfirmed and queues one message, the
// confirmation, through the outbox; nothing else ever goes to the address
// until its owner follows the link in it. Every message to a subscriber
// carries a one-click unsubscribe link. Both links are signed for the
// subscriber (HMAC-SHA256 with the instance's key, over the subscriber's
// id and address): knowing one's own link tells nothing about another
// address's, so no one can confirm or end someone else's subscription.

// Limits of the anonymous forms (reports and subscriptions): per client
// address and in all, per hour.
const (
	FormPerAddress = 5
	FormPerHour    = 100
	formWindow     = time.Hour
	// confirmAgainAfter spaces confirmations to one address: the form
	// cannot be used to flood someone's inbox.
	confirmAgainAfter = time.Hour
	// keepUnconfirmed is how long an address waits for its confirmation.
	keepUnconfirmed = 7 * 24 * time.Hour
	maxEmailBytes   = 254
)

// admit counts a request of an anonymous form of kind from remote and
// refuses it (429 with the seconds to wait) beyond the limits; the count
// is taken under a lock, so replicas agree.
func (s *Service) admit(ctx context.Context, tx *store.Tx, kind, remote string, now time.Time) error {
	mine, all, err := tx.CountRequests(ctx, kind, remote, now.Add(-formWindow))
	if err != nil {
		return err
	}
	full := func(c store.RequestCount) error {
		wait := int(math.Ceil(c.Oldest.Add(formWindow).Sub(now).Seconds()))
		return problem.New(problem.TooManyRequests, "too_many_requests",
			"Too many requests from here; try again in %d minutes.", (wait+59)/60).With("retry_after", max(wait, 1))
	}
	switch {
	case mine.N >= FormPerAddress:
		return full(mine)
	case all.N >= FormPerHour:
		return full(all)
	}
	return tx.RecordRequest(ctx, kind, remote, now)
}

// anonymousWrite runs fn for a request of an anonymous form of kind from
// remote, in one transaction with the count of the form's limits: a
// request beyond them changes nothing.
func (s *Service) anonymousWrite(ctx context.Context, kind, remote string, fn func(tx *store.Tx, now time.Time) error) error {
	key, err := s.signingKey(ctx)
	if err != nil {
		return err
	}
	now := s.Now()
	return s.store.Write(ctx, func(tx *store.Tx) error {
		if err := s.admit(ctx, tx, kind, clientKey(key, remote), now); err != nil {
			return err
		}
		return fn(tx, now)
	})
}

// clientKey is what the form limits count a client by: its address
// without the port, keyed so the table holds no addresses.
func clientKey(key []byte, remote string) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "client\x00%s", Client{Remote: remote}.Host())
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// Subscription is what the subscribe form asks for.
type Subscription struct {
	Email string
	// Components are the IDs to follow; none means all.
	Components []int64
	// Remote is the client's address, for the form's limits.
	Remote string
}

func parseEmail(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	a, err := mail.ParseAddress(raw)
	if err != nil || a.Name != "" || a.Address != raw || !strings.Contains(raw, "@") || len(raw) > maxEmailBytes ||
		strings.ContainsAny(raw, "\r\n<>\"") {
		return "", problem.Unprocessablef("%q is not an e-mail address", raw)
	}
	return strings.ToLower(raw), nil
}

// SubscribeToStatus asks for the status page's updates by e-mail. The answer is
// the same whether the address is new, waiting or already confirmed, so
// the form does not tell who subscribes; a confirmed subscription is never
// changed by it, and an address gets at most one confirmation an hour.
func (s *Service) SubscribeToStatus(ctx context.Context, sub Subscription) error {
	if !s.emailEnabled {
		return problem.New(problem.NotFound, "email_disabled", "This status page does not send e-mail.")
	}
	email, err := parseEmail(sub.Email)
	if err != nil {
		return err
	}
	return s.anonymousWrite(ctx, "subscribe", sub.Remote, func(tx *store.Tx, now time.Time) error {
		if err := tx.DeleteUnconfirmedSubscribers(ctx, now.Add(-keepUnconfirmed)); err != nil {
			return err
		}
		comps, err := tx.Components(ctx)
		if err != nil {
			return err
		}
		var ids []int64
		for _, c := range comps {
			for _, id := range sub.Components {
				if c.ID == id {
					ids = append(ids, id)
					break
				}
			}
		}
		sb, err := tx.SubscriberByEmail(ctx, email)
		switch {
		case errors.Is(err, store.ErrNotFound):
			sb = &status.Subscriber{Email: email, Components: ids, CreatedAt: now, ConfirmSentAt: now}
			if err := tx.InsertSubscriber(ctx, sb); err != nil {
				return err
			}
		case err != nil:
			return err
		case !sb.ConfirmedAt.IsZero() || now.Sub(sb.ConfirmSentAt) < confirmAgainAfter:
			return nil
		default:
			// A new confirmation: the old link stops working.
			sb.Components, sb.CreatedAt, sb.ConfirmSentAt = ids, now, now
			if err := tx.SaveSubscriber(ctx, sb); err != nil {
				return err
			}
		}
		st, _, err := readStatusSettings(ctx, tx)
		if err != nil {
			return err
		}
		name := pageName(st.Name)
		key := newMessageID()
		msg := notify.Message{ID: key, Event: notify.StatusConfirm, At: now, Instance: name,
			Headline: "Confirm your subscription to the updates of " + name,
			Body: "Someone, probably you, asked for e-mail when the status of " + name + " changes. " +
				"Confirm with the link below; until then nothing else is sent to this address."}
		_, err = tx.EnqueueDelivery(ctx, &notify.Delivery{Key: key, Event: notify.StatusConfirm, SubscriberID: sb.ID, Message: msg, CreatedAt: now}, 0)
		return err
	})
}

// Token purposes.
const (
	purposeConfirm     = "confirm"
	purposeUnsubscribe = "unsubscribe"
)

// subscriberToken signs purpose for a subscriber: "ID.MAC". A
// confirmation link names the subscription's start too, so asking again
// makes the old link useless.
func subscriberToken(key []byte, purpose string, sb *status.Subscriber) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s\x00%d\x00%s", purpose, sb.ID, sb.Email)
	if purpose == purposeConfirm {
		fmt.Fprintf(m, "\x00%d", sb.CreatedAt.UnixMicro())
	}
	return strconv.FormatInt(sb.ID, 10) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

var errBadLink = problem.New(problem.NotFound, "invalid_link", "This link is not valid (any more). Use the newest message, or subscribe again.")

// subscriberOf finds the subscriber a token was signed for; a token that
// does not verify is errBadLink, one for a subscriber that is gone is
// store.ErrNotFound.
func subscriberOf(ctx context.Context, tx *store.Tx, key []byte, purpose, token string) (*status.Subscriber, error) {
	idText, _, ok := strings.Cut(token, ".")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil || id <= 0 || len(token) > 100 {
		return nil, errBadLink
	}
	sb, err := tx.Subscriber(ctx, id)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal([]byte(subscriberToken(key, purpose, sb)), []byte(token)) {
		return nil, errBadLink
	}
	return sb, nil
}

// ConfirmSubscription confirms the address a confirmation link was sent
// to. Confirming twice is fine.
func (s *Service) ConfirmSubscription(ctx context.Context, token string) error {
	key, err := s.signingKey(ctx)
	if err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx *store.Tx) error {
		sb, err := subscriberOf(ctx, tx, key, purposeConfirm, token)
		if errors.Is(err, store.ErrNotFound) {
			return errBadLink
		}
		if err != nil || !sb.ConfirmedAt.IsZero() {
			return err
		}
		sb.ConfirmedAt = s.Now()
		return tx.SaveSubscriber(ctx, sb)
	})
}

// CheckSubscriberLink tells whether a confirmation or unsubscribe link is
// valid, for the page that asks to press the button: nothing changes on
// a GET, which mail scanners follow.
func (s *Service) CheckSubscriberLink(ctx context.Context, purpose, token string) error {
	if purpose != purposeConfirm && purpose != purposeUnsubscribe {
		return errBadLink
	}
	key, err := s.signingKey(ctx)
	if err != nil {
		return err
	}
	return s.store.Read(ctx, func(tx *store.Tx) error {
		_, err := subscriberOf(ctx, tx, key, purpose, token)
		if errors.Is(err, store.ErrNotFound) && purpose == purposeUnsubscribe {
			return nil // unsubscribed already: the page says so
		}
		if errors.Is(err, store.ErrNotFound) {
			return errBadLink
		}
		return err
	})
}

// Unsubscribe ends the subscription an unsubscribe link was signed for,
// and drops the messages still waiting for it. Ending one that is gone
// already is fine.
func (s *Service) Unsubscribe(ctx context.Context, token string) error {
	key, err := s.signingKey(ctx)
	if err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx *store.Tx) error {
		sb, err := subscriberOf(ctx, tx, key, purposeUnsubscribe, token)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return tx.DeleteSubscriber(ctx, sb.ID)
	})
}

// SubscriberLinks are the signed links of a subscriber, for messages and
// tests.
func (s *Service) subscriberLinks(key []byte, sb *status.Subscriber, confirm bool) *notify.CustomerLinks {
	l := &notify.CustomerLinks{StatusPage: s.baseURL + "/status",
		Unsubscribe: s.baseURL + "/status/unsubscribe?token=" + subscriberToken(key, purposeUnsubscribe, sb)}
	if confirm {
		l.Confirm = s.baseURL + "/status/confirm?token=" + subscriberToken(key, purposeConfirm, sb)
	}
	return l
}

// Subscribers lists the status page's subscribers, for admins.
func (s *Service) Subscribers(ctx context.Context, p auth.Principal) ([]*status.Subscriber, error) {
	if err := require(p, auth.Administer, "see subscribers"); err != nil {
		return nil, err
	}
	var out []*status.Subscriber
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { out, err = tx.Subscribers(ctx, false); return err })
	return out, err
}

// RemoveSubscriber ends a subscription on an admin's behalf.
func (s *Service) RemoveSubscriber(ctx context.Context, p auth.Principal, id int64) error {
	if err := require(p, auth.Administer, "manage subscribers"); err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx *store.Tx) error {
		sb, err := tx.Subscriber(ctx, id)
		if err != nil {
			return missing(err, "subscriber %d not found", id)
		}
		if err := tx.DeleteSubscriber(ctx, id); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "subscriber_removed", sb.Email, nil)
	})
}

// pageName is the status page's name for people.
func pageName(name string) string {
	if name == "" {
		return status.DefaultName
	}
	return name
}
