package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"fraudwatch/detector/triage"
	"fraudwatch/models"
)

// route is one API endpoint: who may call it and what it does.
type route struct {
	method, path string
	need         triage.Role
	handle       func(w http.ResponseWriter, r *http.Request, by triage.Actor)
}

func (s *Server) apiRoutes() []route {
	return []route{
		{"GET", "/api/me", triage.RoleViewer, s.me},
		{"GET", "/api/incidents", triage.RoleViewer, s.listIncidents},
		{"GET", "/api/incidents/{id}", triage.RoleViewer, s.incident},
		{"POST", "/api/incidents/{id}/acknowledge", triage.RoleAnalyst, s.acknowledge},
		{"POST", "/api/incidents/{id}/assign", triage.RoleAnalyst, s.assign},
		{"POST", "/api/incidents/{id}/notes", triage.RoleAnalyst, s.addNote},
		{"POST", "/api/incidents/{id}/resolve", triage.RoleAnalyst, s.resolve},
		{"GET", "/api/silences", triage.RoleViewer, s.listSilences},
		{"POST", "/api/silences", triage.RoleAnalyst, s.createSilence},
		{"POST", "/api/silences/{id}/expire", triage.RoleAnalyst, s.expireSilence},
		{"GET", "/api/rules/stats", triage.RoleViewer, s.ruleStats},
		{"GET", "/api/analysts/{name}", triage.RoleViewer, s.analyst},
		{"GET", "/api/audit", triage.RoleAdmin, s.audit},
	}
}

// routes builds the handler. Every /api request is authenticated before
// anything else (an unknown path or method answers 401 too without a
// token), then its role is checked, then it is served.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range s.apiRoutes() {
		mux.Handle(rt.method+" "+rt.path, s.authed(rt.need, rt.handle))
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	for path, methods := range allowed {
		allow := strings.Join(methods, ", ")
		mux.Handle(path, s.authed(triage.RoleViewer, func(w http.ResponseWriter, r *http.Request, _ triage.Actor) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s is not supported: use %s", r.Method, r.URL.Path, allow))
		}))
	}
	mux.HandleFunc("GET /api/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		_, _ = w.Write(OpenAPI)
	})
	mux.Handle("/api/", s.authed(triage.RoleViewer, func(w http.ResponseWriter, r *http.Request, _ triage.Actor) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no API endpoint %s %s (see /api/openapi.yaml)", r.Method, r.URL.Path))
	}))
	mux.Handle("/", console())
	return securityHeaders(mux)
}

// securityHeaders sets the headers every response carries. The console
// loads nothing but its own files and runs no inline script, so the CSP
// allows only 'self'.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// authed wraps an API handler: 401 without a valid token, 403 when the
// token's role may not do what the endpoint needs.
func (s *Server) authed(need triage.Role, h func(http.ResponseWriter, *http.Request, triage.Actor)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		by, ok := s.authenticate(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fraudwatch triage"`)
			writeError(w, http.StatusUnauthorized, "missing or unknown bearer token: send Authorization: Bearer <token>")
			return
		}
		if !by.Role.Allows(need) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("the %s role may not do this: it needs %s", by.Role, need))
			return
		}
		h(w, r, by)
	})
}

// errorBody is every error response.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// fail answers a service error: 404, 400, 409 and 403 with the service's
// message, anything else 503 with a generic message (the error is
// logged, never echoed: it may name keys or hosts).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	var in *triage.InputError
	var st *triage.StateError
	switch {
	case errors.Is(err, triage.ErrNotFound):
		writeError(w, http.StatusNotFound, what+" not found")
	case errors.As(err, &in):
		writeError(w, http.StatusBadRequest, in.Msg)
	case errors.As(err, &st):
		writeError(w, http.StatusConflict, st.Msg)
	case errors.Is(err, triage.ErrForbidden):
		writeError(w, http.StatusForbidden, "your role may not do this")
	default:
		if !errors.Is(err, context.Canceled) {
			s.cfg.Logger.Error("triage api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		writeError(w, http.StatusServiceUnavailable, "triage is unavailable right now; try again shortly")
	}
}

// decode reads a JSON object body into v strictly: unknown fields, a
// second value and bodies over the limit are errors. An empty body
// decodes as {} when emptyOK. It answers 400/413/415 itself and returns
// false then.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) bool {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	data, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit))
		return false
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading the request body failed")
		return false
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		if emptyOK {
			return true
		}
		writeError(w, http.StatusBadRequest, "request body is empty: send a JSON object")
		return false
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q: send application/json", ct))
			return false
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+describeJSONError(err))
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "request body: more than one JSON value: send a single object")
		return false
	}
	return true
}

