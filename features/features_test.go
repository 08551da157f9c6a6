package features

import (
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"fraudwatch/models"
)

// testExtractor has the sample directory of testdata/directory.yaml.
func testExtractor(t testing.TB) *Extractor {
	t.Helper()
	dir, err := LoadDirectory("testdata/directory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	x, err := NewExtractor(Config{
		DefaultRegion:   "RU",
		OfficialDomains: []string{"sberbank.ru"},
		Directory:       dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

var sharedX struct {
	once sync.Once
	x    *Extractor
}

func extractor(t testing.TB) *Extractor {
	sharedX.once.Do(func() { sharedX.x = testExtractor(t) })
	return sharedX.x
}

func message(text string) *models.Event {
	return &models.Event{ID: "m1", Kind: models.KindMessage, TS: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), To: "emp-1", Text: text}
}

// feature reads a Set field by its expr name.
func feature(t *testing.T, s Set, name string) any {
	t.Helper()
	v := reflect.ValueOf(s)
	tp := v.Type()
	for i := range tp.NumField() {
		if tp.Field(i).Tag.Get("expr") == name {
			return v.Field(i).Interface()
		}
	}
	t.Fatalf("no feature %q", name)
	return nil
}

func TestEveryCueFiresInRussianAndEnglish(t *testing.T) {
	x := extractor(t)
	cases := []struct{ cue, ru, en string }{
		{"lottery", "Поздравляем! Вы выиграли iPhone в розыгрыше", "Congratulations, you have won a cash prize!"},
		{"prize_fee", "Для получения приза оплатите доставку", "To claim your prize, pay a small processing fee"},
		{"purchase", "Подтвердите покупку на сумму 12 990 руб", "Your order has been placed. If this wasn't you, call us"},
		{"delivery", "Ваша посылка ожидает на таможне, оплатите таможенный сбор", "Your parcel is waiting: we were unable to deliver it"},
		{"credential", "Продиктуйте, пожалуйста, код из смс", "Please read me the code we just sent"},
		{"card_request", "Назовите номер карты и три цифры на обороте", "Send your card number and expiry date"},
		{"remote_access", "Установите приложение AnyDesk для защиты", "Install the app TeamViewer so we can help"},
		{"bank", "Здравствуйте, вас беспокоит сотрудник банка", "Hello, this is your bank calling"},
		{"security_service", "Это служба безопасности", "This is the fraud department of your bank"},
		{"central_bank", "С вами говорит сотрудник Центрального банка", "I am calling from the Bank of Russia"},
		{"police", "Вам звонит следователь, возбуждено уголовное дело", "This is a police officer regarding a criminal case"},
		{"manager", "Привет, это мой новый номер, сохрани", "Hi, this is your boss, I'm in a meeting"},
		{"safe_account", "Переведите сбережения на безопасный счет", "Move your savings to a safe account"},
		{"transfer", "Срочно переведи мне деньги на карту", "Please send money via western union"},
		{"investment", "Пассивный доход на криптовалюте без риска", "Guaranteed returns with our crypto trading platform"},
		{"mule", "Сдай свою карту в аренду, будешь принимать переводы на карту за процент", "We need a payment agent: receive payments into your account and keep a percentage"},
		{"job_offer", "Требуются курьеры, доход от 3000 в день, пиши в лс", "Work from home, earn $500 per day, no experience needed"},
		{"spam", "Только сегодня скидка 50% по промокоду", "Limited time offer: buy now and get a free gift"},
		{"urgency", "Срочно! Ваша карта заблокирована", "Urgent: your account will be suspended within 24 hours"},
		{"secrecy", "Никому не говорите о нашем разговоре", "Don't tell anyone about this call and stay on the line"},
		{"warning", "Никому не сообщайте код из СМС", "We will never ask for your PIN"},
		{"victim_report", "Мне звонили мошенники, представились сотрудником банка", "Someone called me pretending to be from the bank"},
	}
	for _, c := range cases {
		for _, lang := range []struct{ name, text string }{{"ru", c.ru}, {"en", c.en}} {
			t.Run(c.cue+" fires on "+lang.name+" text", func(t *testing.T) {
				s := x.Extract(message(lang.text), models.Snapshot{})
				if got := feature(t, s, "lex_"+c.cue).(int); got < 1 {
					t.Errorf("lex_%s = %d for %q, want ≥ 1", c.cue, got, lang.text)
				}
				if s.Evidence["lex_"+c.cue] == "" {
					t.Errorf("no evidence lex_%s", c.cue)
				}
			})
		}
	}
}

func TestHardNegativesStayQuiet(t *testing.T) {
	x := extractor(t)
	quiet := []string{"lex_credential", "lex_card_request", "lex_transfer", "lex_lottery", "lex_mule", "lex_safe_account", "lex_secrecy"}
	cases := []struct{ name, text string }{
		{"a request to call back", "Перезвони мне, когда освободишься"},
		{"an intercom code", "Код от домофона 1234?"},
		{"a card mentioned in passing", "Карта пришла, спасибо! Перевод тоже дошёл"},
		{"asking to write in private", "Напишите мне в личку, обсудим отчёт"},
		{"a colleague on a meeting", "Good morning! Can we move our call to 3 pm? I'll send the slides."},
		{"an English everyday request", "Could you send me the report by Friday? Thanks"},
		{"a password reset talk in IT", "Обновил пароль на сервере, доступ есть"},
	}
	for _, c := range cases {
		t.Run(c.name+" sets no scam cue", func(t *testing.T) {
			s := x.Extract(message(c.text), models.Snapshot{})
			for _, f := range quiet {
				if got := feature(t, s, f).(int); got != 0 {
					t.Errorf("%s = %d for %q (evidence %q), want 0", f, got, c.text, s.Evidence[f])
				}
			}
		})
	}
	t.Run("the bank's own warning sets lex_warning", func(t *testing.T) {
		s := x.Extract(message("Никому не сообщайте код из СМС. Банк никогда не просит его назвать."), models.Snapshot{})
		if s.LexWarning < 2 {
			t.Errorf("LexWarning = %d, want ≥ 2", s.LexWarning)
		}
	})
	t.Run("an English warning sets lex_warning", func(t *testing.T) {
		s := x.Extract(message("We will never ask for your password. Never share this code."), models.Snapshot{})
		if s.LexWarning < 2 {
			t.Errorf("LexWarning = %d, want ≥ 2", s.LexWarning)
		}
	})
}

func TestObfuscationIsFolded(t *testing.T) {
	x := extractor(t)
	cases := []struct {
		name  string
		text  string
		check func(t *testing.T, s Set)
	}{
		{"a Latin e inside Сбербанк matches the bank and counts a homoglyph word", "Сбeрбанк: ваша карта заблокирована", func(t *testing.T, s Set) {
			if s.LexBank < 1 || s.HomoglyphWords != 1 {
				t.Errorf("LexBank=%d HomoglyphWords=%d, want ≥1 and 1", s.LexBank, s.HomoglyphWords)
			}
		}},
		{"a Cyrillic а in paypal is folded to Latin", "Your pаypal account has been locked", func(t *testing.T, s Set) {
			if s.LexBank < 1 || s.HomoglyphWords != 1 || s.LexUrgency < 1 {
				t.Errorf("LexBank=%d HomoglyphWords=%d LexUrgency=%d", s.LexBank, s.HomoglyphWords, s.LexUrgency)
			}
		}},
		{"zero-width spaces inside код are removed and counted", "Назовите к\u200bо\u200bд из с\u200bм\u200bс", func(t *testing.T, s Set) {
			if s.LexCredential < 1 || s.InvisibleChars != 4 {
				t.Errorf("LexCredential=%d InvisibleChars=%d, want ≥1 and 4", s.LexCredential, s.InvisibleChars)
			}
		}},
		{"a right-to-left override is counted", "\u202eназовите код из смс", func(t *testing.T, s Set) {
			if s.InvisibleChars != 1 || s.LexCredential < 1 {
				t.Errorf("InvisibleChars=%d LexCredential=%d", s.InvisibleChars, s.LexCredential)
			}
		}},
		{"an emoji joiner is not counted", "👨\u200d👩\u200d👧 привет", func(t *testing.T, s Set) {
			if s.InvisibleChars != 0 {
				t.Errorf("InvisibleChars=%d, want 0", s.InvisibleChars)
			}
		}},
		{"transliterated Russian matches the lottery and counts translit hits", "vy vyigrali priz", func(t *testing.T, s Set) {
			if s.LexLottery < 1 || s.TranslitHits < 1 {
				t.Errorf("LexLottery=%d TranslitHits=%d", s.LexLottery, s.TranslitHits)
			}
		}},
		{"transliterated kod iz sms is a credential request", "nazovite kod iz sms", func(t *testing.T, s Set) {
			if s.LexCredential < 1 || s.TranslitHits < 1 {
				t.Errorf("LexCredential=%d TranslitHits=%d", s.LexCredential, s.TranslitHits)
			}
		}},
		{"transliterated sluzhba bezopasnosti is the security service", "eto sluzhba bezopasnosti banka", func(t *testing.T, s Set) {
			if s.LexSecurityService < 1 || s.TranslitHits < 1 {
				t.Errorf("LexSecurityService=%d TranslitHits=%d", s.LexSecurityService, s.TranslitHits)
			}
		}},
		{"plain English has no translit hits", "you have won a prize", func(t *testing.T, s Set) {
			if s.TranslitHits != 0 || s.LexLottery < 1 {
				t.Errorf("TranslitHits=%d LexLottery=%d", s.TranslitHits, s.LexLottery)
			}
		}},
		{"English words that read as Russian are not transliteration hits", "Could you send me your bank details so I can top up my account? Our security team said it is fine.", func(t *testing.T, s Set) {
			if s.TranslitHits != 0 {
				t.Errorf("TranslitHits=%d, want 0 (evidence %v)", s.TranslitHits, s.Evidence)
			}
		}},
		{"transliterated Russian with an English-looking word still matches", "vash bank zablokiroval kartu, nazovite kod iz sms", func(t *testing.T, s Set) {
			if s.LexCredential < 1 || s.TranslitHits < 1 {
				t.Errorf("LexCredential=%d TranslitHits=%d", s.LexCredential, s.TranslitHits)
			}
		}},
		{"asking how to change one's own PIN is not a credential request", "Как поменять ПИН-код карты? How do I change my card PIN?", func(t *testing.T, s Set) {
			if s.LexCredential != 0 {
				t.Errorf("LexCredential=%d, want 0 (evidence %v)", s.LexCredential, s.Evidence)
			}
		}},
		{"a request verb with the object is a credential request", "Продиктуйте, пожалуйста, ПИН-код. Text back your 4-digit PIN", func(t *testing.T, s Set) {
			if s.LexCredential < 2 {
				t.Errorf("LexCredential=%d, want ≥2 (evidence %v)", s.LexCredential, s.Evidence)
			}
		}},
		{"ё is folded to е", "Вы ВЫИГРАЛИ! Ещё подарок от банка", func(t *testing.T, s Set) {
			if s.LexLottery < 2 {
				t.Errorf("LexLottery=%d, want ≥2", s.LexLottery)
			}
		}},
		{"leet digits inside a Russian word are read as letters", "Назовите к0д из смс", func(t *testing.T, s Set) {
			if s.LexCredential < 1 {
				t.Errorf("LexCredential=%d", s.LexCredential)
			}
		}},
		{"a zero inside an English word is read as o", "Reply with your passw0rd to reactivate", func(t *testing.T, s Set) {
			if s.LexCredential < 1 {
				t.Errorf("LexCredential=%d (evidence %v)", s.LexCredential, s.Evidence)
			}
		}},
		{"words of one script with digits are not homoglyphs", "a1 5000р iPhone15 Wi-Fi", func(t *testing.T, s Set) {
			if s.HomoglyphWords != 0 {
				t.Errorf("HomoglyphWords=%d, want 0", s.HomoglyphWords)
			}
		}},
		{"a Cyrillic titlo and an enclosing mark inside код are dropped", "Назовите к\u0483о\u0489д из смс", func(t *testing.T, s Set) {
			if s.LexCredential < 1 {
				t.Errorf("LexCredential=%d, want ≥1", s.LexCredential)
			}
		}},
		{"a combining mark for symbols inside код is dropped", "Назовите к\u20dbод из смс", func(t *testing.T, s Set) {
			if s.LexCredential < 1 {
				t.Errorf("LexCredential=%d, want ≥1", s.LexCredential)
			}
		}},
		{"an HTML apostrophe does not hide the quoted words after it", "it&rsquo;s me. (Срочно) \"назовите\" \"код\" из смс, that's all", func(t *testing.T, s Set) {
			if s.LexUrgency < 1 || s.LexCredential < 1 {
				t.Errorf("LexUrgency=%d LexCredential=%d, want ≥1 and ≥1", s.LexUrgency, s.LexCredential)
			}
		}},
		{"mathematical bold letters are read as plain ones", "𝐮𝐫𝐠𝐞𝐧𝐭: 𝐬𝐞𝐧𝐝 𝐭𝐡𝐞 𝐯𝐞𝐫𝐢𝐟𝐢𝐜𝐚𝐭𝐢𝐨𝐧 𝐜𝐨𝐝𝐞", func(t *testing.T, s Set) {
			if s.LexUrgency < 1 || s.LexCredential < 1 {
				t.Errorf("LexUrgency=%d LexCredential=%d", s.LexUrgency, s.LexCredential)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.check(t, x.Extract(message(c.text), models.Snapshot{}))
		})
	}
}

func TestLanguageAndTokens(t *testing.T) {
	x := extractor(t)
	cases := []struct {
		text   string
		lang   string
		tokens int
	}{
		{"Привет, как дела?", "ru", 3},
		{"Hello, how are you?", "en", 4},
		{"Привет hello как дела how are you", "mixed", 7},
		{"😀😀😀 !!!", "", 0},
		{"", "", 0},
		{"Встреча в Zoom завтра в 10 утра, ссылку пришлю", "ru", 9},
	}
	for _, c := range cases {
		t.Run("language of "+c.text, func(t *testing.T) {
			s := x.Extract(message(c.text), models.Snapshot{})
			if s.Lang != c.lang || s.Tokens != c.tokens {
				t.Errorf("Lang=%q Tokens=%d, want %q %d", s.Lang, s.Tokens, c.lang, c.tokens)
			}
		})
	}
}

func TestLinks(t *testing.T) {
	x := extractor(t)
	cases := []struct {
		name                                                     string
		text                                                     string
		urls, unknown, official, shorteners, lookalike, ip, puny int
		evidence                                                 map[string]string
	}{
		{name: "a shortener glued after a colon", text: "Перейдите:bit.ly/abc123", urls: 1, unknown: 1, shorteners: 1,
			evidence: map[string]string{"shorteners": "bit.ly", "urls": "bit.ly"}},
		{name: "a host glued to a Russian word", text: "Зайдите на сайтsber-bank.top и войдите", urls: 1, unknown: 1, lookalike: 1,
			evidence: map[string]string{"lookalike_domain": "sber-bank.top"}},
		{name: "the brand inside a longer domain", text: "https://sberbank-secure.top/login", urls: 1, unknown: 1, lookalike: 1},
		{name: "a Cyrillic к in the official domain", text: "Войдите на sberbanк.ru", urls: 1, unknown: 1, lookalike: 1, puny: 1},
		{name: "punycode of a look-alike", text: "http://xn--sberbnk-4fg.ru/", urls: 1, unknown: 1, lookalike: 1, puny: 1},
		{name: "punycode homograph of a well-known brand (аррӏе.com)", text: "http://xn--80ak6aa92e.com/", urls: 1, unknown: 1, lookalike: 1, puny: 1},
		{name: "punycode of an unrelated name", text: "http://xn--80aswg.xn--p1ai/", urls: 1, unknown: 1, puny: 1},
		{name: "punycode evidence is the host that was counted", text: "see пример.рф and xn--80ak6aa92e.com", urls: 2, unknown: 2, lookalike: 1, puny: 1,
			evidence: map[string]string{"punycode_links": "xn--80ak6aa92e.com"}},
		{name: "the official domain and its subdomain", text: "См. www.sberbank.ru и online.sberbank.ru/x", urls: 2, official: 2},
		{name: "a well-known domain", text: "Запись на gosuslugi.ru", urls: 1},
		{name: "a global brand's national site is well known", text: "Track at amazon.co.uk/orders or www.paypal.de/x", urls: 2},
		{name: "a brand's name inside another domain is not well known but a lookalike", text: "Track at amazon-delivery.co.uk/orders", urls: 1, unknown: 1, lookalike: 1},
		{name: "a well-known brand as a word of another domain", text: "Возврат: ozon-vozvrat.site/refund", urls: 1, unknown: 1, lookalike: 1},
		{name: "a well-known brand under a free TLD", text: "Track at amazon.tk/orders", urls: 1, unknown: 1, lookalike: 1},
		{name: "a well-known brand inside a longer word is not a lookalike", text: "see amazonite-shop.top/x", urls: 1, unknown: 1},
		{name: "t.me is a link but not well known", text: "Подписывайся t.me/freemoney", urls: 1, unknown: 1},
		{name: "a bare IP with a path", text: "Go to 185.12.4.9/login now", urls: 1, unknown: 1, ip: 1},
		{name: "user info before the host", text: "http://sberbank.ru@evil.top/x", urls: 1, unknown: 1},
		{name: "the official brand under another suffix", text: "https://sberbank.com.de-login.xyz", urls: 1, unknown: 1, lookalike: 1},
		{name: "one letter off the brand", text: "sberbamk.ru/pay", urls: 1, unknown: 1, lookalike: 1},
		{name: "the brand spelt in Cyrillic under .рф", text: "Подтвердите на сбербанк-онлайн.рф/login", urls: 1, unknown: 1, lookalike: 1},
		{name: "the brand spelt in Cyrillic, in punycode", text: "http://xn----7sbbbax6afkrcdiwm.xn--p1ai/", urls: 1, unknown: 1, lookalike: 1, puny: 1},
		{name: "a Cyrillic domain without the brand is no lookalike", text: "Записывайтесь на госуслуги-запись.рф", urls: 1, unknown: 1},
		{name: "an e-mail address is not a link", text: "Пишите на info@example.com"},
		{name: "abbreviations and file names are not links", text: "т.е. см. файл report.docx, т.к. e.g. so.what"},
		{name: "a decimal number is not a link", text: "курс 95.5 за доллар"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := x.Extract(message(c.text), models.Snapshot{})
			got := [7]int{s.URLs, s.UnknownDomains, s.OfficialLinks, s.Shorteners, s.LookalikeDomain, s.IPLinks, s.PunycodeLinks}
			want := [7]int{c.urls, c.unknown, c.official, c.shorteners, c.lookalike, c.ip, c.puny}
			if got != want {
				t.Errorf("urls, unknown, official, shorteners, lookalike, ip, puny = %v, want %v (evidence %v)", got, want, s.Evidence)
			}
			for k, v := range c.evidence {
				if s.Evidence[k] != v {
					t.Errorf("Evidence[%q] = %q, want %q", k, s.Evidence[k], v)
				}
			}
		})
	}
}

func TestPhonesMoneyCards(t *testing.T) {
	x := extractor(t)
	cases := []struct {
		name   string
		text   string
		phones int
		money  int
		max    float64
		cards  int
	}{
		{name: "a Russian number split by spaces and dashes", text: "Звоните +7 916 123-45-67 сейчас", phones: 1},
		{name: "a national number with parentheses", text: "Тел. 8 (916) 123-45-67", phones: 1},
		{name: "the same number twice counts once", text: "+79161234567 или 8 916 123 45 67", phones: 1},
		{name: "a short code is not a phone", text: "Код 123456", phones: 0},
		{name: "two numbers in a row are two phones", text: "звоните 89161234567 89031234567", phones: 2},
		{name: "three numbers in a row, one with a plus", text: "тел 89161234567 89031234567 +79265554433", phones: 3},
		{name: "a long run of digits is no phone", text: "номер 1234567890123456789012", phones: 0},
		{name: "roubles with grouping", text: "Перевод 50 000 руб. выполнен", money: 1, max: 50000},
		{name: "roubles glued", text: "всего 5000р", money: 1, max: 5000},
		{name: "dollars before", text: "Pay $500 today", money: 1, max: 500},
		{name: "euros before", text: "fee €200", money: 1, max: 200},
		{name: "a million roubles", text: "выигрыш 1 млн рублей", money: 1, max: 1e6},
		{name: "thousands with k", text: "earn 1.5k$ weekly", money: 1, max: 1500},
		{name: "per day without a currency is not money", text: "доход 3000 в день", money: 0},
		{name: "several amounts keep the largest", text: "от 3000 руб до 15 000 рублей в день", money: 2, max: 15000},
		{name: "a Luhn-valid card", text: "Карта 4111 1111 1111 1111", cards: 1},
		{name: "a card with a bad check digit", text: "Карта 4111 1111 1111 1112", cards: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := x.Extract(message(c.text), models.Snapshot{})
			if s.PhonesInText != c.phones || s.MoneyAmounts != c.money || s.MaxAmount != c.max || s.Cards != c.cards {
				t.Errorf("phones=%d money=%d max=%v cards=%d, want %d %d %v %d (evidence %v)",
					s.PhonesInText, s.MoneyAmounts, s.MaxAmount, s.Cards, c.phones, c.money, c.max, c.cards, s.Evidence)
			}
		})
	}
	t.Run("money evidence starts at the currency written before the amount", func(t *testing.T) {
		for text, want := range map[string]string{
			"оплатите usd 500 сегодня": "usd 500",
			"fee eur 200 now":          "eur 200",
			"всего ₽900":               "₽900",
		} {
			if got := x.Extract(message(text), models.Snapshot{}).Evidence["money_amounts"]; got != want {
				t.Errorf("Evidence[money_amounts] of %q = %q, want %q", text, got, want)
			}
		}
	})
	t.Run("a phone number in parentheses is quoted from the parenthesis", func(t *testing.T) {
		s := x.Extract(message("Звоните (916) 123-45-67"), models.Snapshot{})
		if got := s.Evidence["phones_in_text"]; s.PhonesInText != 1 || got != "(916) 123-45-67" {
			t.Errorf("PhonesInText=%d Evidence[phones_in_text]=%q, want 1 and %q", s.PhonesInText, got, "(916) 123-45-67")
		}
	})
	t.Run("card evidence carries the digits", func(t *testing.T) {
		s := x.Extract(message("4111-1111-1111-1111"), models.Snapshot{})
		if s.Evidence["cards"] != "4111111111111111" {
			t.Errorf("Evidence[cards] = %q", s.Evidence["cards"])
		}
	})
	t.Run("a phone number is not tokenized into numbers", func(t *testing.T) {
		s := x.Extract(message("звони +7 916 123-45-67"), models.Snapshot{})
		if s.Tokens != 1 {
			t.Errorf("Tokens = %d, want 1", s.Tokens)
		}
	})
}

