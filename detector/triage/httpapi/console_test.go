package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"fraudwatch/detector/triage"
	"fraudwatch/detector/triage/httpapi"
)

// newConsole serves the API over a service that is never called: the
// console's files need no service.
func newConsole(t *testing.T) *httptest.Server {
	t.Helper()
	s, err := httpapi.New(unusedService{}, httpapi.Config{Tokens: testTokens})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// unusedService satisfies triage.Service for tests that serve only the
// console's static files; any call is a test bug.
type unusedService struct{ triage.Service }

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestTheConsoleIsServedWithItsContentTypesAndCSP(t *testing.T) {
	srv := newConsole(t)
	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", `id="queue"`},
		{"/index.html", "text/html; charset=utf-8", `id="token"`},
		{"/app.js", "text/javascript; charset=utf-8", "use strict"},
		{"/app.css", "text/css; charset=utf-8", ":focus-visible"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := get(t, srv.URL+tc.path)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tc.ctype {
				t.Fatalf("%d %q, want 200 %q", resp.StatusCode, resp.Header.Get("Content-Type"), tc.ctype)
			}
			if !strings.Contains(body, tc.contains) {
				t.Errorf("body lacks %q", tc.contains)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP %q lacks %q", csp, d)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP %q allows inline code", csp)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("headers %v", resp.Header)
			}
		})
	}
	for _, p := range []string{"/web/app.js", "/nothing.js", "/../httpapi.go", "/openapi.yaml", "/sub/app.js"} {
		if resp, _ := get(t, srv.URL+p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	resp, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", resp.StatusCode)
	}
}

// TestTheConsoleLoadsNothingFromElsewhereAndRunsNoInlineCode checks
// index.html: the CSP would block inline code and styles, and an offline
// SOC cannot reach a CDN.
func TestTheConsoleLoadsNothingFromElsewhereAndRunsNoInlineCode(t *testing.T) {
	srv := newConsole(t)
	_, html := get(t, srv.URL+"/")
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)(src|href|action)\s*=\s*["']?\s*(https?:)?//`),
		regexp.MustCompile(`(?i)url\(`),
		regexp.MustCompile(`(?i)<script(\s[^>]*)?>\s*[^<\s]`), // a script with inline content
		regexp.MustCompile(`(?i)<script(?:(?:\s+[a-z-]+(?:=("[^"]*"|'[^']*'|[^\s>]+))?)*)>`),
		regexp.MustCompile(`(?i)\sstyle\s*=`),
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
		regexp.MustCompile(`(?i)javascript:`),
		regexp.MustCompile(`(?i)<style`),
	} {
		for _, m := range bad.FindAllString(html, -1) {
			if strings.Contains(m, `src="app.js"`) {
				continue
			}
			t.Errorf("index.html: %q", m)
		}
	}
	_, css := get(t, srv.URL+"/app.css")
	if regexp.MustCompile(`(?i)(@import|url\()`).MatchString(css) {
		t.Error("app.css loads something")
	}
	_, js := get(t, srv.URL+"/app.js")
	if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`).FindString(js); m != "" {
		t.Errorf("app.js names an external URL: %q", m)
	}
}

// TestTheConsoleNeverParsesDataAsHTML: evidence is attacker-written text.
// The console builds the page with textContent and createElement only.
func TestTheConsoleNeverParsesDataAsHTML(t *testing.T) {
	srv := newConsole(t)
	_, js := get(t, srv.URL+"/app.js")
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "DOMParser", "createContextualFragment", "srcdoc"} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
	if !strings.Contains(js, "textContent") {
		t.Error("app.js does not use textContent: has the rendering changed?")
	}
}

// TestTheConsoleKeepsTheDOMHooksTheBrowserTestsUse guards the ids and
// attributes the end-to-end tests select on.
func TestTheConsoleKeepsTheDOMHooksTheBrowserTestsUse(t *testing.T) {
	srv := newConsole(t)
	_, html := get(t, srv.URL+"/")
	_, js := get(t, srv.URL+"/app.js")
	for _, hook := range []string{
		`id="token"`, `id="login"`, `id="nav-queue"`, `id="nav-silences"`, `id="nav-rules"`, `id="nav-audit"`,
		`<table id="queue"`, `id="detail"`, `id="detail-status"`, `id="detail-alert-count"`,
		`id="ack"`, `id="assign"`, `id="owner"`, `id="note"`, `id="note-text"`, `id="resolve"`, `<select id="verdict"`,
		`id="resolve-comment"`, `id="resolve-result"`, `id="silence-form"`, `id="silence-submit"`, `<table id="rule-stats"`,
	} {
		if !strings.Contains(html, hook) {
			t.Errorf("index.html lacks %s", hook)
		}
	}
	for _, hook := range []string{`incidentId: inc.id`, `class: "status"`, `silenceId: s.id`} {
		if !strings.Contains(js, hook) {
			t.Errorf("app.js lacks %s (rows need data-incident-id, td.status, data-silence-id)", hook)
		}
	}
	for _, v := range []string{"fraud", "legit", "unsure"} {
		if !strings.Contains(html, `<option value="`+v+`"`) {
			t.Errorf("select#verdict lacks %s", v)
		}
	}
}
