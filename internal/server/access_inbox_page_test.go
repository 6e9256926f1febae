package server_test

// inboxPageRows are the access-matrix rows of this area's routes.
func inboxPageRows(f *fixture) map[string]cell { return map[string]cell{} }
