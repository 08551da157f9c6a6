package features

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"fraudwatch/fixtures"
	"fraudwatch/models"
)

// analysisEvents are the fixtures' events, decoded as the detector
// decodes them, plus messages stitched from pieces that exercise the
// blanking (links, phones, cards) and the folding (homoglyphs, leetspeak,
// invisible characters, broken UTF-8) on either side of the seam.
func analysisEvents(t *testing.T) []models.Event {
	t.Helper()
	var evs []models.Event
	sc := bufio.NewScanner(bytes.NewReader(fixtures.Events()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		le, err := models.DecodeCorpusRow(sc.Bytes(), models.DecodeOptions{})
		if err != nil {
			t.Fatalf("fixture row: %v", err)
		}
		evs = append(evs, le.Event)
	}
	pieces := []string{"Ваша карта заблокирована", " ", "\n", "https://sberbank-online.top/x", "bit.ly/3xYz", "+7 900 123-45-67",
		"4276 3800 1234 5678", "к0д из смс", "пaроль", "\u200bкод", "15 000 руб", "call 09061209467 now", "WIN a prize",
		"\xff", "www.example.com", "перейдите по ссылке", "сообщите", "ПИН-КОД", "1.2.3.4/login", "xn--80ak6aa92e.com", "ё", "😀\u200d😀",
		" nazovite kod iz sms ", " srochno perevedite dengi na bezopasnyi schet ", " your bank security service "}
	// Display names: staff (testdata/directory.yaml) from their own number
	// and from others, bank claims, a name over the cached length.
	names := []string{"", "Иван Петров", "ИВАН ПЕТРОВ", "Ivan Petrov", "Иван Пeтров", "Anna Smirnova", "Пётр Белов", "Служба безопасности Банка",
		"Пример Банк", "Example Bank support", "Мама", "Иван", strings.Repeat("Служба безопасности ", 20)}
	froms := []string{"+79001234567", "+79261234567", "", "garbage"}
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 3000 {
		var b strings.Builder
		for range 1 + r.IntN(14) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		evs = append(evs, models.Event{ID: "mix", Kind: models.KindMessage, From: froms[r.IntN(len(froms))], To: "e1",
			TS: time.Date(2026, 11, 26, 12, 0, i%60, 0, time.UTC), Text: b.String(), FromName: names[r.IntN(len(names))]})
	}
	return evs
}

func TestAnalyzeThenCompleteIsExtract(t *testing.T) {
	x := extractor(t)
	snaps := []models.Snapshot{
		{},
		{Events: 3, PairEvents: 1, FirstSeen: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), CampaignSenders: 4, CampaignEmployees: 9, ShortCallSeen: true, ShortCallAgo: 5 * time.Minute},
	}
	for i, ev := range analysisEvents(t) {
		snap := snaps[i%len(snaps)]
		want := x.Extract(&ev, snap)
		a := x.Analyze(&ev)
		if fp, wantFP := a.Fingerprint(), x.Fingerprint(ev.Text); !reflect.DeepEqual(fp, wantFP) {
			t.Fatalf("Analyze(%q).Fingerprint() = %v, want Fingerprint's %v", ev.Text, fp, wantFP)
		}
		if got := x.Complete(a, snap); !reflect.DeepEqual(got, want) {
			t.Fatalf("Complete(Analyze(%q)) differs from Extract:\n got %+v\nwant %+v", ev.Text, got, want)
		}
	}
}

