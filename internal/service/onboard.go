package service

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
)

// Onboarding is what a team pastes to bring a service's alerts to Quench:
// an Alertmanager route and receiver, and a starter Prometheus rules file.
type Onboarding struct {
	Service   string
	Namespace string
	// Integration is the service's Alertmanager integration; Created says
	// whether this call made it (then Token is its token, shown once).
	Integration *alert.Integration
	Created     bool
	Token       string
	// Receiver is the receivers entry ("- name: …"), Route the
	// route.routes entry; Alertmanager is both in a whole configuration
	// that amtool check-config accepts as it is.
	Receiver, Route, Alertmanager string
	// Rules is a Prometheus rules file (promtool check rules).
	Rules string
}

// serviceName is what a service or namespace may be called here: a
// Kubernetes name, so it is safe in label matchers and YAML as it is.
var serviceName = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$`)

// ReceiverName is the Alertmanager receiver of a service's alerts.
func ReceiverName(svc string) string { return "quench-" + svc }

// Onboard prepares a service: it finds the service's Alertmanager
// integration ("alertmanager: SERVICE") or creates it, and writes the
// configuration around it. runbookBase, if set, is where runbooks live
// (runbook_url = runbookBase/alertname); otherwise runbook_url points at
// the service's past incidents for that alert in Quench's incident log,
// whose phase notes say what was done last time. baseURL is how senders
// reach Quench (QUENCH_BASE_URL).
func (s *Service) Onboard(ctx context.Context, p auth.Principal, baseURL, svc, namespace, runbookBase string) (*Onboarding, error) {
	if err := require(p, auth.Administer, "onboard services"); err != nil {
		return nil, err
	}
	if !serviceName.MatchString(svc) {
		return nil, problem.Unprocessablef("service %q: want a lower-case name of letters, digits, '-' and '.' (at most 63), as in Kubernetes", svc)
	}
	if namespace != "" && !serviceName.MatchString(namespace) {
		return nil, problem.Unprocessablef("namespace %q: want a Kubernetes namespace name", namespace)
	}
	if runbookBase != "" {
		if u, err := url.Parse(runbookBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, problem.Unprocessablef("runbook base %q is not an http(s) URL", runbookBase)
		}
	}
	o := &Onboarding{Service: svc, Namespace: namespace}
	name := "alertmanager: " + svc
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		list, err := tx.Integrations(ctx)
		if err != nil {
			return err
		}
		for _, in := range list {
			if in.Type == alert.TypeAlertmanager && in.Name == name {
				o.Integration = in
				return nil
			}
		}
		o.Token = auth.NewSecret(IntegrationTokenPrefix)
		o.Integration = &alert.Integration{ID: strings.ToLower(auth.NewSecret("")[:12]), Type: alert.TypeAlertmanager, Name: name,
			TokenHash: auth.HashToken(o.Token), CreatedBy: p.Name(), CreatedAt: s.Now()}
		o.Created = true
		if err := tx.InsertIntegration(ctx, o.Integration); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "integration_created", name, map[string]any{"integration": o.Integration.ID, "type": alert.TypeAlertmanager, "onboarded": svc})
	})
	if err != nil {
		return nil, err
	}
	if o.Created {
		s.log.Info("integration created", "integration", o.Integration.ID, "type", alert.TypeAlertmanager, "by", p.Name(), "service", svc)
	}
	o.Receiver, o.Route, o.Alertmanager = alertmanagerConfig(baseURL, o)
	o.Rules = prometheusRules(baseURL, svc, namespace, runbookBase)
	return o, nil
}

func alertmanagerConfig(baseURL string, o *Onboarding) (receiver, route, whole string) {
	credentials := "          credentials: " + yamlQuote(o.Token) + "\n"
	if o.Token == "" {
		// Shown once, at creation: point at a file instead of pasting a
		// made-up value.
		credentials = "          # the token shown when the integration was created, in this file:\n" +
			"          credentials_file: /etc/alertmanager/quench-" + o.Service + ".token\n"
	}
	receiver = fmt.Sprintf(`- name: %s
  webhook_configs:
    - url: %s
      send_resolved: true
      # Quench takes a group of up to %d alerts whole; beyond that
      # Alertmanager sends the first %d and says how many it left out.
      max_alerts: %d
      http_config:
        authorization:
          type: Bearer
%s`, ReceiverName(o.Service), yamlQuote(IntakeURL(baseURL, o.Integration)), alert.MaxBatch, alert.MaxBatch, alert.MaxBatch, credentials)
	matchers := fmt.Sprintf("    - %s\n", yamlQuote(fmt.Sprintf("service=%q", o.Service)))
	if o.Namespace != "" {
		matchers += fmt.Sprintf("    - %s\n", yamlQuote(fmt.Sprintf("namespace=%q", o.Namespace)))
	}
	route = fmt.Sprintf(`- receiver: %s
  matchers:
