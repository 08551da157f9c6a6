package features

import (
	"testing"
	"time"

	"fraudwatch/models"
)

func TestFingerprintGroupsACampaignAndItsSmallEdits(t *testing.T) {
	x := testExtractor(t)
	base := "Здравствуйте! Служба безопасности банка: по вашей карте замечена подозрительная операция на 15 000 рублей. Для отмены назовите код из СМС оператору."
	tests := []struct {
		name  string
		text  string
		match bool
	}{
		{"the same text with another amount and number", "Здравствуйте! Служба безопасности банка: по вашей карте замечена подозрительная операция на 48 900 рублей. Для отмены назовите код из СМС оператору.", true},
		{"one word changed", "Добрый день! Служба безопасности банка: по вашей карте замечена подозрительная операция на 15 000 рублей. Для отмены назовите код из СМС оператору.", true},
		{"homoglyphs and invisible characters", "Здравствуйтe! Слу\u200bжба безопаснocти банка: по вашей карте замечена подозрительная операция на 15 000 рублей. Для отмены назовите код из СМС оператору.", true},
		{"upper case and other punctuation", "ЗДРАВСТВУЙТЕ, СЛУЖБА БЕЗОПАСНОСТИ БАНКА - по вашей карте замечена подозрительная операция на 15 000 рублей; для отмены назовите код из смс оператору", true},
		{"an unrelated message", "Коллеги, напоминаю: завтра в 10:00 планёрка в переговорной на третьем этаже, захватите отчёты за квартал.", false},
		{"another scam on the same subject", "Ваш перевод на сумму 15 000 рублей приостановлен. Подтвердите операцию по ссылке в течение часа, иначе счёт заблокируют.", false},
	}
	fb := x.Fingerprint(base)
	if len(fb) != models.FingerprintLen {
		t.Fatalf("Fingerprint(base) has %d places, want %d", len(fb), models.FingerprintLen)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := x.Fingerprint(tt.text)
			if got := fb.Matches(f); got != tt.match {
				t.Errorf("Matches = %v, want %v (base %v, text %v)", got, tt.match, fb, f)
			}
		})
	}
}

func TestFingerprintSeesThroughRotatingLinks(t *testing.T) {
	x := testExtractor(t)
	a := x.Fingerprint("HMRC: our records show you are owed a tax refund of £412.60. Claim it within 24 hours at gov-refund-uk.com or the refund will be cancelled.")
	b := x.Fingerprint("HMRC: our records show you are owed a tax refund of £398.20. Claim it within 24 hours at https://hmrc-refund-claim.info/r?id=77 or the refund will be cancelled.")
	if !a.Matches(b) {
		t.Errorf("the same text with another link and amount does not match: %v vs %v", a, b)
	}
	for _, f := range []string{"gov-refund-uk.com", "https://x.ru", "www.site.org", "bit.ly/abc", "pay-now.top/x?y=1"} {
		if !looksLikeLink([]byte(f)) {
			t.Errorf("looksLikeLink(%q) = false", f)
		}
	}
	for _, f := range []string{"15.000", "день.", "т.е.", "e.g.", "12.11.2026"} {
		if looksLikeLink([]byte(f)) {
			t.Errorf("looksLikeLink(%q) = true", f)
		}
	}
}

func TestFingerprintLeavesShortTextsOut(t *testing.T) {
	x := testExtractor(t)
	for _, text := range []string{"", "Ок", "Добрый день, когда будет готово?", "12 34 56 78 90 11 22"} {
		if f := x.Fingerprint(text); f != nil {
			t.Errorf("Fingerprint(%q) = %v, want nil: too few distinct words to be a campaign", text, f)
		}
	}
}

func TestCrossEventFeaturesComeFromTheSnapshot(t *testing.T) {
	x := testExtractor(t)
	msg := &models.Event{ID: "m", Kind: models.KindMessage, From: "+79161234567", To: "emp-1", TS: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), Text: "Перезвоните"}
	tests := []struct {
		name  string
		ev    *models.Event
		snap  models.Snapshot
		check func(s Set) bool
	}{
		{"a first event to this employee is a first contact", msg, models.Snapshot{Events: 3, PairEvents: 1},
			func(s Set) bool { return s.FirstContact && s.RepPairEvents == 1 && s.ShortCallAgoMin == -1 }},
		{"a later event is not", msg, models.Snapshot{Events: 3, PairEvents: 2},
			func(s Set) bool { return !s.FirstContact }},
		{"a message 20 minutes after a missed call follows it", msg, models.Snapshot{PairEvents: 2, ShortCallSeen: true, ShortCallAgo: 20 * time.Minute},
			func(s Set) bool { return s.CallThenMessage && s.ShortCallAgoMin == 20 }},
		{"a message three hours after it does not", msg, models.Snapshot{PairEvents: 2, ShortCallSeen: true, ShortCallAgo: 3 * time.Hour},
			func(s Set) bool { return !s.CallThenMessage && s.ShortCallAgoMin == 180 }},
		{"feedback and campaign counts are copied", msg, models.Snapshot{FraudReports: 2, FalsePositives: 1, Allowlisted: true, ShortCallEmployees24h: 7, CampaignSenders: 3, CampaignEmployees: 9, CampaignEvents: 12},
			func(s Set) bool {
				return s.RepFraudReports == 2 && s.RepFalsePositives == 1 && s.Allowlisted && s.RepShortCallEmployees == 7 &&
					s.CampaignSenders == 3 && s.CampaignEmployees == 9 && s.CampaignEvents == 12
			}},
		{"without a sender nothing per sender is set, campaigns still are", &models.Event{ID: "n", Kind: models.KindMessage, To: "emp-1", Text: "x"},
			models.Snapshot{PairEvents: 1, CampaignSenders: 2, CampaignEmployees: 2},
			func(s Set) bool { return !s.FirstContact && s.ShortCallAgoMin == -1 && s.CampaignEmployees == 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s := x.Extract(tt.ev, tt.snap); !tt.check(s) {
				t.Errorf("features %+v do not hold", s)
			}
		})
	}
}

func TestDocumentsPosingAsBankForms(t *testing.T) {
	x := testExtractor(t)
	tests := []struct {
		media models.Media
		form  bool
	}{
		{models.Media{Type: "document", Filename: "Заявление_на_возврат_средств.pdf", MIME: "application/pdf"}, true},
		{models.Media{Type: "document", Filename: "Bank_Security_Form.docx"}, true},
		{models.Media{Type: "document", Filename: "login.html", MIME: "text/html"}, true},
		{models.Media{Type: "document", Filename: "Анкета сотрудника ЦБ.pdf"}, true},
		{models.Media{Type: "document", Filename: "отчёт_за_квартал.xlsx"}, false},
		{models.Media{Type: "image", Filename: "IMG_2041.jpg", MIME: "image/jpeg"}, false},
		{models.Media{Type: "document", Filename: "Договор_аренды_квартиры.pdf"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.media.Filename, func(t *testing.T) {
			s := x.Extract(&models.Event{ID: "a", Kind: models.KindMessage, To: "emp-1", Media: []models.Media{tt.media}}, models.Snapshot{})
			if got := s.MediaBankForm > 0; got != tt.form {
				t.Errorf("media_bank_form = %d, want form %v", s.MediaBankForm, tt.form)
			}
		})
	}
}
