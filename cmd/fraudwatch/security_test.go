package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"fraudwatch/detector/kafkaio"
	"fraudwatch/detector/triage"
	"fraudwatch/detector/triage/httpapi"
	"fraudwatch/features/redisrep"
	"fraudwatch/internal/testredis"
	"fraudwatch/models"
)

// secureEnv is the smallest environment `run` starts from, for config tests.
func secureEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"FRAUDWATCH_HMAC_SECRET":    testSecret,
		"FRAUDWATCH_OFFICIAL_LINES": "+74951234567",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func TestSecuritySettingsThatCannotWorkAreRejectedWithTheirReason(t *testing.T) {
	ca := testredis.NewCA(t)
	cert, _ := ca.Issue(t, "client")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	const password = "s3cr3t-kafka-password"
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		wantErr string
	}{
		{"skipping certificate verification for Kafka is refused", "kafka: {tls: {enabled: true, insecure_skip_verify: true}}", nil,
			"kafka.tls.insecure_skip_verify: refused: it would accept any certificate"},
		{"skipping certificate verification for Redis is refused", "redis: {tls: {enabled: true, insecure_skip_verify: true}}", nil,
			"redis.tls.insecure_skip_verify: refused"},
		{"a CA file that does not exist is named", "", map[string]string{"FRAUDWATCH_REDIS_TLS": "true", "FRAUDWATCH_REDIS_TLS_CA_FILE": "/nonexistent/ca.pem"},
			"redis.tls.ca_file: open /nonexistent/ca.pem: no such file or directory"},
		{"a CA file without a certificate is named", "", map[string]string{"FRAUDWATCH_KAFKA_TLS": "true", "FRAUDWATCH_KAFKA_TLS_CA_FILE": notPEM},
			"kafka.tls.ca_file " + notPEM + ": no PEM certificate in it"},
		{"a client certificate without its key is refused", "", map[string]string{"FRAUDWATCH_KAFKA_TLS": "true", "FRAUDWATCH_KAFKA_TLS_CERT_FILE": cert},
			"kafka.tls: cert_file and key_file go together"},
		{"a key that does not match the certificate is refused", "", map[string]string{"FRAUDWATCH_REDIS_TLS": "true", "FRAUDWATCH_REDIS_TLS_CERT_FILE": cert, "FRAUDWATCH_REDIS_TLS_KEY_FILE": ca.File},
			"redis.tls.cert_file " + cert + " and key_file " + ca.File},
		{"TLS files with TLS off are refused rather than silently unused", "", map[string]string{"FRAUDWATCH_REDIS_TLS_CA_FILE": ca.File},
			"redis.tls: files or a server name are set but redis.tls.enabled is false"},
		{"a TLS switch that is not a boolean is refused", "", map[string]string{"FRAUDWATCH_KAFKA_TLS": "yes please"},
			`FRAUDWATCH_KAFKA_TLS="yes please": want true or false`},
		{"an unknown SASL mechanism is refused", "", map[string]string{"FRAUDWATCH_KAFKA_SASL_MECHANISM": "GSSAPI", "FRAUDWATCH_KAFKA_SASL_USERNAME": "u", "FRAUDWATCH_KAFKA_SASL_PASSWORD": password},
			`SASL mechanism "GSSAPI" is not supported: use one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`},
		{"SCRAM without a username is refused", "", map[string]string{"FRAUDWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "FRAUDWATCH_KAFKA_SASL_PASSWORD": password},
			"SASL SCRAM-SHA-512 needs a username"},
		{"PLAIN without a password is refused", "", map[string]string{"FRAUDWATCH_KAFKA_SASL_MECHANISM": "plain", "FRAUDWATCH_KAFKA_SASL_USERNAME": "u"},
			"SASL PLAIN needs a password"},
		{"SASL credentials without a mechanism are refused", "", map[string]string{"FRAUDWATCH_KAFKA_SASL_USERNAME": "u", "FRAUDWATCH_KAFKA_SASL_PASSWORD": password},
			"kafka.sasl: a username or password is set without kafka.sasl.mechanism"},
		{"a Redis user without a password is refused", "", map[string]string{"FRAUDWATCH_REDIS_USERNAME": "fraudwatch"},
			"redis.username is set without redis.password"},
		{"a database number with a Redis Cluster is refused", "", map[string]string{"FRAUDWATCH_REDIS_ADDRS": "r1:6379,r2:6379", "FRAUDWATCH_REDIS_DB": "2"},
			"redis.db: 2 with a Redis Cluster"},
		{"a misspelt TLS key is refused", "redis: {tls: {enable: true}}", nil, "field enable not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = writeConfig(t, tt.yaml)
			}
			_, err := LoadConfig(path, envMap(secureEnv(tt.env)))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LoadConfig: %v\nwant an error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), testSecret) {
				t.Fatalf("the error shows a secret: %v", err)
			}
		})
	}
}

