package server_test

// incidentPageRows are the access-matrix rows of this area's routes.
func incidentPageRows(f *fixture) map[string]cell { return map[string]cell{} }
