package service

// EmailEnabled reports whether an SMTP server is configured. Pages say so
// before an admin adds an e-mail channel that could not send, or a person
// sets an address that would get nothing.
func (s *Service) EmailEnabled() bool { return s.emailEnabled }