// describeJSONError turns a decoding error into what a client can fix.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q: got a JSON %s, want %s", typ.Field, typ.Value, jsonType(typ.Type.String()))
		}
		return fmt.Sprintf("got a JSON %s, want an object", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	}
	// "json: unknown field \"x\"" and time parse errors read well as they are.
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonType(goType string) string {
	switch {
	case goType == "string" || strings.HasSuffix(goType, "Name") || strings.HasSuffix(goType, "Role"):
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "time.Time":
		return "an RFC 3339 time string"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "float"):
		return "a number"
	}
	return "an object"
}

// query reads query parameters, collecting every problem into one 400.
type query struct {
	v    url.Values
	errs []string
}

func newQuery(r *http.Request, known ...string) *query {
	q := &query{v: r.URL.Query()}
	for k := range q.v {
		if !slices.Contains(known, k) {
			q.errs = append(q.errs, fmt.Sprintf("unknown query parameter %q (known: %s)", k, strings.Join(known, ", ")))
		}
	}
	slices.Sort(q.errs)
	return q
}

// list returns a repeatable parameter's values, commas splitting too.
func (q *query) list(name string) []string {
	var out []string
	for _, v := range q.v[name] {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (q *query) str(name string) string { return strings.TrimSpace(q.v.Get(name)) }

func (q *query) time(name string) time.Time {
	s := q.str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		q.errs = append(q.errs, fmt.Sprintf("%s %q: want an RFC 3339 time such as 2026-11-26T09:00:00Z", name, s))
	}
	return t
}

func (q *query) bool(name string) bool {
	switch s := q.str(name); s {
	case "", "false":
		return false
	case "true":
		return true
	default:
		q.errs = append(q.errs, fmt.Sprintf("%s %q: want true or false", name, s))
		return false
	}
}

func (q *query) int(name string, max int) int {
	s := q.str(name)
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		q.errs = append(q.errs, fmt.Sprintf("%s %q: want a whole number from 0 to %d", name, s, max))
		return 0
	}
	return n
}

// done answers 400 with every problem found, and reports whether there
// were none.
func (q *query) done(w http.ResponseWriter) bool {
	if len(q.errs) == 0 {
		return true
	}
	writeError(w, http.StatusBadRequest, strings.Join(q.errs, "; "))
	return false
}

// me tells the console who the token belongs to.
func (s *Server) me(w http.ResponseWriter, r *http.Request, by triage.Actor) {
	if q := newQuery(r); !q.done(w) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": by.Name, "role": string(by.Role)})
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request, _ triage.Actor) {
	q := newQuery(r, "status", "severity", "category", "employee", "sender_hash", "campaign", "from", "to", "q", "inhibited", "silenced", "offset", "limit")
	var f triage.Filter
	for _, v := range q.list("status") {
		st := models.IncidentStatus(v)
		if !st.Valid() {
			q.errs = append(q.errs, fmt.Sprintf("status %q: want open, acknowledged or resolved", v))
		}
		f.Status = append(f.Status, st)
	}
	for _, v := range q.list("severity") {
		sev, err := models.ParseSeverity(v)
		if err != nil {
			q.errs = append(q.errs, "severity: "+err.Error())
		}
		f.Severity = append(f.Severity, sev)
	}
	if c := models.Category(q.str("category")); c != "" {
		if !c.Valid() {
			q.errs = append(q.errs, fmt.Sprintf("category %q is not one of the detector's categories", c))
		}
		f.Category = c
	}
	f.Employee, f.SenderHash, f.Campaign, f.Text = q.str("employee"), q.str("sender_hash"), q.str("campaign"), q.str("q")
	f.From, f.To = q.time("from"), q.time("to")
	f.Inhibited, f.Silenced = q.bool("inhibited"), q.bool("silenced")
	f.Offset, f.Limit = q.int("offset", 1<<30), q.int("limit", triage.MaxPageLimit)
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		q.errs = append(q.errs, "to must be after from")
	}
	if !q.done(w) {
		return
	}
	page, err := s.svc.List(r.Context(), f)
	if err != nil {
		s.fail(w, r, "incidents", err)
		return
	}
	for i := range page.Incidents {
		page.Incidents[i] = wireIncident(page.Incidents[i])
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) incident(w http.ResponseWriter, r *http.Request, _ triage.Actor) {
	if q := newQuery(r); !q.done(w) {
		return
	}
	id := r.PathValue("id")
	d, err := s.svc.Detail(r.Context(), id)
	if err != nil {
		s.fail(w, r, fmt.Sprintf("incident %q", id), err)
		return
	}
	d.Incident = wireIncident(d.Incident)
	for i := range d.Alerts {
		d.Alerts[i].Alert = wireAlert(d.Alerts[i].Alert)
	}
	for i := range d.Covered {
		d.Covered[i] = wireIncident(d.Covered[i])
	}
	if d.Alerts == nil {
		d.Alerts = []models.StoredAlert{}
	}
	if d.Covered == nil {
		d.Covered = []models.Incident{}
	}
	writeJSON(w, http.StatusOK, d)
}