func TestNumberNormalizer(t *testing.T) {
	n := NewNumberNormalizer("RU")
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"8 916 123-45-67", "+79161234567", true},
		{"+7 (916) 123 45 67", "+79161234567", true},
		{"79161234567", "+79161234567", true},
		{"9161234567", "+79161234567", true},
		{"00 44 20 7183 8750", "+442071838750", true},
		{"+1 650 253 0000", "+16502530000", true},
		{"12345", "", false},
		{"+7 916 abc 45 67", "", false},
		{"call me", "", false},
		{"+7 000 000 00 00", "", false},
		{"", "", false},
		{"+799999999999999999999", "", false},
	}
	for _, c := range cases {
		t.Run("normalising "+c.in, func(t *testing.T) {
			got, ok := n.Normalize(c.in)
			if got != c.want || ok != c.ok {
				t.Errorf("Normalize(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
			}
			got2, ok2 := n.Normalize(c.in) // cached
			if got2 != got || ok2 != ok {
				t.Errorf("cached result differs")
			}
		})
	}
	t.Run("it plugs into the event decoder", func(t *testing.T) {
		ev, err := models.DecodeEvent([]byte(`{"id":"1","kind":"message","ts":"2026-11-26T09:00:00Z","to":"e","from":"8 916 123-45-67"}`),
			models.DecodeOptions{NormalizeSender: n.Normalize})
		if err != nil || ev.From != "+79161234567" {
			t.Errorf("From = %q, err %v", ev.From, err)
		}
	})
	t.Run("regions are reported", func(t *testing.T) {
		if r := n.Region("+442071838750"); r != "GB" {
			t.Errorf("Region = %q, want GB", r)
		}
	})
}

