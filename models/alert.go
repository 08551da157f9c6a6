package models

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Advice is the verify-before-reply warning for the employee, in both
// languages the bank works in.
type Advice struct {
	RU string `json:"ru"`
	EN string `json:"en"`
}

// Alert is published to the alerts topic for each flagged event. Its ID is
// derived from the event id, so a redelivered event produces an alert with
// the same ID and consumers can deduplicate. Sender is masked; SenderHash
// is the keyed hash used in Redis, for grouping without the number.
type Alert struct {
	ID         string     `json:"id"`
	EventID    string     `json:"event_id"`
	EventKind  Kind       `json:"event_kind"`
	EventTime  time.Time  `json:"event_time"`
	AgeSeconds float64    `json:"age_s"`
	Employee   string     `json:"employee"`
	Sender     string     `json:"sender,omitempty"`
	SenderName string     `json:"sender_name,omitempty"`
	SenderHash string     `json:"sender_hash,omitempty"`
	Severity   Severity   `json:"severity"`
	Score      float64    `json:"score"`
	Categories []Category `json:"categories"`
	Reasons    []Reason   `json:"reasons"`
	Advice     Advice     `json:"advice"`
	Campaign   string     `json:"campaign,omitempty"`
	// TextID is the campaign id of the alert's text whether or not it has
	// become a campaign yet (Campaign is set only once the text reached a
	// second number or employee). Triage uses it to file a campaign's
	// first message, which carries no Campaign, under the campaign.
	TextID string `json:"text_id,omitempty"`
	// FirstContact is true when this was the sender's first event to
	// this employee: nothing earlier vouches for the number.
	FirstContact bool `json:"first_contact"`
	// Stale is set when the alert was made later than the configured
	// maximum age after the event (a backlog): the employee has most
	// likely answered already, so NotifyEmployee is false and the alert
	// is for the SOC only. NotifyEmployee is true for every fresh alert.
	Stale          bool      `json:"stale"`
	NotifyEmployee bool      `json:"notify_employee"`
	RulesVersion   string    `json:"rules_version"`
	ModelVersion   string    `json:"model_version"`
	CreatedAt      time.Time `json:"created_at"`
}

// AlertID derives the alert id from the event id: stable across
// redeliveries and restarts, and opaque.
func AlertID(eventID string) string {
	sum := sha256.Sum256([]byte("fraudwatch/alert/v1\x00" + eventID))
	return "fa_" + hex.EncodeToString(sum[:16])
}

// MaskNumber masks a phone number for employee-facing text: the country
// and operator prefix and the last four digits stay, the rest becomes ***
// ("+79161234567" → "+7916***4567"). Short inputs keep less.
func MaskNumber(n string) string {
	if n == "" {
		return ""
	}
	r := []rune(n)
	switch {
	case len(r) >= 10:
		return string(r[:5]) + "***" + string(r[len(r)-4:])
	case len(r) >= 6:
		return string(r[:2]) + "***" + string(r[len(r)-2:])
	default:
		return "***"
	}
}

// MaskCardNumbers masks every Luhn-valid card number (13–19 digits,
// optionally grouped by spaces or dashes) in s to its first 6 and last 4
// digits, as payment-card rules allow to display. It sees through the
// disguises the feature normaliser folds away, so that a number the
// detector recognised never reaches an employee in clear: invisible
// characters between the digits, Unicode spaces and dashes as group
// separators, and non-ASCII digits (fullwidth "４１１１…").
func MaskCardNumbers(s string) string {
	if !mayHoldCard(s) {
		return s
	}
	view, start, end := cardView(s)
	spans := FindCardNumbers(view)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:start[sp.Start]])
		b.WriteString(MaskPAN(sp.Digits))
		last = end[sp.End-1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// cardView maps s to the ASCII that FindCardNumbers reads: digits of any
// script become ASCII digits, Unicode spaces a space, dashes a dash,
// invisible format characters nothing, and every other rune one '.'.
// View byte i came from s[start[i]:end[i]]. An ASCII s is its own view.
func cardView(s string) (view string, start, end []int) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		start, end = make([]int, len(s)), make([]int, len(s))
		for i := range s {
			start[i], end[i] = i, i+1
		}
		return s, start, end
	}
	b := make([]byte, 0, len(s))
	for i, r := range s {
		var c byte
		switch {
		case r < utf8.RuneSelf:
			c = byte(r)
		case unicode.Is(unicode.Cf, r):
			continue
		case unicode.IsDigit(r):
			c = '0' + digitValue(r)
		case unicode.IsSpace(r) || unicode.Is(unicode.Zs, r):
			c = ' '
		case unicode.Is(unicode.Pd, r) || r == '\u2212':
			c = '-'
		default:
			c = '.'
		}
		b = append(b, c)
		start = append(start, i)
		end = append(end, i+utf8.RuneLen(r))
	}
	return string(b), start, end
}

// digitValue is the value of a decimal digit of any script. Unicode
// encodes each script's digits 0–9 contiguously, and the ranges of
// unicode.Nd start at a zero.
func digitValue(r rune) byte {
	for _, rg := range unicode.Nd.R16 {
		if rune(rg.Lo) <= r && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) % 10)
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if rune(rg.Lo) <= r && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) % 10)
		}
	}
	return 0
}

// MaskPAN keeps the first 6 and last 4 digits of a card number.
func MaskPAN(digits string) string {
	if len(digits) <= 10 {
		return strings.Repeat("*", len(digits))
	}
	return digits[:6] + strings.Repeat("*", len(digits)-10) + digits[len(digits)-4:]
}

// CardSpan is a card number found in text: byte offsets and its digits.
type CardSpan struct {
	Start, End int
	Digits     string
}