func TestValidSecuritySettingsLoadFromTheFileAndTheEnvironment(t *testing.T) {
	ca := testredis.NewCA(t)
	cert, key := ca.Issue(t, "client")
	path := writeConfig(t, fmt.Sprintf(`
kafka:
  sasl: {mechanism: SCRAM-SHA-512, username: fraudwatch}
  tls: {enabled: true, ca_file: %q, server_name: kafka.internal}
redis:
  username: fraudwatch
  tls: {enabled: true, ca_file: %q, cert_file: %q, key_file: %q}
`, ca.File, ca.File, cert, key))
	cfg, err := LoadConfig(path, envMap(secureEnv(map[string]string{
		"FRAUDWATCH_KAFKA_SASL_PASSWORD": "from-env",
		"FRAUDWATCH_REDIS_PASSWORD":      "redis-from-env",
	})))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := cfg.Kafka.connection("test")
	if err != nil {
		t.Fatal(err)
	}
	if conn.TLS == nil || conn.TLS.ServerName != "kafka.internal" || conn.TLS.RootCAs == nil || conn.TLS.MinVersion != tls.VersionTLS12 ||
		conn.SASLMechanism != "SCRAM-SHA-512" || conn.SASLUsername != "fraudwatch" || conn.SASLPassword != "from-env" {
		t.Errorf("Kafka connection %+v", conn)
	}
	rt, err := cfg.Redis.tlsConfig()
	if err != nil || rt == nil || len(rt.Certificates) != 1 || rt.RootCAs == nil || cfg.Redis.Password != "redis-from-env" {
		t.Errorf("Redis TLS %+v, %v", rt, err)
	}
}

