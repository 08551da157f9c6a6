package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind says whether an event is a message or a call.
type Kind string

// The event kinds.
const (
	KindMessage Kind = "message"
	KindCall    Kind = "call"
)

// Limits on what an event may carry. Text over MaxTextRunes is truncated,
// not rejected: a sender controls it, and an oversized message must not be
// a way to avoid scoring.
const (
	MaxTextRunes   = 65536
	MaxNameRunes   = 256
	MaxMedia       = 32
	MaxFieldRunes  = 1024 // filename, mime, media type
	MaxIDBytes     = 512  // id and to: set by the integration, not the sender
	maxSenderBytes = 64
)

// Media is one attachment of a message.
type Media struct {
	Type     string `json:"type"`
	Filename string `json:"filename,omitempty"`
	MIME     string `json:"mime,omitempty"`
}

// Call carries the call details of a call event.
type Call struct {
	DurationS float64 `json:"duration_s"`
	Missed    bool    `json:"missed"`
}

// Repairs records what decoding had to fix in sender-controlled input.
// Each repair is a feature: input built to break a parser is suspicious.
type Repairs struct {
	InvalidUTF8    bool `json:"invalid_utf8,omitempty"`
	TextTruncated  bool `json:"text_truncated,omitempty"`
	NameTruncated  bool `json:"name_truncated,omitempty"`
	MediaTruncated bool `json:"media_truncated,omitempty"`
	SenderMissing  bool `json:"sender_missing,omitempty"`
	SenderInvalid  bool `json:"sender_invalid,omitempty"`
}

// Any reports whether any repair was made.
func (r Repairs) Any() bool { return r != Repairs{} }

// Event is one inbound WhatsApp message or call after decoding. From is
// the sender in E.164 ("" when missing or invalid; FromRaw keeps what was
// sent, for the anomaly features, and is never written to Redis or logs).
type Event struct {
	ID        string    `json:"id"`
	Kind      Kind      `json:"kind"`
	TS        time.Time `json:"ts"`
	From      string    `json:"from,omitempty"`
	FromRaw   string    `json:"-"`
	FromName  string    `json:"from_name,omitempty"`
	To        string    `json:"to"`
	Text      string    `json:"text,omitempty"`
	Media     []Media   `json:"media,omitempty"`
	Forwarded bool      `json:"forwarded,omitempty"`
	Call      *Call     `json:"call,omitempty"`
	Repairs   Repairs   `json:"-"`
}

// SenderNormalizer turns what a sender field holds into E.164. ok is false
// when the input is not a valid number.
type SenderNormalizer func(raw string) (e164 string, ok bool)

// DecodeOptions configures decoding. The zero value accepts only senders
// already in E.164 form.
type DecodeOptions struct {
	// NormalizeSender maps national and formatted numbers to E.164 and
	// checks validity. Nil accepts only "+" followed by 7–15 digits.
	NormalizeSender SenderNormalizer
}

// DecodeError says why an event cannot be interpreted. It is permanent:
// the same bytes will always fail, so the event belongs in the dead-letter
// topic with Reason, not in a retry loop.
type DecodeError struct {
	Field  string // JSON field at fault; "" when the whole document is
	Reason string
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return fmt.Sprintf("field %q: %s", e.Field, e.Reason)
}

// IsDecodeError reports whether err is (or wraps) a *DecodeError.
func IsDecodeError(err error) bool {
	var de *DecodeError
	return errors.As(err, &de)
}

// wireEvent mirrors the JSON with RawMessage where the type must be
// checked by hand: sender-controlled fields are repaired, not rejected.
type wireEvent struct {
	ID        json.RawMessage `json:"id"`
	Kind      json.RawMessage `json:"kind"`
	TS        json.RawMessage `json:"ts"`
	From      json.RawMessage `json:"from"`
	FromName  json.RawMessage `json:"from_name"`
	To        json.RawMessage `json:"to"`
	Text      json.RawMessage `json:"text"`
	Media     json.RawMessage `json:"media"`
	Forwarded json.RawMessage `json:"forwarded"`
	Call      json.RawMessage `json:"call"`
}

