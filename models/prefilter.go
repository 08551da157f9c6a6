package models

import (
	"unicode"
	"unicode/utf8"
)

// mayHoldCard reports whether s has enough digits (of any script) for
// FindCardNumbers to find a card number in its card view: 13. Most text
// has far fewer, and then masking needs no view at all.
func mayHoldCard(s string) bool {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if isDigit(c) {
				n++
			}
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			if unicode.IsDigit(r) {
				n++
			}
			i += size
		}
		if n >= 13 {
			return true
		}
	}
	return false
}

// mayHoldAccount reports whether s has a run of 15 or more ASCII capital
// letters and digits, which every match of accountPattern contains (20
// digits, or an IBAN of at least 15 characters). Most text has none, and
// then the regular expression need not run.
func mayHoldAccount(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isDigit(c) || ('A' <= c && c <= 'Z') {
			run++
			if run >= 15 {
				return true
			}
			continue
		}
		run = 0
	}
	return false
}

// unquotePlain decodes a JSON string literal the way encoding/json does
// when it needs no work: no escapes, no control characters, valid UTF-8.
// Then the value is the bytes between the quotes. ok is false for
// anything else (other types, escapes, invalid UTF-8), which the caller
// leaves to encoding/json. raw must be one well-formed JSON value, as a
// json.RawMessage field holds after a successful Unmarshal.
func unquotePlain(raw []byte) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' || c == '"' || c < ' ' {
			return "", false
		}
	}
	if !utf8.Valid(inner) {
		return "", false
	}
	return string(inner), true
}
