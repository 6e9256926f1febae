package service

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/notify/webhook"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// ChannelInput is what an admin supplies for a channel; on a change, nil
// fields stay as they are.
type ChannelInput struct {
	Type       *string
	Name       *string
	URL        *string
	Recipients *[]string
	Secret     *string
	Audience   *string
	Events     *[]string
	Filter     *notify.Filter
	Disabled   *bool
}

// maxRecipients bounds an e-mail channel: more is a mailing list's job.
const maxRecipients = 50

// CreateChannel adds a notification channel. For a webhook without a
// secret one is made; the secret is returned only now.
func (s *Service) CreateChannel(ctx context.Context, p auth.Principal, in ChannelInput) (*notify.Channel, string, error) {
	if err := require(p, auth.Administer, "manage notification channels"); err != nil {
		return nil, "", err
	}
	now := s.Now()
	c := &notify.Channel{Events: []notify.Event{"*"}, CreatedAt: now, UpdatedAt: now}
	if in.Type == nil {
		return nil, "", problem.Unprocessablef("type is required: slack, email or webhook")
	}
	if in.Audience == nil {
		// No default: a channel customers read must never be a team
		// channel by accident.
		return nil, "", problem.Unprocessablef("audience is required: team (may receive internal updates) or public (never does)")
	}
	c.Type = notify.ChannelType(*in.Type)
	if !slices.Contains(notify.ChannelTypes, c.Type) {
		return nil, "", problem.Unprocessablef("unknown channel type %q: want slack, email or webhook", *in.Type)
	}
	secret, err := s.applyChannel(ctx, c, in, true)
	if err != nil {
		return nil, "", err
	}
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertChannel(ctx, c); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "channel_created", c.Name, map[string]any{"type": c.Type, "audience": c.Audience})
	})
	if err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// UpdateChannel changes a channel. A new URL for a webhook needs a new
// secret: given, or made and returned now, so a secret never signs for a
// receiver it was not given to.
func (s *Service) UpdateChannel(ctx context.Context, p auth.Principal, id int64, in ChannelInput) (*notify.Channel, string, error) {
	if err := require(p, auth.Administer, "manage notification channels"); err != nil {
		return nil, "", err
	}
	if in.Type != nil {
		return nil, "", problem.Unprocessablef("a channel's type cannot change; add a new channel")
	}
	var c *notify.Channel
	var secret string
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		if c, err = tx.Channel(ctx, id); err != nil {
			return channelNotFound(err, id)
		}
		if secret, err = s.applyChannel(ctx, c, in, false); err != nil {
			return err
		}
		c.UpdatedAt = s.Now()
		if err := tx.SaveChannel(ctx, c); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "channel_changed", c.Name, map[string]any{"secret_changed": secret != ""})
	})
	if err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

func channelNotFound(err error, id int64) error {
	if errors.Is(err, store.ErrNotFound) {
		return problem.New(problem.NotFound, "not_found", "channel %d not found", id)
	}
	return err
}

// applyChannel validates in against c's type and applies it; it returns a
// secret that is new (made or given) and must be shown once.
func (s *Service) applyChannel(ctx context.Context, c *notify.Channel, in ChannelInput, creating bool) (string, error) {
	if in.Name != nil {
		c.Name = text.Line(*in.Name, 100)
	}
	if c.Name == "" {
		return "", problem.Unprocessablef("name is required")
	}
	if in.Audience != nil {
		switch a := notify.Audience(*in.Audience); a {
		case notify.Team, notify.Public:
			c.Audience = a
		default:
			return "", problem.Unprocessablef("unknown audience %q: want team or public", *in.Audience)
		}
	}
	if in.Events != nil {
		ev, err := notify.ParseEvents(*in.Events)
		if err != nil {
			return "", problem.Unprocessablef("%v", err)
		}
		c.Events = ev
	}
	for _, e := range c.Events {
		if e != "*" && !c.Audience.Allows(e) {
			return "", problem.Unprocessablef("a public channel never receives %s: it is internal", e)
		}
	}
	if in.Filter != nil {
		f := *in.Filter
		for _, sev := range f.Severities {
			if !slices.Contains(incident.Severities, incident.Severity(sev)) {
				return "", problem.Unprocessablef("unknown severity %q in the filter", sev)
			}
		}
		if err := f.Validate(); err != nil {
			return "", problem.Unprocessablef("%v", err)
		}
		for i, svc := range f.Services {
			f.Services[i] = text.Line(svc, 100)
		}
		c.Filter = f
	}
	if in.Disabled != nil {
		c.Disabled = *in.Disabled
	}
	var secret string
	switch c.Type {
	case notify.Slack, notify.Webhook:
		if in.Recipients != nil && len(*in.Recipients) > 0 {
			return "", problem.Unprocessablef("a %s channel has a URL, not recipients", c.Type)
		}
		urlChanged := false
		if in.URL != nil {
			u := strings.TrimSpace(*in.URL)
			if len(u) > 2048 {
				return "", problem.Unprocessablef("url is too long")
			}
			if err := s.guard.CheckURL(ctx, u); err != nil {
				return "", problem.Wrap(problem.Invalid, "url_not_allowed", err, "this URL may not receive notifications: %v", err)
			}
			urlChanged = u != c.URL
			c.URL = u
		}
		if c.URL == "" {
			return "", problem.Unprocessablef("url is required for a %s channel", c.Type)
		}
		if c.Type == notify.Slack {
			if in.Secret != nil && *in.Secret != "" {
				return "", problem.Unprocessablef("a Slack channel has no secret: its URL is the credential")
			}
			break
		}
		switch {
		case in.Secret != nil && *in.Secret != "":
			if _, err := webhook.ParseSecret(*in.Secret); err != nil {
				return "", problem.Unprocessablef("a webhook secret is %s followed by the base64 of 24 to 64 random bytes (leave it out to have one made)", webhook.SecretPrefix)
			}
			c.Secret, secret = *in.Secret, *in.Secret
		case creating || urlChanged:
			c.Secret = webhook.NewSecret()
			secret = c.Secret
		}
	case notify.Email:
		if in.URL != nil && *in.URL != "" {
			return "", problem.Unprocessablef("an e-mail channel has recipients, not a URL")
		}
		if in.Secret != nil && *in.Secret != "" {
			return "", problem.Unprocessablef("an e-mail channel has no secret")
		}
		if in.Recipients != nil {
			var list []string
			for _, r := range *in.Recipients {
				r, err := CheckEmail(r)
				if err != nil {
					return "", err
				}
				if r != "" && !slices.Contains(list, r) {
					list = append(list, r)
				}
			}
			if len(list) > maxRecipients {
				return "", problem.Unprocessablef("at most %d recipients; use a mailing list", maxRecipients)
			}
			c.Recipients = list
		}
		if len(c.Recipients) == 0 {
			return "", problem.Unprocessablef("recipients are required for an e-mail channel")
		}
		if !s.emailEnabled {
			return "", problem.Unprocessablef("e-mail is not set up: set QUENCH_SMTP_HOST and QUENCH_SMTP_FROM first")
		}
	}
	return secret, nil
}

