package fault

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// kill -9 at random moments while webhooks arrive and incidents change:
// after every restart each acknowledged alert, incident, transition and
// update is there, no group has two incidents, no delivery is half-written
// and the database passes its integrity check. 20 rounds per database, 50
// in the long form.
func TestKillUnderLoad(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		rounds := pick(20, 50)
		in := setup(t, db)
		l := newLedger(fmt.Sprintf("kill%d", time.Now().UnixNano()%1e6))
		var ready []time.Duration
		for round := 1; round <= rounds; round++ {
			s := in.start(t)
			ready = append(ready, s.ready)
			if round > 1 {
				// What the previous rounds were told is still true.
				in.verify(t, l)
				if t.Failed() {
					t.Fatalf("after kill %d of %d: %s", round-1, rounds, l.summary())
				}
			}
			ld := in.startLoad(l, s, 4, 2)
			// Random moments: mostly while requests are in flight, now
			// and then before the first has finished.
			time.Sleep(jitter(10*time.Millisecond, 600*time.Millisecond))
			s.kill(t)
			ld.stop()
			s.checkLog(t)
		}
		s := in.start(t)
		ready = append(ready, s.ready)
		in.verify(t, l)
		l.checkUnexpected(t)
		s.kill(t)
		s.checkLog(t)
		slices.Sort(ready)
		t.Logf("%d kills: %s; restart to ready: median %s, max %s", rounds, l.summary(),
			ready[len(ready)/2].Round(time.Millisecond), ready[len(ready)-1].Round(time.Millisecond))
		if l.ackedAlerts == 0 || len(l.updates) == 0 {
			t.Errorf("the load never got an acknowledgement, so the test proved nothing: %s", l.summary())
		}
	})
}
