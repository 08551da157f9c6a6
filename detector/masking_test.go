package detector_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"

	"fraudwatch/detector"
)

// Employees must never see a card number in clear, however the sender
// disguised it: the features see through these disguises, so the masking
// of evidence must too.
func TestAlertsNeverShowACardNumberInClear(t *testing.T) {
	const pan = "4111111111111111"
	const pitch = "Служба безопасности банка. Срочно переведите деньги на карту %s и назовите код из смс"
	cases := []struct{ name, card string }{
		{"a card grouped by spaces", "4111 1111 1111 1111"},
		{"a card followed by its expiry date", "4111 1111 1111 1111 12/27"},
		{"a card grouped by zero-width spaces", "4111\u200b1111\u200b1111\u200b1111"},
		{"a card with zero-width joiners between its digits", "41\u200d11\u200d11\u200d11\u200d11\u200d11\u200d11\u200d11"},
		{"a card grouped by no-break spaces", "4111\u00a01111\u00a01111\u00a01111"},
		{"a card grouped by en dashes", "4111\u20131111\u20131111\u20131111"},
		{"a card in fullwidth digits", "４１１１１１１１１１１１１１１１"},
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	eng, _ := newFixtureEngine(t, now)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := json.Marshal(map[string]any{"id": "mask-" + tc.name, "kind": "message", "ts": "2026-11-26T09:59:00Z",
				"to": "emp-1", "from": "+79161234567", "text": strings.Replace(pitch, "%s", tc.card, 1)})
			res, err := eng.HandleBatch(context.Background(), []detector.Record{{Value: raw}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Alerts) != 1 {
				t.Fatalf("%d alerts, want 1 (outcomes %v)", len(res.Alerts), res.Outcomes)
			}
			for _, r := range res.Alerts[0].Reasons {
				if strings.Contains(digitsOf(r.Evidence), pan) {
					t.Errorf("reason %s shows the card in clear: %q", r.Rule, r.Evidence)
				}
			}
		})
	}
}

// digitsOf keeps only the digits of s, as ASCII (ASCII and fullwidth
// digits are enough for these cases).
func digitsOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９':
			b.WriteRune('0' + r - '０')
		case unicode.IsDigit(r):
			b.WriteRune('?')
		}
	}
	return b.String()
}

// Account numbers and numbers in the display name are masked too: the
// alert's sender_name and every evidence excerpt.
func TestAlertsMaskAccountsAndTheDisplayName(t *testing.T) {
	eng, _ := newFixtureEngine(t, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	raw, _ := json.Marshal(map[string]any{"id": "mask-account", "kind": "message", "ts": "2026-11-26T09:59:00Z",
		"to": "emp-1", "from": "+79161234567", "from_name": "Служба безопасности 4111 1111 1111 1111",
		"text": "Служба безопасности банка. Срочно переведите все деньги на безопасный счёт 40817810099910004312 и назовите код из смс"})
	res, err := eng.HandleBatch(context.Background(), []detector.Record{{Value: raw}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Alerts) != 1 {
		t.Fatalf("no alert: %+v", res.Verdicts)
	}
	out, _ := json.Marshal(res.Alerts[0])
	for _, clear := range []string{"40817810099910004312", "4111 1111 1111 1111"} {
		if strings.Contains(string(out), clear) {
			t.Errorf("alert shows %q in clear: %s", clear, out)
		}
	}
	if !strings.Contains(res.Alerts[0].SenderName, "411111******1111") {
		t.Errorf("sender_name %q", res.Alerts[0].SenderName)
	}
}

// A number quoted in a message may be a customer's or a colleague's:
// alerts reach employees, so it is masked in evidence like the sender.
func TestAlertsNeverShowAQuotedPhoneNumberInClear(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	eng, _ := newFixtureEngine(t, now)
	for i, number := range []string{"+7 (926) 555-12-34", "8 926 555 12 34", "+447911123456"} {
		raw, _ := json.Marshal(map[string]any{"id": "mask-phone-" + string(rune('a'+i)), "kind": "message", "ts": "2026-11-26T09:59:00Z",
			"to": "emp-1", "from": "+79161234567",
			"text": "Служба безопасности банка: срочно перезвоните на " + number + " и назовите код из смс, иначе счёт заблокируют"})
		res, err := eng.HandleBatch(context.Background(), []detector.Record{{Value: raw}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Alerts) != 1 {
			t.Fatalf("%q: %d alerts, want 1", number, len(res.Alerts))
		}
		clear := digitsOf(number)
		for _, r := range res.Alerts[0].Reasons {
			if strings.Contains(digitsOf(r.Evidence), clear[len(clear)-10:]) {
				t.Errorf("reason %s shows %s in clear: %q", r.Rule, number, r.Evidence)
			}
		}
	}
}
