package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func scoreLine(id, text string) string {
	b, _ := json.Marshal(map[string]string{"id": id, "kind": "message", "ts": "2026-11-26T09:00:00Z", "to": "emp-1", "from": "+79161234567", "text": text})
	return string(b)
}

// score promises that a bad line is reported with its number and that the
// rest are still scored, with exit status 2.
func TestScoreReportsABadLineAndScoresTheRest(t *testing.T) {
	first, last := scoreLine("first", "Здравствуйте"), scoreLine("last", "Назовите код из смс")
	huge := scoreLine("huge", strings.Repeat("я", maxLineBytes))
	cases := []struct {
		name         string
		input        string
		wantErr      string
		wantVerdicts string
	}{
		{"a line that is not JSON", first + "\nnot json\n" + last, "stdin:2: not a JSON object", "first,last"},
		{"a line over the size limit", first + "\n" + huge + "\r\n" + last + "\n", "stdin:2: line longer than", "first,last"},
		{"a last line over the size limit without a line ending", first + "\n" + huge, "stdin:2: line longer than", "first"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(context.Background(), []string{"score"}, strings.NewReader(tc.input), &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit status %d, want 2 (stderr %q)", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr %q does not report %q", stderr.String(), tc.wantErr)
			}
			var got []string
			dec := json.NewDecoder(&stdout)
			for dec.More() {
				var v struct {
					EventID string `json:"event_id"`
				}
				if err := dec.Decode(&v); err != nil {
					t.Fatal(err)
				}
				got = append(got, v.EventID)
			}
			if strings.Join(got, ",") != tc.wantVerdicts {
				t.Errorf("verdicts for %q, want %s", got, tc.wantVerdicts)
			}
		})
	}
}

func TestScoreRejectsAMinimumSeverityItCannotApply(t *testing.T) {
	for _, sev := range []string{"none", "severe"} {
		t.Run("min severity "+sev, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(context.Background(), []string{"score", "--min-severity", sev}, strings.NewReader(scoreLine("a", "hi")+"\n"), &stdout, &stderr)
			if code != 1 || !strings.Contains(stderr.String(), "min severity") {
				t.Errorf("exit status %d, stderr %q; want 1 and the reason", code, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("scored with an invalid minimum: %s", stdout.String())
			}
		})
	}
}
