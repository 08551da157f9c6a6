package models

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAlertIDIsStableAndDistinct(t *testing.T) {
	a, b := AlertID("wamid.1"), AlertID("wamid.1")
	if a != b {
		t.Fatalf("same event, different ids: %s %s", a, b)
	}
	if AlertID("wamid.2") == a {
		t.Fatal("different events share an id")
	}
	if !strings.HasPrefix(a, "fa_") || len(a) != 3+32 {
		t.Errorf("id %q has the wrong shape", a)
	}
	if strings.Contains(a, "wamid") {
		t.Errorf("id %q leaks the event id", a)
	}
}

func TestMaskNumber(t *testing.T) {
	cases := map[string]string{
		"+79161234567":  "+7916***4567",
		"+447911123456": "+4479***3456",
		"+1234567":      "+1***67",
		"123":           "***",
		"":              "",
	}
	for in, want := range cases {
		if got := MaskNumber(in); got != want {
			t.Errorf("MaskNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskCardNumbers(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"a plain Luhn-valid number", "карта 4111111111111111 срочно", "карта 411111******1111 срочно"},
		{"a number grouped by spaces", "card 5555 5555 5555 4444 ok", "card 555555******4444 ok"},
		{"a number grouped by dashes", "2200-0000-0000-0004", "220000******0004"},
		{"a number that fails Luhn is left alone", "order 4111111111111112", "order 4111111111111112"},
		{"a short number is left alone", "code 123456", "code 123456"},
		{"two numbers in one text", "4111111111111111 and 5555555555554444", "411111******1111 and 555555******4444"},
		{"digits glued to a longer run are not a card", "x41111111111111110000000y", "x41111111111111110000000y"},
		{"a grouped number followed by its expiry", "карта 4111 1111 1111 1111 12/27", "карта 411111******1111 12/27"},
		{"a grouped number followed by its CVV", "5555 5555 5555 4444 123", "555555******4444 123"},
		{"a number with zero-width spaces between its groups", "карта 4111\u200b1111\u200b1111\u200b1111 срочно", "карта 411111******1111 срочно"},
		{"a number with invisible characters between its digits", "4\u200d1\u20601111111111111\u200b1 ok", "411111******1111 ok"},
		{"a number grouped by no-break spaces", "card 5555\u00a05555\u00a05555\u00a04444 ok", "card 555555******4444 ok"},
		{"a number grouped by en dashes", "2200\u20130000\u20130000\u20130004", "220000******0004"},
		{"a number in fullwidth digits", "карта ４１１１１１１１１１１１１１１１ срочно", "карта 411111******1111 срочно"},
		{"a number in Arabic-Indic digits", "\u0664\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661", "411111******1111"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := MaskCardNumbers(tc.in); got != tc.want {
				t.Errorf("MaskCardNumbers(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSeverityRoundTripsAndOrders(t *testing.T) {
	for _, s := range []Severity{SeverityNone, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Severity
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("%v → %s → %v (%v)", s, b, back, err)
		}
	}
	if !(SeverityLow < SeverityMedium && SeverityHigh < SeverityCritical) {
		t.Error("severities out of order")
	}
	if _, err := ParseSeverity("severe"); err == nil {
		t.Error("ParseSeverity accepted an unknown name")
	}
}

func TestVerdictJSONHasEmptyListsNotNull(t *testing.T) {
	b, err := json.Marshal(Verdict{EventID: "e"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"categories":[]`) || !strings.Contains(string(b), `"reasons":[]`) || !strings.Contains(string(b), `"severity":"none"`) {
		t.Errorf("verdict JSON = %s", b)
	}
}

func TestMaskSensitive(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"a Russian account number", "счёт 40817810099910004312, БИК", "счёт 408178**********4312, БИК"},
		{"an IBAN", "IBAN DE89370400440532013000 please", "IBAN DE8937************3000 please"},
		{"a card and an account together", "4111 1111 1111 1111 / 40702810400000012345", "411111******1111 / 407028**********2345"},
		{"a 19-digit run is not an account", "ref 1234567890123456789", "ref 1234567890123456789"},
		{"a 21-digit run is not an account", "ref 123456789012345678901", "ref 123456789012345678901"},
		{"lower-case letters are not an IBAN", "de89370400440532013000", "de89370400440532013000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := MaskSensitive(tc.in); got != tc.want {
				t.Errorf("MaskSensitive(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestMaskPhoneNumbers(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"an international number, grouped", "звоните +7 (916) 123-45-67 срочно", "звоните +7916***4567 срочно"},
		{"a Russian number written nationally", "мой номер 8 916 123 45 67.", "мой номер 89161***4567."},
		{"a British number", "text +44 7911 123456 now", "text +4479***3456 now"},
		{"ten digits written solid", "call 4155550162", "call 41555***0162"},
		{"a date and time stays", "2026-11-26 09:15", "2026-11-26 09:15"},
		{"an amount stays", "переведите 150 000 рублей", "переведите 150 000 рублей"},
		{"a six-digit code stays", "код 123456", "код 123456"},
		{"an order number glued to letters stays", "order AB12345678901", "order AB12345678901"},
		{"a masked card stays", "411111******1111", "411111******1111"},
		{"more than fifteen digits is not a phone", "+1234567890123456", "+1234567890123456"},
		{"two numbers", "+79161234567 или +79167654321", "+7916***4567 или +7916***4321"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := MaskPhoneNumbers(c.in); got != c.want {
				t.Fatalf("MaskPhoneNumbers(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
	if got := MaskSensitive("карта 4111 1111 1111 1111, тел. +79161234567"); got != "карта 411111******1111, тел. +7916***4567" {
		t.Fatalf("MaskSensitive = %q", got)
	}
}
