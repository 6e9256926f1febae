package web

// inboxRoutes lists this area's pages; filled in as the area is built.
func (w *Web) inboxRoutes() []Route { return nil }
