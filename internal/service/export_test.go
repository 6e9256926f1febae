package service

// HoldHashing takes every slot of the password-hashing gate until release
// is called, so a test sees what callers beyond the bound get.
func (s *Service) HoldHashing() (release func()) {
	n := cap(s.hashing.slots)
	for range n {
		s.hashing.slots <- struct{}{}
	}
	return func() {
		for range n {
			s.hashing.leave()
		}
	}
}

// DummyHash is the hash unknown user names are checked against.
func (s *Service) DummyHash() string { return s.dummy() }

// SetTxAnnounceBelow sets how full PostgreSQL's notification queue may be
// for intake to announce its changes in its own transaction, until
// restore is called: 0 makes every such announcement go out after the
// commit instead, as when a stuck listener let the queue fill.
func SetTxAnnounceBelow(usage float64) (restore func()) {
	old := txAnnounceBelow
	txAnnounceBelow = usage
	return func() { txAnnounceBelow = old }
}