// DecodeEvent decodes one event as it arrives on the inbound topic. It
// returns a *DecodeError when the event cannot be interpreted (not a JSON
// object, id / kind / ts / to missing or mistyped, unknown kind, a time
// that is not RFC 3339). Everything the sender controls is repaired and
// recorded in Event.Repairs instead: invalid UTF-8, oversized text or
// name, too many attachments, a missing or invalid number.
func DecodeEvent(raw []byte, opts DecodeOptions) (Event, error) {
	var w wireEvent
	ev, err := decodeWire(raw, &w)
	if err != nil {
		return Event{}, err
	}
	if ev.ID, err = requiredString("id", w.ID, MaxIDBytes); err != nil {
		return Event{}, err
	}
	if ev.Kind, err = decodeKind(w.Kind); err != nil {
		return Event{}, err
	}
	if ev.TS, err = decodeTime(w.TS); err != nil {
		return Event{}, err
	}
	if ev.To, err = requiredString("to", w.To, MaxIDBytes); err != nil {
		return Event{}, err
	}
	if err := decodeBody(&ev, &w, opts); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// decodeWire parses the JSON object and records invalid UTF-8: Go's
// decoder silently replaces bad bytes with U+FFFD, so the raw bytes are
// checked first.
func decodeWire(raw []byte, w *wireEvent) (Event, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return Event{}, &DecodeError{Reason: "empty record (want a JSON object)"}
	}
	if trimmed[0] != '{' {
		return Event{}, &DecodeError{Reason: fmt.Sprintf("not a JSON object (starts with %q)", excerptBytes(trimmed, 16))}
	}
	if !scanWire(trimmed, w) { // the fast path (wirefast.go) gives up on anything unusual
		// Into a wireEvent of its own: w itself would move to the heap
		// on every decode.
		var slow wireEvent
		if err := json.Unmarshal(trimmed, &slow); err != nil {
			return Event{}, &DecodeError{Reason: "invalid JSON: " + err.Error()}
		}
		*w = slow
	}
	var ev Event
	ev.Repairs.InvalidUTF8 = !utf8.Valid(trimmed) || hasLoneSurrogateEscape(trimmed)
	return ev, nil
}

// decodeBody fills the optional, sender-controlled part of an event.
func decodeBody(ev *Event, w *wireEvent, opts DecodeOptions) error {
	var err error
	if ev.Text, ev.Repairs.TextTruncated, err = optionalText("text", w.Text, MaxTextRunes); err != nil {
		return err
	}
	if ev.FromName, ev.Repairs.NameTruncated, err = optionalText("from_name", w.FromName, MaxNameRunes); err != nil {
		return err
	}
	decodeSender(ev, w.From, opts)
	if ev.Media, ev.Repairs.MediaTruncated, err = decodeMedia(w.Media); err != nil {
		return err
	}
	if isPresent(w.Forwarded) {
		fwd := ev.Forwarded // not &ev.Forwarded: the event would move to the heap on every decode
		if err := json.Unmarshal(w.Forwarded, &fwd); err != nil {
			return &DecodeError{Field: "forwarded", Reason: "want true or false, got " + jsonType(w.Forwarded)}
		}
		ev.Forwarded = fwd
	}
	if ev.Kind == KindCall {
		call := Call{Missed: false}
		if isPresent(w.Call) {
			if err := json.Unmarshal(w.Call, &call); err != nil {
				return &DecodeError{Field: "call", Reason: "want {\"duration_s\": number, \"missed\": bool}: " + err.Error()}
			}
			if call.DurationS < 0 {
				call.DurationS = 0
			}
		}
		ev.Call = &call
	}
	return nil
}

// isPresent reports whether a field was given with a non-null value.
func isPresent(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

func requiredString(field string, raw json.RawMessage, maxBytes int) (string, error) {
	if !isPresent(raw) {
		return "", &DecodeError{Field: field, Reason: "missing (required)"}
	}
	s, plain := unquotePlain(raw)
	if !plain {
		u := s // apart from s, so that only this path allocates it
		if err := json.Unmarshal(raw, &u); err != nil {
			return "", &DecodeError{Field: field, Reason: "want a string, got " + jsonType(raw)}
		}
		s = u
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", &DecodeError{Field: field, Reason: "empty (required)"}
	}
	if len(s) > maxBytes {
		return "", &DecodeError{Field: field, Reason: fmt.Sprintf("longer than %d bytes", maxBytes)}
	}
	return s, nil
}

func decodeKind(raw json.RawMessage) (Kind, error) {
	s, err := requiredString("kind", raw, 64)
	if err != nil {
		return "", err
	}
	switch k := Kind(s); k {
	case KindMessage, KindCall:
		return k, nil
	}
	return "", &DecodeError{Field: "kind", Reason: fmt.Sprintf("unknown kind %q (want \"message\" or \"call\")", excerpt(s, 32))}
}

func decodeTime(raw json.RawMessage) (time.Time, error) {
	s, err := requiredString("ts", raw, 64)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &DecodeError{Field: "ts", Reason: fmt.Sprintf("not an RFC 3339 time: %q", excerpt(s, 40))}
	}
	// An offset can push a time written in year 0000 or 9999 out of the
	// years JSON can carry ("0000-01-01T00:00:00+01:00" is year -1 in UTC).
	// Its alert could then never be encoded, and retrying it would stall
	// the partition, so it is rejected here.
	if t = t.UTC(); t.Year() < 0 || t.Year() > 9999 {
		return time.Time{}, &DecodeError{Field: "ts", Reason: fmt.Sprintf("%q is outside the years 0000–9999 in UTC", excerpt(s, 40))}
	}
	return t, nil
}

