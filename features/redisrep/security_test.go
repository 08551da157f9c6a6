package redisrep_test

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"fraudwatch/features/redisrep"
	"fraudwatch/features/reptest"
	"fraudwatch/internal/testredis"
	"fraudwatch/models"
)

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

// aclUser creates a user on the test server with redisrep.ACLRule for
// prefix, and deletes it when the test ends.
func aclUser(t *testing.T, admin *redis.Client, prefix string) (user, password string) {
	t.Helper()
	ctx := context.Background()
	user, password = "fwtest-"+randHex(4), "pw-"+randHex(12)
	rule := redisrep.ACLRule(prefix, password)
	args := []any{"ACL", "SETUSER", user}
	for _, f := range strings.Fields(rule) {
		args = append(args, f)
	}
	if err := admin.Do(ctx, args...).Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() { admin.Do(context.Background(), "ACL", "DELUSER", user) })
	return user, password
}

// aclEnv is a store dialled as the restricted user; TTLs are inspected
// through the admin connection, which the user could not do itself.
type aclEnv struct {
	*redisrep.Store
	admin  *redis.Client
	prefix string
}

func (e *aclEnv) TTLs(ctx context.Context) (map[string]time.Duration, error) {
	return (&env{client: e.admin, prefix: e.prefix}).TTLs(ctx)
}

// The conformance suite passes through redisrep.Dial as an ACL user that
// may touch only its prefix and run only the least-privilege commands; the
// same user is refused everything else, and a wrong password fails the
// dial without the password in the error.
func TestACLUserWithLeastPrivilege(t *testing.T) {
	addr := redisAddr(t)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = admin.Close() })
	base := "fwtestacl:" + randHex(4) + ":"
	user, password := aclUser(t, admin, base)
	t.Cleanup(func() {
		keys, _ := scan(ctx, admin, base)
		if len(keys) > 0 {
			admin.Del(ctx, keys...)
		}
	})
	opts := redisrep.Options{Addrs: []string{addr}, Username: user, Password: password}

	t.Run("the conformance suite passes as the restricted user", func(t *testing.T) {
		reptest.Run(t, func(t *testing.T) reptest.Store {
			prefix := base + randHex(4) + ":"
			s, err := redisrep.Dial(ctx, opts, redisrep.Config{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return &aclEnv{Store: s, admin: admin, prefix: prefix}
		})
	})

	t.Run("SOC feedback is applied as the restricted user", func(t *testing.T) {
		s, err := redisrep.Dial(ctx, opts, redisrep.Config{Prefix: base + "fb:"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.ApplyFeedback(ctx, []models.Feedback{{ID: "fb-1", SenderHash: "S", Verdict: models.FeedbackFraud}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Observe(ctx, []models.Observation{msg("A", "S", "emp-1", t0)})
		if err != nil || got[0].FraudReports != 1 {
			t.Fatalf("Observe after a fraud verdict = %+v, %v; want one fraud report", got, err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping as the restricted user: %v", err)
		}
	})

	user1 := redis.NewClient(&redis.Options{Addr: addr, Username: user, Password: password})
	t.Cleanup(func() { _ = user1.Close() })
	for _, tt := range []struct {
		name string
		cmd  []any
	}{
		{"a key outside the prefix is refused", []any{"GET", "other:key"}},
		{"a write outside the prefix is refused", []any{"SET", "fw:other", "x"}},
		{"listing keys is refused", []any{"KEYS", "*"}},
		{"flushing is refused", []any{"FLUSHALL"}},
		{"an ad-hoc script is refused", []any{"EVAL", "return 1", "0"}},
		{"reading the configuration is refused", []any{"CONFIG", "GET", "requirepass"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := user1.Do(ctx, tt.cmd...).Err()
			if err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
				t.Fatalf("%v as the restricted user: err = %v, want NOPERM", tt.cmd, err)
			}
		})
	}

	t.Run("a wrong password fails the dial and the error does not hold it", func(t *testing.T) {
		wrong := "wrong-" + randHex(8)
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s, err := redisrep.Dial(ctx, redisrep.Options{Addrs: []string{addr}, Username: user, Password: wrong}, redisrep.Config{Prefix: base})
		if err == nil {
			s.Close()
			t.Fatal("Dial with a wrong password succeeded")
		}
		if !strings.Contains(err.Error(), "WRONGPASS") || strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), password) {
			t.Fatalf("err = %q: want WRONGPASS and no password", err)
		}
	})
}

// clientTLS is the TLS client configuration trusting ca, with a client
// certificate when certFile is set.
func clientTLS(t *testing.T, ca *testredis.CA, certFile, keyFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(ca.File)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}

// Redis with TLS only, its certificate from a CA the test makes: Dial
// works with that CA (and the client certificate when the server asks for
// one), and fails without them or for the wrong server name.
func TestTLS(t *testing.T) {
	ca := testredis.NewCA(t)
	mutual := testredis.StartTLS(t, ca, "yes")
	serverOnly := testredis.StartTLS(t, ca, "no")
	cert, key := ca.Issue(t, "fraudwatch-client")
	other := testredis.NewCA(t)
	otherCert, otherKey := other.Issue(t, "stranger")

	withName := func(c *tls.Config, name string) *tls.Config { c.ServerName = name; return c }
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		addr    string
		tls     *tls.Config
		wantErr string // "" means the dial works and an observation is counted
	}{
		{"the test CA is trusted and no client certificate is asked for", serverOnly.Addr, clientTLS(t, ca, "", ""), ""},
		{"the test CA is trusted and the client certificate is accepted", mutual.Addr, clientTLS(t, ca, cert, key), ""},
		{"the server name in the certificate can be named", serverOnly.Addr, withName(clientTLS(t, ca, "", ""), "localhost"), ""},
		{"the system roots do not trust the test CA", serverOnly.Addr, &tls.Config{MinVersion: tls.VersionTLS12}, "certificate signed by unknown authority"},
		{"a server name the certificate does not carry is refused", serverOnly.Addr, withName(clientTLS(t, ca, "", ""), "redis.example.org"), "certificate is valid for"},
		{"a server asking for a client certificate refuses a client without one", mutual.Addr, clientTLS(t, ca, "", ""), "certificate"},
		{"a server asking for a client certificate refuses one from another CA", mutual.Addr, clientTLS(t, ca, otherCert, otherKey), "certificate"},
		{"plain text to a TLS port fails", serverOnly.Addr, nil, "dial"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			s, err := redisrep.Dial(ctx, redisrep.Options{Addrs: []string{tt.addr}, TLS: tt.tls}, redisrep.Config{Prefix: "fwtls:"})
			if tt.wantErr != "" {
				if err == nil {
					s.Close()
					t.Fatalf("Dial succeeded, want an error containing %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Dial: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := s.Observe(ctx, []models.Observation{msg("tls-"+randHex(4), "S", "emp-1", t0)})
			if err != nil || got[0].Events < 1 {
				t.Fatalf("Observe over TLS = %+v, %v", got, err)
			}
		})
	}
}
