package store

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/quenchhq/quench/internal/notify"
)

// chanCache keeps the channels of a SQLite store in memory: every change
// that can notify reads them (and every message, its channel, just before
// it is sent), and they change rarely, only through this store. A version
// counts changes: a write that touches a channel bumps it when it does and
// again once its batch has committed or rolled back, and a list read from
// the database is kept only under the version it was read at, so a list
// read before a change committed is never served after it. The writer's
// own batch, once it touched a channel, reads the database. Only the
// writer and the statements of ReadOne use it: a read transaction's
// snapshot may be older than the version it would be kept under.
type chanCache struct {
	version atomic.Uint64

	mu   sync.Mutex
	at   uint64
	list []*notify.Channel // nil: not read at version at
}

func (c *chanCache) bump() { c.version.Add(1) }

// get returns copies of the channels, reading them with read when the
// cache is not current.
func (c *chanCache) get(read func() ([]*notify.Channel, error)) ([]*notify.Channel, error) {
	v := c.version.Load()
	c.mu.Lock()
	if c.list != nil && c.at == v {
		out := copyChannels(c.list)
		c.mu.Unlock()
		return out, nil
	}
	c.mu.Unlock()
	list, err := read()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.version.Load() == v {
		c.at, c.list = v, copyChannels(nonNilChannels(list))
	}
	c.mu.Unlock()
	return list, nil
}

func nonNilChannels(cs []*notify.Channel) []*notify.Channel {
	if cs == nil {
		return []*notify.Channel{}
	}
	return cs
}

// copyChannels copies cs deeply enough that a caller may change what it
// got (redact a secret, append a recipient) without touching the cache.
func copyChannels(cs []*notify.Channel) []*notify.Channel {
	out := make([]*notify.Channel, len(cs))
	for i, c := range cs {
		cp := *c
		cp.Recipients = slices.Clone(c.Recipients)
		cp.Events = slices.Clone(c.Events)
		cp.Filter.Severities = slices.Clone(c.Filter.Severities)
		cp.Filter.Services = slices.Clone(c.Filter.Services)
		cp.Filter.Labels = slices.Clone(c.Filter.Labels)
		out[i] = &cp
	}
	return out
}
