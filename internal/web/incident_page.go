package web

// incidentRoutes lists this area's pages; filled in as the area is built.
func (w *Web) incidentRoutes() []Route { return nil }
