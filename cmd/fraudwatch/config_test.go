package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const testSecret = "0123456789abcdef-test"

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTheExampleConfigLoadsWithASecretFromTheEnvironment(t *testing.T) {
	cfg, err := LoadConfig("testdata/config.example.yaml", envMap(map[string]string{"FRAUDWATCH_HMAC_SECRET": testSecret}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kafka.BatchWait != 5*time.Millisecond || cfg.Redis.IDRetention != 168*time.Hour || len(cfg.Detector.OfficialLines) != 2 {
		t.Errorf("config %+v", cfg)
	}
}

func TestEnvironmentOverridesTheFile(t *testing.T) {
	cfg, err := LoadConfig("testdata/config.example.yaml", envMap(map[string]string{
		"FRAUDWATCH_HMAC_SECRET":      testSecret,
		"FRAUDWATCH_KAFKA_BROKERS":    "k1:9092, k2:9092",
		"FRAUDWATCH_REDIS_ADDRS":      "r1:6379",
		"FRAUDWATCH_REDIS_PASSWORD":   "pw",
		"FRAUDWATCH_KAFKA_GROUP_ID":   "g2",
		"FRAUDWATCH_INBOUND_TOPIC":    "in2",
		"FRAUDWATCH_OFFICIAL_LINES":   "+74950000000",
		"FRAUDWATCH_MIN_SEVERITY":     "high",
		"FRAUDWATCH_BATCH_WAIT":       "5ms",
		"FRAUDWATCH_BATCH_SIZE":       "42",
		"FRAUDWATCH_HMAC_KEY_VERSION": "v2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Kafka.Brokers, ",") != "k1:9092,k2:9092" || cfg.Redis.Addrs[0] != "r1:6379" || cfg.Redis.Password != "pw" ||
		cfg.Kafka.GroupID != "g2" || cfg.Kafka.InboundTopic != "in2" || cfg.Detector.OfficialLines[0] != "+74950000000" ||
		cfg.Detector.MinSeverity != "high" || cfg.Kafka.BatchWait != 5*time.Millisecond || cfg.Kafka.BatchSize != 42 || cfg.HMAC.KeyVersion != "v2" {
		t.Errorf("config %+v", cfg)
	}
}

func TestInvalidConfigsAreRejectedWithAClearReason(t *testing.T) {
	cases := []struct {
		name, body string
		env        map[string]string
		want       string
	}{
		{"an unknown key", "kafka:\n  brokerz: [x]\n", map[string]string{"FRAUDWATCH_HMAC_SECRET": testSecret, "FRAUDWATCH_OFFICIAL_LINES": "+74951234567"}, "field brokerz not found"},
		{"no official lines", "", map[string]string{"FRAUDWATCH_HMAC_SECRET": testSecret}, "detector.official_lines: none"},
		{"no HMAC secret", "detector:\n  official_lines: [\"+74951234567\"]\n", nil, "hmac: hmac secret: missing"},
		{"a short HMAC secret", "detector:\n  official_lines: [\"+74951234567\"]\n", map[string]string{"FRAUDWATCH_HMAC_SECRET": "short"}, "shorter than 16 bytes"},
		{"a duration that is not one", "kafka:\n  batch_wait: soon\n", map[string]string{"FRAUDWATCH_HMAC_SECRET": testSecret, "FRAUDWATCH_OFFICIAL_LINES": "+74951234567"}, "line 2: cannot unmarshal !!str `soon` into time.Duration"},
		{"an unknown severity", "", map[string]string{"FRAUDWATCH_HMAC_SECRET": testSecret, "FRAUDWATCH_OFFICIAL_LINES": "+74951234567", "FRAUDWATCH_MIN_SEVERITY": "severe"}, `detector.min_severity: "severe"`},
		{"a bad integer in the environment", "", map[string]string{"FRAUDWATCH_HMAC_SECRET": testSecret, "FRAUDWATCH_OFFICIAL_LINES": "+74951234567", "FRAUDWATCH_BATCH_SIZE": "lots"}, "FRAUDWATCH_BATCH_SIZE"},
		{"an id retention under an hour", "redis:\n  id_retention: 10m\n", map[string]string{"FRAUDWATCH_HMAC_SECRET": testSecret, "FRAUDWATCH_OFFICIAL_LINES": "+74951234567"}, "redis.id_retention"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, tc.body), envMap(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	t.Run("a secret in a bad env value is not echoed", func(t *testing.T) {
		_, err := LoadConfig("", envMap(map[string]string{"FRAUDWATCH_HMAC_SECRET": testSecret, "FRAUDWATCH_OFFICIAL_LINES": "+74951234567", "FRAUDWATCH_REDIS_DB": "hunter2-secret"}))
		if err == nil || strings.Contains(err.Error(), testSecret) {
			t.Fatalf("err = %v", err)
		}
	})
}

// The README's configuration reference lists every environment variable
// the config reads, and nothing else: it cannot drift from the struct.
func TestTheREADMEListsEveryEnvironmentVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, v := range EnvVars() {
		row := regexp.MustCompile("\\|\\s*`" + regexp.QuoteMeta(v.Path) + "`\\s*\\|\\s*`" + regexp.QuoteMeta(v.Name) + "`\\s*\\|")
		if !row.MatchString(readme) {
			t.Errorf("README has no row | `%s` | `%s` |", v.Path, v.Name)
		}
	}
	known := map[string]bool{}
	for _, v := range EnvVars() {
		known[v.Name] = true
	}
	for _, m := range regexp.MustCompile("`(FRAUDWATCH_[A-Z0-9_]+)`").FindAllStringSubmatch(readme, -1) {
		if !known[m[1]] && m[1] != "FRAUDWATCH_CONFIG" {
			t.Errorf("README mentions %s, which the config does not read", m[1])
		}
	}
}