// optionalText decodes a sender-controlled string. A wrong JSON type is an
// integration bug, not something a sender can do, so it is an error.
func optionalText(field string, raw json.RawMessage, maxRunes int) (string, bool, error) {
	if !isPresent(raw) {
		return "", false, nil
	}
	s, plain := unquotePlain(raw)
	if !plain {
		u := s // apart from s, so that only this path allocates it
		if err := json.Unmarshal(raw, &u); err != nil {
			return "", false, &DecodeError{Field: field, Reason: "want a string, got " + jsonType(raw)}
		}
		s = u
	}
	s, truncated := TruncateRunes(s, maxRunes)
	return s, truncated, nil
}

// decodeSender never fails: a sender who sends a bad number is judged on
// content, and the bad number is a feature.
func decodeSender(ev *Event, raw json.RawMessage, opts DecodeOptions) {
	if !isPresent(raw) {
		ev.Repairs.SenderMissing = true
		return
	}
	s, plain := unquotePlain(raw)
	if !plain && !unmarshalString(raw, &s) {
		// A number sent as a JSON number is still a number.
		if n := strings.TrimSpace(string(raw)); numberLiteral.MatchString(n) {
			s = n
		} else {
			ev.Repairs.SenderInvalid = true
			return
		}
	}
	s = strings.TrimSpace(s)
	if s == "" {
		ev.Repairs.SenderMissing = true
		return
	}
	if len(s) > maxSenderBytes {
		s, _ = TruncateRunes(s, maxSenderBytes)
		ev.FromRaw = s
		ev.Repairs.SenderInvalid = true
		return
	}
	ev.FromRaw = s
	normalize := opts.NormalizeSender
	if normalize == nil {
		normalize = strictE164
	}
	e164, ok := normalize(s)
	if !ok {
		ev.Repairs.SenderInvalid = true
		return
	}
	ev.From = e164
}

var (
	numberLiteral = regexp.MustCompile(`^[0-9]{1,20}$`)
	e164Pattern   = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

func strictE164(s string) (string, bool) {
	return s, e164Pattern.MatchString(s)
}

func decodeMedia(raw json.RawMessage) ([]Media, bool, error) {
	if !isPresent(raw) {
		return nil, false, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, false, &DecodeError{Field: "media", Reason: "want a list of {type, filename, mime}, got " + jsonType(raw)}
	}
	truncated := false
	if len(items) > MaxMedia {
		items, truncated = items[:MaxMedia], true
	}
	out := make([]Media, 0, len(items))
	for i, it := range items {
		var m Media
		if err := json.Unmarshal(it, &m); err != nil {
			return nil, false, &DecodeError{Field: "media", Reason: fmt.Sprintf("item %d: want {type, filename, mime} strings, got %s", i, jsonType(it))}
		}
		var t1, t2, t3 bool
		m.Type, t1 = TruncateRunes(m.Type, MaxFieldRunes)
		m.Filename, t2 = TruncateRunes(m.Filename, MaxFieldRunes)
		m.MIME, t3 = TruncateRunes(m.MIME, MaxFieldRunes)
		truncated = truncated || t1 || t2 || t3
		out = append(out, m)
	}
	return out, truncated, nil
}

// TruncateRunes cuts s to at most n runes; truncated reports whether it did.
func TruncateRunes(s string, n int) (string, bool) {
	if len(s) <= n { // fast path: n bytes hold at most n runes
		return s, false
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos], true
		}
		i++
	}
	return s, false
}

// hasLoneSurrogateEscape finds \uD800–\uDFFF escapes, which Go's decoder
// also turns into U+FFFD without a word. A valid pair is fine; this check
// is conservative and treats any high surrogate not followed by a low one
// as invalid.
func hasLoneSurrogateEscape(b []byte) bool {
	for i := 0; i+6 <= len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] == '\\' { // escaped backslash: skip it
			i++
			continue
		}
		if b[i+1] != 'u' {
			continue
		}
		v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		if err != nil {
			continue
		}
		switch {
		case v >= 0xDC00 && v <= 0xDFFF:
			return true // low surrogate without a high one before it
		case v >= 0xD800 && v <= 0xDBFF:
			if i+12 > len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
				return true
			}
			lo, err := strconv.ParseUint(string(b[i+8:i+12]), 16, 16)
			if err != nil || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 11
		}
	}
	return false
}

func jsonType(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func excerpt(s string, n int) string {
	s, cut := TruncateRunes(s, n)
	if cut {
		return s + "…"
	}
	return s
}

func excerptBytes(b []byte, n int) string {
	return excerpt(strings.ToValidUTF8(string(b), "\uFFFD"), n)
}

// unmarshalString is json.Unmarshal(raw, s) == nil, with s written only
// on success (as Unmarshal leaves a string it fails on), through a
// variable of its own so that *s stays off the heap.
func unmarshalString(raw json.RawMessage, s *string) bool {
	u := *s
	if json.Unmarshal(raw, &u) != nil {
		return false
	}
	*s = u
	return true
}
