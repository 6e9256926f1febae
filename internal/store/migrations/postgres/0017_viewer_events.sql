-- Quench schema 17: the events viewers may see, by incident and id, a
-- partial index. A viewer's updated_at is the time of the last such event
-- (viewerUpdatedAt in incidents.go), read for every incident of a
-- viewer's list, board or log export. Without it, that look-up read
-- backwards through the incident's internal events after the last public
-- one, and a storm's incident has one for every group transaction that
-- attached alerts. Intake's alert events are internal, so intake writes
-- nothing to it; an incident's opening, transitions and public updates
-- each add one entry.
CREATE INDEX events_viewers ON events (incident_number, id) WHERE NOT internal;
