// Package route is the entry of a route table. The JSON API and the HTML
// pages each keep one table of their own, and package server registers
// both and the access matrix walks them; sharing this one type keeps the
// two tables alike without either surface importing the other. It imports
// only net/http, so it sits below api and web, and server, which imports
// all three, stays on top.
package route

import "net/http"

// Route is one line of a route table: a ServeMux pattern with its method
// ("POST /incidents/{number}/transition") and the handler that serves it.
//
// It names a plain struct type rather than defining a new one so that the
// tables in api and web can stay two columns of pattern and handler
// without field names: go vet asks for field names only in literals of a
// named struct type from another package.
type Route = struct {
	Pattern string
	Handler http.HandlerFunc
}
