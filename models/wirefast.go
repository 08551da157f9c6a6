package models

import (
	"bytes"
	"encoding/json"
)

// Decoding the wire object through encoding/json was a tenth of the
// scoring time: reflection, a validating pre-pass, and a copy per field.
// scanWire reads the usual record, a flat JSON object with the fields of
// wireEvent, in one pass and without copies. It is a fast path only: for
// anything it is not sure to read exactly as encoding/json would (escaped
// or non-ASCII keys, keys that differ from a field name only by case,
// deep nesting, and every kind of invalid JSON) it gives up, and the
// caller uses encoding/json, whose result and error messages stay the
// reference. TestScanWireAgreesWithEncodingJSON holds them together.

// wireFields are the JSON names of wireEvent's fields.
var wireFields = [...]string{"id", "kind", "ts", "from", "from_name", "to", "text", "media", "forwarded", "call"}

// maxScanDepth bounds the nesting scanWire follows; deeper values are
// left to encoding/json.
const maxScanDepth = 32

// scanWire fills w from data, one JSON object, as json.Unmarshal would.
// ok is false when it gave up; w is then to be discarded. The raw
// messages alias data.
func scanWire(data []byte, w *wireEvent) (ok bool) {
	s := wireScanner{data: data}
	s.space()
	if !s.eat('{') {
		return false
	}
	s.space()
	if s.eat('}') {
		return s.end()
	}
	for {
		s.space()
		key, ok := s.key()
		if !ok {
			return false
		}
		s.space()
		if !s.eat(':') {
			return false
		}
		s.space()
		start := s.i
		if !s.value(0) {
			return false
		}
		if f := w.field(key); f != nil {
			*f = json.RawMessage(data[start:s.i:s.i])
		} else if foldsToField(key) {
			return false // encoding/json matches names case-insensitively
		}
		s.space()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			return s.end()
		}
		return false
	}
}

// field returns the field named exactly key, or nil.
func (w *wireEvent) field(key []byte) *json.RawMessage {
	switch string(key) { // no copy: the conversion is only compared
	case "id":
		return &w.ID
	case "kind":
		return &w.Kind
	case "ts":
		return &w.TS
	case "from":
		return &w.From
	case "from_name":
		return &w.FromName
	case "to":
		return &w.To
	case "text":
		return &w.Text
	case "media":
		return &w.Media
	case "forwarded":
		return &w.Forwarded
	case "call":
		return &w.Call
	}
	return nil
}

// foldsToField reports whether key could name a field without being
// its exact name.
func foldsToField(key []byte) bool {
	for _, f := range wireFields {
		if bytes.EqualFold(key, []byte(f)) {
			return true
		}
	}
	return false
}

type wireScanner struct {
	data []byte
	i    int
}

func (s *wireScanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *wireScanner) eat(c byte) bool {
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space follows.
func (s *wireScanner) end() bool {
	s.space()
	return s.i == len(s.data)
}

// key reads an object key: plain printable ASCII without escapes only.
// The key aliases the data.
func (s *wireScanner) key() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			k := s.data[start:s.i:s.i]
			s.i++
			return k, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// value skips one JSON value, checking it is well formed.
func (s *wireScanner) value(depth int) bool {
	if s.i >= len(s.data) || depth > maxScanDepth {
		return false
	}
	switch c := s.data[s.i]; {
	case c == '"':
		return s.str()
	case c == '{':
		s.i++
		s.space()
		if s.eat('}') {
			return true
		}
		for {
			s.space()
			if !s.str() {
				return false
			}
			s.space()
			if !s.eat(':') {
				return false
			}
			s.space()
			if !s.value(depth + 1) {
				return false
			}
			s.space()
			if s.eat(',') {
				continue
			}
			return s.eat('}')
		}
	case c == '[':
		s.i++
		s.space()
		if s.eat(']') {
			return true
		}
		for {
			s.space()
			if !s.value(depth + 1) {
				return false
			}
			s.space()
			if s.eat(',') {
				continue
			}
			return s.eat(']')
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

// str skips a string, checking its escapes and that it has no control
// characters. Other bytes, valid UTF-8 or not, are accepted as
// encoding/json accepts them.
func (s *wireScanner) str() bool {
	if !s.eat('"') {
		return false
	}
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			s.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			s.i++
			if s.i >= len(s.data) {
				return false
			}
			switch s.data[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				s.i++
				for range 4 {
					if s.i >= len(s.data) || !isHex(s.data[s.i]) {
						return false
					}
					s.i++
				}
			default:
				return false
			}
		default:
			s.i++
		}
	}
	return false
}

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// number skips -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *wireScanner) number() bool {
	s.eat('-')
	switch {
	case s.eat('0'):
	case s.i < len(s.data) && s.data[s.i] >= '1' && s.data[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.eat('.') && !s.digits() {
		return false
	}
	if s.eat('e') || s.eat('E') {
		if !s.eat('+') {
			s.eat('-')
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits skips one or more digits; false when there is none.
func (s *wireScanner) digits() bool {
	start := s.i
	for s.i < len(s.data) && isDigit(s.data[s.i]) {
		s.i++
	}
	return s.i > start
}

func (s *wireScanner) literal(lit string) bool {
	if len(s.data)-s.i < len(lit) || string(s.data[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}