// Every config field that holds a secret is tagged so, and no printed or
// logged form of the configuration shows one.
func TestTheConfigurationNeverPrintsASecret(t *testing.T) {
	var untagged []string
	var walk func(reflect.Type, string)
	walk = func(t reflect.Type, path string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			p := path + f.Tag.Get("yaml")
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
				walk(f.Type, p+".")
				continue
			}
			if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
				walk(f.Type.Elem(), p+"[].")
				continue
			}
			name := strings.ToLower(f.Name)
			if (strings.Contains(name, "password") || strings.Contains(name, "secret") || strings.Contains(name, "token")) && f.Tag.Get("secret") != "true" {
				untagged = append(untagged, p)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	if len(untagged) > 0 {
		t.Errorf("fields that look secret but lack secret:\"true\": %v", untagged)
	}

	secrets := map[string]string{
		"FRAUDWATCH_HMAC_SECRET":         "hmac-secret-value-0123456789",
		"FRAUDWATCH_REDIS_PASSWORD":      "redis-password-value",
		"FRAUDWATCH_KAFKA_SASL_PASSWORD": "kafka-password-value",
	}
	env := secureEnv(map[string]string{"FRAUDWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "FRAUDWATCH_KAFKA_SASL_USERNAME": "kafka-user", "FRAUDWATCH_REDIS_USERNAME": "redis-user"})
	for _, v := range EnvVars() {
		if v.Secret {
			if _, ok := secrets[v.Name]; !ok {
				secrets[v.Name] = strings.ToLower(v.Name) + "-value"
			}
		}
	}
	for k, v := range secrets {
		env[k] = v
	}
	cfg, err := LoadConfig("", envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	// Tokens in the file are a list: each element is redacted too.
	secrets["triage.tokens[0].token"] = "file-token-value-0123456789"
	cfg.Triage.Tokens = []httpapi.Token{{Name: "soc-anna", Role: triage.RoleAnalyst, Token: secrets["triage.tokens[0].token"]}}
	var jsonLog, textLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("config", "config", cfg)
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("config", "config", cfg)
	forms := map[string]string{
		"%v":       fmt.Sprintf("%v", cfg),
		"%+v":      fmt.Sprintf("%+v", cfg),
		"%#v":      fmt.Sprintf("%#v", cfg),
		"%s":       fmt.Sprintf("%s", cfg),
		"JSON log": jsonLog.String(),
		"text log": textLog.String(),
	}
	for form, out := range forms {
		for name, secret := range secrets {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows %s:\n%s", form, name, out)
			}
		}
		if !strings.Contains(out, "kafka-user") || !strings.Contains(out, "<redacted>") {
			t.Errorf("%s should show the settings that are not secret and mark the redacted ones:\n%s", form, out)
		}
	}
	if cfg.HMAC.Secret != secrets["FRAUDWATCH_HMAC_SECRET"] || cfg.Triage.Tokens[0].Token != secrets["triage.tokens[0].token"] {
		t.Error("Redacted changed the configuration it was called on")
	}
}

// kfakeSecure is an in-process Kafka that accepts only TLS connections
// with a certificate from ca, and only SASL-authenticated clients.
func kfakeSecure(t *testing.T, ca *testredis.CA, users map[string][2]string, topics ...string) []string {
	t.Helper()
	cert, key := ca.Issue(t, "kafka", "127.0.0.1", "localhost")
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, topics...), kfake.GroupMinSessionTimeout(100 * time.Millisecond),
		kfake.EnableSASL(), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})}
	for user, mp := range users {
		opts = append(opts, kfake.Superuser(mp[0], user, mp[1]))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// Each SASL mechanism by name authenticates over TLS to a broker that
// requires both, and a wrong password fails with an error that does not
// show it. The broker is kfake (in process): the Apache Kafka test broker
// has a SASL listener but no TLS one (security_kafka_test.go tests SASL
// against it).
func TestKafkaSASLMechanismsOverTLS(t *testing.T) {
	ca := testredis.NewCA(t)
	users := map[string][2]string{
		"plain-user":  {"PLAIN", "plain-pass-1"},
		"scram256":    {"SCRAM-SHA-256", "scram-pass-256"},
		"scram512":    {"SCRAM-SHA-512", "scram-pass-512"},
		"other-scram": {"SCRAM-SHA-512", "other-pass"},
	}
	brokers := kfakeSecure(t, ca, users, "t")
	kcfg := func(mech, user, pass string, withTLS bool) KafkaConfig {
		c := KafkaConfig{Brokers: brokers, SASL: KafkaSASLConfig{Mechanism: mech, Username: user, Password: pass}}
		if withTLS {
			c.TLS = KafkaTLSConfig{Enabled: true, CAFile: ca.File}
		}
		return c
	}
	for _, tt := range []struct {
		name    string
		cfg     KafkaConfig
		wantErr string
	}{
		{"PLAIN over TLS produces and reads back", kcfg("PLAIN", "plain-user", "plain-pass-1", true), ""},
		{"SCRAM-SHA-256 over TLS produces and reads back", kcfg("SCRAM-SHA-256", "scram256", "scram-pass-256", true), ""},
		{"SCRAM-SHA-512 over TLS produces and reads back", kcfg("scram-sha-512", "scram512", "scram-pass-512", true), ""},
		// kfake drops the connection of a failed authentication (Apache
		// Kafka answers SASL_AUTHENTICATION_FAILED first), so the error
		// here is the write's.
		{"a wrong SCRAM password is refused", kcfg("SCRAM-SHA-512", "scram512", "wrong-pass-xyz", true), `writing 1 events to "t"`},
		{"a wrong PLAIN password is refused", kcfg("PLAIN", "plain-user", "wrong-pass-xyz", true), `writing 1 events to "t"`},
		{"SCRAM-SHA-256 for a SCRAM-SHA-512 user is refused", kcfg("SCRAM-SHA-256", "scram512", "scram-pass-512", true), `writing 1 events to "t"`},
		{"no SASL at all is refused", KafkaConfig{Brokers: brokers, TLS: KafkaTLSConfig{Enabled: true, CAFile: ca.File}}, `writing 1 events to "t"`},
		{"without the test CA the broker is not trusted", KafkaConfig{Brokers: brokers, SASL: KafkaSASLConfig{Mechanism: "PLAIN", Username: "plain-user", Password: "plain-pass-1"}, TLS: KafkaTLSConfig{Enabled: true}}, "certificate signed by unknown authority"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			conn, err := tt.cfg.connection("security-test")
			if err != nil {
				t.Fatal(err)
			}
			p, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: conn, Topic: "t", WriteTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			value := []byte(`{"n":"` + tt.name + `"}`)
			err = p.Produce(ctx, value)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Produce: %v, want an error containing %q", err, tt.wantErr)
				}
				if tt.cfg.SASL.Password != "" && strings.Contains(err.Error(), tt.cfg.SASL.Password) {
					t.Fatalf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			msgs, err := kafkaio.ReadTopic(ctx, conn, "t", 1)
			if err != nil || len(msgs) == 0 {
				t.Fatalf("ReadTopic: %v", err)
			}
		})
	}
}

