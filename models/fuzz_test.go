package models

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeCorpusRow: a labelled corpus row either decodes to a known
// label or fails with a *DecodeError, and never panics; when the same
// bytes are also a complete event (rows may omit kind, ts and to),
// DecodeEvent reads the very same event from them.
func FuzzDecodeCorpusRow(f *testing.F) {
	for _, s := range []string{
		`{"id":"r1","kind":"message","ts":"2026-11-26T09:15:02Z","from":"+79161234567","to":"emp-1","text":"Здравствуйте","label":"scam"}`,
		`{"id":"r2","kind":"call","ts":"2026-11-26T09:14:40Z","to":"emp-1","call":{"duration_s":3,"missed":false},"label":"ham"}`,
		`{"id":"r3","kind":"message","ts":"2026-11-26T09:00:00Z","to":"e","text":"x","label":"phishing"}`,
		`{"id":"r4","kind":"message","ts":"2026-11-26T09:00:00Z","to":"e","text":"x","label":7}`,
		`{"id":"r5","kind":"message","ts":"2026-11-26T09:00:00Z","to":"e","text":"x"}`,
		"{\"id\":\"r6\",\"kind\":\"message\",\"ts\":\"2026-11-26T09:00:00Z\",\"to\":\"e\",\"text\":\"\xff\",\"label\":\"spam\"}",
		`{"label":"ham"}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		row, err := DecodeCorpusRow(raw, DecodeOptions{})
		if err != nil {
			if !IsDecodeError(err) {
				t.Fatalf("error is not a DecodeError: %v", err)
			}
			return
		}
		if row.Label != LabelHam && row.Label != LabelSpam && row.Label != LabelScam {
			t.Fatalf("accepted label %q", row.Label)
		}
		ev, err := DecodeEvent(raw, DecodeOptions{})
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || (de.Field != "kind" && de.Field != "ts" && de.Field != "to") {
				t.Fatalf("a row that decodes is not an event for a reason other than a field rows may omit: %v", err)
			}
			return
		}
		if !reflect.DeepEqual(ev, row.Event) {
			t.Fatalf("the row's event differs from DecodeEvent's:\n%+v\n%+v", row.Event, ev)
		}
	})
}

// jsonRawString writes b as a JSON string the way a careless integration
// would: quotes, backslashes and control bytes escaped, every other byte
// (invalid UTF-8 included) passed through as is.
func jsonRawString(b string) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c < 0x20:
			const hex = "0123456789abcdef"
			sb.WriteString(`\u00`)
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&15])
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

// FuzzDecodeSenderFields: whatever a sender puts in the fields it
// controls (text, number, display name, attachment names) the event is
// decoded, never rejected; the result is valid UTF-8 within the limits,
// invalid bytes are recorded as a repair, and valid text within the limit
// is kept exactly.
func FuzzDecodeSenderFields(f *testing.F) {
	f.Add("Здравствуйте, это служба безопасности", "+79161234567", "Служба безопасности", "scan.pdf")
	f.Add("\xff\xfe код \xc3\x28", "8 (916) 123-45-67", "\xed\xa0\x80", "a\x00b")
	f.Add(strings.Repeat("я", MaxTextRunes+1), "not a number", strings.Repeat("n", MaxNameRunes+3), "")
	f.Add("", "", "", strings.Repeat("f", MaxFieldRunes+1))
	f.Add("\u202eмошенник\u202c к\u200bо\u200bд", "+0000000000000000000000", "😀", "📎")
	f.Fuzz(func(t *testing.T, text, from, name, filename string) {
		raw := `{"id":"fz","kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1","text":` + jsonRawString(text) +
			`,"from":` + jsonRawString(from) + `,"from_name":` + jsonRawString(name) +
			`,"media":[{"type":"document","filename":` + jsonRawString(filename) + `}]}`
		ev, err := DecodeEvent([]byte(raw), DecodeOptions{})
		if err != nil {
			t.Fatalf("rejected an event whose only oddities are the sender's: %v\n%q", err, raw)
		}
		for field, v := range map[string]string{"text": ev.Text, "from_name": ev.FromName, "from": ev.From} {
			if !utf8.ValidString(v) {
				t.Fatalf("%s %q is not valid UTF-8 after decoding", field, v)
			}
		}
		if utf8.RuneCountInString(ev.Text) > MaxTextRunes || utf8.RuneCountInString(ev.FromName) > MaxNameRunes {
			t.Fatalf("text or name over the limit survived")
		}
		allValid := utf8.ValidString(text) && utf8.ValidString(from) && utf8.ValidString(name) && utf8.ValidString(filename)
		if ev.Repairs.InvalidUTF8 == allValid {
			t.Fatalf("InvalidUTF8 = %v for input that is valid UTF-8: %v", ev.Repairs.InvalidUTF8, allValid)
		}
		if utf8.ValidString(text) && utf8.RuneCountInString(text) <= MaxTextRunes && ev.Text != text {
			t.Fatalf("valid text within the limit changed: %q became %q", text, ev.Text)
		}
		if ev.From != "" && (ev.From[0] != '+' || strings.Trim(ev.From[1:], "0123456789") != "") {
			t.Fatalf("sender %q is not E.164", ev.From)
		}
	})
}
