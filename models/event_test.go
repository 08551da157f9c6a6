package models

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeEventRejectsWhatCannotBeInterpreted(t *testing.T) {
	cases := []struct {
		name      string
		raw       string
		wantField string
		wantIn    string
	}{
		{"an empty record", ``, "", "empty record"},
		{"whitespace only", "  \n", "", "empty record"},
		{"a JSON list instead of an object", `[1,2]`, "", "not a JSON object"},
		{"plain text", `hello`, "", "not a JSON object"},
		{"truncated JSON", `{"id":"a","kind":"message"`, "", "invalid JSON"},
		{"trailing garbage", `{"id":"a"} x`, "", "invalid JSON"},
		{"a missing id", `{"kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1"}`, "id", "missing"},
		{"a null id", `{"id":null,"kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1"}`, "id", "missing"},
		{"an empty id", `{"id":"  ","kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1"}`, "id", "empty"},
		{"a numeric id", `{"id":42,"kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1"}`, "id", "want a string, got a number"},
		{"an id over 512 bytes", `{"id":"` + strings.Repeat("x", 513) + `","kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1"}`, "id", "longer than 512"},
		{"a missing kind", `{"id":"a","ts":"2026-11-26T09:00:00Z","to":"emp-1"}`, "kind", "missing"},
		{"an unknown kind", `{"id":"a","kind":"sms","ts":"2026-11-26T09:00:00Z","to":"emp-1"}`, "kind", `unknown kind "sms"`},
		{"a kind of the wrong type", `{"id":"a","kind":["message"],"ts":"2026-11-26T09:00:00Z","to":"emp-1"}`, "kind", "got a list"},
		{"a missing time", `{"id":"a","kind":"message","to":"emp-1"}`, "ts", "missing"},
		{"a time that is not RFC 3339", `{"id":"a","kind":"message","ts":"26.11.2026 09:00","to":"emp-1"}`, "ts", "not an RFC 3339 time"},
		{"a time pushed before year 0000 by its offset", `{"id":"a","kind":"message","ts":"0000-01-01T00:00:00+01:00","to":"emp-1"}`, "ts", "outside the years 0000–9999"},
		{"a time pushed past year 9999 by its offset", `{"id":"a","kind":"message","ts":"9999-12-31T23:59:59-01:00","to":"emp-1"}`, "ts", "outside the years 0000–9999"},
		{"a time as a unix number", `{"id":"a","kind":"message","ts":1764148500,"to":"emp-1"}`, "ts", "got a number"},
		{"a missing employee", `{"id":"a","kind":"message","ts":"2026-11-26T09:00:00Z"}`, "to", "missing"},
		{"text of the wrong type", `{"id":"a","kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1","text":{"body":"x"}}`, "text", "got an object"},
		{"media that is not a list", `{"id":"a","kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1","media":"x.apk"}`, "media", "got a string"},
		{"a media item that is not an object", `{"id":"a","kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1","media":[1]}`, "media", "item 0"},
		{"forwarded as a string", `{"id":"a","kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1","forwarded":"yes"}`, "forwarded", "want true or false"},
		{"a call with a malformed call object", `{"id":"a","kind":"call","ts":"2026-11-26T09:00:00Z","to":"emp-1","call":{"missed":"yes"}}`, "call", "want"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeEvent([]byte(tc.raw), DecodeOptions{})
			if err == nil {
				t.Fatalf("DecodeEvent accepted %q", tc.raw)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			if de.Field != tc.wantField {
				t.Errorf("field = %q, want %q (error %q)", de.Field, tc.wantField, err)
			}
			if !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("error %q does not say %q", err, tc.wantIn)
			}
			if !IsDecodeError(err) {
				t.Errorf("IsDecodeError(%v) = false", err)
			}
		})
	}
}