// FindCardNumbers returns the Luhn-valid runs of 13–19 digits in s, where
// digits may be grouped by single spaces or dashes. A run glued to other
// digits is not a card number. A run that is too long or fails Luhn may be
// a card number followed by more groups (an expiry date, a CVV): then the
// longest Luhn-valid leading part of 13–19 digits that ends with a whole
// group, and whose groups all have at least 3 digits, is the card number.
func FindCardNumbers(s string) []CardSpan {
	var out []CardSpan
	for i := 0; i < len(s); {
		if !isDigit(s[i]) || (i > 0 && isDigit(s[i-1])) {
			i++
			continue
		}
		digits := make([]byte, 0, 20)
		j, end := i, i
		var lead CardSpan         // the longest card-like leading groups so far
		group, minGroup := 0, 100 // digits in the current group, fewest in a finished one
		for j < len(s) && len(digits) <= 19 {
			c := s[j]
			if isDigit(c) {
				digits = append(digits, c)
				j++
				end = j
				group++
				continue
			}
			if (c == ' ' || c == '-') && j+1 < len(s) && isDigit(s[j+1]) && j > i {
				minGroup, group = min(minGroup, group), 0
				if n := len(digits); n >= 13 && minGroup >= 3 && luhn(digits) {
					lead = CardSpan{Start: i, End: j, Digits: string(digits)}
				}
				j++
				continue
			}
			break
		}
		if n := len(digits); n >= 13 && n <= 19 && luhn(digits) {
			lead = CardSpan{Start: i, End: end, Digits: string(digits)}
		}
		if lead.End > 0 {
			out = append(out, lead)
			i = lead.End
			continue
		}
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func luhn(d []byte) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// accountPattern finds bank account numbers: a Russian account (20
// digits, written solid) or an IBAN (two letters, two check digits, 11–30
// letters or digits), not glued to other letters or digits.
var accountPattern = regexp.MustCompile(`(?:^|[^0-9A-Za-z])((?:[0-9]{20})|(?:[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}))(?:$|[^0-9A-Za-z])`)

// FindAccountNumbers returns the byte spans of account numbers in s.
func FindAccountNumbers(s string) [][2]int {
	if !mayHoldAccount(s) {
		return nil
	}
	var out [][2]int
	for _, m := range accountPattern.FindAllStringSubmatchIndex(s, -1) {
		out = append(out, [2]int{m[2], m[3]})
	}
	return out
}

// MaskSensitive masks what must not reach an employee or the SOC in
// clear: card numbers (MaskCardNumbers) and account numbers, each cut to
// its first 6 and last 4 characters, and phone numbers (MaskPhoneNumbers).
func MaskSensitive(s string) string {
	s = MaskCardNumbers(s)
	spans := FindAccountNumbers(s)
	if len(spans) == 0 {
		return MaskPhoneNumbers(s)
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp[0]])
		b.WriteString(MaskPAN(s[sp[0]:sp[1]]))
		last = sp[1]
	}
	b.WriteString(s[last:])
	return MaskPhoneNumbers(b.String())
}

// MaskPhoneNumbers masks the phone numbers in s as MaskNumber does
// ("+7 916 123-45-67" → "+7916***4567"): a number quoted in a message may
// be a customer's or a colleague's, and alerts reach employees. A phone
// number here is a run of digits, optionally grouped by spaces, dashes,
// dots or brackets, not glued to letters or other digits, that either
// starts with "+" and has 10–15 digits (E.164), or starts with 7 or 8 and
// has 11 (a Russian number written nationally), or is 10–15 digits
// written solid. Dates, amounts and short codes do not match.
func MaskPhoneNumbers(s string) string {
	if !mayHoldPhone(s) {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		end, digits, ok := phoneAt(s, i)
		if !ok {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			continue
		}
		lead := ""
		if s[i] == '+' {
			lead = "+"
		}
		b.WriteString(s[last:i])
		b.WriteString(MaskNumber(lead + digits))
		last, i = end, end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// mayHoldPhone reports whether s has ten ASCII digits at all.
func mayHoldPhone(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			if n++; n >= 10 {
				return true
			}
		}
	}
	return false
}

// phoneAt reads a phone number starting at s[i]: its end and digits.
func phoneAt(s string, i int) (end int, digits string, ok bool) {
	start := i
	plus := s[i] == '+'
	if plus {
		i++
	}
	if i >= len(s) || !isDigit(s[i]) {
		return 0, "", false
	}
	if start > 0 {
		prev, _ := utf8.DecodeLastRuneInString(s[:start])
		if unicode.IsLetter(prev) || unicode.IsDigit(prev) || prev == '*' || prev == '+' {
			return 0, "", false
		}
	}
	var d []byte
	solid := true
	for i < len(s) && len(d) <= 15 {
		c := s[i]
		switch {
		case isDigit(c):
			d = append(d, c)
			i++
			end = i
			continue
		case (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') && len(d) > 0 || c == '(' && len(d) == 0:
			// A separator counts only when more digits follow.
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '-' || s[j] == '.' || s[j] == '(' || s[j] == ')') && j-i < 3 {
				j++
			}
			if j < len(s) && isDigit(s[j]) {
				solid = false
				i = j
				continue
			}
		}
		break
	}
	if end < len(s) {
		next, _ := utf8.DecodeRuneInString(s[end:])
		if unicode.IsLetter(next) || unicode.IsDigit(next) || next == '*' {
			return 0, "", false
		}
	}
	n := len(d)
	switch {
	case n > 15:
		return 0, "", false
	case plus && n >= 10:
	case !plus && n == 11 && (d[0] == '7' || d[0] == '8'):
	case !plus && solid && n >= 10:
	default:
		return 0, "", false
	}
	return end, string(d), true
}
