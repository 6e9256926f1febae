// Package payload holds the decoding steps every intake adapter shares, so
// that all of them describe bad input the same way: short messages that
// name the offending field, are safe to send back to the sender, and are
// *alert.InvalidError values the HTTP layer turns into 400.
package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/alert"
)

// Decode unmarshals body into v, ignoring unknown fields: senders we do
// not control add fields in new releases (Alertmanager's
// notification_reason, routeLabels) and must keep working. path prefixes
// field names in errors ("alerts[2]"); empty for the whole body.
func Decode(body []byte, v any, path string) error {
	if err := json.Unmarshal(body, v); err != nil {
		return jsonError(err, path)
	}
	return nil
}

// DecodeStrict is Decode for formats we define ourselves: an unknown field
// is an error, because it is almost always a typo that would otherwise
// silently drop what the sender meant to say.
func DecodeStrict(body []byte, v any, path string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, path)
	}
	if _, err := dec.Token(); err != io.EOF {
		return alert.Invalid("%s: unexpected data after the JSON value", orBody(path))
	}
	return nil
}

func jsonError(err error, path string) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return alert.Invalid("invalid JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typ):
		return alert.Invalid("%s: expected %s, got JSON %s", orBody(Field(path, typ.Field)), typeName(typ.Type), shorten(typ.Value))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return alert.Invalid("invalid JSON: unexpected end of input")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unquoted, err := strconv.Unquote(name); err == nil {
			name = unquoted
		}
		return alert.Invalid("%s: unknown field %s", orBody(path), Quote(name))
	}
	return alert.Invalid("invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// shorten caps what encoding/json quotes from the input (the literal of
// an overflowing number) so an error stays short.
func shorten(s string) string {
	if len(s) > 40 {
		return alert.Clean(s, 40) + "…"
	}
	return s
}

// typeName speaks JSON rather than Go, so the sender is not told about our
// struct names.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Bool:
		return "true or false"
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another type"
}

// Field joins an error path and a field name: Field("alerts[2]", "status")
// is "alerts[2].status".
func Field(path, name string) string {
	switch {
	case path == "":
		return name
	case name == "":
		return path
	}
	return path + "." + name
}

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

// Index names element i of the array at path: Index("alerts", 2) is
// "alerts[2]".
func Index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// Time parses an RFC 3339 timestamp; an empty string is the zero time,
// because senders leave times out when they have none.
func Time(path, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, alert.Invalid("%s: %s is not an RFC 3339 time", path, Quote(s))
	}
	return t, nil
}

// Status accepts exactly "firing" and "resolved". Anything else is refused
// rather than guessed: treating an unknown state as firing could open
// incidents for a "pending" rule, treating it as resolved could hide one.
func Status(path, s string) (alert.Status, error) {
	st := alert.Status(s)
	if !st.Valid() {
		return "", alert.Invalid(`%s: unknown status %s (want "firing" or "resolved")`, path, Quote(s))
	}
	return st, nil
}

// CheckBatch refuses payloads with more than alert.MaxBatch alerts.
func CheckBatch(path string, n int) error {
	if n > alert.MaxBatch {
		return alert.Invalid("%s: %d alerts, at most %d per request", path, n, alert.MaxBatch)
	}
	return nil
}

// Quote renders sender input for an error message, cut short so an error
// never echoes a large value back.
func Quote(s string) string {
	const limit = 64
	if len(s) > limit {
		return strconv.Quote(alert.Clean(s, limit) + "…")
	}
	return strconv.Quote(s)
}

// Finish normalizes every alert; adapters return its result so no alert
// leaves the intake packages uncleaned.
func Finish(alerts []alert.Alert) []alert.Alert {
	for i := range alerts {
		alert.Normalize(&alerts[i])
	}
	return alerts
}

// Lifecycle reads an alert's status, start and end, the three fields every
// Alertmanager-shaped alert carries, reporting errors at path.
func Lifecycle(path, status, startsAt, endsAt string) (alert.Status, time.Time, time.Time, error) {
	// The paths of the fields are joined only for an error's message: this
	// runs for every alert of every delivery.
	st, err := Status("status", status)
	if err != nil {
		_, err = Status(Field(path, "status"), status)
		return "", time.Time{}, time.Time{}, err
	}
	start, err := Time("startsAt", startsAt)
	if err != nil {
		_, err = Time(Field(path, "startsAt"), startsAt)
		return "", time.Time{}, time.Time{}, err
	}
	// A firing alert arrives with endsAt "0001-01-01T00:00:00Z", which
	// parses to the zero time: exactly what alert.Alert means by "firing".
	end, err := Time("endsAt", endsAt)
	if err != nil {
		_, err = Time(Field(path, "endsAt"), endsAt)
		return "", time.Time{}, time.Time{}, err
	}
	return st, start, end, nil
}
