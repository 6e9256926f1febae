package web

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/review"
	"github.com/quenchhq/quench/internal/service"
)

// chart is one figure of the insights: an SVG, the same numbers as a
// table for people, and as CSV rows for a download.
type chart struct {
	ID, Title string
	SVG       template.HTML
	Head      []string
	Table     [][]string
	CSVHead   []string
	CSV       [][]string
	// CSVURL downloads CSV for the page's period.
	CSVURL string
}

// duration writes a summary's figure for people, "–" when nothing got
// there.
func duration(s review.Summary, v review.Seconds) string {
	if s.Count == 0 {
		return "–"
	}
	return v.Words()
}

func secs(v review.Seconds) string { return strconv.FormatFloat(float64(v), 'f', -1, 64) }

func pct(share float64) string { return fmt.Sprintf("%d%%", review.Percent(share)) }

// timesCharts are the charts of one of the three times, by month and by
// severity.
func timesCharts(name, id string, pick func(review.Times) review.Summary, in *review.Insights) []chart {
	build := func(key, title string, labels []string, times []review.Times) chart {
		c := chart{ID: id + "-by-" + key, Title: title, Head: []string{key, "incidents that got there", "median", "p90"},
			CSVHead: []string{key, "count", "median_seconds", "p90_seconds"}}
		med := series{Name: "median"}
		p90 := series{Name: "90th percentile"}
		for i, t := range times {
			s := pick(t)
			med.Values, med.Labels = append(med.Values, s.Median.Duration().Hours()), append(med.Labels, duration(s, s.Median))
			p90.Values, p90.Labels = append(p90.Values, s.P90.Duration().Hours()), append(p90.Labels, duration(s, s.P90))
			c.Table = append(c.Table, []string{labels[i], strconv.Itoa(s.Count), duration(s, s.Median), duration(s, s.P90)})
			c.CSV = append(c.CSV, []string{labels[i], strconv.Itoa(s.Count), secs(s.Median), secs(s.P90)})
		}
		c.SVG = barChart(c.ID, c.Title, "Bars per "+key+": the median (solid) and the 90th percentile (hatched) of the time "+name+
			", in hours; each bar is labelled with its value.", labels, []series{med, p90})
		return c
	}
	var months, sevs []string
	var mt, st []review.Times
	for _, m := range in.ByMonth {
		months, mt = append(months, m.Month), append(mt, m.Times)
	}
	for _, s := range in.BySeverity {
		sevs, st = append(sevs, string(s.Severity)), append(st, s.Times)
	}
	return []chart{
		build("month", "Time "+name+" by month opened", months, mt),
		build("severity", "Time "+name+" by severity", sevs, st),
	}
}

// insightCharts are every chart of the insights, in page order.
func insightCharts(in *review.Insights) []chart {
	var out []chart
	out = append(out, timesCharts("to mitigate", "mitigate", func(t review.Times) review.Summary { return t.ToMitigate }, in)...)
	out = append(out, timesCharts("to resolve", "resolve", func(t review.Times) review.Summary { return t.ToResolve }, in)...)
	out = append(out, timesCharts("to close", "close", func(t review.Times) review.Summary { return t.ToClose }, in)...)

	mon := chart{ID: "monitoring-by-month", Title: "Found by monitoring, by month", Head: []string{"month", "incidents", "found by monitoring", "share"},
		CSVHead: []string{"month", "incidents", "monitoring", "monitoring_share"}}
	trend := series{Name: "found by monitoring"}
	var months []string
	for _, m := range in.Detection.ByMonth {
		months = append(months, m.Month)
		label := "–"
		if m.Incidents > 0 {
			label = pct(m.Share)
		}
		trend.Values, trend.Labels = append(trend.Values, m.Share*100), append(trend.Labels, label)
		mon.Table = append(mon.Table, []string{m.Month, strconv.Itoa(m.Incidents), strconv.Itoa(m.Monitoring), label})
		mon.CSV = append(mon.CSV, []string{m.Month, strconv.Itoa(m.Incidents), strconv.Itoa(m.Monitoring), strconv.FormatFloat(m.Share, 'f', -1, 64)})
	}
	mon.SVG = lineChart(mon.ID, mon.Title, "A line over the months: the share of the month's incidents found by an alert or an exception, "+
		"each point labelled with its percentage (– for a month without incidents).", months, []series{trend}, 100)

	src := chart{ID: "detection-sources", Title: "How incidents were found", Head: []string{"detection source", "incidents", "share"},
		CSVHead: []string{"detection_source", "incidents", "share"}}
	found := series{Name: "incidents"}
	var sources []string
	for _, s := range in.Detection.Sources {
		sources = append(sources, string(s.Source))
		found.Values, found.Labels = append(found.Values, float64(s.Incidents)), append(found.Labels, fmt.Sprintf("%d (%s)", s.Incidents, pct(s.Share)))
		src.Table = append(src.Table, []string{string(s.Source), strconv.Itoa(s.Incidents), pct(s.Share)})
		src.CSV = append(src.CSV, []string{string(s.Source), strconv.Itoa(s.Incidents), strconv.FormatFloat(s.Share, 'f', -1, 64)})
	}
	src.SVG = barChart(src.ID, src.Title, "One bar per detection source, labelled with its incidents and share.", sources, []series{found})

	svc := chart{ID: "services", Title: "Incidents per service", Head: []string{"service", "incidents"}, CSVHead: []string{"service", "incidents"}}
	per := series{Name: "incidents"}
	var names []string
	for i, s := range in.Services {
		svc.Table = append(svc.Table, []string{s.Name, strconv.Itoa(s.Incidents)})
		svc.CSV = append(svc.CSV, []string{s.Name, strconv.Itoa(s.Incidents)})
		if i < 20 { // the chart shows the 20 most; the table and CSV have all
			names = append(names, s.Name)
			per.Values, per.Labels = append(per.Values, float64(s.Incidents)), append(per.Labels, strconv.Itoa(s.Incidents))
		}
	}
	svc.SVG = barChart(svc.ID, svc.Title, "One bar per service (the 20 with the most incidents), labelled with its incidents.", names, []series{per})
	out = append(out, mon, src, svc)

	if in.Alerts != nil {
		noisy := chart{ID: "noisiest-alerts", Title: "Noisiest alerts", Head: []string{"alert name", "alerts", "without an incident"},
			CSVHead: []string{"alertname", "alerts", "unattached"}}
		all, loose := series{Name: "alerts"}, series{Name: "without an incident"}
		var names []string
		for _, a := range in.Alerts.Noisiest {
			names = append(names, a.Name)
			all.Values, all.Labels = append(all.Values, float64(a.Alerts)), append(all.Labels, strconv.Itoa(a.Alerts))
			loose.Values, loose.Labels = append(loose.Values, float64(a.Unattached)), append(loose.Labels, strconv.Itoa(a.Unattached))
			noisy.Table = append(noisy.Table, []string{a.Name, strconv.Itoa(a.Alerts), strconv.Itoa(a.Unattached)})
			noisy.CSV = append(noisy.CSV, []string{a.Name, strconv.Itoa(a.Alerts), strconv.Itoa(a.Unattached)})
		}
		noisy.SVG = barChart(noisy.ID, noisy.Title, "Per alert name: all its alerts first seen in the period (solid) and those part of no incident (hatched), each labelled.",
			names, []series{all, loose})
		out = append(out, noisy)
	}
	return out
}