// incidentChange serves the POSTs on one incident that return it.
func (s *Server) incidentChange(w http.ResponseWriter, r *http.Request, body any, emptyOK bool, do func(ctx context.Context, id string) (models.Incident, error)) {
	if q := newQuery(r); !q.done(w) {
		return
	}
	if !s.decode(w, r, body, emptyOK) {
		return
	}
	id := r.PathValue("id")
	inc, err := do(r.Context(), id)
	if err != nil {
		s.fail(w, r, fmt.Sprintf("incident %q", id), err)
		return
	}
	writeJSON(w, http.StatusOK, wireIncident(inc))
}

func (s *Server) acknowledge(w http.ResponseWriter, r *http.Request, by triage.Actor) {
	var body struct{}
	s.incidentChange(w, r, &body, true, func(ctx context.Context, id string) (models.Incident, error) {
		return s.svc.Acknowledge(ctx, by, id)
	})
}

func (s *Server) assign(w http.ResponseWriter, r *http.Request, by triage.Actor) {
	var body struct {
		Owner *string `json:"owner"`
	}
	s.incidentChange(w, r, &body, false, func(ctx context.Context, id string) (models.Incident, error) {
		if body.Owner == nil {
			return models.Incident{}, &triage.InputError{Msg: `request body: "owner" is required ("" unassigns)`}
		}
		return s.svc.Assign(ctx, by, id, *body.Owner)
	})
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request, by triage.Actor) {
	var body struct {
		Text string `json:"text"`
	}
	s.incidentChange(w, r, &body, false, func(ctx context.Context, id string) (models.Incident, error) {
		return s.svc.AddNote(ctx, by, id, body.Text)
	})
}

// resolve answers 200 when the incident is resolved and 202 when the
// verdict waits for a second analyst.
func (s *Server) resolve(w http.ResponseWriter, r *http.Request, by triage.Actor) {
	if q := newQuery(r); !q.done(w) {
		return
	}
	var body struct {
		Verdict string `json:"verdict"`
		Comment string `json:"comment"`
	}
	if !s.decode(w, r, &body, false) {
		return
	}
	if body.Verdict == "" {
		writeError(w, http.StatusBadRequest, `request body: "verdict" is required: fraud, legit or unsure`)
		return
	}
	id := r.PathValue("id")
	res, err := s.svc.Resolve(r.Context(), by, id, body.Verdict, body.Comment)
	if err != nil {
		s.fail(w, r, fmt.Sprintf("incident %q", id), err)
		return
	}
	res.Incident = wireIncident(res.Incident)
	status := http.StatusOK
	if res.Pending {
		status = http.StatusAccepted
	}
	writeJSON(w, status, res)
}

func (s *Server) listSilences(w http.ResponseWriter, r *http.Request, _ triage.Actor) {
	q := newQuery(r, "ended")
	ended := q.bool("ended")
	if !q.done(w) {
		return
	}
	sils, err := s.svc.Silences(r.Context(), ended)
	if err != nil {
		s.fail(w, r, "silences", err)
		return
	}
	if sils == nil {
		sils = []models.Silence{}
	}
	writeJSON(w, http.StatusOK, sils)
}

