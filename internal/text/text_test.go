package text

import (
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 0, "plain"},
		{"a\x00b", 0, "a\uFFFDb"},
		{"bad\xffbyte", 0, "bad\uFFFDbyte"},
		{"two\xff\xfebad", 0, "two\uFFFD\uFFFDbad"},
		{"héllo", 2, "h"},
		{"héllo", 3, "hé"},
		{"abc", 3, "abc"},
	}
	for _, tt := range tests {
		if got := Clean(tt.in, tt.max); got != tt.want {
			t.Errorf("Clean(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestLine(t *testing.T) {
	if got := Line("  one\r\ntwo\tthree  ", 0); got != "one  two three" {
		t.Errorf("Line = %q", got)
	}
	if got := Line("x\u2028y", 0); got != "x y" {
		t.Errorf("Line = %q", got)
	}
}

func FuzzClean(f *testing.F) {
	f.Add("a\x00\xffb", 3)
	f.Fuzz(func(t *testing.T, s string, max int) {
		max = max % 64
		got := Clean(s, max)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 %q", got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] == 0 {
				t.Fatalf("NUL in %q", got)
			}
		}
		if max > 0 && len(got) > max {
			t.Fatalf("len %d > %d", len(got), max)
		}
	})
}
