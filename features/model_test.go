package features

import (
	"strings"
	"testing"
	"time"

	"fraudwatch/features/textmodel"
	"fraudwatch/models"
)

func TestModelScoreIsAProbabilityOfTheText(t *testing.T) {
	x, err := NewExtractor(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if x.Model() == nil || x.ModelVersion() == "none" {
		t.Fatal("the built-in model is not loaded by default")
	}
	scam := x.Extract(&models.Event{ID: "a", Kind: models.KindMessage, Text: "URGENT! You have won a £1000 prize. To claim call 09061743386 now. T&C apply"}, models.Snapshot{})
	chat := x.Extract(&models.Event{ID: "b", Kind: models.KindMessage, Text: "ok see you at home later, I'll bring the kids"}, models.Snapshot{})
	call := x.Extract(&models.Event{ID: "c", Kind: models.KindCall}, models.Snapshot{})
	if !(scam.ModelScore > 0.9 && scam.ModelScore <= 1) {
		t.Errorf("a premium-rate prize SMS scores %v, want > 0.9", scam.ModelScore)
	}
	if !(chat.ModelScore >= 0 && chat.ModelScore < 0.1) {
		t.Errorf("ordinary chat scores %v, want < 0.1", chat.ModelScore)
	}
	if call.ModelScore != 0 {
		t.Errorf("an event without text scores %v, want 0", call.ModelScore)
	}
	if ev := scam.Evidence["model_score"]; !strings.HasPrefix(ev, "model: ") {
		t.Errorf("model_score evidence = %q, want the stems that pushed it up", ev)
	}
}

func TestModelOffMeansNoScore(t *testing.T) {
	x, err := NewExtractor(Config{NoModel: true})
	if err != nil {
		t.Fatal(err)
	}
	s := x.Extract(&models.Event{ID: "a", Kind: models.KindMessage, Text: "URGENT! You have won a £1000 prize. Call 09061743386"}, models.Snapshot{})
	if s.ModelScore != 0 || x.ModelVersion() != "none" {
		t.Errorf("model off: score %v, version %q; want 0 and none", s.ModelScore, x.ModelVersion())
	}
}

func TestModelDocFoldsDisguisesLikeTheLexicons(t *testing.T) {
	x, err := NewExtractor(Config{NoModel: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, plain, disguised string }{
		{"Latin look-alikes in a Cyrillic word", "Сбербанк блокирует карту", "Сбeрбанк блокирyет кaрту"},
		{"zero-width characters inside words", "назовите код из смс", "наз\u200bовите ко\u200dд из с\u200bмс"},
		{"upper case and ё", "ещё раз ВАШ КОД", "еще раз ваш код"},
		{"inflections share a stem", "переведите деньги", "переведите деньгами"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := x.ModelDoc(tc.plain), x.ModelDoc(tc.disguised)
			if tc.name == "inflections share a stem" {
				if a.Tokens[1] != b.Tokens[1] {
					t.Errorf("stems differ: %q vs %q", a.Tokens, b.Tokens)
				}
				return
			}
			if strings.Join(a.Tokens, " ") != strings.Join(b.Tokens, " ") {
				t.Errorf("tokens differ:\n plain     %q\n disguised %q", a.Tokens, b.Tokens)
			}
		})
	}
}

func TestModelDocMarksWhatIsNotWords(t *testing.T) {
	x, err := NewExtractor(Config{NoModel: true})
	if err != nil {
		t.Fatal(err)
	}
	d := x.ModelDoc("pay at usps-redelivery.top/track or call +7 916 123-45-67, card 4111 1111 1111 1111")
	if got := strings.Join(d.Marks, ","); got != "_url,_phone,_card" {
		t.Errorf("marks = %q, want _url,_phone,_card", got)
	}
	for _, tok := range d.Tokens {
		if strings.Contains(tok, "usps") || tok == "4111" {
			t.Errorf("token %q: links and cards must be cut out of the words", tok)
		}
	}
	if d := x.ModelDoc(""); len(d.Tokens)+len(d.Marks) != 0 {
		t.Errorf("empty text gives %v", d)
	}
}

func TestExtractorTakesTheModelItIsGiven(t *testing.T) {
	m, err := textmodel.Train([]textmodel.Example{
		{Doc: textmodel.Doc{Tokens: []string{"free", "prize"}}, Positive: true},
		{Doc: textmodel.Doc{Tokens: []string{"free", "prize"}}, Positive: true},
		{Doc: textmodel.Doc{Tokens: []string{"see", "you"}}},
		{Doc: textmodel.Doc{Tokens: []string{"see", "you"}}},
	}, nil, textmodel.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	x, err := NewExtractor(Config{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	if x.ModelVersion() != m.Version() {
		t.Errorf("version %q, want %q", x.ModelVersion(), m.Version())
	}
	s := x.Extract(&models.Event{ID: "a", Kind: models.KindMessage, Text: "Free prize!"}, models.Snapshot{})
	if s.ModelScore <= 0.5 {
		t.Errorf("score %v, want > 0.5 from the given model", s.ModelScore)
	}
}

// BenchmarkExtractNoModel is BenchmarkExtract without the text model: the
// difference is what model_score costs.
func BenchmarkExtractNoModel(b *testing.B) {
	x, err := NewExtractor(Config{
		OfficialDomains: []string{"examplebank.ru"},
		OfficialLines:   []string{"+78001000000", "900"},
		BankNames:       []string{"Пример Банк", "Example Bank"},
		NoModel:         true,
	})
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]models.Event, len(benchTexts))
	for i, t := range benchTexts {
		evs[i] = models.Event{ID: "b", Kind: models.KindMessage, TS: time.Unix(1700000000, 0), From: "+79161234567", FromName: "Иван", Text: t}
	}
	rep := models.Snapshot{Events: 3, FirstSeen: time.Unix(1699990000, 0)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = x.Extract(&evs[i%len(evs)], rep)
		i++
	}
}
