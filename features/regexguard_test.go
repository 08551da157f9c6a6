package features

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"fraudwatch/fixtures"
)

func TestRequiredLiteralsOfPatterns(t *testing.T) {
	for _, c := range []struct {
		pattern string
		want    []string // nil: unguarded
	}{
		{`call|dial`, []string{"call", "dial"}},
		{`(?:^|\s)(?:txt|text)\s+to\s+\d{4}`, []string{"txt", "text"}},
		{`\d+\s?(?:руб|р)\s?за\s(?:день|ночь)`, []string{"день", "ночь"}},
		{`(?:wk|week|min|minute)\b`, []string{"wk", "week", "min", "minute"}},
		{`\s(?:txt|text)\s+to\s`, []string{"txt", "text"}},
		{`x?abc`, []string{"abc", "xabc"}},
		{`(?:abc)*d`, nil},                 // a one-byte literal is not worth a guard
		{`(?i)call`, nil},                  // case folding is not guarded
		{`abc|\d+`, nil},                   // a branch with no literal
		{`(?:ab){2,}cd`, []string{"abab"}}, // the longest literal
		{`\x{FFFD}ab|xy`, nil},
		{`(?:^|\D)(?:09\d{8}|087\d{8}|1[\s-]?900\d{7})`, []string{"09", "087", "900"}},
		{`a(?:b\d|c\d)`, []string{"ab", "ac"}}, // U+FFFD also matches an invalid byte
	} {
		got := requiredLiterals(regexp.MustCompile(c.pattern))
		slices.Sort(got)
		slices.Sort(c.want)
		if !slices.Equal(got, c.want) {
			t.Errorf("requiredLiterals(%q) = %q, want %q", c.pattern, got, c.want)
		}
	}
}

// The guards only skip work: on the fixtures' texts, lower-cased as
// commercial sees them, and on random mixtures of their pieces, a pattern
// its guard rules out never matches.
func TestGuardedPatternsNeverMissAMatch(t *testing.T) {
	patterns := []*regexp.Regexp{shortCodePattern, unitPricePattern, premiumNumberPattern, callNumberPattern, payRatePattern, wagePattern}
	var texts []string
	sc := bufio.NewScanner(bytes.NewReader(fixtures.Events()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct{ Text string }
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Text != "" {
			texts = append(texts, strings.ToLower(e.Text))
		}
	}
	pieces := []string{"call", "dial", "txt", "to", "80086", "150p", "/min", " per ", "за ", "смс", "09061209467", "1-900-555-1234",
		"8 809 123 45 67", "звоните", "наберите", "10 000 руб", " в день", "зп ", "з/п", "зарплата", "платим", "$500", " a week", "\xff", "£1.50", " ", ":", "reply stop to 8007"}
	r := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		var b strings.Builder
		for range 1 + r.IntN(8) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		texts = append(texts, b.String())
	}
	guarded, matched := 0, 0
	for _, re := range patterns {
		if requiredLiterals(re) != nil {
			guarded++
		}
		for _, s := range texts {
			m := re.FindStringIndex(s) != nil
			if m {
				matched++
			}
			if m && !mayMatch(re, s) {
				t.Fatalf("%s: the guard rules out %q, which matches", re, s)
			}
		}
	}
	if guarded < 4 {
		t.Errorf("only %d of %d commercial patterns are guarded", guarded, len(patterns))
	}
	if matched < 100 {
		t.Errorf("the texts match the patterns only %d times: the test proves little", matched)
	}
}
