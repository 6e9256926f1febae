package alert

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MatchOp is a matcher's comparison, spelled as in Alertmanager and
// PromQL so that people can paste matchers from their routing tree.
type MatchOp string

const (
	MatchEqual     MatchOp = "="
	MatchNotEqual  MatchOp = "!="
	MatchRegexp    MatchOp = "=~"
	MatchNotRegexp MatchOp = "!~"
)

func (op MatchOp) valid() bool {
	switch op {
	case MatchEqual, MatchNotEqual, MatchRegexp, MatchNotRegexp:
		return true
	}
	return false
}

func (op MatchOp) isRegexp() bool { return op == MatchRegexp || op == MatchNotRegexp }

// Matcher selects alerts by one label, with Alertmanager's semantics: a
// missing label compares as the empty string, and a regular expression must
// match the whole value (it is anchored as ^(?:value)$), so `env=~"prod"`
// does not match "preprod".
//
// Build one with ParseMatcher, ParseMatchers or NewMatcher: they compile the
// expression once. A Matcher written as a struct literal still works but
// recompiles its expression on every call to Matches.
type Matcher struct {
	Name  string
	Op    MatchOp
	Value string

	re *regexp.Regexp
}

// NewMatcher checks and compiles a matcher given in parts.
func NewMatcher(name string, op MatchOp, value string) (Matcher, error) {
	m := Matcher{Name: name, Op: op, Value: value}
	switch {
	case name == "":
		return Matcher{}, Invalid("matcher: empty label name")
	case !utf8.ValidString(name) || !utf8.ValidString(value):
		return Matcher{}, Invalid("matcher %s: not valid UTF-8", quoteShort(name))
	case !op.valid():
		return Matcher{}, Invalid("matcher %s: unknown operator %s (use =, !=, =~ or !~)", quoteShort(name), quoteShort(string(op)))
	}
	if op.isRegexp() {
		re, err := anchored(value)
		if err != nil {
			return Matcher{}, Invalid("matcher %s: bad regular expression: %v", quoteShort(name), err)
		}
		m.re = re
	}
	return m, nil
}

func anchored(expr string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + expr + ")$")
}

// Matches reports whether labels satisfy m.
func (m Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	}
	re := m.re
	if re == nil {
		var err error
		if re, err = anchored(m.Value); err != nil {
			return false
		}
	}
	switch m.Op {
	case MatchRegexp:
		return re.MatchString(v)
	case MatchNotRegexp:
		return !re.MatchString(v)
	}
	return false
}

// String gives the form ParseMatcher reads back: name="value", the name
// quoted only when it is not a plain Prometheus label name.
func (m Matcher) String() string {
	name := m.Name
	if !isLabelName(name) {
		name = quoteMatcher(name)
	}
	return name + string(m.Op) + quoteMatcher(m.Value)
}

// MarshalJSON stores a matcher as its string form, the same text people
// type in the UI and in rule files.
func (m Matcher) MarshalJSON() ([]byte, error) {
	return json.Marshal(m.String())
}

// UnmarshalJSON reads the string form written by MarshalJSON.
func (m *Matcher) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return Invalid("matcher: expected a JSON string such as \"severity=critical\"")
	}
	parsed, err := ParseMatcher(s)
	if err != nil {
		return err
	}
	*m = parsed
	return nil
}

// ParseMatcher reads one matcher: a label name (bare, or double-quoted for
// names outside [a-zA-Z_][a-zA-Z0-9_]*), an operator, and a value that is
// double-quoted (escapes \" \\ \n) or bare. A bare value cannot contain
// whitespace or any of , { } " \ = ! ~; quote it otherwise.
func ParseMatcher(s string) (Matcher, error) {
	p := matcherParser{in: s}
	p.skipSpace()
	m, err := p.matcher()
	if err != nil {
		return Matcher{}, err
	}
	p.skipSpace()
	if !p.done() {
		return Matcher{}, p.errorf("unexpected %s after the matcher", quoteShort(p.in[p.pos:]))
	}
	return m, nil
}