%s  group_by: [alertname, service, namespace]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  # Other receivers (chat, pager) may want these alerts too.
  continue: true
`, ReceiverName(o.Service), matchers)
	whole = fmt.Sprintf(`# Alertmanager: send %s's alerts to Quench.
# Add the route under route.routes and the receiver under receivers of
# your alertmanager.yml; as printed, this is a whole configuration that
# amtool check-config accepts.
route:
  receiver: %s
  routes:
%sreceivers:
%s`, o.Service, ReceiverName(o.Service), indent(route, "    "), indent(receiver, "  "))
	return receiver, route, whole
}

// prometheusRules is a starter rules file for a service on Kubernetes
// (kube-state-metrics, the Prometheus operator's service label, a
// Pushgateway for heartbeats). Every alert carries service, severity and a
// runbook_url; critical ones open incidents by Quench's default rules,
// warnings wait in the inbox.
func prometheusRules(baseURL, svc, namespace, runbookBase string) string {
	sel := fmt.Sprintf("service=%q", svc)
	podSel := fmt.Sprintf("pod=~%q", regexp.QuoteMeta(svc)+"-.*")
	jobSel := fmt.Sprintf("job_name=~%q", regexp.QuoteMeta(svc)+"-.*")
	if namespace != "" {
		ns := fmt.Sprintf("namespace=%q", namespace)
		sel, podSel, jobSel = sel+", "+ns, podSel+", "+ns, jobSel+", "+ns
	}
	runbook := func(alertname string) string {
		if runbookBase != "" {
			return strings.TrimRight(runbookBase, "/") + "/" + strings.ToLower(alertname)
		}
		return baseURL + "/incidents?" + url.Values{"service": {svc}, "q": {alertname}}.Encode()
	}
	type rule struct{ alert, expr, dur, severity, summary, description string }
	rules := []rule{
		{"CronJobFailed", fmt.Sprintf("max by (namespace, job_name) (kube_job_status_failed{%s}) > 0", jobSel), "0m", "warning",
			"A job of " + svc + " failed", "Job {{ $labels.job_name }} in {{ $labels.namespace }} has failed pods."},
		{"PodCrashLooping", fmt.Sprintf(`max by (namespace, pod, container) (max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff", %s}[5m])) >= 1`, podSel), "15m", "critical",
			svc + " is crash looping", "Container {{ $labels.container }} of {{ $labels.pod }} has been restarting for 15 minutes."},
		{"High5xxRatio", fmt.Sprintf(`sum(rate(http_requests_total{%s, code=~"5.."}[5m])) / sum(rate(http_requests_total{%s}[5m])) > 0.05`, sel, sel), "10m", "critical",
			svc + " answers more than 5% of requests with 5xx", "{{ $value | humanizePercentage }} of requests failed over the last 5 minutes."},
		{"TargetDown", fmt.Sprintf("max by (namespace, instance) (up{%s}) == 0", sel), "5m", "critical",
			"A target of " + svc + " is down", "Prometheus cannot scrape {{ $labels.instance }}."},
		{"HeartbeatMissing", fmt.Sprintf("time() - max by (job) (push_time_seconds{job=~%q}) > 2 * 3600", regexp.QuoteMeta(svc)+".*"), "0m", "warning",
			svc + " has not checked in for two hours", "The last push from {{ $labels.job }} was {{ $value | humanizeDuration }} ago."},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Prometheus rules for %s: a start, to adjust to the service.\n", svc)
	fmt.Fprintf(&b, "# Check with: promtool check rules FILE\ngroups:\n  - name: %s\n    rules:\n", svc)
	for _, r := range rules {
		fmt.Fprintf(&b, "      - alert: %s\n        expr: %s\n", r.alert, yamlQuote(r.expr))
		if r.dur != "0m" {
			fmt.Fprintf(&b, "        for: %s\n", r.dur)
		}
		fmt.Fprintf(&b, "        labels:\n          service: %s\n          severity: %s\n", yamlQuote(svc), r.severity)
		fmt.Fprintf(&b, "        annotations:\n          summary: %s\n          description: %s\n          runbook_url: %s\n",
			yamlQuote(r.summary), yamlQuote(r.description), yamlQuote(runbook(r.alert)))
	}
	return b.String()
}

// yamlQuote is s as a double-quoted YAML scalar (JSON's escapes are
// YAML's).
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" && l != "\n" {
			b.WriteString(prefix)
		}
		b.WriteString(l)
	}
	return b.String()
}