func TestSender(t *testing.T) {
	x := extractor(t)
	cases := []struct {
		name  string
		from  string
		fname string
		rep   models.Repairs
		want  func(s Set) bool
		about string
	}{
		{"no sender at all", "", "", models.Repairs{SenderMissing: true}, func(s Set) bool {
			return !s.HasSender && s.SenderMissing && !s.SenderInvalid && s.SenderCountry == ""
		}, "missing"},
		{"an invalid sender", "", "", models.Repairs{SenderInvalid: true}, func(s Set) bool {
			return !s.HasSender && !s.SenderMissing && s.SenderInvalid
		}, "invalid"},
		{"an unassigned E.164 number from a strict decoder", "+70000000000", "", models.Repairs{}, func(s Set) bool {
			return !s.HasSender && s.SenderInvalid
		}, "invalid"},
		{"an official line", "+78001000000", "Пример Банк", models.Repairs{}, func(s Set) bool {
			return s.HasSender && s.SenderOfficial && s.SenderKnown && !s.NameImitatesBank && !s.LookalikeNumber && s.SenderCountry == "RU" && !s.SenderForeign
		}, "official"},
		{"one digit away from an official line", "+78001000001", "", models.Repairs{}, func(s Set) bool {
			return s.LookalikeNumber && s.LookalikeDistance == 1 && !s.SenderOfficial && s.Evidence["lookalike_number"] == "+78001000000"
		}, "lookalike 1"},
		{"two digits swapped from an official line", "+74951234576", "", models.Repairs{}, func(s Set) bool {
			return s.LookalikeNumber && s.LookalikeDistance == 1
		}, "lookalike transposition"},
		{"two digits away from an official line", "+78001000099", "", models.Repairs{}, func(s Set) bool {
			return s.LookalikeNumber && s.LookalikeDistance == 2
		}, "lookalike 2"},
		{"far from every official line", "+79269876543", "", models.Repairs{}, func(s Set) bool {
			return !s.LookalikeNumber && s.LookalikeDistance == 0
		}, "not lookalike"},
		{"a staff member", "+79161234567", "Иван Петров", models.Repairs{}, func(s Set) bool {
			return s.SenderStaff && s.SenderKnown && !s.NameImitatesStaff
		}, "staff"},
		{"a staff name on a stranger's number", "+79851234567", "Иван Петров", models.Repairs{}, func(s Set) bool {
			return s.NameImitatesStaff && !s.SenderStaff
		}, "imitates staff"},
		{"a staff name in Latin letters with a typo", "+79851234567", "Ivan Petrv", models.Repairs{}, func(s Set) bool {
			return s.NameImitatesStaff
		}, "imitates staff translit"},
		{"a staff name with a homoglyph", "+79851234567", "Анна Смирнoва", models.Repairs{}, func(s Set) bool {
			return s.NameImitatesStaff
		}, "imitates staff homoglyph"},
		{"only a first name is not a staff imitation", "+79851234567", "Иван", models.Repairs{}, func(s Set) bool {
			return !s.NameImitatesStaff
		}, "first name only"},
		{"a staff member's other registered number", "+79031112234", "Anna Smirnova", models.Repairs{}, func(s Set) bool {
			return s.SenderStaff && !s.NameImitatesStaff
		}, "staff second number"},
		{"a consented customer", "+79261234567", "Ольга", models.Repairs{}, func(s Set) bool {
			return s.SenderCustomer && s.SenderKnown && !s.SenderStaff && !s.NameImitatesBank
		}, "customer"},
		{"a security-service display name", "+79851234567", "Служба безопасности", models.Repairs{}, func(s Set) bool {
			return s.NameImitatesBank && !s.SenderKnown
		}, "imitates bank"},
		{"the bank's name as display name", "+79851234567", "Пример Банк Поддержка", models.Repairs{}, func(s Set) bool {
			return s.NameImitatesBank
		}, "imitates bank name"},
		{"a Central Bank display name in Latin homoglyphs", "+79851234567", "ЦБ PФ", models.Repairs{}, func(s Set) bool {
			return s.NameImitatesBank
		}, "imitates CB"},
		{"an ordinary display name", "+79851234567", "Мария Ивановна", models.Repairs{}, func(s Set) bool {
			return !s.NameImitatesBank && !s.NameImitatesStaff
		}, "ordinary"},
		{"a foreign number", "+442071838750", "", models.Repairs{}, func(s Set) bool {
			return s.HasSender && s.SenderForeign && s.SenderCountry == "GB"
		}, "foreign"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := message("привет")
			ev.From, ev.FromName, ev.Repairs = c.from, c.fname, c.rep
			s := x.Extract(ev, models.Snapshot{})
			if !c.want(s) {
				t.Errorf("%s: unexpected sender features %+v", c.about, s)
			}
		})
	}
}

