package web

import (
	"net/url"
	"time"
)

// preset is a period people ask for often, as a link.
type preset struct {
	Name, URL string
	Current   bool
}

// presets link path to the last 7 days, last month, this quarter and the
// last 12 months as whole UTC days, with the period in the parameters
// named from and to, keeping the other parameters of keep. The one
// matching keep's period is marked current.
func presets(now time.Time, path, from, to string, keep url.Values) []preset {
	now = now.UTC()
	day := func(t time.Time) string { return t.Format(time.DateOnly) }
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	quarter := time.Date(now.Year(), (now.Month()-1)/3*3+1, 1, 0, 0, 0, 0, time.UTC)
	var out []preset
	for _, p := range []struct {
		name     string
		from, to time.Time
	}{
		{"last 7 days", today.AddDate(0, 0, -6), today},
		{"last month", month.AddDate(0, -1, 0), month.AddDate(0, 0, -1)},
		{"this quarter", quarter, today},
		{"last 12 months", month.AddDate(0, -11, 0), today},
	} {
		v := url.Values{}
		for k, vs := range keep {
			if k != from && k != to && k != "offset" {
				v[k] = vs
			}
		}
		v.Set(from, day(p.from))
		v.Set(to, day(p.to))
		out = append(out, preset{Name: p.name, URL: path + "?" + v.Encode(),
			Current: keep.Get(from) == day(p.from) && keep.Get(to) == day(p.to)})
	}
	return out
}
