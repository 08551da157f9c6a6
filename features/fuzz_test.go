package features

import (
	"testing"
	"unicode/utf8"

	"fraudwatch/models"
)

// FuzzDecodeAndExtract runs the detector's own path on arbitrary bytes:
// decoding with the number normalizer, then feature extraction. Whatever
// decodes is extracted without panicking, twice to the same result (the
// extractor reuses scratch buffers between events), and everything the
// features carry as text is valid UTF-8 and short.
func FuzzDecodeAndExtract(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","kind":"message","ts":"2026-11-26T09:15:02Z","from":"+79161234567","to":"emp-1","text":"Здравствуйте, это служба безопасности Сбербанка. Продиктуйте код из СМС: sberbank-secure.top/otmena"}`,
		`{"id":"2","kind":"message","ts":"2026-11-26T09:15:02Z","from":"8 (916) 123-45-67","from_name":"Служба безопасности","to":"emp-1","text":"Переведите 150 000 ₽ на безопасный счёт 4081 7810 0999 1000 0001"}`,
		`{"id":"3","kind":"call","ts":"2026-11-26T09:14:40Z","from":"+442071234567","to":"emp-1","call":{"duration_s":0,"missed":true}}`,
		"{\"id\":\"4\",\"kind\":\"message\",\"ts\":\"2026-11-26T09:00:00Z\",\"to\":\"e\",\"from\":\"\xff\",\"text\":\"к\u200bо\u200bд \xff\xfe xn--80ak6aa92e.com\"}",
		`{"id":"5","kind":"message","ts":"2026-11-26T09:00:00Z","to":"e","text":"a\ud800b \u202eмошенник\u202c","media":[{"type":"document","filename":"акт.pdf.exe"}]}`,
		`{"id":"6","kind":"message","ts":"2026-11-26T09:00:00Z","to":"e","from":"+7 (916) не-номер","text":"$$$ 1.5k$ 0,,0 9.9.9.9/ http:// ://"}`,
	} {
		f.Add([]byte(s))
	}
	x := testExtractor(f)
	norm := NewNumberNormalizer("RU")
	opts := models.DecodeOptions{NormalizeSender: norm.Normalize}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := models.DecodeEvent(raw, opts)
		if err != nil {
			return
		}
		s := x.Extract(&ev, models.Snapshot{})
		again := x.Extract(&ev, models.Snapshot{})
		if s.Tokens != again.Tokens || s.URLs != again.URLs || s.Lang != again.Lang || len(s.Evidence) != len(again.Evidence) {
			t.Fatalf("extracting the same event twice differs: %+v then %+v", s, again)
		}
		for k, v := range s.Evidence {
			if !utf8.ValidString(k) || !utf8.ValidString(v) || utf8.RuneCountInString(v) > 80 {
				t.Fatalf("evidence %q = %q: invalid UTF-8 or too long", k, v)
			}
		}
		if !utf8.ValidString(s.Lang) || !utf8.ValidString(s.SenderCountry) {
			t.Fatalf("lang %q or country %q is not valid UTF-8", s.Lang, s.SenderCountry)
		}
		if s.Tokens < 0 || s.Tokens > len(ev.Text)+len(ev.FromName)+len(raw) {
			t.Fatalf("%d tokens from %d bytes", s.Tokens, len(raw))
		}
	})
}
