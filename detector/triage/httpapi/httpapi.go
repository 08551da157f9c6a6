// Package httpapi serves triage over HTTP: the JSON API described by
// openapi.yaml (embedded, served at /api/openapi.yaml) and the SOC's web
// console (embedded files under web/, served at /). Every /api request but
// the description needs a bearer token from the configuration; its role
// decides what it may do, and its name is the actor the audit log records.
package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"fraudwatch/detector/triage"
)

// OpenAPI is the API's description (OpenAPI 3.0.3), as served at
// /api/openapi.yaml. The tests validate every request and response they
// make against it.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Defaults of Config.
const (
	DefaultMaxBodyBytes = 64 << 10
	minTokenLen         = 16
)

// Token is one bearer token and who holds it. Name is the actor the audit
// log and incidents record for requests made with it.
type Token struct {
	Name  string      `yaml:"name"`
	Role  triage.Role `yaml:"role"`
	Token string      `yaml:"token" secret:"true"`
}

// Config configures a Server. Zero fields take the defaults.
type Config struct {
	// Tokens are the accepted bearer tokens. At least one; names and
	// tokens unique; tokens at least 16 characters.
	Tokens []Token `yaml:"tokens"`
	// MaxBodyBytes bounds a request body. Default 64 KiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Clock gives "now" for a silence created with a duration and no
	// start. Default time.Now; it should be triage's clock.
	Clock func() time.Time `yaml:"-"`
	// Logger receives errors the API hides from clients (never tokens
	// nor request bodies). Default slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

// Validate fills defaults into zero fields and reports every invalid
// setting. Errors name tokens by their position and name, never by value.
func (c *Config) Validate() error {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	var errs []error
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("httpapi: max_body_bytes %d: want at least 1024", c.MaxBodyBytes))
	}
	if len(c.Tokens) == 0 {
		errs = append(errs, errors.New("httpapi: no tokens: configure at least one (name, role, token) or nobody can sign in"))
	}
	names := map[string]int{}
	tokens := map[string]int{}
	for i, t := range c.Tokens {
		where := fmt.Sprintf("httpapi: token %d (%q)", i, t.Name)
		if strings.TrimSpace(t.Name) == "" {
			errs = append(errs, fmt.Errorf("httpapi: token %d: empty name: each token needs the name the audit log records", i))
		} else if j, dup := names[t.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: name also used by token %d: names must be unique so the audit log tells them apart", where, j))
		} else {
			names[t.Name] = i
		}
		if !t.Role.Valid() {
			errs = append(errs, fmt.Errorf("%s: role %q: want viewer, analyst or admin", where, t.Role))
		}
		switch {
		case len(t.Token) < minTokenLen:
			errs = append(errs, fmt.Errorf("%s: token is %d characters: want at least %d (generate one with: openssl rand -hex 24)", where, len(t.Token), minTokenLen))
		case tokens[t.Token] != 0:
			errs = append(errs, fmt.Errorf("%s: token also used by token %d: each holder needs their own", where, tokens[t.Token]-1))
		default:
			tokens[t.Token] = i + 1
		}
	}
	return errors.Join(errs...)
}

// Server is the HTTP face of a triage.Service. It is safe for concurrent
// use and holds no state of its own beyond its configuration.
type Server struct {
	svc     triage.Service
	cfg     Config
	tokens  []tokenHash
	handler http.Handler
}

// tokenHash is a configured token's SHA-256, so that comparisons take the
// same time whatever the token's length.
type tokenHash struct {
	sum   [sha256.Size]byte
	actor triage.Actor
}

// New returns a Server for svc, or the error of cfg.Validate.
func New(svc triage.Service, cfg Config) (*Server, error) {
	if svc == nil {
		return nil, errors.New("httpapi: nil triage service")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{svc: svc, cfg: cfg}
	for _, t := range cfg.Tokens {
		s.tokens = append(s.tokens, tokenHash{sum: sha256.Sum256([]byte(t.Token)), actor: triage.Actor{Name: t.Name, Role: t.Role}})
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the handler serving /api/... and the console at /.
func (s *Server) Handler() http.Handler { return s.handler }

// authenticate returns the actor whose token the request bears. It hashes
// the presented token and compares it with every configured token's hash
// in constant time, without stopping at a match, so that the response
// time tells nothing about which token, or how much of one, was right.
func (s *Server) authenticate(r *http.Request) (triage.Actor, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return triage.Actor{}, false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return triage.Actor{}, false
	}
	sum := sha256.Sum256([]byte(tok))
	found := -1
	for i := range s.tokens {
		eq := subtle.ConstantTimeCompare(sum[:], s.tokens[i].sum[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return triage.Actor{}, false
	}
	return s.tokens[found].actor, true
}
