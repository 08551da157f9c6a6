// Package ingest receives the webhook of the WhatsApp Business Platform
// (Cloud API) and turns every inbound message, and every call a user
// placed, into an event in fraudwatch's inbound format, written through a
// Writer (in the binary: Kafka, acks=all).
//
// The contract with Meta: a POST is answered 200 only after its events
// are acknowledged by the Writer; a failed write answers 503, so Meta
// delivers the payload again. Redelivery is harmless downstream, which
// deduplicates by event id (the wamid or call id). A request that is not
// signed with the app secret is refused before its body is parsed.
//
// The package imports no Kafka client: the Writer is declared here.
package ingest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Record is one event ready for the inbound topic: Value is the event's
// JSON in the inbound wire format; Key is its sender ("+" and digits, or
// empty for an unknown sender), so one sender's events stay on one
// partition and in order.
type Record struct {
	Key   []byte
	Value []byte
}

// Writer writes events to the inbound topic. WriteEvents returns nil only
// when every record is acknowledged; on error some may have been written,
// and the caller (Meta, through a 5xx) sends them all again.
type Writer interface {
	WriteEvents(ctx context.Context, recs []Record) error
}

// WriterFunc adapts a function to Writer.
type WriterFunc func(ctx context.Context, recs []Record) error

// WriteEvents calls f.
func (f WriterFunc) WriteEvents(ctx context.Context, recs []Record) error { return f(ctx, recs) }

// Defaults applied by Config.Validate to zero fields.
const (
	// DefaultMaxBodyBytes is 3 MiB: Meta documents webhook payloads of
	// up to 3 MB.
	DefaultMaxBodyBytes = 3 << 20
	DefaultWriteTimeout = 10 * time.Second
)

// Result names how a request ended, as passed to Observer.Request and
// used as the metrics label.
type Result string

// The results.
const (
	ResultAccepted         Result = "accepted"          // 200: events written (or none to write)
	ResultIgnored          Result = "ignored"           // 200: signed, but not a WhatsApp Business payload
	ResultVerified         Result = "verified"          // GET handshake answered
	ResultBadVerify        Result = "bad_verify"        // GET handshake refused (403)
	ResultMissingSignature Result = "missing_signature" // 401
	ResultBadSignature     Result = "bad_signature"     // 403
	ResultTooLarge         Result = "too_large"         // 413
	ResultBadPayload       Result = "bad_payload"       // 400: signed, not parseable
	ResultWriteFailed      Result = "write_failed"      // 503: Meta retries
	ResultBadRequest       Result = "bad_request"       // 400: body could not be read
)

// Observer receives metrics events. Every field is optional; the
// functions are called from request goroutines and must be safe for
// concurrent use and must not block.
type Observer struct {
	// Request: one request ended with r.
	Request func(r Result)
	// Events: n events were acknowledged by the Writer.
	Events func(n int)
	// Unmapped: n events went to a business number without an employee.
	Unmapped func(n int)
}

// Config configures a Handler. Validate fills the defaults.
type Config struct {
	// VerifyToken is the token configured in Meta's app dashboard; the
	// GET handshake must present it. Required.
	VerifyToken string
	// AppSecret is the app secret that signs every POST
	// (X-Hub-Signature-256). Required.
	AppSecret string
	// MaxBodyBytes caps a POST body; larger ones are refused with 413.
	// Default 3 MiB.
	MaxBodyBytes int64
	// Employees maps a business number, by phone_number_id or by the
	// digits of display_phone_number, to the employee id it belongs to.
	// Events to a number that is not here get the employee id
	// Unmapped+phone_number_id: they are still scored and alerted on.
	Employees map[string]string
	// WriteTimeout bounds the write of one payload's events. Default 10s.
	WriteTimeout time.Duration
	// Logger receives one line per refused request and a warning per
	// unmapped number, never a message body. Default slog.Default().
	Logger *slog.Logger
	// Observer receives metrics events. Optional.
	Observer Observer
	// Now is the clock for messages without a readable timestamp.
	// Default time.Now.
	Now func() time.Time
}

// Validate fills defaults into zero fields and reports what is missing.
func (c *Config) Validate() error {
	var errs []error
	if c.VerifyToken == "" {
		errs = append(errs, errors.New("no verify token: set the token entered in Meta's webhook settings"))
	}
	if c.AppSecret == "" {
		errs = append(errs, errors.New("no app secret: set the app secret from Meta's app dashboard"))
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("max body bytes %d is negative", c.MaxBodyBytes))
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.WriteTimeout < 0 {
		errs = append(errs, fmt.Errorf("write timeout %v is negative", c.WriteTimeout))
	}
	for k, v := range c.Employees {
		if strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			errs = append(errs, fmt.Errorf("employee map: empty number or employee in %q=%q", k, v))
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ingest: config: %w", err)
	}
	return nil
}

// Handler serves the webhook: GET for the verification handshake, POST
// for notifications. Mount it on the callback URL configured at Meta.
// Safe for concurrent use.
type Handler struct {
	cfg       Config
	w         Writer
	log       *slog.Logger
	employees map[string]string // by phone_number_id and by display digits
}

