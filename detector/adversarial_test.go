package detector_test

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"fraudwatch/detector"
)

// adversarialTexts are inputs built to crash or stall a parser: long
// runs of what each stage treats specially, at the 64k-character limit.
// (A run of 64k zero-width spaces once took 14 s to normalise; now it is
// linear.)
func adversarialTexts() map[string]string {
	return map[string]string{
		"one long word":                 strings.Repeat("я", 65536),
		"digits":                        strings.Repeat("7", 65536),
		"spaced digits":                 strings.Repeat("7 ", 32768),
		"alternating scripts":           strings.Repeat("аa", 32768),
		"alternating-script words":      strings.Repeat("аa ", 21000),
		"one huge URL":                  "http://" + strings.Repeat("a", 65000) + ".ru",
		"dots":                          strings.Repeat("a.", 32768),
		"domain-like dots":              strings.Repeat("ru.", 21000),
		"slashes":                       strings.Repeat("x/", 32768),
		"e-mail-like":                   strings.Repeat("a@b.", 16000),
		"transliteration":               strings.Repeat("kod iz sms ", 6000),
		"a lexicon word repeated":       strings.Repeat("код ", 16000),
		"money amounts":                 strings.Repeat("500 руб ", 8000),
		"emoji":                         strings.Repeat("😀", 65536),
		"zero-width joiners in a word":  strings.Repeat("к\u200d", 32768),
		"zero-width spaces":             strings.Repeat("\u200b", 65536),
		"direction overrides":           strings.Repeat("\u202e", 65536),
		"punctuation":                   strings.Repeat("!?", 32768),
		"punycode prefixes":             strings.Repeat("xn--", 16000),
		"www prefixes":                  strings.Repeat("www.", 16000),
		"plus signs and digits":         strings.Repeat("+7", 32768),
		"hyphenated digits":             strings.Repeat("1-", 32768),
		"combining marks":               strings.Repeat("и\u0306", 32768),
		"quotes":                        strings.Repeat("'\"", 32768),
		"homoglyph words":               strings.Repeat("Сбeрбанк ", 7000),
		"newlines":                      strings.Repeat("\n", 65536),
		"glued links":                   strings.Repeat("сайтbit.ly/x", 5000),
		"card-like groups":              strings.Repeat("4111 ", 13000),
		"phone-like groups":             strings.Repeat("8 916 123 45 67 ", 4000),
		"over the limit (truncated)":    strings.Repeat("Назовите код из смс ", 4000),
		"replacement characters":        strings.Repeat("\ufffd", 65536),
		"lone surrogates (as escapes)":  "\\ud800",
		"hashes":                        strings.Repeat("# ", 32768),
		"repeated scam phrase in names": strings.Repeat("служба безопасности ", 3000),
	}
}

func adversarialRecord(text string) detector.Record {
	b, _ := json.Marshal(text)
	if text == `\ud800` {
		b = []byte(`"` + strings.Repeat(`\ud800`, 10000) + `"`)
	}
	name, _ := json.Marshal(string([]rune(text)[:min(len([]rune(text)), 2000)]))
	return detector.Record{Value: []byte(`{"id":"adv","kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1",` +
		`"from":"+79161234567","from_name":` + string(name) + `,"text":` + string(b) + `}`)}
}

// Every adversarial input is scored, never dead-lettered and never an
// error: what a sender controls must not be a way to dodge the detector.
// How long each takes is measured by BenchmarkAdversarialInputs, not here.
func TestAdversarialInputsAreScored(t *testing.T) {
	eng, _ := newFixtureEngine(t, time.Now())
	for name, text := range adversarialTexts() {
		t.Run(name, func(t *testing.T) {
			res, err := eng.HandleBatch(context.Background(), []detector.Record{adversarialRecord(text)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcomes[0] == detector.OutcomeDeadLetter {
				t.Fatalf("dead-lettered: %+v", res.DeadLetters)
			}
		})
	}
}

// BenchmarkAdversarialInputs times each adversarial input through the
// whole scoring core; a stage that goes quadratic shows up here first.
func BenchmarkAdversarialInputs(b *testing.B) {
	eng, _ := newFixtureEngine(b, time.Now())
	texts := adversarialTexts()
	names := make([]string, 0, len(texts))
	for n := range texts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		rec := adversarialRecord(texts[name])
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := eng.HandleBatch(context.Background(), []detector.Record{rec}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
