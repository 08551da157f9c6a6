package features

import (
	"testing"
	"time"

	"fraudwatch/models"
)

// benchTexts are typical inbound messages of 100–300 characters.
var benchTexts = []string{
	"Здравствуйте! Вы выиграли приз 50 000 руб, для получения оплатите доставку 500р по ссылке bit.ly/xyz или звоните +7 916 123-45-67.",
	"Добрый день, Иван Сергеевич. Подскажите, пожалуйста, когда будет готова выписка по счёту? Заеду в отделение после обеда, если удобно.",
	"Здравствуйте, это служба безопасности банка. По вашей карте зафиксирована подозрительная операция. Назовите код из СМС, чтобы отменить её.",
	"Hi, your parcel could not be delivered. Please confirm your address and pay the delivery fee of $1.99 at usps-redelivery.top/track now.",
	"Требуются курьеры! Доход от 3000 руб в день, свободный график, опыт не нужен. Пиши в лс за подробностями 👇",
	"Hey, are we still on for the meeting tomorrow at 10? I'll bring the documents for the mortgage application, thanks!",
	"Мама, у меня новый номер, старый телефон сломался. Срочно нужны деньги, переведи 15 000 на эту карту 4111 1111 1111 1111, вечером верну.",
	"Добрый вечер! Перезвоните мне, когда освободитесь, пожалуйста. Хотел уточнить по кредиту, спасибо.",
}

func benchExtractor(tb testing.TB) *Extractor {
	x, err := NewExtractor(Config{
		OfficialDomains: []string{"examplebank.ru"},
		OfficialLines:   []string{"+78001000000", "900"},
		BankNames:       []string{"Пример Банк", "Example Bank"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return x
}

// BenchmarkExtract measures Extract on a rotation of typical messages.
// events/s on one core = 1e9 / ns/op (run with -cpu 1).
func BenchmarkExtract(b *testing.B) {
	x := benchExtractor(b)
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

// BenchmarkExtractProseAll is BenchmarkExtract with every span sent
// through prose, to show what the tokenizer fast path saves.
func BenchmarkExtractProseAll(b *testing.B) {
	x := benchExtractor(b)
	x.tok.proseAll = true
	evs := make([]models.Event, len(benchTexts))
	for i, t := range benchTexts {
		evs[i] = models.Event{ID: "b", Kind: models.KindMessage, TS: time.Unix(1700000000, 0), From: "+79161234567", FromName: "Иван", Text: t}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = x.Extract(&evs[i%len(evs)], models.Snapshot{})
		i++
	}
}