type insightsData struct {
	In            *review.Insights
	Charts        []chart
	Since, Until  string
	Presets       []preset
	Headline      int
	PerIncident   string
	UntilIncluded string
}

// insightsQuery reads the period of the insights page and its CSV.
func (w *Web) insights(r *http.Request) (*review.Insights, url.Values, error) {
	q := r.URL.Query()
	since, err := service.ParseDay(q.Get("since"), false)
	if err != nil {
		return nil, nil, err
	}
	until, err := service.ParseDay(q.Get("until"), true)
	if err != nil {
		return nil, nil, err
	}
	in, err := w.svc.Insights(r.Context(), auth.From(r.Context()), since, until)
	period := url.Values{}
	for _, k := range []string{"since", "until"} {
		if v := q.Get(k); v != "" {
			period.Set(k, v)
		}
	}
	return in, period, err
}

// insightsPage shows whether the team is getting better. Anonymous
// viewers, where the instance is public, get the figures of the public
// incidents and no alert figures.
func (w *Web) insightsPage(rw http.ResponseWriter, r *http.Request) {
	in, period, err := w.insights(r)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	d := insightsData{In: in, Charts: insightCharts(in), Since: in.Since.Format("2006-01-02"),
		Until: in.Until.Add(-1).Format("2006-01-02"), Headline: review.Percent(in.Detection.MonitoringShare),
		Presets: presets(w.svc.Now(), "/insights", "since", "until", r.URL.Query())}
	for i := range d.Charts {
		v := url.Values{"chart": {d.Charts[i].ID}}
		for k, vs := range period {
			v[k] = vs
		}
		d.Charts[i].CSVURL = "/insights.csv?" + v.Encode()
	}
	if in.Alerts != nil {
		d.PerIncident = strconv.FormatFloat(in.Alerts.PerIncident, 'f', 1, 64)
	}
	w.render(rw, r, http.StatusOK, "insights", w.newPage(r, "Insights", d))
}

// insightsCSV downloads one chart's numbers: ?chart=ID and the period.
func (w *Web) insightsCSV(rw http.ResponseWriter, r *http.Request) {
	in, _, err := w.insights(r)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	id := r.URL.Query().Get("chart")
	var ids []string
	for _, c := range insightCharts(in) {
		if c.ID != id {
			ids = append(ids, c.ID)
			continue
		}
		rw.Header().Set("Content-Type", "text/csv; charset=utf-8")
		rw.Header().Set("Content-Disposition", `attachment; filename="insights-`+c.ID+`.csv"`)
		rw.Header().Set("Cache-Control", "no-store")
		cw := csv.NewWriter(rw)
		cw.Write(c.CSVHead)
		for _, row := range c.CSV {
			for i := range row {
				row[i] = service.CSVCell(row[i])
			}
			cw.Write(row)
		}
		cw.Flush()
		return
	}
	w.fail(rw, r, problem.New(problem.NotFound, "not_found", "There is no chart %q; the charts are: %s.", id, strings.Join(ids, ", ")))
}