// New validates cfg and returns a Handler writing through w.
func New(cfg Config, w Writer) (*Handler, error) {
	if w == nil {
		return nil, errors.New("ingest: nil writer")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, w: w, log: cfg.Logger.With("component", "ingest"), employees: map[string]string{}}
	for k, v := range cfg.Employees {
		// phone_number_ids are digits; a display number ("+7 495 …")
		// matches display_phone_number by its digits.
		h.employees[strings.TrimSpace(k)] = strings.TrimSpace(v)
		if d := digits(k); d != "" {
			h.employees[d] = strings.TrimSpace(v)
		}
	}
	return h, nil
}

func (h *Handler) employee(phoneNumberID, display string) string {
	if e, ok := h.employees[phoneNumberID]; ok && phoneNumberID != "" {
		return e
	}
	if d := digits(display); d != "" {
		return h.employees[d]
	}
	return ""
}

// ServeHTTP answers the handshake (GET) and notifications (POST).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		h.verify(w, r)
	case http.MethodPost:
		h.notify(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// verify answers Meta's subscription handshake: hub.mode=subscribe and
// the configured hub.verify_token get hub.challenge back; anything else 403.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("hub.mode") != "subscribe" || subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(h.cfg.VerifyToken)) != 1 {
		h.done(ResultBadVerify)
		h.log.Warn("webhook verification refused", "mode", q.Get("hub.mode"), "remote", r.RemoteAddr)
		http.Error(w, "verification failed", http.StatusForbidden)
		return
	}
	h.done(ResultVerified)
	h.log.Info("webhook verified")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, q.Get("hub.challenge"))
}

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the raw
// body under the app secret.
const SignatureHeader = "X-Hub-Signature-256"

// Sign returns the X-Hub-Signature-256 value of body under secret, as
// Meta computes it (for tests and tools that replay payloads).
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (h *Handler) notify(w http.ResponseWriter, r *http.Request) {
	sig := r.Header.Get(SignatureHeader)
	if sig == "" {
		h.refuse(w, r, ResultMissingSignature, http.StatusUnauthorized, "missing "+SignatureHeader)
		return
	}
	if r.ContentLength > h.cfg.MaxBodyBytes {
		h.refuse(w, r, ResultTooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes over the limit of %d", r.ContentLength, h.cfg.MaxBodyBytes))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.refuse(w, r, ResultTooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over the limit of %d bytes", h.cfg.MaxBodyBytes))
			return
		}
		h.refuse(w, r, ResultBadRequest, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	want := Sign(h.cfg.AppSecret, body)
	if !hmac.Equal([]byte(strings.ToLower(strings.TrimSpace(sig))), []byte(want)) {
		h.refuse(w, r, ResultBadSignature, http.StatusForbidden, "signature does not match the body")
		return
	}

	p, ok, typeErr, err := parse(body)
	switch {
	case err != nil, p.Object == "":
		reason := "not a webhook payload: no \"object\""
		if err != nil {
			reason = err.Error()
		}
		h.refuse(w, r, ResultBadPayload, http.StatusBadRequest, reason)
		return
	case !ok:
		h.done(ResultIgnored)
		h.log.Warn("webhook payload of another product ignored", "object", p.Object)
		writeOK(w)
		return
	case typeErr != nil:
		// Keep what decoded: dropping a whole payload because Meta
		// changed one field's type would lose its messages.
		h.log.Warn("webhook payload has fields of an unexpected type; the rest is used", "err", typeErr)
	}

	conv := convert(p, h.employee, h.cfg.Now())
	for _, u := range conv.unmapped {
		h.log.Warn("business number has no employee in the map; events go to its placeholder id", "employee", u)
	}
	recs := make([]Record, 0, len(conv.events))
	unmapped := 0
	for _, ev := range conv.events {
		v, err := json.Marshal(ev)
		if err != nil { // a models.Event always encodes; kept for safety
			h.refuse(w, r, ResultBadPayload, http.StatusBadRequest, "encoding event: "+err.Error())
			return
		}
		recs = append(recs, Record{Key: []byte(ev.From), Value: v})
		if strings.HasPrefix(ev.To, Unmapped) {
			unmapped++
		}
	}
	if len(recs) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), h.cfg.WriteTimeout)
		err := h.w.WriteEvents(ctx, recs)
		cancel()
		if err != nil {
			h.done(ResultWriteFailed)
			h.log.Error("writing webhook events failed; answering 503 so Meta retries", "events", len(recs), "err", err)
			http.Error(w, "events not written; retry", http.StatusServiceUnavailable)
			return
		}
		if f := h.cfg.Observer.Events; f != nil {
			f(len(recs))
		}
		if f := h.cfg.Observer.Unmapped; f != nil && unmapped > 0 {
			f(unmapped)
		}
	}
	h.done(ResultAccepted)
	h.log.Debug("webhook accepted", "events", len(recs), "ignored_calls", conv.ignored)
	writeOK(w)
}

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, res Result, code int, reason string) {
	h.done(res)
	h.log.Warn("webhook request refused", "result", string(res), "status", code, "reason", reason, "remote", r.RemoteAddr)
	http.Error(w, http.StatusText(code), code)
}

func (h *Handler) done(r Result) {
	if f := h.cfg.Observer.Request; f != nil {
		f(r)
	}
}

func writeOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok")
}
