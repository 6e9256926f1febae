package markdown

import (
	"fmt"
	"strings"
	"testing"
)

// viewer may see incidents 7 and 12; 8 exists but is confidential.
func viewer(calls *[]int64) Renderer {
	return Renderer{IncidentLink: func(n int64) (string, string, bool) {
		if calls != nil {
			*calls = append(*calls, n)
		}
		switch n {
		case 7:
			return "/incidents/7", "Queue backlog", true
		case 12:
			return "/incidents/12", `Disk "full" <again>`, true
		case 8:
			return "/incidents/8", "CONFIDENTIAL-TITLE", false
		}
		return "", "", false
	}}
}

func TestIncidentReferences(t *testing.T) {
	link7 := `<a href="/incidents/7" title="Queue backlog" rel="nofollow noopener noreferrer">#7</a>`
	tests := []struct{ in, want string }{
		{"see #7", "<p>see " + link7 + "</p>\n"},
		{"#7", "<p>" + link7 + "</p>\n"},
		{"(#7), #7. #7: [#7]", "<p>(" + link7 + "), " + link7 + ". " + link7 + ": [" + link7 + "]</p>\n"},
		{"**#7** _#7_", "<p><strong>" + link7 + "</strong> <em>" + link7 + "</em></p>\n"},
		{"- #7\n- #12", "<ul>\n<li>" + link7 + "</li>\n<li>" + `<a href="/incidents/12" title="Disk &quot;full&quot; &lt;again&gt;" rel="nofollow noopener noreferrer">#12</a></li>` + "\n</ul>\n"},
		{"#7\nnext", "<p>" + link7 + "<br>\nnext</p>\n"},
		{"see #7\nnext", "<p>see " + link7 + "<br>\nnext</p>\n"},
		// Not references: glued to words, in code, in links, escaped,
		// entities, leading zeros, headings need a space anyway.
		{"abc#7 #7abc #7_x x_#7 ##7 #07 #0", "<p>abc#7 #7abc #7_x x_#7 ##7 #07 #0</p>\n"},
		{"`#7`", "<p><code>#7</code></p>\n"},
		{"```\n#7\n```", "<pre><code>#7\n</code></pre>\n"},
		{"    #7", "<pre><code>#7\n</code></pre>\n"},
		{"[see #7](https://x.example)", `<p><a href="https://x.example" rel="nofollow noopener noreferrer">see #7</a></p>` + "\n"},
		{"https://x.example/#7", `<p><a href="https://x.example/#7" rel="nofollow noopener noreferrer">https://x.example/#7</a></p>` + "\n"},
		{`\#7 &#35;7`, "<p>#7 #7</p>\n"},
		{"<b title=#7>", "<p>&lt;b title=#7&gt;</p>\n"},
		{"#99999999999999999999", "<p>#99999999999999999999</p>\n"},
	}
	for _, tt := range tests {
		got := string(viewer(nil).Render(tt.in))
		if got != tt.want {
			t.Errorf("Render(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		checkInert(t, tt.in, got)
	}
}

func TestInvisibleIncidentRevealsNothing(t *testing.T) {
	// A4: a reference to an incident the viewer may not see renders
	// exactly like a reference to one that does not exist.
	for _, f := range []string{"see #%d now", "#%d", "- [ ] follow up on #%d"} {
		hidden := string(viewer(nil).Render(fmt.Sprintf(f, 8)))
		missing := string(viewer(nil).Render(fmt.Sprintf(f, 9)))
		if strings.Replace(hidden, "#8", "#9", 1) != missing {
			t.Errorf("hidden %q, missing %q", hidden, missing)
		}
		if strings.Contains(hidden, "CONFIDENTIAL") || strings.Contains(hidden, "/incidents/8") {
			t.Errorf("hidden incident leaked: %s", hidden)
		}
	}
	// Without a resolver nothing is linked, and Text never resolves.
	if out := string(Render("see #7")); out != "<p>see #7</p>\n" {
		t.Errorf("Render without resolver: %q", out)
	}
	if out := Text("see #7"); out != "see #7" {
		t.Errorf("Text: %q", out)
	}
}

func TestIncidentLinkCalledOnlyForReferences(t *testing.T) {
	var calls []int64
	viewer(&calls).Render("#7 `#8` [#9](/x) abc#10 #11\n\n```\n#12\n```")
	if fmt.Sprint(calls) != "[7 11]" {
		t.Errorf("IncidentLink called for %v, want [7 11]", calls)
	}
}

func TestIncidentLinkUnsafeHrefIgnored(t *testing.T) {
	r := Renderer{IncidentLink: func(int64) (string, string, bool) { return "javascript:alert(1)", "t", true }}
	if out := string(r.Render("#1")); out != "<p>#1</p>\n" {
		t.Errorf("unsafe href from IncidentLink rendered: %q", out)
	}
}
