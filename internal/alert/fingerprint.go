package alert

import (
	"slices"
	"strconv"
)

// FNV-1a 64-bit parameters and Prometheus' label separator byte
// (model.SeparatorByte), which never occurs in valid UTF-8 and so keeps
// {a="bc"} and {ab="c"} apart.
const (
	fnvOffset64   uint64 = 14695981039346656037
	fnvPrime64    uint64 = 1099511628211
	separatorByte byte   = 0xff
)

// Fingerprint hashes a label set exactly like Prometheus'
// model.LabelSet.Fingerprint, which Alertmanager puts in its webhook
// "fingerprint" field: FNV-1a 64 over the label names in sorted order, each
// name and each value followed by the byte 0xff, printed as 16 lower-case
// hex digits. Matching it means an alert that reaches us through
// Alertmanager and the same label set posted by a script (or an
// Alertmanager body without fingerprints) deduplicate to the same key; the
// tests check it against fingerprints from a real Alertmanager 0.25.
//
// The empty set hashes to the FNV offset basis, cbf29ce484222325.
func Fingerprint(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for name := range labels {
		names = append(names, name)
	}
	slices.Sort(names)

	sum := fnvOffset64
	for _, name := range names {
		sum = fnvAdd(sum, name)
		sum = fnvAddByte(sum, separatorByte)
		sum = fnvAdd(sum, labels[name])
		sum = fnvAddByte(sum, separatorByte)
	}
	return hex16(sum)
}

func fnvAdd(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = fnvAddByte(h, s[i])
	}
	return h
}

func fnvAddByte(h uint64, b byte) uint64 {
	h ^= uint64(b)
	h *= fnvPrime64
	return h
}

// hex16 zero-pads to 16 digits, as Prometheus' Fingerprint.String does, so
// fingerprints compare as strings.
func hex16(v uint64) string {
	s := strconv.FormatUint(v, 16)
	const zeros = "0000000000000000"
	return zeros[:16-len(s)] + s
}
