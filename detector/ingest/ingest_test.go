package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"fraudwatch/models"
)

const (
	testSecret = "meta-app-secret-for-tests"
	testToken  = "verify-me-0123"
)

var receivedAt = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// recorder is a Writer that keeps what it was given, or fails.
type recorder struct {
	mu    sync.Mutex
	calls [][]Record
	err   error
}

func (r *recorder) WriteEvents(_ context.Context, recs []Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.calls = append(r.calls, recs)
	return nil
}

func (r *recorder) events(t *testing.T) []models.Event {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []models.Event
	for _, c := range r.calls {
		for _, rec := range c {
			var ev models.Event
			if err := json.Unmarshal(rec.Value, &ev); err != nil {
				t.Fatalf("record %s is not an event: %v", rec.Value, err)
			}
			if string(rec.Key) != ev.From {
				t.Errorf("record of %s keyed %q, want its sender", ev.ID, rec.Key)
			}
			out = append(out, ev)
		}
	}
	return out
}

type server struct {
	url     string
	rec     *recorder
	logs    *bytes.Buffer
	results map[Result]int
	mu      *sync.Mutex
}

func (s server) count(r Result) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.results[r]
}

func newServer(t *testing.T, mutate func(*Config)) server {
	t.Helper()
	s := server{rec: &recorder{}, logs: &bytes.Buffer{}, results: map[Result]int{}, mu: &sync.Mutex{}}
	var logMu sync.Mutex
	cfg := Config{
		VerifyToken:  testToken,
		AppSecret:    testSecret,
		MaxBodyBytes: 64 << 10,
		Employees:    map[string]string{"106540352242922": "emp-1042", "+7 495 111-22-44": "emp-2014"},
		Logger: slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
			logMu.Lock()
			defer logMu.Unlock()
			return s.logs.Write(p)
		}), &slog.HandlerOptions{Level: slog.LevelInfo})),
		Observer: Observer{Request: func(r Result) { s.mu.Lock(); s.results[r]++; s.mu.Unlock() }},
		Now:      func() time.Time { return receivedAt },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := New(cfg, s.rec)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/webhook"
	return s
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func readPayload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(t *testing.T, url string, body []byte, sig string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(SignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestEveryRecordedPayloadBecomesTheEventsItCarries(t *testing.T) {
	cases := []struct {
		file string
		want []models.Event
	}{
		{"text_forwarded.json", []models.Event{{
			ID: "wamid.HBgLNzkxNjk4NzY1NDMVAgASGBQzQTdGRkM1QjRCNjQ5RjlCMTdGQgA=", Kind: models.KindMessage,
			TS: time.Unix(1795684502, 0).UTC(), From: "+79169876543", FromName: "Служба безопасности Банка", To: "emp-1042",
			Text: "Здравствуйте, это служба безопасности банка. Продиктуйте код из СМС, чтобы отменить перевод.", Forwarded: true,
		}}},
		{"media.json", []models.Event{
			{ID: "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUM0FGMDQ4QkU2RjE3MjQ5OUQ5QjUA", Kind: models.KindMessage, TS: time.Unix(1795684560, 0).UTC(),
				From: "+447700900123", FromName: "Bank Support", To: "emp-1042", Text: "Install the protection app to keep your account safe",
				Media: []models.Media{{Type: "document", Filename: "Bank_Support.apk", MIME: "application/vnd.android.package-archive"}}},
			{ID: "wamid.HBgLNzkwMzU1NTY2NzcVAgASGBQzQUI1RDA5QzU3RTJFMUU0NzVDOQA=", Kind: models.KindMessage, TS: time.Unix(1795684570, 0).UTC(),
				From: "+79035556677", FromName: "Мария", To: "emp-1042", Text: "Чек об оплате", Media: []models.Media{{Type: "image", MIME: "image/jpeg"}}},
			{ID: "wamid.HBgLNzkwMzU1NTY2NzcVAgASGBQzQUI1RDA5QzU3RTJFMUU0NzVDOgA=", Kind: models.KindMessage, TS: time.Unix(1795684571, 0).UTC(),
				From: "+79035556677", FromName: "Мария", To: "emp-1042", Media: []models.Media{{Type: "audio", MIME: "audio/ogg; codecs=opus"}}},
			{ID: "wamid.HBgLNzkwMzU1NTY2NzcVAgASGBQzQUI1RDA5QzU3RTJFMUU0NzVDOwA=", Kind: models.KindMessage, TS: time.Unix(1795684572, 0).UTC(),
				From: "+79035556677", FromName: "Мария", To: "emp-1042", Text: "смотри", Media: []models.Media{{Type: "video", MIME: "video/mp4"}}},
			{ID: "wamid.HBgLNzkwMzU1NTY2NzcVAgASGBQzQUI1RDA5QzU3RTJFMUU0NzVDPAA=", Kind: models.KindMessage, TS: time.Unix(1795684573, 0).UTC(),
				From: "+79035556677", FromName: "Мария", To: "emp-1042", Media: []models.Media{{Type: "sticker", MIME: "image/webp"}}},
		}},
		{"other_types.json", func() []models.Event {
			ev := func(id string, ts int64, text string) models.Event {
				return models.Event{ID: id, Kind: models.KindMessage, TS: time.Unix(ts, 0).UTC(), From: "+79161234567", FromName: "Ivan", To: "emp-2014", Text: text}
			}
			return []models.Event{
				ev("wamid.interactive-button", 1795684600, "Подтвердить перевод"),
				ev("wamid.interactive-list", 1795684601, "Safe account\nmove your savings"),
				ev("wamid.button", 1795684602, "Yes, call me"),
				ev("wamid.location", 1795684603, "Офис банка\nМосква, ул. Тверская, 1\nhttp://vostokbank-secure.top/office"),
				ev("wamid.contacts", 1795684604, "Служба безопасности\n+7 999 000-11-22"),
				ev("wamid.reaction", 1795684605, "👍"),
				ev("wamid.unsupported", 1795684606, ""),
			}
		}()},
		{"statuses.json", nil},
		{"calls.json", []models.Event{
			{ID: "wacid.HBgLNzkxNjk4NzY1NDMVAgARGCAyODRQIAFRoA", Kind: models.KindCall, TS: time.Unix(1795684410, 0).UTC(),
				From: "+79169876543", FromName: "Безопасность", To: "emp-1042", Call: &models.Call{DurationS: 0, Missed: true}},
			{ID: "wacid.HBgLNzkxNjk4NzY1NDMVAgARGCAyODRQIAFRoB", Kind: models.KindCall, TS: time.Unix(1795684500, 0).UTC(),
				From: "+79169876543", FromName: "Безопасность", To: "emp-1042", Call: &models.Call{DurationS: 30, Missed: false}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			s := newServer(t, nil)
			body := readPayload(t, tc.file)
			if code := post(t, s.url, body, Sign(testSecret, body)); code != http.StatusOK {
				t.Fatalf("status %d, want 200; logs:\n%s", code, s.logs)
			}
			got := s.rec.events(t)
			if len(tc.want) == 0 && len(s.rec.calls) != 0 {
				t.Fatalf("wrote %d batches for a payload without inbound traffic", len(s.rec.calls))
			}
			gb, _ := json.MarshalIndent(got, "", " ")
			wb, _ := json.MarshalIndent(tc.want, "", " ")
			if !bytes.Equal(gb, wb) {
				t.Errorf("events:\n%s\nwant:\n%s", gb, wb)
			}
			// What ingest writes is what the detector reads.
			for _, ev := range got {
				b, _ := json.Marshal(ev)
				if _, err := models.DecodeEvent(b, models.DecodeOptions{}); err != nil {
					t.Errorf("event %s does not decode as an inbound event: %v", ev.ID, err)
				}
			}
		})
	}
}

func TestTheHandshakeAnswersTheChallengeOnlyToTheRightToken(t *testing.T) {
	s := newServer(t, nil)
	cases := []struct {
		name, query string
		code        int
		body        string
	}{
		{"the configured token gets the challenge back", "hub.mode=subscribe&hub.verify_token=" + testToken + "&hub.challenge=1158201444", 200, "1158201444"},
		{"a wrong token is refused", "hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444", 403, ""},
		{"a missing token is refused", "hub.mode=subscribe&hub.challenge=1158201444", 403, ""},
		{"another mode is refused", "hub.mode=unsubscribe&hub.verify_token=" + testToken + "&hub.challenge=1", 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(s.url + "?" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || (tc.body != "" && string(b) != tc.body) {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, b, tc.code, tc.body)
			}
		})
	}
	if s.count(ResultVerified) != 1 || s.count(ResultBadVerify) != 3 {
		t.Errorf("results %v", s.results)
	}
}

func TestUnsignedOversizedOrBrokenRequestsAreRefusedAndWriteNothing(t *testing.T) {
	good := readPayload(t, "text_forwarded.json")
	big := append(bytes.Repeat([]byte(" "), 64<<10), good...)
	otherSecret := Sign("another-apps-secret", good)
	tampered := bytes.Replace(good, []byte("Продиктуйте"), []byte("Назовите"), 1)
	cases := []struct {
		name   string
		body   []byte
		sig    string
		chunk  bool
		code   int
		result Result
	}{
		{"a request without a signature", good, "", false, 401, ResultMissingSignature},
		{"a request signed with another secret", good, otherSecret, false, 403, ResultBadSignature},
		{"a body changed after signing", tampered, Sign(testSecret, good), false, 403, ResultBadSignature},
		{"a signature without its sha256= prefix", good, strings.TrimPrefix(Sign(testSecret, good), "sha256="), false, 403, ResultBadSignature},
		{"a body over the limit, announced by Content-Length", big, Sign(testSecret, big), false, 413, ResultTooLarge},
		{"a body over the limit, sent chunked", big, Sign(testSecret, big), true, 413, ResultTooLarge},
		{"a signed body that is not JSON", []byte("not json"), Sign(testSecret, []byte("not json")), false, 400, ResultBadPayload},
		{"a signed JSON array", []byte("[1,2]"), Sign(testSecret, []byte("[1,2]")), false, 400, ResultBadPayload},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, nil)
			var body io.Reader = bytes.NewReader(tc.body)
			if tc.chunk {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, _ := http.NewRequest(http.MethodPost, s.url, body)
			if tc.sig != "" {
				req.Header.Set(SignatureHeader, tc.sig)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code || s.count(tc.result) != 1 {
				t.Errorf("status %d (results %v), want %d %s", resp.StatusCode, s.results, tc.code, tc.result)
			}
			if len(s.rec.calls) != 0 {
				t.Errorf("a refused request wrote %d batches", len(s.rec.calls))
			}
			if strings.Contains(s.logs.String(), "Продиктуйте") || strings.Contains(s.logs.String(), testSecret) {
				t.Errorf("logs carry the body or the secret:\n%s", s.logs)
			}
		})
	}
}

func TestAFailedWriteAnswers503SoMetaRetries(t *testing.T) {
	s := newServer(t, nil)
	s.rec.err = errors.New("kafka: not enough replicas")
	body := readPayload(t, "text_forwarded.json")
	if code := post(t, s.url, body, Sign(testSecret, body)); code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", code)
	}
	s.rec.err = nil
	if code := post(t, s.url, body, Sign(testSecret, body)); code != http.StatusOK {
		t.Fatalf("retry: status %d, want 200", code)
	}
	if n := len(s.rec.events(t)); n != 1 || s.count(ResultWriteFailed) != 1 || s.count(ResultAccepted) != 1 {
		t.Errorf("%d events, results %v", n, s.results)
	}
}