// referenceFingerprint is Fingerprint as first written, with a map of
// the distinct pairs and bytes.Fields: campaign ids in stores derive from
// its values, so the faster one must give them bit for bit.
func referenceFingerprint(x *Extractor, text string) models.Fingerprint {
	if len(text) == 0 {
		return nil
	}
	sc := newScratch()
	pass1(&sc.low, text)
	_, _, _, sc.word = pass2(&sc.fold, &sc.low, nil, sc.word)
	var sig [models.FingerprintLen]uint32
	for i := range sig {
		sig[i] = ^uint32(0)
	}
	var words []uint64
	for _, field := range bytes.Fields(sc.fold.s) {
		if looksLikeLink(field) {
			words = append(words, wordHash([]byte("#link")))
			continue
		}
		for i := 0; i < len(field); {
			r, n := utf8.DecodeRune(field[i:])
			if !isWordRune(r) {
				i += n
				continue
			}
			start, digits := i, true
			for i < len(field) {
				r, n := utf8.DecodeRune(field[i:])
				if !isWordRune(r) {
					break
				}
				if r < '0' || r > '9' {
					digits = false
				}
				i += n
			}
			switch w := field[start:i]; {
			case digits:
				if len(words) == 0 || words[len(words)-1] != numberHash {
					words = append(words, numberHash)
				}
			case utf8.RuneCount(w) >= 2:
				words = append(words, wordHash(w))
			}
		}
	}
	seen := make(map[uint64]struct{}, len(words))
	for k := 1; k < len(words); k++ {
		h := mix64(words[k-1]*0x100000001b3 ^ words[k])
		if _, dup := seen[h]; dup {
			continue
		}
		seen[h] = struct{}{}
		for j := range sig {
			if v := uint32(mix64(h + uint64(j)*0x9e3779b97f4a7c15)); v < sig[j] {
				sig[j] = v
			}
		}
	}
	if len(seen) < minFingerprintWords {
		return nil
	}
	return models.Fingerprint(sig[:])
}

func TestFingerprintIsTheReferenceBitForBit(t *testing.T) {
	x := extractor(t)
	texts := []string{"", "a b c d e f g h", strings.Repeat("слово ", 50), "один\u0085два\u00a0три\u2003четыре пять шесть семь восемь"}
	for _, ev := range analysisEvents(t) {
		texts = append(texts, ev.Text)
	}
	nonNil := 0
	for _, text := range texts {
		got, want := x.Fingerprint(text), referenceFingerprint(x, text)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Fingerprint(%q) = %v, want %v", text, got, want)
		}
		if got != nil {
			nonNil++
		}
	}
	if nonNil < len(texts)/4 {
		t.Fatalf("only %d of %d texts have a fingerprint: the comparison proves little", nonNil, len(texts))
	}
}

// The stem cache carries each word's lexicon phrases and model ids so
// that matching and scoring look nothing up per token, and display names
// are read once; an extractor without either must extract exactly the
// same sets.
func TestCachedLexiconAndModelIDsChangeNothing(t *testing.T) {
	x := extractor(t)
	plain := testExtractor(t)
	plain.stems.setAnnotate(nil)
	plain.names = nil // and every display name read afresh
	withModel, translit, imitations := 0, 0, 0
	for _, ev := range analysisEvents(t) {
		want := plain.Extract(&ev, models.Snapshot{})
		if got := x.Extract(&ev, models.Snapshot{}); !reflect.DeepEqual(got, want) {
			t.Fatalf("Extract(%q) with cached ids differs:\n got %+v\nwant %+v", ev.Text, got, want)
		}
		if want.ModelScore >= modelEvidenceMin {
			withModel++
		}
		if want.TranslitHits > 0 {
			translit++
		}
		if want.NameImitatesBank || want.NameImitatesStaff {
			imitations++
		}
	}
	if withModel == 0 || translit == 0 || imitations == 0 {
		t.Fatalf("%d events had model evidence, %d transliterated hits, %d imitating names: the comparison proves little", withModel, translit, imitations)
	}
	for _, w := range []string{"код", "смс", "карта"} {
		if info := x.stems.get(w); !info.ann {
			t.Errorf("the stem cache did not annotate %q", w)
		}
		if info := plain.stems.get(w); info.ann {
			t.Errorf("the stem cache annotated %q with annotation off", w)
		}
	}
}
