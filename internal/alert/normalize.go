package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Link kinds. Adapters map what a sender offers onto these so the UI can
// order and label links the same way whatever the source.
const (
	LinkSource    = "source"    // the rule or expression that produced the alert
	LinkDashboard = "dashboard" // a dashboard showing the affected system
	LinkPanel     = "panel"     // one panel of a dashboard
	LinkSilence   = "silence"   // a prefilled "silence this alert" form
	LinkRunbook   = "runbook"   // what to do when the alert fires
	LinkException = "exception" // an error tracker's issue (Sentry)
	LinkOther     = "other"
)

// ValidLinkKind reports whether kind is one of the Link* constants.
func ValidLinkKind(kind string) bool {
	switch kind {
	case LinkSource, LinkDashboard, LinkPanel, LinkSilence, LinkRunbook, LinkException, LinkOther:
		return true
	}
	return false
}

// Valid reports whether s is Firing or Resolved; adapters reject anything
// else rather than guess what "pending" or "" was meant to say.
func (s Status) Valid() bool { return s == Firing || s == Resolved }

// IsWebURL reports whether s is an absolute http or https URL with a host.
// Links end up as href attributes on pages viewed by the whole team, so
// javascript:, data: and relative URLs from a sender are never kept.
func IsWebURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return scheme == "http" || scheme == "https"
}

// Normalize brings an alert decoded by an adapter into the one shape the
// rest of Quench may rely on, whatever the sender put in it:
//
//   - an empty Fingerprint becomes Fingerprint(a.Labels), computed on the
//     labels as received so that alerts differing only in text that the
//     cleaning below merges still get distinct keys;
//   - every string goes through Clean with its cap; a Fingerprint or
//     GroupKey too long for its cap keeps a prefix and gains a hash of the
//     whole value, so distinct keys stay distinct;
//   - Labels and Annotations are never nil, so the store writes {} rather
//     than null; entries with an empty name are dropped, and beyond
//     MaxLabels/MaxAnnotations the names sorting last are dropped (names
//     that only differ in bytes Clean replaces keep the first in sort
//     order), so the same input always keeps the same entries;
//   - times become UTC with microsecond precision, which is what PostgreSQL
//     stores (times outside years 1–9999 become zero), and a firing alert
//     has a zero EndsAt;
//   - Links is never nil and keeps only http(s) URLs with a host, a known
//     kind (else "other"), no duplicates, at most MaxLinks; a URL over
//     MaxURLBytes is cut (and dropped if the cut leaves it unparsable);
//   - Title becomes the summary annotation, else the alertname label, else
//     the existing Title, else "untitled alert", on one line.
//   - Truncated is never negative.
//
// Status is left alone: adapters validate it because only they can name the
// offending field in the error.
func Normalize(a *Alert) {
	if a.Fingerprint == "" {
		a.Fingerprint = Fingerprint(a.Labels)
	}
	a.Fingerprint = cleanKey(a.Fingerprint, MaxFingerprintBytes)
	a.GroupKey = cleanKey(a.GroupKey, MaxGroupKeyBytes)
	a.Labels = cleanMap(a.Labels, MaxLabelValueBytes, MaxLabels)
	a.Annotations = cleanMap(a.Annotations, MaxAnnotationValueBytes, MaxAnnotations)
	a.StartsAt = cleanTime(a.StartsAt)
	a.EndsAt = cleanTime(a.EndsAt)
	if a.Status == Firing {
		a.EndsAt = time.Time{}
	}
	a.Links = cleanLinks(a.Links)
	a.Title = title(a)
	a.Truncated = max(a.Truncated, 0)
}

func title(a *Alert) string {
	for _, candidate := range []string{a.Annotations["summary"], a.Labels["alertname"], a.Title} {
		if t := cleanTitle(candidate); t != "" {
			return t
		}
	}
	return "untitled alert"
}

// cleanKey caps an identifier without letting two long identifiers with a
// common prefix collapse into one key.
func cleanKey(s string, maxBytes int) string {
	c := Clean(s, len(s)*3) // uncapped: invalid bytes may triple in size
	if len(c) <= maxBytes {
		return c
	}
	sum := sha256.Sum256([]byte(s))
	suffix := "~" + hex.EncodeToString(sum[:8])
	return Clean(c, maxBytes-len(suffix)) + suffix
}

func cleanMap(m map[string]string, maxValue, maxEntries int) map[string]string {
	if m != nil && checkMap("", m, maxValue, maxEntries) == nil {
		return m // clean already, as nearly every sender's is: kept, not copied
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)

	out := make(map[string]string, min(len(m), maxEntries))
	for _, name := range names {
		if len(out) == maxEntries {
			break
		}
		key := Clean(name, MaxKeyBytes)
		if _, taken := out[key]; taken || key == "" {
			continue
		}
		out[key] = Clean(m[name], maxValue)
	}
	return out
}

