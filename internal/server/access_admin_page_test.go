package server_test

// adminPageRows are the access-matrix rows of this area's routes.
func adminPageRows(f *fixture) map[string]cell { return map[string]cell{} }