func TestStaffImitationWithACommonFirstName(t *testing.T) {
	dir := &Directory{}
	for _, surname := range []string{"Петров", "Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Михайлов", "Новиков", "Фёдоров", "Сидоров"} {
		dir.Staff = append(dir.Staff, StaffMember{Name: "Иван " + surname})
	}
	x, err := NewExtractor(Config{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Иван Сидоров", "Сидоров Иван", "Ivan Sidorov"} {
		ev := message("привет")
		ev.From, ev.FromName = "+79851234567", name
		if s := x.Extract(ev, models.Snapshot{}); !s.NameImitatesStaff {
			t.Errorf("display name %q among ten staff named Иван: NameImitatesStaff = false, want true", name)
		}
	}
}

func TestEventAndReputation(t *testing.T) {
	x := extractor(t)
	t.Run("a missed call", func(t *testing.T) {
		ev := &models.Event{ID: "c", Kind: models.KindCall, TS: time.Now(), From: "+79851234567", Call: &models.Call{Missed: true}}
		s := x.Extract(ev, models.Snapshot{Events: 1, Calls: 1, MissedCalls: 1, FirstSeen: ev.TS})
		if !s.IsCall || s.IsMessage || !s.CallMissed || s.CallDuration != 0 || !s.FirstSeen || s.RepMissedCalls != 1 {
			t.Errorf("unexpected %+v", s)
		}
	})
	t.Run("executables and remote-access tools among attachments", func(t *testing.T) {
		ev := message("")
		ev.Media = []models.Media{
			{Type: "document", Filename: "Bank_Support.apk"},
			{Type: "document", MIME: "application/x-msdownload"},
			{Type: "document", Filename: "AnyDesk_setup.zip"},
			{Type: "document", Filename: "rms-host.zip"},
			{Type: "document", Filename: "terms.pdf"},
			{Type: "image", Filename: "photo.jpg", MIME: "image/jpeg"},
		}
		s := x.Extract(ev, models.Snapshot{})
		if s.Media != 6 || s.MediaExecutable != 4 || s.Evidence["media_executable"] != "Bank_Support.apk" {
			t.Errorf("Media=%d MediaExecutable=%d evidence %q", s.Media, s.MediaExecutable, s.Evidence["media_executable"])
		}
	})
	t.Run("repairs and forwarding are copied", func(t *testing.T) {
		ev := message("x")
		ev.Forwarded = true
		ev.Repairs = models.Repairs{InvalidUTF8: true, TextTruncated: true}
		s := x.Extract(ev, models.Snapshot{})
		if !s.Forwarded || !s.InvalidUTF8 || !s.TextTruncated {
			t.Errorf("unexpected %+v", s)
		}
	})
	t.Run("reputation age is event time minus first seen", func(t *testing.T) {
		ev := message("x")
		ev.From = "+79851234567"
		rep := models.Snapshot{Events: 5, Calls: 2, Employees1h: 3, Employees24h: 7, FirstSeen: ev.TS.Add(-36 * time.Hour)}
		s := x.Extract(ev, rep)
		if s.RepAgeHours != 36 || s.FirstSeen || s.RepEvents != 5 || s.RepCalls != 2 || s.RepEmployees1h != 3 || s.RepEmployees24h != 7 {
			t.Errorf("unexpected %+v", s)
		}
	})
	t.Run("a nil event gives zero features", func(t *testing.T) {
		if s := x.Extract(nil, models.Snapshot{}); !reflect.DeepEqual(s, Set{}) {
			t.Errorf("got %+v", s)
		}
	})
}

func TestEvidenceQuotesTheOriginalText(t *testing.T) {
	x := extractor(t)
	text := "Добрый день. Сбeрбанк сообщает: назовите К\u200bОД из СМС, иначе карта будет заблокирована."
	s := x.Extract(message(text), models.Snapshot{})
	ev := s.Evidence["lex_credential"]
	if !strings.Contains(ev, "К\u200bОД из СМС") {
		t.Errorf("Evidence[lex_credential] = %q, want the original spelling", ev)
	}
	if n := len([]rune(ev)); n > 81 {
		t.Errorf("evidence is %d runes long", n)
	}
}

func TestEvidenceIsShortWholeWordsAndNeverPartOfACard(t *testing.T) {
	x := extractor(t)
	cases := []struct {
		name, text, key, want string
	}{
		{"context stops before a card number it would cut", "Назовите номер карты 4111 1111 1111 1111 и срок действия", "lex_card_request", "Назовите номер карты"},
		{"context starts after a card number it would cut", "4111 1111 1111 1111 назовите номер карты", "lex_card_request", "назовите номер карты"},
		{"the invisible character evidence is the word that was counted", "❤️ назовите к\u200bод из смс", "invisible_chars", "к\u200bод"},
		{"a long excerpt is cut after a whole word", "Назовите к" + strings.Repeat("\u200b", 70) + "од из смс срочно", "lex_credential", "Назовите…"},
		{"a long excerpt is cut before the digits of a card", "Сейчас придет " + strings.Repeat("\u200b", 55) + "4111 1111 1111 1111 смс", "lex_credential", "Сейчас придет " + strings.Repeat("\u200b", 55) + "…"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := x.Extract(message(c.text), models.Snapshot{})
			got := s.Evidence[c.key]
			if got != c.want {
				t.Errorf("Evidence[%q] = %q, want %q", c.key, got, c.want)
			}
			for k, ev := range s.Evidence {
				if n := utf8.RuneCountInString(ev); n > 80 {
					t.Errorf("Evidence[%q] is %d runes long, want at most 80", k, n)
				}
				if k != "cards" && strings.Contains(models.MaskCardNumbers(ev), "1111 1111") {
					t.Errorf("Evidence[%q] = %q shows card digits in clear", k, ev)
				}
			}
		})
	}
}