// cleanTime also drops times outside years 1–9999: RFC 3339 and JSON
// cannot write them, and no detector means them (a "0000-01-01T00:30:00+01:00"
// lands in year -1 once in UTC).
func cleanTime(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}
	}
	return t
}

func cleanLinks(links []Link) []Link {
	out := make([]Link, 0, min(len(links), MaxLinks))
	for _, l := range links {
		if len(out) == MaxLinks {
			break
		}
		l, ok := cleanLink(l)
		if ok && !slices.ContainsFunc(out, func(o Link) bool { return o.Kind == l.Kind && o.URL == l.URL }) {
			out = append(out, l)
		}
	}
	return out
}

func cleanLink(l Link) (Link, bool) {
	u := strings.TrimSpace(Clean(l.URL, len(l.URL)*3))
	if !IsWebURL(u) {
		return Link{}, false
	}
	if len(u) > MaxURLBytes {
		u = strings.TrimRightFunc(trimEscape(Clean(u, MaxURLBytes)), unicode.IsSpace)
		if !IsWebURL(u) { // the cut went through the host
			return Link{}, false
		}
	}
	kind := Clean(l.Kind, maxKindBytes)
	if !ValidLinkKind(kind) {
		kind = LinkOther
	}
	return Link{Kind: kind, URL: u, Title: cleanTitle(l.Title)}, true
}

// trimEscape drops a %-escape cut in half by truncation, which would make
// the URL unparsable.
func trimEscape(u string) string {
	if i := strings.LastIndexByte(u, '%'); i >= 0 && len(u)-i < 3 {
		return u[:i]
	}
	return u
}

// CheckNormalized reports the first way a breaks what Normalize guarantees,
// plus a valid Status. Tests and fuzzers of the adapters use it; the store
// may use it as a last guard before writing.
func CheckNormalized(a Alert) error {
	switch {
	case a.Fingerprint == "" || !within(a.Fingerprint, MaxFingerprintBytes):
		return fmt.Errorf("fingerprint %q: empty, unclean or too long", a.Fingerprint)
	case !a.Status.Valid():
		return fmt.Errorf("status %q: not firing or resolved", a.Status)
	case !within(a.GroupKey, MaxGroupKeyBytes):
		return fmt.Errorf("group key: unclean or too long")
	case a.Title == "" || !isClean(a.Title) || utf8.RuneCountInString(a.Title) > MaxTitleRunes || strings.ContainsAny(a.Title, "\n\r\t"):
		return fmt.Errorf("title %q: empty, unclean, too long or multi-line", a.Title)
	case a.Status == Firing && !a.EndsAt.IsZero():
		return fmt.Errorf("firing alert with an EndsAt")
	case !storableTime(a.StartsAt) || !storableTime(a.EndsAt):
		return fmt.Errorf("times %v, %v: not UTC, finer than microseconds or beyond year 9999", a.StartsAt, a.EndsAt)
	}
	if err := checkMap("label", a.Labels, MaxLabelValueBytes, MaxLabels); err != nil {
		return err
	}
	if err := checkMap("annotation", a.Annotations, MaxAnnotationValueBytes, MaxAnnotations); err != nil {
		return err
	}
	return checkLinks(a.Links)
}

func storableTime(t time.Time) bool {
	return t.Location() == time.UTC && t.Nanosecond()%1000 == 0 && t.Year() >= 1 && t.Year() <= 9999
}

func within(s string, maxBytes int) bool { return len(s) <= maxBytes && isClean(s) }

func checkMap(what string, m map[string]string, maxValue, maxEntries int) error {
	if m == nil || len(m) > maxEntries {
		return fmt.Errorf("%ss: nil or more than %d", what, maxEntries)
	}
	for k, v := range m {
		if k == "" || !within(k, MaxKeyBytes) || !within(v, maxValue) {
			return fmt.Errorf("%s %q: empty, unclean or too long", what, k)
		}
	}
	return nil
}

func checkLinks(links []Link) error {
	if links == nil || len(links) > MaxLinks {
		return fmt.Errorf("links: nil or more than %d", MaxLinks)
	}
	for _, l := range links {
		if !ValidLinkKind(l.Kind) || !IsWebURL(l.URL) || !within(l.URL, MaxURLBytes) ||
			!isClean(l.Title) || utf8.RuneCountInString(l.Title) > MaxTitleRunes {
			return fmt.Errorf("link %q: bad kind, URL or title", l.URL)
		}
	}
	return nil
}
