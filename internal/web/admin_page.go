package web

// adminRoutes lists this area's pages; filled in as the area is built.
func (w *Web) adminRoutes() []Route { return nil }