func TestOneLineCutsAfterAWholeWord(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"80 runes fit", strings.Repeat("я", 80), strings.Repeat("я", 80)},
		{"one long word is cut where it must be", strings.Repeat("я", 81), strings.Repeat("я", 79) + "…"},
		{"words are cut after the last whole one", strings.Repeat("слово ", 20), strings.TrimSpace(strings.Repeat("слово ", 13)) + "…"},
		{"white space is collapsed", " a \n\t b  ", "a b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := oneLine(c.in, 80)
			if got != c.want {
				t.Errorf("oneLine(%q) = %q, want %q", c.in, got, c.want)
			}
			if n := utf8.RuneCountInString(got); n > 80 {
				t.Errorf("oneLine(%q) is %d runes long, want at most 80", c.in, n)
			}
		})
	}
}

func TestPass1QuotesAComposedLetterFromItsBase(t *testing.T) {
	var n normText
	pass1(&n, "и\u0306од")
	if got := string(n.s); got != "йод" {
		t.Fatalf("pass1 = %q, want %q", got, "йод")
	}
	if got := n.origOffset(0); got != 0 {
		t.Errorf("й comes from original byte %d, want 0 (the и, not the breve after it)", got)
	}
}

func TestFeatureNamesFollowSet(t *testing.T) {
	names := FeatureNames()
	if names[0] != "lang" || names[len(names)-1] != "campaign_events" {
		t.Errorf("FeatureNames = %v", names)
	}
	for i, c := range cueNames[:numTextCues] {
		if names[2+i] != "lex_"+c {
			t.Errorf("cue %d is %q but feature %d is %q", i, c, 2+i, names[2+i])
		}
	}
	// lexFields must point at the fields of the same names.
	var s Set
	for i, p := range lexFields(&s) {
		*p = i + 1
	}
	for i, c := range cueNames[:numTextCues] {
		if got := feature(t, s, "lex_"+c).(int); got != i+1 {
			t.Errorf("lexFields[%d] does not point at lex_%s", i, c)
		}
	}
}