func TestAWriteThatHangsIsBoundedByTheWriteTimeout(t *testing.T) {
	block := WriterFunc(func(ctx context.Context, _ []Record) error { <-ctx.Done(); return ctx.Err() })
	h, err := New(Config{VerifyToken: testToken, AppSecret: testSecret, WriteTimeout: 50 * time.Millisecond}, block)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	body := readPayload(t, "text_forwarded.json")
	if code := post(t, srv.URL, body, Sign(testSecret, body)); code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", code)
	}
}

func TestAnUnmappedBusinessNumberStillDeliversItsEvents(t *testing.T) {
	var unmapped int
	s := newServer(t, func(c *Config) {
		c.Employees = nil
		c.Observer.Unmapped = func(n int) { unmapped += n }
	})
	body := readPayload(t, "text_forwarded.json")
	if code := post(t, s.url, body, Sign(testSecret, body)); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	evs := s.rec.events(t)
	if len(evs) != 1 || evs[0].To != "unmapped:106540352242922" || unmapped != 1 {
		t.Errorf("events %+v, unmapped %d", evs, unmapped)
	}
	if !strings.Contains(s.logs.String(), "unmapped:106540352242922") {
		t.Errorf("no warning names the unmapped number:\n%s", s.logs)
	}
}

func TestAPayloadOfAnotherProductIsAcknowledgedAndIgnored(t *testing.T) {
	s := newServer(t, nil)
	body := []byte(`{"object":"page","entry":[{"id":"1","changes":[]}]}`)
	if code := post(t, s.url, body, Sign(testSecret, body)); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if len(s.rec.calls) != 0 || s.count(ResultIgnored) != 1 {
		t.Errorf("calls %d, results %v", len(s.rec.calls), s.results)
	}
}