// Channels lists notification channels.
func (s *Service) Channels(ctx context.Context, p auth.Principal) ([]*notify.Channel, error) {
	if err := require(p, auth.Administer, "manage notification channels"); err != nil {
		return nil, err
	}
	var out []*notify.Channel
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { out, err = tx.Channels(ctx); return err })
	return out, err
}

// Channel reads one notification channel.
func (s *Service) Channel(ctx context.Context, p auth.Principal, id int64) (*notify.Channel, error) {
	if err := require(p, auth.Administer, "manage notification channels"); err != nil {
		return nil, err
	}
	var c *notify.Channel
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { c, err = tx.Channel(ctx, id); return channelNotFound(err, id) })
	return c, err
}

// DeleteChannel removes a channel; its unsent messages go with it.
func (s *Service) DeleteChannel(ctx context.Context, p auth.Principal, id int64) error {
	if err := require(p, auth.Administer, "manage notification channels"); err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx *store.Tx) error {
		c, err := tx.Channel(ctx, id)
		if err != nil {
			return channelNotFound(err, id)
		}
		if err := tx.DeleteChannel(ctx, id); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "channel_deleted", c.Name, map[string]any{"type": c.Type})
	})
}

// TestChannel sends a sample message through the real path: into the
// outbox, out by the worker. The delivery shows how it went.
func (s *Service) TestChannel(ctx context.Context, p auth.Principal, id int64) (*notify.Delivery, error) {
	if err := require(p, auth.Administer, "manage notification channels"); err != nil {
		return nil, err
	}
	var d *notify.Delivery
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		c, err := tx.Channel(ctx, id)
		if err != nil {
			return channelNotFound(err, id)
		}
		now := s.Now()
		key := newMessageID()
		msg := notify.Message{ID: key, Event: notify.Test, At: now, Actor: p.Name(),
			Incident: notify.Incident{Title: "Test message", Phase: string(incident.Active), Severity: string(incident.Minor),
				Visibility: string(incident.Public), URL: s.baseURL + "/", CreatedAt: now},
			Body: "This is a test from Quench. If you can read it, the channel **" + c.Name + "** works."}
		msg.Headline = headline(msg)
		d = &notify.Delivery{Key: key, ChannelID: c.ID, Channel: c.Name, Event: notify.Test, Message: msg, CreatedAt: now}
		if _, err := tx.EnqueueDelivery(ctx, d, 0); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "channel_tested", c.Name, nil)
	})
	if err != nil {
		return nil, err
	}
	s.wakeOutbox()
	return d, nil
}

// DeliveryQuery selects outbox messages.
type DeliveryQuery struct {
	Incident  int64
	ChannelID int64
	States    []notify.State
	BeforeID  int64
	Limit     int
}

// Deliveries lists outbox messages, newest first; the team sees them
// (their content may be internal).
func (s *Service) Deliveries(ctx context.Context, p auth.Principal, q DeliveryQuery) ([]*notify.Delivery, error) {
	if err := require(p, auth.ReadAll, "see notifications"); err != nil {
		return nil, err
	}
	for _, st := range q.States {
		if !slices.Contains([]notify.State{notify.Pending, notify.Failing, notify.Sent, notify.Failed, notify.Dead, notify.Suppressed}, st) {
			return nil, problem.Invalidf("unknown state %q: want pending, failing, sent, failed, dead or suppressed", st)
		}
	}
	var out []*notify.Delivery
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) {
		out, err = tx.Deliveries(ctx, store.DeliveryFilter{Incident: q.Incident, ChannelID: q.ChannelID, States: q.States,
			BeforeID: q.BeforeID, Limit: q.Limit})
		return err
	})
	return out, err
}

// RetryDelivery sends a failed or dead message again, now.
func (s *Service) RetryDelivery(ctx context.Context, p auth.Principal, id int64) (*notify.Delivery, error) {
	if err := require(p, auth.Administer, "retry notifications"); err != nil {
		return nil, err
	}
	var d *notify.Delivery
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		d, err = tx.RetryDelivery(ctx, id, s.Now())
		if errors.Is(err, store.ErrNotFound) {
			return problem.New(problem.NotFound, "not_found", "message %d not found", id)
		}
		if err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "delivery_retried", d.Channel, map[string]any{"delivery": id})
	})
	if err != nil {
		return nil, err
	}
	s.wakeOutbox()
	return d, nil
}
