package alert

import "testing"

// The expected values are the "fingerprint" fields that a real
// Alertmanager 0.25 sent for these label sets (the fixtures in
// internal/intake/alertmanager/testdata), so a match proves the algorithm
// is Prometheus' own and not merely deterministic.
func TestFingerprintMatchesAlertmanager(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"DemoServiceDown", map[string]string{"alertname": "DemoServiceDown", "env": "e2e", "service": "demo", "severity": "critical"}, "c1fd535dc93659ef"},
		{"DemoWarmup", map[string]string{"alertname": "DemoWarmup", "env": "e2e", "instance": "127.0.0.1:19090", "job": "prometheus", "service": "demo", "severity": "warning"}, "670106d04f7b8055"},
		{"web-1", map[string]string{"alertname": "DemoHighLatency", "env": "e2e", "instance": "web-1:8080", "service": "checkout", "severity": "warning"}, "e6e1075603b6e7c9"},
		{"web-2", map[string]string{"alertname": "DemoHighLatency", "env": "e2e", "instance": "web-2:8080", "service": "checkout", "severity": "warning"}, "6fa332ee06939b6c"},
		{"web-3", map[string]string{"alertname": "DemoHighLatency", "env": "e2e", "instance": "web-3:8080", "service": "checkout", "severity": "warning"}, "1f837009838e12c7"},
		{"empty set is the FNV offset basis", map[string]string{}, "cbf29ce484222325"},
		{"nil set", nil, "cbf29ce484222325"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Fingerprint(tt.labels); got != tt.want {
				t.Errorf("Fingerprint = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFingerprintSeparatesNameAndValue(t *testing.T) {
	a := Fingerprint(map[string]string{"a": "bc"})
	b := Fingerprint(map[string]string{"ab": "c"})
	if a == b {
		t.Errorf("{a=bc} and {ab=c} share fingerprint %s", a)
	}
	if len(a) != 16 || len(b) != 16 {
		t.Errorf("fingerprints %q, %q are not 16 hex digits", a, b)
	}
}

func TestFingerprintPadsToSixteenDigits(t *testing.T) {
	if got := hex16(0xabc); got != "0000000000000abc" {
		t.Errorf("hex16(0xabc) = %s", got)
	}
}
