//go:build !(linux || darwin || freebsd)

package store

// freeSpace cannot be measured here; refused writes still count.
func freeSpace(string) (uint64, bool) { return 0, false }
