package auth

import "context"

type ctxKey struct{}

// WithPrincipal returns ctx carrying p; the server's authentication
// middleware sets it once per request.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the request's principal, anonymous when none was set.
func From(ctx context.Context) Principal {
	p, _ := ctx.Value(ctxKey{}).(Principal)
	return p
}
