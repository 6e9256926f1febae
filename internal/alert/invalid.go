package alert

import "fmt"

// InvalidError reports input that the sender got wrong: a malformed
// payload, an unknown status, a bad signature, an unparsable matcher. Msg is
// written to be returned to the sender as is (short, names the field, never
// carries a secret), so the HTTP layer can answer 4xx with it without
// wrapping or redacting; any other error from the intake and alert packages
// is ours and must become a 5xx with the details kept in the log.
type InvalidError struct {
	Msg string
}

func (e *InvalidError) Error() string { return e.Msg }

// Invalid builds an *InvalidError; callers detect it with errors.As.
func Invalid(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}