// silenceRequest is the body of POST /api/silences: an end, or a
// duration from the start.
type silenceRequest struct {
	Matchers []models.Matcher `json:"matchers"`
	StartsAt *time.Time       `json:"starts_at"`
	EndsAt   *time.Time       `json:"ends_at"`
	Duration string           `json:"duration"`
	Comment  string           `json:"comment"`
}

func (s *Server) createSilence(w http.ResponseWriter, r *http.Request, by triage.Actor) {
	if q := newQuery(r); !q.done(w) {
		return
	}
	var body silenceRequest
	if !s.decode(w, r, &body, false) {
		return
	}
	sil := models.Silence{Matchers: body.Matchers, Comment: body.Comment}
	if body.StartsAt != nil {
		sil.StartsAt = *body.StartsAt
	}
	switch {
	case body.EndsAt != nil && body.Duration != "":
		writeError(w, http.StatusBadRequest, `request body: give "ends_at" or "duration", not both`)
		return
	case body.EndsAt != nil:
		sil.EndsAt = *body.EndsAt
	case body.Duration != "":
		d, err := time.ParseDuration(body.Duration)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf(`request body: duration %q: want a positive Go duration such as "2h" or "90m"`, body.Duration))
			return
		}
		start := sil.StartsAt
		if start.IsZero() {
			start = s.cfg.Clock()
		}
		sil.EndsAt = start.Add(d)
	default:
		writeError(w, http.StatusBadRequest, `request body: "ends_at" or "duration" is required: when should the silence end?`)
		return
	}
	created, err := s.svc.CreateSilence(r.Context(), by, sil)
	if err != nil {
		s.fail(w, r, "silence", err)
		return
	}
	w.Header().Set("Location", "/api/silences/"+url.PathEscape(created.ID))
	writeJSON(w, http.StatusCreated, created)
}

func (s *Server) expireSilence(w http.ResponseWriter, r *http.Request, by triage.Actor) {
	if q := newQuery(r); !q.done(w) {
		return
	}
	var body struct{}
	if !s.decode(w, r, &body, true) {
		return
	}
	id := r.PathValue("id")
	sil, err := s.svc.ExpireSilence(r.Context(), by, id)
	if err != nil {
		s.fail(w, r, fmt.Sprintf("silence %q", id), err)
		return
	}
	writeJSON(w, http.StatusOK, sil)
}

func (s *Server) ruleStats(w http.ResponseWriter, r *http.Request, _ triage.Actor) {
	q := newQuery(r, "from", "to")
	from, to := q.time("from"), q.time("to")
	if !q.done(w) {
		return
	}
	stats, err := s.svc.RuleStats(r.Context(), from, to)
	if err != nil {
		s.fail(w, r, "rule statistics", err)
		return
	}
	if stats == nil {
		stats = []triage.RuleStat{}
	}
	writeJSON(w, http.StatusOK, stats)
}

func (s *Server) analyst(w http.ResponseWriter, r *http.Request, _ triage.Actor) {
	if q := newQuery(r); !q.done(w) {
		return
	}
	name := r.PathValue("name")
	st, err := s.svc.Analyst(r.Context(), name)
	if err != nil {
		s.fail(w, r, fmt.Sprintf("analyst %q", name), err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, _ triage.Actor) {
	q := newQuery(r, "since", "limit")
	since, limit := q.time("since"), q.int("limit", 1000)
	if !q.done(w) {
		return
	}
	entries, err := s.svc.Audit(r.Context(), since, limit)
	if err != nil {
		s.fail(w, r, "audit log", err)
		return
	}
	if entries == nil {
		entries = []models.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, entries)
}

// wireIncident gives an incident's lists as [] rather than null, so that
// the API's clients never special-case an empty one.
func wireIncident(inc models.Incident) models.Incident {
	inc.Categories = orEmpty(inc.Categories)
	inc.Rules = orEmpty(inc.Rules)
	inc.Employees = orEmpty(inc.Employees)
	inc.Senders = orEmpty(inc.Senders)
	inc.Search = ""
	return inc
}

func wireAlert(a models.Alert) models.Alert {
	a.Categories = orEmpty(a.Categories)
	a.Reasons = orEmpty(a.Reasons)
	return a
}

func orEmpty[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