// `fraudwatch run` configured only through the environment against a
// Kafka that requires TLS and SCRAM-SHA-512 and a Redis that requires TLS
// with a client certificate and an ACL user with the least-privilege rule
// (the default user is off): an inbound scam becomes an alert, /readyz is
// ready, and no password or secret reaches the logs.
func TestRunWithKafkaSASLAndTLSAndRedisACLAndTLS(t *testing.T) {
	ca := testredis.NewCA(t)
	const (
		kafkaUser, kafkaPass = "fraudwatch", "kafka-pass-7f3a9c"
		redisUser, redisPass = "fraudwatch", "redis-pass-c91e02"
		prefix               = "fwsec:"
	)
	// redis-server reads "--user NAME RULE..." as a redis.conf user line
	// when each word is its own argument.
	args := append([]string{"--user", "default", "off", "--user", redisUser}, strings.Fields(redisrep.ACLRule(prefix, redisPass))...)
	redis := testredis.StartTLS(t, ca, "yes", args...)
	in, alerts, dlq := "in", "alerts", "dlq"
	brokers := kfakeSecure(t, ca, map[string][2]string{kafkaUser: {"SCRAM-SHA-512", kafkaPass}}, in, alerts, dlq, "fraud.feedback")
	cert, key := ca.Issue(t, "fraudwatch")
	httpAddr := freeAddr(t)
	env := map[string]string{
		"FRAUDWATCH_KAFKA_BROKERS":        strings.Join(brokers, ","),
		"FRAUDWATCH_KAFKA_GROUP_ID":       uniqueName("g-"),
		"FRAUDWATCH_INBOUND_TOPIC":        in,
		"FRAUDWATCH_ALERTS_TOPIC":         alerts,
		"FRAUDWATCH_DLQ_TOPIC":            dlq,
		"FRAUDWATCH_BATCH_WAIT":           "5ms",
		"FRAUDWATCH_KAFKA_TLS":            "true",
		"FRAUDWATCH_KAFKA_TLS_CA_FILE":    ca.File,
		"FRAUDWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
		"FRAUDWATCH_KAFKA_SASL_USERNAME":  kafkaUser,
		"FRAUDWATCH_KAFKA_SASL_PASSWORD":  kafkaPass,
		"FRAUDWATCH_REDIS_ADDRS":          redis.Addr,
		"FRAUDWATCH_REDIS_PREFIX":         prefix,
		"FRAUDWATCH_REDIS_USERNAME":       redisUser,
		"FRAUDWATCH_REDIS_PASSWORD":       redisPass,
		"FRAUDWATCH_REDIS_TLS":            "true",
		"FRAUDWATCH_REDIS_TLS_CA_FILE":    ca.File,
		"FRAUDWATCH_REDIS_TLS_CERT_FILE":  cert,
		"FRAUDWATCH_REDIS_TLS_KEY_FILE":   key,
		"FRAUDWATCH_HMAC_SECRET":          testSecret,
		"FRAUDWATCH_OFFICIAL_LINES":       "+7 495 123-45-67",
		"FRAUDWATCH_HTTP_ADDR":            httpAddr,
		"FRAUDWATCH_LOG_FORMAT":           "json",
		"FRAUDWATCH_LOG_LEVEL":            "debug",
	}
	ctx, stop, done, stderr := startRun(t, env, 90*time.Second)
	waitHTTP(t, ctx, "http://"+httpAddr+"/readyz", http.StatusOK)

	conn, err := KafkaConfig{Brokers: brokers, SASL: KafkaSASLConfig{Mechanism: "SCRAM-SHA-512", Username: kafkaUser, Password: kafkaPass},
		TLS: KafkaTLSConfig{Enabled: true, CAFile: ca.File}}.connection("security-test")
	if err != nil {
		t.Fatal(err)
	}
	p, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: conn, Topic: in})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	scam := `{"id":"sec-1","kind":"message","ts":"` + time.Now().UTC().Format(time.RFC3339) + `","from":"+79169876543","to":"emp-7","text":"Здравствуйте, это служба безопасности банка. Продиктуйте код из СМС, чтобы отменить перевод."}`
	if err := p.Produce(ctx, []byte(scam)); err != nil {
		t.Fatal(err)
	}
	msgs, err := kafkaio.ReadTopic(ctx, conn, alerts, 1)
	if err != nil {
		t.Fatalf("no alert: %v\nlogs:\n%s", err, stderr.String())
	}
	var a models.Alert
	if err := json.Unmarshal(msgs[0].Value, &a); err != nil {
		t.Fatal(err)
	}
	if a.EventID != "sec-1" || a.Severity < models.SeverityMedium {
		t.Errorf("alert %+v", a)
	}
	served := get(t, "http://"+httpAddr+"/metrics") + get(t, "http://"+httpAddr+"/readyz")
	for _, secret := range []string{kafkaPass, redisPass, testSecret} {
		if strings.Contains(served, secret) {
			t.Errorf("/metrics or /readyz shows a secret (%q)", secret)
		}
	}
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("run exited %d:\n%s", code, stderr.String())
		}
	case <-ctx.Done():
		t.Fatal("run did not stop")
	}
	logs := stderr.String()
	for _, secret := range []string{kafkaPass, redisPass, testSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs show a secret (%q):\n%s", secret, logs)
		}
	}
}

