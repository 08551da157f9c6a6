package models

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// prefilterSamples are strings near the edges of the prefilters: runs of
// digits and capitals of every length around the thresholds, digits of
// other scripts, separators and invisible characters between them.
func prefilterSamples() []string {
	samples := []string{
		"", "4111 1111 1111 1111", "4111-1111-1111-1111", "４１１１１１１１１１１１１１１１",
		"40817810099910004312", "счёт 40817810099910004312.", "DE89370400440532013000", "GB82WEST12345698765432",
		"411111111111", "4111\u200b1111\u200b1111\u200b1111", "٤١١١١١١١١١١١١١١١", "AB12CDEFGHIJKLM", "AB12CDEFGHIJKL",
		"карта 5469 3800 1234 5678 12/27 CVV 123", "\"quoted\" \\ back", "bad \xff utf8", "tab\there",
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"0", "1", "4", "9", "A", "Z", "B", "x", " ", "-", ".", "\u200b", "٣", "４", "ё", "\\", "\"", "\n"}
	for range 5000 {
		var b strings.Builder
		for range r.IntN(40) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		samples = append(samples, b.String())
	}
	return samples
}

// The prefilters only skip work: whatever they rule out, the full search
// would not have found either.
func TestPrefiltersNeverHideAMatch(t *testing.T) {
	for _, s := range prefilterSamples() {
		if !mayHoldCard(s) {
			if view, _, _ := cardView(s); len(FindCardNumbers(view)) > 0 {
				t.Errorf("mayHoldCard(%q) = false, but it holds a card number", s)
			}
		}
		if !mayHoldAccount(s) && len(accountPattern.FindAllStringSubmatchIndex(s, -1)) > 0 {
			t.Errorf("mayHoldAccount(%q) = false, but it holds an account number", s)
		}
	}
	if !mayHoldCard("4111 1111 1111 1111") || !mayHoldAccount("40817810099910004312") {
		t.Error("the prefilters rule out the numbers they exist to let through")
	}
}

// unquotePlain returns what encoding/json returns whenever it accepts.
func TestUnquotePlainAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range prefilterSamples() {
		for _, raw := range [][]byte{[]byte(`"` + s + `"`), mustMarshal(t, s)} {
			got, ok := unquotePlain(raw)
			if !ok {
				continue
			}
			var want string
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatalf("unquotePlain(%q) accepted what encoding/json rejects: %v", raw, err)
			}
			if got != want {
				t.Errorf("unquotePlain(%q) = %q, encoding/json says %q", raw, got, want)
			}
		}
	}
	if _, ok := unquotePlain([]byte(`"plain text"`)); !ok {
		t.Error("unquotePlain refuses a plain string")
	}
}

func mustMarshal(t *testing.T, s string) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
