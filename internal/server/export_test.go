package server

// RecoverPanics exposes the panic middleware, so a test can put a
// panicking handler behind it without adding a route to Quench.
var RecoverPanics = recoverPanics
