package webhook

import "time"

// SetClock makes n stamp its deliveries with now instead of the time of
// the attempt.
func SetClock(n *Notifier, now func() time.Time) { n.now = now }
