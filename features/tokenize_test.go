package features

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"fraudwatch/models"
)

// proseTexts exercise every branch of prose's span splitting.
var proseTexts = []string{
	"Здравствуйте! Вы выиграли приз 50 000 руб, для получения оплатите доставку 500р.",
	"Don't tell anyone, it's urgent! They'll call, I'm sure; we're done (really) [ok] \"quoted\" $100",
	"e.g. i.e. mr. dr. u.s.a. a. ab. 8d xdd xd :) :-) 8-) (-: <3 ... ?! !!! ,,,",
	"пин-код e-mail 24/7 a/b 'single' word' 'word l'oreal o'neil",
	"(скобки) [квадратные] \"кавычки\" $доллар слово, слово. слово! слово? слово: слово;",
	"  multiple   spaces\tand\nnewlines\r\n here ",
	"emoji😀glued 👍 ok👌 , . ; x",
	"&rsquo;s &amp; html",
	"5000р 1.5k$ $500 €200 +7 916 123-45-67",
}

func spanTexts(text string, sp []span) []string {
	out := make([]string, len(sp))
	for i, s := range sp {
		out[i] = text[s.start:s.end]
	}
	return out
}

func checkTokenizer(t *testing.T, raw string) {
	t.Helper()
	var n normText
	pass1(&n, raw)
	text := string(n.s)
	fast := tokenizer{opts: proseOpts()}
	slow := tokenizer{opts: proseOpts(), proseAll: true}
	a, _ := fast.tokens(nil, text, nil)
	b, _ := slow.tokens(nil, text, nil)
	if got, want := spanTexts(text, a), spanTexts(text, b); !reflect.DeepEqual(got, want) {
		t.Errorf("tokens of %q:\n fast %q\nprose %q", text, got, want)
	}
}

func TestTokenizerMatchesProse(t *testing.T) {
	for _, txt := range append(proseTexts, benchTexts...) {
		t.Run("fast path equals prose on "+txt[:min(len(txt), 20)], func(t *testing.T) {
			checkTokenizer(t, txt)
		})
	}
}

func TestMergeSpansKeepsOrder(t *testing.T) {
	cases := []struct {
		name    string
		a, b    []span
		wantPos []int
	}{
		{"no slow spans", []span{{0, 1}, {2, 3}}, nil, []int{0, 2}},
		{"no fast spans", nil, []span{{0, 1}, {2, 3}}, []int{0, 2}},
		{"alternating spans", []span{{0, 1}, {4, 5}, {8, 9}}, []span{{2, 3}, {6, 7}, {10, 11}}, []int{0, 2, 4, 6, 8, 10}},
		{"slow spans first", []span{{6, 7}, {8, 9}}, []span{{0, 1}, {2, 5}}, []int{0, 2, 6, 8}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := mergeSpans(append([]span(nil), c.a...), c.b)
			var pos []int
			for _, s := range got {
				pos = append(pos, s.start)
			}
			if !reflect.DeepEqual(pos, c.wantPos) {
				t.Errorf("merged starts %v, want %v", pos, c.wantPos)
			}
		})
	}
}

// FuzzExtract checks that Extract never panics and its counts stay sane,
// and that the tokenizer fast path agrees with prose on any input.
func FuzzExtract(f *testing.F) {
	for _, s := range append(append([]string{
		"", "😀", "\xff\xfe broken", "к\u200bо\u200bд", "http://", "://", "a.b.c.d.e.f.g.h",
		"+7 (916) 123-45-67 +++++", "$$$ 1.5k$ 0,,0 9.9.9.9/", "xn--", "xn--80ak6aa92e.com",
		"Сбeрбанк sberbanк.ru сайтsber-bank.top", "* # * #", strings.Repeat("a.", 300),
		strings.Repeat("8 ", 100), "и\u0306 е\u0308", "\u202eмошенник\u202c", strings.Repeat("a 'b ", 50),
		"it&rsquo;s \"код\" that's", "к\u0483о\u0489д", "номер карты 4111 1111 1111 1111",
	}, proseTexts...), benchTexts...) {
		f.Add(s, "+79161234567", "Служба безопасности")
	}
	x := testExtractor(f)
	f.Fuzz(func(t *testing.T, text, from, name string) {
		ev := &models.Event{ID: "f", Kind: models.KindMessage, Text: text, From: from, FromName: name}
		s := x.Extract(ev, models.Snapshot{})
		if s.Tokens < 0 || s.URLs < s.UnknownDomains+s.OfficialLinks-s.IPLinks || s.MaxAmount < 0 || s.LookalikeDistance < 0 || s.LookalikeDistance > 2 {
			t.Errorf("insane counts: %+v", s)
		}
		if s.URLs < s.Shorteners || s.URLs < s.LookalikeDomain || s.UnknownDomains < s.LookalikeDomain {
			t.Errorf("link counts disagree: %+v", s)
		}
		if s.Tokens > len(text) || s.InvisibleChars > utf8.RuneCountInString(text) {
			t.Errorf("more tokens than bytes: %+v", s)
		}
		for k, v := range s.Evidence {
			if !utf8.ValidString(v) || utf8.RuneCountInString(v) > 80 {
				t.Errorf("evidence %s = %q", k, v)
			}
		}
		if utf8.ValidString(text) {
			checkTokenizer(t, text)
		}
	})
}
