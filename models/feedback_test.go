package models

import (
	"strings"
	"testing"
)

func TestDecodeFeedback(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantKey string
		wantErr string
	}{
		{"a verdict with an id is keyed by it", `{"id":"fb-1","alert_id":"fa_1","sender_hash":"v1:0123456789abcdef0123456789abcdef","verdict":"fraud"}`, "id:fb-1", ""},
		{"without an id the alert and verdict key it", `{"alert_id":"fa_1","sender_hash":"v1:0123456789abcdef0123456789abcdef","verdict":" Legit ","ts":"2026-11-26T10:00:00Z"}`, "alert:fa_1/legit/2026-11-26T10:00:00Z", ""},
		{"a raw number as sender hash is an error, never a Redis key", `{"alert_id":"fa_1","sender_hash":"+79161234567","verdict":"fraud"}`, "", `field "sender_hash": not a sender hash`},
		{"unsure is a valid verdict", `{"alert_id":"fa_1","verdict":"unsure"}`, "alert:fa_1/unsure/0001-01-01T00:00:00Z", ""},
		{"an unknown verdict is an error", `{"alert_id":"fa_1","verdict":"maybe"}`, "", `field "verdict": "maybe": want fraud, legit or unsure`},
		{"a missing alert id is an error", `{"verdict":"fraud"}`, "", `field "alert_id": missing (required)`},
		{"not JSON is an error", `fraud!`, "", "not a JSON feedback object"},
		{"broken UTF-8 is an error", "{\"alert_id\":\"\xff\",\"verdict\":\"fraud\"}", "", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeFeedback([]byte(tt.in))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.wantErr != "" && (err == nil || !IsDecodeError(err) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want a DecodeError with %q", err, tt.wantErr)
			case tt.wantErr == "" && r.Key() != tt.wantKey:
				t.Errorf("Key() = %q, want %q", r.Key(), tt.wantKey)
			}
		})
	}
}
