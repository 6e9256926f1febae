package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

// ChannelJSON describes a channel. Its URL is shown only up to the host
// (Slack and webhook URLs are credentials), and its secret only in the
// answer that made it.
type ChannelJSON struct {
	ID         int64          `json:"id"`
	Type       string         `json:"type"`
	Name       string         `json:"name"`
	URL        string         `json:"url,omitempty"`
	Recipients []string       `json:"recipients,omitempty"`
	Audience   string         `json:"audience"`
	Events     []notify.Event `json:"events"`
	Filters    notify.Filter  `json:"filters"`
	Disabled   bool           `json:"disabled"`
	HasSecret  bool           `json:"has_secret,omitempty"`
	Secret     string         `json:"secret,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

func channelJSON(c *notify.Channel, secret string) ChannelJSON {
	j := ChannelJSON{ID: c.ID, Type: string(c.Type), Name: c.Name, Recipients: c.Recipients, Audience: string(c.Audience),
		Events: c.Events, Filters: c.Filter, Disabled: c.Disabled, HasSecret: c.Secret != "", Secret: secret,
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
	if c.URL != "" {
		j.URL = notify.RedactURL(c.URL)
	}
	return j
}

type channelRequest struct {
	Type       *string        `json:"type"`
	Name       *string        `json:"name"`
	URL        *string        `json:"url"`
	Recipients *[]string      `json:"recipients"`
	Secret     *string        `json:"secret"`
	Audience   *string        `json:"audience"`
	Events     *[]string      `json:"events"`
	Filters    *notify.Filter `json:"filters"`
	Disabled   *bool          `json:"disabled"`
}

func (req channelRequest) input() service.ChannelInput {
	return service.ChannelInput{Type: req.Type, Name: req.Name, URL: req.URL, Recipients: req.Recipients, Secret: req.Secret,
		Audience: req.Audience, Events: req.Events, Filter: req.Filters, Disabled: req.Disabled}
}

func (a *API) listChannels(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	list, err := a.svc.Channels(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]ChannelJSON, len(list))
	for i, c := range list {
		out[i] = channelJSON(c, "")
	}
	return http.StatusOK, map[string]any{"channels": out}, nil
}

func (a *API) createChannel(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[channelRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	c, secret, err := a.svc.CreateChannel(r.Context(), p, req.input())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, channelJSON(c, secret), nil
}

func (a *API) getChannel(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	c, err := a.svc.Channel(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, channelJSON(c, ""), nil
}

func (a *API) patchChannel(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[channelRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	c, secret, err := a.svc.UpdateChannel(r.Context(), p, id, req.input())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, channelJSON(c, secret), nil
}

func (a *API) deleteChannel(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, a.svc.DeleteChannel(r.Context(), p, id)
}

func (a *API) testChannel(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	d, err := a.svc.TestChannel(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, deliveryJSON(d), nil
}

// DeliveryJSON is one outbox message and where it stands.
type DeliveryJSON struct {
	ID            int64      `json:"id"`
	Key           string     `json:"key"`
	Channel       string     `json:"channel"`
	ChannelID     int64      `json:"channel_id,omitempty"`
	Person        bool       `json:"person,omitempty"`
	Incident      int64      `json:"incident,omitempty"`
	Event         string     `json:"event"`
	Headline      string     `json:"headline"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
}

func deliveryJSON(d *notify.Delivery) DeliveryJSON {
	j := DeliveryJSON{ID: d.ID, Key: d.Key, Channel: d.Channel, ChannelID: d.ChannelID, Person: d.UserID != 0, Incident: d.Incident,
		Event: string(d.Event), Headline: d.Message.Headline, State: string(d.State), Attempts: d.Attempts, LastError: d.LastError,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), SentAt: optTime(d.SentAt)}
	if d.State == notify.Pending || d.State == notify.Failing {
		j.NextAttemptAt = optTime(d.NextAttemptAt)
	}
	return j
}

func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	q := r.URL.Query()
	var dq service.DeliveryQuery
	var err error
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"incident", &dq.Incident}, {"channel", &dq.ChannelID}, {"before", &dq.BeforeID}} {
		if v := q.Get(f.name); v != "" {
			if *f.dst, err = strconv.ParseInt(v, 10, 64); err != nil || *f.dst < 0 {
				return 0, nil, problem.Invalidf("%s must be a positive number", f.name)
			}
		}
	}
	if v := q.Get("limit"); v != "" {
		if dq.Limit, err = strconv.Atoi(v); err != nil || dq.Limit < 1 || dq.Limit > 500 {
			return 0, nil, problem.Invalidf("limit must be 1 to 500")
		}
	}
	for _, s := range q["state"] {
		for _, st := range strings.Split(s, ",") {
			if st = strings.TrimSpace(st); st != "" {
				dq.States = append(dq.States, notify.State(st))
			}
		}
	}
	list, err := a.svc.Deliveries(r.Context(), p, dq)
	if err != nil {
		return 0, nil, err
	}
	out := make([]DeliveryJSON, len(list))
	for i, d := range list {
		out[i] = deliveryJSON(d)
	}
	return http.StatusOK, map[string]any{"deliveries": out}, nil
}

func (a *API) retryDelivery(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	d, err := a.svc.RetryDelivery(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, deliveryJSON(d), nil
}
