package alertmanager

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// decodeFast reads the body Alertmanager writes (Go's encoding/json
// output: exact field names, no duplicates, no nulls where we read) into
// msg without reflection: decoding was most of the work of taking an
// alert in. It handles that canonical form only and reports false on
// anything else (other spellings of a field, a null, a duplicate key, an
// escape that makes a surrogate, invalid UTF-8, any syntax error), and
// then Parse decodes with encoding/json, which gives the same result or
// the error message. When it reports true, msg is what encoding/json
// would have decoded; FuzzDecodeFast checks that.
func decodeFast(body []byte, msg *message) bool {
	d := fastDecoder{b: body}
	if !d.object(func(key string) bool {
		switch key {
		case "version":
			s, ok := d.string()
			msg.Version = s
			return ok
		case "groupKey":
			s, ok := d.string()
			msg.GroupKey = s
			return ok
		case "truncatedAlerts":
			n, ok := d.int()
			msg.TruncatedAlerts = n
			return ok
		case "alerts":
			return d.alerts(&msg.Alerts)
		}
		return !knownField(key, topFields...) && d.skip(0)
	}) {
		return false
	}
	d.space()
	return d.i == len(d.b)
}

type fastDecoder struct {
	b []byte
	i int
}

func (d *fastDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// consume skips white space and then c, reporting whether c was there.
func (d *fastDecoder) consume(c byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *fastDecoder) peek() byte {
	d.space()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// object reads an object, calling field for the value of each key; a key
// seen twice, or one a field would match only case-insensitively, makes
// it give up.
func (d *fastDecoder) object(field func(key string) bool) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	// Room for the keys of a usual object without an allocation.
	var buf [12]string
	seen := buf[:0]
	for {
		key, ok := d.key()
		if !ok || !d.consume(':') {
			return false
		}
		for _, k := range seen {
			if k == key {
				return false
			}
		}
		seen = append(seen, key)
		if !field(key) {
			return false
		}
		if d.consume('}') {
			return true
		}
		if !d.consume(',') {
			return false
		}
	}
}

// knownField reports whether encoding/json could take key for one of the
// field names in another spelling: it matches them case-insensitively,
// with Unicode folding, which decodeFast leaves to it.
func knownField(key string, names ...string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return true
		}
	}
	for _, n := range names {
		if len(key) == len(n) && key != n && asciiEqualFold(key, n) {
			return true
		}
	}
	return false
}

func asciiEqualFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

var topFields = []string{"version", "groupKey", "truncatedAlerts", "alerts"}

var alertFields = []string{"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}

func (d *fastDecoder) alerts(out *[]wireAlert) bool {
	if !d.consume('[') {
		return false
	}
	list := []wireAlert{}
	if d.consume(']') {
		*out = list
		return true
	}
	for {
		var w wireAlert
		ok := d.object(func(key string) bool {
			var ok bool
			switch key {
			case "status":
				w.Status, ok = d.string()
			case "labels":
				w.Labels, ok = d.stringMap()
			case "annotations":
				w.Annotations, ok = d.stringMap()
			case "startsAt":
				w.StartsAt, ok = d.string()
			case "endsAt":
				w.EndsAt, ok = d.string()
			case "generatorURL":
				w.GeneratorURL, ok = d.string()
			case "fingerprint":
				w.Fingerprint, ok = d.string()
			default:
				ok = !knownField(key, alertFields...) && d.skip(0)
			}
			return ok
		})
		if !ok {
			return false
		}
		list = append(list, w)
		if d.consume(']') {
			*out = list
			return true
		}
		if !d.consume(',') {
			return false
		}
	}
}

func (d *fastDecoder) stringMap() (map[string]string, bool) {
	m := map[string]string{}
	ok := d.object(func(key string) bool {
		v, ok := d.string()
		m[key] = v
		return ok
	})
	return m, ok
}

// string reads a string without surrogate escapes or invalid UTF-8.
func (d *fastDecoder) string() (string, bool) { return d.text(false) }

// key reads an object's key: the field names of a webhook and the label
// and annotation names most alerts carry come back as constants, not
// allocated once per alert.
func (d *fastDecoder) key() (string, bool) { return d.text(true) }

func (d *fastDecoder) text(key bool) (string, bool) {
	if !d.consume('"') {
		return "", false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			raw := d.b[start:d.i]
			d.i++
			if key {
				if k, ok := commonKey(raw); ok {
					return k, true
				}
			}
			return string(raw), true
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			d.i++
		default:
			r, size := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			d.i += size
		}
	}
	return "", false
}

