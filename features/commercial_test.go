package features

import (
	"testing"

	"fraudwatch/models"
)

// The commercial and disguise features read the mechanics of a pitch —
// how it bills, what it pays, where it sends the reader, how it hides its
// letters — and stay quiet on ordinary talk about money, calls and times.
func TestCommercialMechanicsAreReadAndOrdinaryTalkIsNot(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		premium int
		call    bool
		pay     int
		handles int
		styled  bool // styled_letters >= 3
		spaced  bool
	}{
		{name: "a short code to text", text: "Txt WIN to 80086 now", premium: 1},
		{name: "a short code and a price per message", text: "reply STOP to 87070. 150p/msg", premium: 2},
		{name: "a premium number to call", text: "Call 09061701461 to claim", premium: 1, call: true},
		{name: "a price per minute", text: "Calls cost 10p per min", premium: 1},
		{name: "an ordinary number to call", text: "call me on 8 916 123-45-67 after lunch", call: true},
		{name: "text me later is no short code", text: "text me when you get to 5th avenue"},
		{name: "pay per day in roubles", text: "Оплата от 10 000 руб за день", pay: 1},
		{name: "net pay in thousands", text: "напарник нужен, 9к на руки", pay: 1},
		{name: "pay per task to everyone", text: "Пару человек на выгрузку, по 5000 каждому", pay: 1},
		{name: "a wage promised", text: "зп от 30 000, пиши", pay: 1},
		{name: "dollars a week", text: "earn $500 per week", pay: 1},
		{name: "a dose per day is not pay", text: "пью таблетки 2 раза в день"},
		{name: "a payment of one's own is not a wage", text: "оплата 5000 прошла?"},
		{name: "pay offered as a floor", text: "нужны грузчики, оплата от 15к", pay: 1},
		{name: "a payment from a client is not pay offered", text: "оплата от клиента 5000 так и не пришла?"},
		{name: "a big wage without a currency", text: "зарплата 50000, график 2/2", pay: 1},
		{name: "a small number after salary is no wage", text: "зарплаты хватает максимум на 2 недели"},
		{name: "pence per hour are not hundreds", text: "new job at the bar, 4.47per hour"},
		{name: "dollars per hour", text: "earn $25 per hour", pay: 1},
		{name: "к after a number as a preposition is no thousands", text: "зарплату 15 к сожалению задержали"},
		{name: "a messenger handle", text: "пиши @super_work1", handles: 1},
		{name: "an e-mail address is no handle", text: "пишите на ivan@mail.ru"},
		{name: "small capitals in Russian words", text: "Сᴩᴏчнᴏ нужны ᴧюди", styled: true},
		{name: "Greek look-alikes in Russian words", text: "Знаю хορошую схему для зарабοтка", styled: true},
		{name: "Greek words on their own", text: "Формула α + β = γ"},
		{name: "a word spelt out", text: "П о д р а б о т к а", spaced: true},
		{name: "kisses are not a spelt-out word", text: "love you x x x x x x x"},
	}
	x := extractor(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := models.Event{ID: "c", Kind: models.KindMessage, Text: tc.text}
			s := x.Extract(&ev, models.Snapshot{})
			if s.PremiumRate != tc.premium || s.CallToNumber != tc.call || s.PayRate != tc.pay || s.Handles != tc.handles ||
				(s.StyledLetters >= 3) != tc.styled || s.SpacedLetters != tc.spaced {
				t.Errorf("%q: premium_rate %d call_to_number %v pay_rate %d handles %d styled_letters %d spaced_letters %v; want %d %v %d %d styled %v spaced %v (evidence %v)",
					tc.text, s.PremiumRate, s.CallToNumber, s.PayRate, s.Handles, s.StyledLetters, s.SpacedLetters,
					tc.premium, tc.call, tc.pay, tc.handles, tc.styled, tc.spaced, s.Evidence)
			}
		})
	}
}