// ParseMatchers reads a comma-separated list of matchers, optionally
// wrapped in braces as in PromQL and amtool: `{env="prod", team=~"a|b"}`.
// A trailing comma is allowed and an empty list ("" or "{}") yields no
// matchers, which match every alert.
func ParseMatchers(s string) ([]Matcher, error) {
	body := strings.TrimSpace(s)
	if strings.HasPrefix(body, "{") {
		if !strings.HasSuffix(body, "}") || len(body) < 2 {
			return nil, Invalid("matchers %s: missing closing }", quoteShort(s))
		}
		body = body[1 : len(body)-1]
	}
	p := matcherParser{in: body}
	var out []Matcher
	for {
		p.skipSpace()
		if p.done() {
			return out, nil
		}
		m, err := p.matcher()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
		p.skipSpace()
		if p.done() {
			return out, nil
		}
		if p.in[p.pos] != ',' {
			return nil, p.errorf("expected , between matchers, found %s", quoteShort(p.in[p.pos:]))
		}
		p.pos++
	}
}

// matcherParser walks the input byte by byte; every token it accepts is
// ASCII except the contents of quoted strings, which are copied verbatim.
type matcherParser struct {
	in  string
	pos int
}

func (p *matcherParser) done() bool { return p.pos >= len(p.in) }

func (p *matcherParser) skipSpace() {
	for !p.done() && strings.IndexByte(" \t\n\r", p.in[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *matcherParser) errorf(format string, args ...any) error {
	return Invalid("matcher %s at offset %d: "+format, append([]any{quoteShort(p.in), p.pos}, args...)...)
}

func (p *matcherParser) matcher() (Matcher, error) {
	name, err := p.name()
	if err != nil {
		return Matcher{}, err
	}
	p.skipSpace()
	op, err := p.op()
	if err != nil {
		return Matcher{}, err
	}
	p.skipSpace()
	value, err := p.value()
	if err != nil {
		return Matcher{}, err
	}
	return NewMatcher(name, op, value)
}

func (p *matcherParser) name() (string, error) {
	if !p.done() && p.in[p.pos] == '"' {
		name, err := p.quoted()
		if err == nil && name == "" {
			err = p.errorf("empty label name")
		}
		return name, err
	}
	start := p.pos
	for !p.done() && isNameByte(p.in[p.pos], p.pos > start) {
		p.pos++
	}
	if p.pos == start {
		return "", p.errorf("expected a label name")
	}
	return p.in[start:p.pos], nil
}

func (p *matcherParser) op() (MatchOp, error) {
	for _, op := range []MatchOp{MatchRegexp, MatchNotRegexp, MatchNotEqual, MatchEqual} {
		if strings.HasPrefix(p.in[p.pos:], string(op)) {
			p.pos += len(op)
			return op, nil
		}
	}
	return "", p.errorf("expected an operator (=, !=, =~ or !~)")
}

func (p *matcherParser) value() (string, error) {
	if !p.done() && p.in[p.pos] == '"' {
		return p.quoted()
	}
	start := p.pos
	for !p.done() && strings.IndexByte(" \t\n\r,{}\"\\=!~", p.in[p.pos]) < 0 {
		p.pos++
	}
	if p.pos == start {
		return "", p.errorf(`expected a value (write "" for the empty string)`)
	}
	return p.in[start:p.pos], nil
}

// quoted reads a double-quoted string starting at the opening quote.
func (p *matcherParser) quoted() (string, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for !p.done() {
		c := p.in[p.pos]
		p.pos++
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if p.done() {
				return "", p.errorf("unterminated quoted string")
			}
			esc := p.in[p.pos]
			p.pos++
			switch esc {
			case '"', '\\':
				b.WriteByte(esc)
			case 'n':
				b.WriteByte('\n')
			default:
				return "", p.errorf(`unknown escape %s (use \", \\ or \n)`, quoteShort(p.in[p.pos-2:p.pos]))
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errorf("unterminated quoted string")
}

func isNameByte(c byte, notFirst bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || notFirst && '0' <= c && c <= '9'
}

func isLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i > 0) {
			return false
		}
	}
	return true
}

func quoteMatcher(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// quoteShort quotes user input for an error message, cut short so that an
// error never echoes a whole payload back.
func quoteShort(s string) string {
	const limit = 64
	if len(s) > limit {
		return strconv.Quote(Clean(s, limit) + "…")
	}
	return strconv.Quote(s)
}