func TestLexiconErrors(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want string
	}{
		{"an unknown cue", "cues:\n  lotery:\n    ru: [\"вы выиграли\"]\n", `unknown cue "lotery"`},
		{"a phrase of punctuation only", "cues:\n  urgency:\n    ru: [\"срочно\", \"!!!\", \"...\"]\n", `cue "urgency" ru phrase 2 ("!!!"): empty after normalisation`},
		{"a number-only phrase", "cues:\n  mule:\n    en: [\"# *  #\"]\n", "only numbers"},
		{"a trailing gap", "cues:\n  mule:\n    en: [\"money *\"]\n", `ends with "*"`},
		{"a lone number", "cues:\n  mule:\n    en: [\"100\"]\n", "only numbers"},
		{"a leading gap", "cues:\n  mule:\n    en: [\"* money\"]\n", `starts with "*"`},
		{"an unknown key", "cues:\n  mule:\n    de: [\"geld\"]\n", "field de not found"},
		{"an empty file", "", "empty file"},
	}
	for _, c := range cases {
		t.Run(c.name+" is rejected with its place", func(t *testing.T) {
			_, err := NewExtractor(Config{Lexicons: []byte(c.yaml)})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
	t.Run("a lexicon file path is read", func(t *testing.T) {
		_, err := NewExtractor(Config{LexiconsPath: "testdata/missing.yaml"})
		if err == nil || !strings.Contains(err.Error(), "testdata/missing.yaml") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("the embedded default compiles", func(t *testing.T) {
		x, err := NewExtractor(Config{Lexicons: DefaultLexicons()})
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range x.lex.counts[:numCues] {
			if n == 0 {
				t.Errorf("cue %s has no phrases", cueNames[i])
			}
		}
	})
}

func TestConfigAndDirectoryErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"an unknown region", Config{DefaultRegion: "XX"}, `default region "XX"`},
		{"a lower-case region", Config{DefaultRegion: "ru"}, `default region "ru"`},
		{"both lexicon sources", Config{Lexicons: []byte("x"), LexiconsPath: "y"}, "both Lexicons and LexiconsPath"},
		{"a URL as official domain", Config{OfficialDomains: []string{"https://bank.ru"}}, "not a URL"},
		{"a garbage official line", Config{OfficialLines: []string{"call us"}}, `official line "call us"`},
		{"an invalid long official line", Config{OfficialLines: []string{"+7 000 000 00 00"}}, "not a valid phone number"},
		{"an invalid staff number", Config{Directory: &Directory{Staff: []StaffMember{{Name: "A B", Numbers: []string{"123"}}}}}, `staff[0] "A B": number "123"`},
		{"an invalid customer", Config{Directory: &Directory{Customers: []Customer{{Number: "nope"}}}}, `customers[0] "nope"`},
	}
	for _, c := range cases {
		t.Run(c.name+" is rejected", func(t *testing.T) {
			_, err := NewExtractor(c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
	t.Run("a misspelt directory key is rejected with the file name", func(t *testing.T) {
		_, err := LoadDirectory("testdata/bad_directory.yaml")
		if err == nil || !strings.Contains(err.Error(), "testdata/bad_directory.yaml") || !strings.Contains(err.Error(), "nmae") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a short official line is accepted", func(t *testing.T) {
		if _, err := NewExtractor(Config{OfficialLines: []string{"900"}}); err != nil {
			t.Error(err)
		}
	})
	t.Run("ParseDirectory reads the sample", func(t *testing.T) {
		d, err := ParseDirectory([]byte("staff:\n  - name: A B\n    numbers: ['+79161234567']\n"))
		if err != nil || len(d.Staff) != 1 {
			t.Errorf("d=%+v err=%v", d, err)
		}
	})
}

func TestExtractIsSafeForConcurrentUse(t *testing.T) {
	x := extractor(t)
	want := make([]Set, len(benchTexts))
	for i, txt := range benchTexts {
		want[i] = x.Extract(message(txt), models.Snapshot{})
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 200 {
				i := (g + k) % len(benchTexts)
				if got := x.Extract(message(benchTexts[i]), models.Snapshot{}); !reflect.DeepEqual(got, want[i]) {
					t.Errorf("concurrent Extract differs for text %d", i)
					return
				}
			}
		}()
	}
	wg.Wait()
}