// A field whose type changed on Meta's side costs that field, not the
// message.
func TestAFieldOfAnUnexpectedTypeDoesNotDropTheMessage(t *testing.T) {
	s := newServer(t, nil)
	body := bytes.Replace(readPayload(t, "text_forwarded.json"), []byte(`"forwarded": true`), []byte(`"forwarded": "yes"`), 1)
	if code := post(t, s.url, body, Sign(testSecret, body)); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	evs := s.rec.events(t)
	if len(evs) != 1 || evs[0].Text == "" || evs[0].To != "emp-1042" {
		t.Errorf("events %+v", evs)
	}
}

func TestAMessageWithoutTimestampOrIDIsKeptWithStableValues(t *testing.T) {
	s := newServer(t, nil)
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"106540352242922"},"messages":[{"from":"79169876543","type":"text","text":{"body":"hi"}}]}}]}]}`)
	for range 2 {
		if code := post(t, s.url, body, Sign(testSecret, body)); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
	}
	evs := s.rec.events(t)
	if len(evs) != 2 || evs[0].ID != evs[1].ID || !strings.HasPrefix(evs[0].ID, "wa-noid:") || !evs[0].TS.Equal(receivedAt) {
		t.Errorf("events %+v", evs)
	}
}

func TestMessageBodiesNeverReachTheLogAtInfo(t *testing.T) {
	s := newServer(t, func(c *Config) { c.Employees = nil }) // the unmapped warning logs too
	for _, f := range []string{"text_forwarded.json", "media.json", "other_types.json", "calls.json"} {
		body := readPayload(t, f)
		post(t, s.url, body, Sign(testSecret, body))
	}
	s.rec.err = errors.New("down")
	body := readPayload(t, "text_forwarded.json")
	post(t, s.url, body, Sign(testSecret, body))
	logs := s.logs.String()
	if logs == "" {
		t.Fatal("nothing logged; the test would prove nothing")
	}
	for _, secret := range []string{"Продиктуйте", "Install the protection", "Подтвердить", "Тверская", testSecret, "79169876543", "Служба безопасности"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

func TestConfigNeedsTheTokenAndTheSecret(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no verify token", Config{AppSecret: "s"}, "no verify token"},
		{"no app secret", Config{VerifyToken: "t"}, "no app secret"},
		{"a negative body limit", Config{VerifyToken: "t", AppSecret: "s", MaxBodyBytes: -1}, "negative"},
		{"an employee map entry without employee", Config{VerifyToken: "t", AppSecret: "s", Employees: map[string]string{"1": " "}}, "employee map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, WriterFunc(func(context.Context, []Record) error { return nil }))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
