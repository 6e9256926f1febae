package markdown

import "testing"

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"# Title\n\nSome **bold** and _it_ and ~~old~~.", "Title\n\nSome bold and it and old."},
		{"[link](https://x.example) and [bad](javascript:x) and [same](https://s.example)", "link (https://x.example) and bad and same (https://s.example)"},
		{"[https://x.example](https://x.example) <https://y.example> <ops@example.com>", "https://x.example https://y.example ops@example.com"},
		{"[mail](mailto:ops@example.com) [ops@example.com](mailto:ops@example.com)", "mail (mailto:ops@example.com) ops@example.com"},
		{"![graph](https://g.example/x.png)", "graph (https://g.example/x.png)"},
		{"[](https://x.example)", "https://x.example"},
		{"- one\n- two\n  - nested", "- one\n- two\n  - nested"},
		{"3. a\n4. b", "3. a\n4. b"},
		{"- [x] done\n- [ ] open", "- [x] done\n- [ ] open"},
		{"> quoted\n> twice\n\n> > deeper", "> quoted\n> twice\n\n> > deeper"},
		{"```go\nif x < 1 {\n}\n```", "if x < 1 {\n}"},
		{"`a <b> c`", "a <b> c"},
		{"| a | b |\n|---|---|\n| 1 | 2 |\n| 3 |", "a | b\n1 | 2\n3"},
		{"a <b>bold</b> &amp; \\*not\\* &#35;1 &copy;", "a <b>bold</b> & *not* #1 ©"},
		{"<div>\nraw\n</div>", "<div>\nraw\n</div>"},
		{"line one\nline two", "line one\nline two"},
		{"a\n\n---\n\nb", "a\n\n---\n\nb"},
		{"{{.}} ${7*7}", "{{.}} ${7*7}"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}