func TestDecodeEventRepairsWhatTheSenderControls(t *testing.T) {
	const head = `{"id":"wamid.1","kind":"message","ts":"2026-11-26T09:15:02+03:00","to":"emp-1042"`
	long := strings.Repeat("я", MaxTextRunes+10)
	cases := []struct {
		name    string
		raw     string
		check   func(t *testing.T, ev Event)
		repairs Repairs
	}{
		{
			name:    "invalid UTF-8 in the text is replaced and recorded",
			raw:     head + `,"from":"+79161234567","text":"код` + "\xff\xfe" + `из смс"}`,
			repairs: Repairs{InvalidUTF8: true},
			check: func(t *testing.T, ev Event) {
				if !strings.Contains(ev.Text, "код") || !strings.Contains(ev.Text, "из смс") {
					t.Errorf("text lost around the bad bytes: %q", ev.Text)
				}
			},
		},
		{
			name:    "a lone surrogate escape counts as invalid UTF-8",
			raw:     head + `,"from":"+79161234567","text":"a\ud800b"}`,
			repairs: Repairs{InvalidUTF8: true},
		},
		{
			name: "a valid surrogate pair is fine",
			raw:  head + `,"from":"+79161234567","text":"\ud83d\ude00 ok"}`,
			check: func(t *testing.T, ev Event) {
				if ev.Text != "😀 ok" {
					t.Errorf("text = %q", ev.Text)
				}
			},
		},
		{
			name:    "text over 65,536 characters is truncated, not rejected",
			raw:     head + `,"from":"+79161234567","text":"` + long + `"}`,
			repairs: Repairs{TextTruncated: true},
			check: func(t *testing.T, ev Event) {
				if n := len([]rune(ev.Text)); n != MaxTextRunes {
					t.Errorf("text has %d runes, want %d", n, MaxTextRunes)
				}
			},
		},
		{
			name:    "a missing sender is recorded and the event kept",
			raw:     head + `,"text":"hi"}`,
			repairs: Repairs{SenderMissing: true},
		},
		{
			name:    "an invalid sender is recorded, kept raw, and not used",
			raw:     head + `,"from":"call me maybe","text":"hi"}`,
			repairs: Repairs{SenderInvalid: true},
			check: func(t *testing.T, ev Event) {
				if ev.From != "" || ev.FromRaw != "call me maybe" {
					t.Errorf("From = %q, FromRaw = %q", ev.From, ev.FromRaw)
				}
			},
		},
		{
			name:    "a sender of the wrong JSON type is invalid, not fatal",
			raw:     head + `,"from":{"n":1},"text":"hi"}`,
			repairs: Repairs{SenderInvalid: true},
		},
		{
			name: "a sender given as a JSON number is still a number",
			raw:  head + `,"from":79161234567}`,
			check: func(t *testing.T, ev Event) {
				if ev.FromRaw != "79161234567" {
					t.Errorf("FromRaw = %q", ev.FromRaw)
				}
			},
			repairs: Repairs{SenderInvalid: true}, // strict E.164 without a normaliser
		},
		{
			name:    "an absurdly long sender is cut and invalid",
			raw:     head + `,"from":"` + strings.Repeat("9", 500) + `"}`,
			repairs: Repairs{SenderInvalid: true},
			check: func(t *testing.T, ev Event) {
				if len(ev.FromRaw) > 64 {
					t.Errorf("FromRaw kept %d bytes", len(ev.FromRaw))
				}
			},
		},
		{
			name:    "too many attachments are cut to the limit",
			raw:     head + `,"from":"+79161234567","media":[` + strings.TrimSuffix(strings.Repeat(`{"type":"image"},`, MaxMedia+5), ",") + `]}`,
			repairs: Repairs{MediaTruncated: true},
			check: func(t *testing.T, ev Event) {
				if len(ev.Media) != MaxMedia {
					t.Errorf("%d media kept", len(ev.Media))
				}
			},
		},
		{
			name:    "a huge display name is truncated",
			raw:     head + `,"from":"+79161234567","from_name":"` + strings.Repeat("Б", 1000) + `"}`,
			repairs: Repairs{NameTruncated: true},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := DecodeEvent([]byte(tc.raw), DecodeOptions{})
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if ev.Repairs != tc.repairs {
				t.Errorf("repairs = %+v, want %+v", ev.Repairs, tc.repairs)
			}
			if tc.check != nil {
				tc.check(t, ev)
			}
		})
	}
}

func TestDecodeEventReadsEveryField(t *testing.T) {
	raw := `{"id":"wamid.HBgLNzkx","kind":"message","ts":"2026-11-26T09:15:02Z",
	 "from":"+79161234567","from_name":"Служба безопасности Банка",
	 "to":"emp-1042","text":"Здравствуйте","unknown_field":{"ignored":true},
	 "media":[{"type":"document","filename":"Bank_Support.apk","mime":"application/vnd.android.package-archive"}],
	 "forwarded":true, "call":{"duration_s":5,"missed":false}}`
	ev, err := DecodeEvent([]byte(raw), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 26, 9, 15, 2, 0, time.UTC)
	if ev.ID != "wamid.HBgLNzkx" || ev.Kind != KindMessage || !ev.TS.Equal(want) || ev.From != "+79161234567" ||
		ev.FromName != "Служба безопасности Банка" || ev.To != "emp-1042" || ev.Text != "Здравствуйте" || !ev.Forwarded {
		t.Errorf("decoded %+v", ev)
	}
	if len(ev.Media) != 1 || ev.Media[0].Filename != "Bank_Support.apk" {
		t.Errorf("media = %+v", ev.Media)
	}
	if ev.Call != nil {
		t.Errorf("call read for a message: %+v", ev.Call)
	}
	if ev.Repairs.Any() {
		t.Errorf("unexpected repairs %+v", ev.Repairs)
	}
}

