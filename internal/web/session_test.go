package web

import "testing"

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "/",
		"/":                        "/",
		"/incidents/4":             "/incidents/4",
		"/incidents/4?tab=updates": "/incidents/4?tab=updates",
		"//evil.example":           "/",
		"/\\evil.example":          "/",
		"\\/\\/evil.example":       "/",
		"https://evil.example":     "/",
		"https:evil.example":       "/",
		"/%2F%2Fevil.example":      "/",
		"/%5Cevil.example":         "/",
		"javascript:alert(1)":      "/",
		"evil.example":             "/",
		"/\t/evil.example":         "/",
		"/%09/evil.example":        "/",
		"http://127.0.0.1/":        "/",
	} {
		if got := SafeNext(in); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
