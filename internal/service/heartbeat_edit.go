package service

import (
	"context"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/heartbeat"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// HeartbeatEdit changes a heartbeat: nil fields stay as they are. Labels,
// when set, replace all of them (an empty map removes them).
type HeartbeatEdit struct {
	Name   *string
	Period *string
	Grace  *string
	Labels map[string]string
}

// EditHeartbeat changes a heartbeat's name, schedule or labels. A new
// period or grace computes the deadline again from what the heartbeat
// last heard (heartbeat.Reschedule); a deadline that has passed already
// fires the alert at the next check. A firing alert keeps the labels it
// fired with; the next one takes the new ones.
func (s *Service) EditHeartbeat(ctx context.Context, p auth.Principal, idOrName string, e HeartbeatEdit) (*heartbeat.Heartbeat, error) {
	if err := require(p, auth.Administer, "manage heartbeats"); err != nil {
		return nil, err
	}
	if e.Name == nil && e.Period == nil && e.Grace == nil && e.Labels == nil {
		return nil, problem.Unprocessablef("change at least one of name, period, grace and labels")
	}
	var name string
	if e.Name != nil {
		if name = text.Line(*e.Name, 100); name == "" {
			return nil, problem.Unprocessablef("name cannot be empty")
		}
	}
	var period, grace time.Duration
	var err error
	if e.Period != nil {
		if period, err = heartbeat.ParseDuration(*e.Period); err != nil {
			return nil, problem.Unprocessablef("period: %v", err)
		}
	}
	if e.Grace != nil {
		grace = heartbeat.DefaultGrace
		if strings.TrimSpace(*e.Grace) != "" {
			if grace, err = heartbeat.ParseDuration(*e.Grace); err != nil {
				return nil, problem.Unprocessablef("grace: %v", err)
			}
		}
	}
	if e.Labels != nil {
		if err := heartbeat.CheckLabels(e.Labels); err != nil {
			return nil, problem.Unprocessablef("labels: %v", err)
		}
	}
	var h *heartbeat.Heartbeat
	err = s.store.Write(ctx, func(tx *store.Tx) (err error) {
		if h, err = tx.LockHeartbeat(ctx, idOrName); err != nil {
			return err
		}
		changes := map[string]any{"heartbeat": h.ID}
		if e.Name != nil && name != h.Name {
			changes["name"] = map[string]any{"from": h.Name, "to": name}
			h.Name = name
		}
		newPeriod, newGrace := h.Period, h.Grace
		if e.Period != nil {
			newPeriod = period
		}
		if e.Grace != nil {
			newGrace = grace
		}
		if err := heartbeat.CheckSchedule(newPeriod, newGrace); err != nil {
			return problem.Unprocessablef("%v", err)
		}
		if newPeriod != h.Period || newGrace != h.Grace {
			changes["period"], changes["grace"] = heartbeat.Format(newPeriod), heartbeat.Format(newGrace)
			h.Reschedule(newPeriod, newGrace)
		}
		if e.Labels != nil {
			changes["labels"] = e.Labels
			h.Labels = e.Labels
		}
		if err := tx.UpdateHeartbeat(ctx, h); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "heartbeat_changed", h.Name, changes)
	})
	if err != nil {
		return nil, missing(err, "heartbeat %s not found", idOrName)
	}
	return h, nil
}

// RotateHeartbeat gives a heartbeat a new ping key and returns it, shown
// only now; the old ping URL answers 404 from the commit on. Its state,
// schedule and history stay.
func (s *Service) RotateHeartbeat(ctx context.Context, p auth.Principal, idOrName string) (string, *heartbeat.Heartbeat, error) {
	if err := require(p, auth.Administer, "manage heartbeats"); err != nil {
		return "", nil, err
	}
	key := auth.NewSecret(HeartbeatKeyPrefix)
	var h *heartbeat.Heartbeat
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		if h, err = tx.LockHeartbeat(ctx, idOrName); err != nil {
			return err
		}
		h.SecretHash = auth.HashToken(key)
		if err := tx.SetHeartbeatSecret(ctx, h.ID, h.SecretHash); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "heartbeat_rotated", h.Name, map[string]any{"heartbeat": h.ID})
	})
	if err != nil {
		return "", nil, missing(err, "heartbeat %s not found", idOrName)
	}
	s.log.Info("heartbeat ping URL rotated", "heartbeat", h.ID, "by", p.Name())
	return key, h, nil
}
