package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"fraudwatch/detector/triage"
	"fraudwatch/detector/triage/httpapi"
	"fraudwatch/detector/triage/triagetest"
	"fraudwatch/features/redisrep"
	"fraudwatch/models"
)

// t0 is the tests' wall clock; events happen around it.
var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// The tokens the test server accepts.
const (
	viewerToken   = "viewer-token-0123456789"
	analystToken  = "analyst-token-0123456789"
	analyst2Token = "analyst2-token-0123456789"
	adminToken    = "admin-token-0123456789abc"
)

var testTokens = []httpapi.Token{
	{Name: "auditor", Role: triage.RoleViewer, Token: viewerToken},
	{Name: "soc-anna", Role: triage.RoleAnalyst, Token: analystToken},
	{Name: "soc-boris", Role: triage.RoleAnalyst, Token: analyst2Token},
	{Name: "ciso", Role: triage.RoleAdmin, Token: adminToken},
}

// env is the real triage service over a real redis-server, served by the
// API on a real HTTP listener.
type env struct {
	tr       *triage.Triage
	store    *redisrep.TriageStore
	clock    *triagetest.Clock
	feedback *triagetest.FeedbackLog
	srv      *httptest.Server
	spec     *spec
}

// newService returns the real triage service over redis-server at
// FW_TEST_REDIS_ADDR, with keys under a prefix of the test's own.
func newService(t *testing.T, c *triagetest.Clock, fb triage.FeedbackSink) (*triage.Triage, *redisrep.TriageStore) {
	t.Helper()
	store := triagetest.Store(t, "httpapi")
	tr, err := triage.New(store, fb, triage.Config{Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return tr, store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{clock: triagetest.NewClock(t0.Add(time.Hour)), feedback: &triagetest.FeedbackLog{}, spec: loadSpec(t)}
	e.tr, e.store = newService(t, e.clock, e.feedback)
	s, err := httpapi.New(e.tr, httpapi.Config{Tokens: testTokens, Clock: e.clock.Now, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(s.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// spec is the parsed openapi.yaml and a router over it.
type spec struct {
	doc    *openapi3.T
	router routers.Router
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI)
	if err != nil {
		t.Fatalf("loading openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.yaml is not valid OpenAPI: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &spec{doc: doc, router: router}
}

// call is one request to the API.
type call struct {
	token  string
	method string
	path   string
	body   string // sent as is; "" sends no body
	ctype  string // default application/json when there is a body
}

// result is a response, and what the description said of the request.
type result struct {
	status int
	header http.Header
	body   []byte
	// reqErr is the request's validation error against openapi.yaml (nil
	// when valid); routed is false for a path the description lacks.
	reqErr error
	routed bool
}

func (r result) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

// send makes the request and validates its response against
// openapi.yaml, whatever the request: the response of a known endpoint
// must always be one the description allows.
func (e *env) send(t *testing.T, c call) result {
	t.Helper()
	req := e.newRequest(t, c)
	// A second request for validation: kin-openapi reads its body.
	vreq := e.newRequest(t, c)
	var res result
	route, params, err := e.spec.router.FindRoute(vreq)
	var input *openapi3filter.RequestValidationInput
	if err == nil {
		res.routed = true
		input = &openapi3filter.RequestValidationInput{
			Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
		}
		res.reqErr = openapi3filter.ValidateRequest(context.Background(), input)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	res.status, res.header, res.body = resp.StatusCode, resp.Header, body
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(c.path, "/api/") && c.path != "/api/openapi.yaml" && ct != "application/json; charset=utf-8" {
		t.Errorf("%s %s: content type %q, want JSON", c.method, c.path, ct)
	}
	if res.routed {
		rin := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: input,
			Status:                 res.status,
			Header:                 resp.Header,
			Body:                   io.NopCloser(bytes.NewReader(body)),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		if err := openapi3filter.ValidateResponse(context.Background(), rin); err != nil {
			t.Errorf("%s %s → %s: the response does not match openapi.yaml: %v", c.method, c.path, res, err)
		}
	}
	if res.status >= 400 && strings.HasPrefix(c.path, "/api/") {
		var eb struct{ Error string }
		if err := json.Unmarshal(body, &eb); err != nil || eb.Error == "" {
			t.Errorf("%s %s → %d: error body %q is not {\"error\": ...}", c.method, c.path, res.status, body)
		}
	}
	return res
}

func (e *env) newRequest(t *testing.T, c call) *http.Request {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, e.srv.URL+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		ct := c.ctype
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req
}

// do makes a request that openapi.yaml says is valid, and checks the
// status.
func (e *env) do(t *testing.T, token, method, path string, body any, want int) result {
	t.Helper()
	c := call{token: token, method: method, path: path}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		c.body = string(b)
	}
	res := e.send(t, c)
	if !res.routed {
		t.Fatalf("%s %s: openapi.yaml has no such operation", method, path)
	}
	if res.reqErr != nil {
		t.Fatalf("%s %s: the request does not match openapi.yaml: %v", method, path, res.reqErr)
	}
	if res.status != want {
		t.Fatalf("%s %s as %s: got %s, want %d", method, path, tokenName(token), res, want)
	}
	return res
}

func tokenName(tok string) string {
	for _, t := range testTokens {
		if t.Token == tok {
			return t.Name
		}
	}
	return "an unknown token"
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %s: %v", r, err)
	}
	return v
}

// hash makes a sender hash of the detector's form.
func hash(sender string) string {
	sum := sha256.Sum256([]byte(sender))
	return "v1:" + hex.EncodeToString(sum[:16])
}

// alert makes an alert from sender to employee at minute min after t0.
func alert(id, sender, employee string, min int, sev models.Severity, cat models.Category, rule, evidence string) models.Alert {
	return models.Alert{
		ID: "fa_" + id, EventID: id, EventKind: models.KindMessage, EventTime: t0.Add(time.Duration(min) * time.Minute),
		Employee: employee, Sender: models.MaskNumber(sender), SenderHash: hash(sender), SenderName: "Служба безопасности",
		Severity: sev, Score: 4.5, Categories: []models.Category{cat},
		Reasons:   []models.Reason{{Rule: rule, Category: cat, Weight: 2, Evidence: evidence}},
		Advice:    models.Advice{RU: "Не сообщайте коды.", EN: "Do not share codes."},
		CreatedAt: t0.Add(time.Duration(min) * time.Minute), NotifyEmployee: true, RulesVersion: "r1", ModelVersion: "m1",
	}
}

func (e *env) ingest(t *testing.T, alerts ...models.Alert) []string {
	t.Helper()
	var ids []string
	for _, a := range alerts {
		r, err := e.tr.Ingest(context.Background(), a)
		if err != nil {
			t.Fatalf("ingest %s: %v", a.ID, err)
		}
		ids = append(ids, r.IncidentID)
	}
	return ids
}

// audit reads the whole audit log with the admin token.
func (e *env) audit(t *testing.T) []models.AuditEntry {
	t.Helper()
	return decode[[]models.AuditEntry](t, e.do(t, adminToken, "GET", "/api/audit?limit=1000", nil, http.StatusOK))
}