func TestDecodeEventCalls(t *testing.T) {
	t.Run("a missed call keeps its details", func(t *testing.T) {
		ev, err := DecodeEvent([]byte(`{"id":"call.7f31","kind":"call","ts":"2026-11-26T09:14:40Z","from":"+79161234567","to":"emp-1042","call":{"duration_s":0,"missed":true}}`), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ev.Call == nil || !ev.Call.Missed || ev.Call.DurationS != 0 {
			t.Errorf("call = %+v", ev.Call)
		}
	})
	t.Run("a call without details gets zero details", func(t *testing.T) {
		ev, err := DecodeEvent([]byte(`{"id":"c","kind":"call","ts":"2026-11-26T09:14:40Z","to":"emp-1"}`), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ev.Call == nil || ev.Call.Missed {
			t.Errorf("call = %+v", ev.Call)
		}
	})
	t.Run("a negative duration is clamped to zero", func(t *testing.T) {
		ev, err := DecodeEvent([]byte(`{"id":"c","kind":"call","ts":"2026-11-26T09:14:40Z","to":"emp-1","call":{"duration_s":-4}}`), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ev.Call.DurationS != 0 {
			t.Errorf("duration = %v", ev.Call.DurationS)
		}
	})
}

func TestDecodeEventUsesTheSenderNormalizer(t *testing.T) {
	norm := func(raw string) (string, bool) {
		if raw == "8 916 123-45-67" {
			return "+79161234567", true
		}
		return "", false
	}
	ev, err := DecodeEvent([]byte(`{"id":"a","kind":"message","ts":"2026-11-26T09:00:00Z","to":"e","from":"8 916 123-45-67"}`), DecodeOptions{NormalizeSender: norm})
	if err != nil {
		t.Fatal(err)
	}
	if ev.From != "+79161234567" || ev.Repairs.SenderInvalid {
		t.Errorf("From = %q, repairs %+v", ev.From, ev.Repairs)
	}
}

func TestDecodeCorpusRow(t *testing.T) {
	t.Run("a public corpus row with only id, text and label is valid", func(t *testing.T) {
		row, err := DecodeCorpusRow([]byte(`{"id":"sms-1","text":"WINNER!! claim your prize","label":"spam","lang":"en","source":"uci"}`), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if row.Label != LabelSpam || row.Kind != KindMessage || row.Text != "WINNER!! claim your prize" || row.Lang != "en" || !row.Label.Positive() {
			t.Errorf("row = %+v", row)
		}
		if !row.Repairs.SenderMissing {
			t.Errorf("a row without a sender should record it: %+v", row.Repairs)
		}
	})
	t.Run("a fixture row carries the whole event and its categories", func(t *testing.T) {
		row, err := DecodeCorpusRow([]byte(`{"id":"fx-1","kind":"call","ts":"2026-11-26T09:00:00Z","to":"emp-1","from":"+79161234567","call":{"missed":true},"label":"scam","categories":["call_pattern"]}`), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if row.Kind != KindCall || row.Call == nil || !row.Call.Missed || len(row.Categories) != 1 || row.Categories[0] != CategoryCallPattern {
			t.Errorf("row = %+v", row)
		}
	})
	rejects := []struct{ name, raw, want string }{
		{"a row without a label", `{"id":"x","text":"t"}`, `field "label": missing`},
		{"a row with an unknown label", `{"id":"x","text":"t","label":"phish"}`, `unknown label "phish"`},
		{"a row with an unknown category", `{"id":"x","text":"t","label":"scam","categories":["phishing"]}`, `unknown category "phishing"`},
		{"a row without an id", `{"text":"t","label":"ham"}`, `field "id": missing`},
		{"a row with a bad time", `{"id":"x","text":"t","label":"ham","ts":"now"}`, `field "ts"`},
	}
	for _, tc := range rejects {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeCorpusRow([]byte(tc.raw), DecodeOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func FuzzDecodeEvent(f *testing.F) {
	seeds := []string{
		`{"id":"wamid.1","kind":"message","ts":"2026-11-26T09:15:02Z","from":"+79161234567","to":"emp-1","text":"Здравствуйте"}`,
		`{"id":"c","kind":"call","ts":"2026-11-26T09:14:40Z","to":"emp-1","call":{"duration_s":0,"missed":true}}`,
		`{"id":"a","kind":"message","ts":"2026-11-26T09:00:00Z","to":"e","text":"a\ud800b","media":[{"type":"x"}]}`,
		"{\"id\":\"a\",\"kind\":\"message\",\"ts\":\"2026-11-26T09:00:00Z\",\"to\":\"e\",\"text\":\"\xff\"}",
		`[]`, `null`, `{`, ``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := DecodeEvent(raw, DecodeOptions{})
		if err != nil {
			if !IsDecodeError(err) {
				t.Fatalf("error is not a DecodeError: %v", err)
			}
			return
		}
		if ev.ID == "" || ev.To == "" || (ev.Kind != KindMessage && ev.Kind != KindCall) {
			t.Fatalf("accepted an event without its required fields: %+v", ev)
		}
		if len([]rune(ev.Text)) > MaxTextRunes {
			t.Fatalf("text over the limit survived")
		}
		if (ev.Kind == KindCall) != (ev.Call != nil) {
			t.Fatalf("call details on the wrong kind: %+v", ev)
		}
		if _, err := ev.TS.MarshalJSON(); err != nil {
			t.Fatalf("accepted a time its alert cannot carry: %v", err)
		}
	})
}