// escaped finishes a string that has escapes, from its start.
func (d *fastDecoder) escaped(start int) (string, bool) {
	// Sized for the rest up to the next quote, which the string reaches
	// at least (a URL's \u0026 is the usual escape): one allocation.
	rest := bytes.IndexByte(d.b[d.i:], '"')
	buf := append(make([]byte, 0, d.i-start+max(rest, 0)), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(buf), true
		case c == '\\':
			if d.i+1 >= len(d.b) {
				return "", false
			}
			e := d.b[d.i+1]
			d.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				if d.i+4 > len(d.b) {
					return "", false
				}
				n, err := strconv.ParseUint(string(d.b[d.i:d.i+4]), 16, 32)
				if err != nil || (n >= 0xd800 && n < 0xe000) {
					return "", false
				}
				buf = utf8.AppendRune(buf, rune(n))
				d.i += 4
			default:
				return "", false
			}
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.i++
		default:
			r, size := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			buf = append(buf, d.b[d.i:d.i+size]...)
			d.i += size
		}
	}
	return "", false
}

// int reads an integer in JSON's syntax that fits an int.
func (d *fastDecoder) int() (int, bool) {
	d.space()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == digits || (d.b[digits] == '0' && d.i-digits > 1) {
		return 0, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	n, err := strconv.Atoi(string(d.b[start:d.i]))
	return n, err == nil
}

// skip checks and passes over any JSON value.
func (d *fastDecoder) skip(depth int) bool {
	if depth > 64 {
		return false
	}
	switch c := d.peek(); {
	case c == '"':
		_, ok := d.string()
		return ok
	case c == '{':
		return d.object(func(string) bool { return d.skip(depth + 1) })
	case c == '[':
		d.i++
		if d.consume(']') {
			return true
		}
		for {
			if !d.skip(depth + 1) {
				return false
			}
			if d.consume(']') {
				return true
			}
			if !d.consume(',') {
				return false
			}
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number()
	}
	return false
}

func (d *fastDecoder) literal(s string) bool {
	if len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		return false
	}
	d.i += len(s)
	return true
}

// number passes over a number in JSON's syntax.
func (d *fastDecoder) number() bool {
	digits := func() int {
		n := 0
		for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.b[d.i] == '-' {
		d.i++
	}
	first := d.i
	if n := digits(); n == 0 || (n > 1 && d.b[first] == '0') {
		return false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// commonKey is raw as one of the keys most webhooks repeat for every
// alert, without allocating (the compiler compares string(raw) in a
// switch in place).
func commonKey(raw []byte) (string, bool) {
	switch string(raw) {
	case "status":
		return "status", true
	case "labels":
		return "labels", true
	case "annotations":
		return "annotations", true
	case "startsAt":
		return "startsAt", true
	case "endsAt":
		return "endsAt", true
	case "generatorURL":
		return "generatorURL", true
	case "fingerprint":
		return "fingerprint", true
	case "alertname":
		return "alertname", true
	case "severity":
		return "severity", true
	case "instance":
		return "instance", true
	case "job":
		return "job", true
	case "service":
		return "service", true
	case "env":
		return "env", true
	case "group":
		return "group", true
	case "team":
		return "team", true
	case "summary":
		return "summary", true
	case "description":
		return "description", true
	case "runbook_url":
		return "runbook_url", true
	}
	return "", false
}