// A Redis password sent without TLS to a host that is not loopback is
// logged as a warning at start, and so is SASL PLAIN without TLS.
func TestSecretsSentInTheClearAreWarnedAbout(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"PLAIN without TLS to a remote broker", Config{Kafka: KafkaConfig{Brokers: []string{"kafka.internal:9092"}, SASL: KafkaSASLConfig{Mechanism: "PLAIN"}}, Redis: RedisConfig{Addrs: []string{"127.0.0.1:6379"}}},
			[]string{"kafka.sasl PLAIN without kafka.tls"}},
		{"a Redis password without TLS to a remote server", Config{Kafka: KafkaConfig{Brokers: []string{"localhost:9092"}}, Redis: RedisConfig{Addrs: []string{"10.0.0.5:6379"}, Password: "pw"}},
			[]string{"redis.password without redis.tls"}},
		{"loopback and TLS need no warning", Config{Kafka: KafkaConfig{Brokers: []string{"[::1]:9092"}, SASL: KafkaSASLConfig{Mechanism: "PLAIN"}}, Redis: RedisConfig{Addrs: []string{"redis:6379"}, Password: "pw", TLS: RedisTLSConfig{Enabled: true}}},
			nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			warnInsecure(tt.cfg, slog.New(slog.NewTextHandler(&buf, nil)))
			if got := strings.Count(buf.String(), "level=WARN"); got != len(tt.want) {
				t.Errorf("%d warnings, want %d:\n%s", got, len(tt.want), buf.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("no warning %q:\n%s", w, buf.String())
				}
			}
		})
	}
}

// Rotating the HMAC key (new hmac.key_version and hmac.secret) starts new
// reputation: the version is part of every sender hash and so of every
// Redis key, so the first event after the rotation sees a sender it has
// never met, and its alert carries the new version. The old keys are not
// read again and expire on their own.
func TestRotatingTheHMACKeyStartsNewCounters(t *testing.T) {
	ctx := context.Background()
	prefix := uniqueName("fwrot:") + ":"
	old := testSettings(testRedis(t), prefix)
	rotated := old
	rotated.hmacVersion, rotated.hmacSecret = "v2", "a-completely-new-secret-0987654321"

	event := func(id string, minute int) models.Event {
		return models.Event{ID: id, Kind: models.KindMessage, TS: replayNow.Add(time.Duration(minute-60) * time.Minute),
			From: "+79169876543", To: "emp-7", Text: "Здравствуйте, это служба безопасности банка. Продиктуйте код из СМС."}
	}
	score := func(s settings, ev models.Event) models.Snapshot {
		t.Helper()
		p, err := newPipeline(ctx, s, true)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		sc, err := p.engine.Score(ctx, []models.Event{ev})
		if err != nil {
			t.Fatal(err)
		}
		if sc[0].Alert == nil || !strings.HasPrefix(sc[0].Alert.SenderHash, s.hmacVersion+":") {
			t.Fatalf("event %s: alert %+v, want one whose sender hash starts with %s:", ev.ID, sc[0].Alert, s.hmacVersion)
		}
		return sc[0].Snapshot
	}
	if got := score(old, event("rot-1", 0)); got.Events != 1 {
		t.Fatalf("first event under v1: %d events, want 1", got.Events)
	}
	if got := score(old, event("rot-2", 1)); got.Events != 2 {
		t.Fatalf("second event under v1: %d events, want 2", got.Events)
	}
	got := score(rotated, event("rot-3", 2))
	if got.Events != 1 || !got.FirstSeen.Equal(replayNow.Add(-58*time.Minute)) {
		t.Fatalf("first event under v2: %+v, want a sender seen for the first time", got)
	}
	if got := score(old, event("rot-4", 3)); got.Events != 3 {
		t.Fatalf("v1 counters after the rotation: %d events, want 3 (they are kept apart, not merged)", got.Events)
	}
}
