package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeEnv is the operator's environment for the compose file: the
// variables it requires (":?") and nothing else.
var composeEnv = map[string]string{
	"FRAUDWATCH_HMAC_SECRET":         "compose-test-secret-0123456789",
	"FRAUDWATCH_INGEST_VERIFY_TOKEN": "compose-test-token",
	"FRAUDWATCH_INGEST_APP_SECRET":   "compose-test-app-secret",
	"FRAUDWATCH_TRIAGE_TOKENS":       "soc-anna:analyst:compose-test-token-0123",
}

// loadCompose loads docker-compose.yml the way `docker compose config`
// does, offline: schema validation, interpolation from env only (not the
// test's own environment), paths resolved against the repository root.
func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for k, v := range env {
		pairs = append(pairs, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(pairs),
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func mustLoadCompose(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadCompose(t, composeEnv)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return s
}

func envOf(s types.ServiceConfig) map[string]string {
	m := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			m[k] = *v
		}
	}
	return m
}

func TestComposeFileRunsKafkaInKRaftRedisAndBothCommands(t *testing.T) {
	p := mustLoadCompose(t)
	kafka := service(t, p, "kafka")
	if kafka.Image != "apache/kafka:4.1.0" {
		t.Errorf("kafka image %q, want apache/kafka:4.1.0", kafka.Image)
	}
	kenv := envOf(kafka)
	if kenv["KAFKA_PROCESS_ROLES"] != "broker,controller" || kenv["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "" || kenv["CLUSTER_ID"] == "" {
		t.Errorf("kafka is not a single KRaft node: %v", kenv)
	}
	if kenv["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] != "false" {
		t.Error("the broker auto-creates topics: a misspelt topic would be created silently")
	}
	if redis := service(t, p, "redis"); !strings.HasPrefix(redis.Image, "redis:7") {
		t.Errorf("redis image %q, want redis:7…", redis.Image)
	}

	cases := []struct {
		service, command, addrVar, port string
		dependsOn                       map[string]string
	}{
		{"run", "run", "FRAUDWATCH_HTTP_ADDR", "8080", map[string]string{"topics": types.ServiceConditionCompletedSuccessfully, "redis": types.ServiceConditionHealthy}},
		{"ingest", "ingest", "FRAUDWATCH_INGEST_ADDR", "8081", map[string]string{"topics": types.ServiceConditionCompletedSuccessfully}},
		{"triage", "triage", "FRAUDWATCH_TRIAGE_ADDR", "8090", map[string]string{"topics": types.ServiceConditionCompletedSuccessfully, "redis": types.ServiceConditionHealthy}},
	}
	root, _ := filepath.Abs("../..")
	for _, tc := range cases {
		t.Run(tc.service, func(t *testing.T) {
			s := service(t, p, tc.service)
			if s.Build == nil || s.Build.Context != root || s.Build.Dockerfile != "Dockerfile" {
				t.Errorf("build %+v, want the repository's Dockerfile", s.Build)
			}
			if !slices.Equal([]string(s.Command), []string{tc.command}) {
				t.Errorf("command %q, want [%s]", s.Command, tc.command)
			}
			env := envOf(s)
			if !strings.HasSuffix(env[tc.addrVar], ":"+tc.port) {
				t.Errorf("%s=%q does not listen on %s", tc.addrVar, env[tc.addrVar], tc.port)
			}
			published := false
			for _, pc := range s.Ports {
				if pc.Target == mustAtoi(t, tc.port) && pc.Published == tc.port {
					published = true
				}
			}
			if !published {
				t.Errorf("port %s not published: %+v", tc.port, s.Ports)
			}
			if s.HealthCheck == nil || !strings.Contains(strings.Join(s.HealthCheck.Test, " "), "127.0.0.1:"+tc.port) {
				t.Errorf("healthcheck %+v does not probe port %s", s.HealthCheck, tc.port)
			}
			for dep, cond := range tc.dependsOn {
				if got := s.DependsOn[dep].Condition; got != cond {
					t.Errorf("depends_on %s: condition %q, want %q", dep, got, cond)
				}
			}
			// The brokers are the broker's advertised in-network listener.
			brokers := env["FRAUDWATCH_KAFKA_BROKERS"]
			if !strings.Contains(kenv["KAFKA_ADVERTISED_LISTENERS"], "//"+brokers) {
				t.Errorf("FRAUDWATCH_KAFKA_BROKERS=%q is not advertised by kafka (%s)", brokers, kenv["KAFKA_ADVERTISED_LISTENERS"])
			}
		})
	}
	if c := service(t, p, "topics").DependsOn["kafka"].Condition; c != types.ServiceConditionHealthy {
		t.Errorf("topics starts before kafka is healthy (condition %q)", c)
	}
	for _, name := range []string{"kafka", "redis"} {
		if service(t, p, name).HealthCheck == nil {
			t.Errorf("%s has no healthcheck, so depends_on conditions cannot wait for it", name)
		}
	}
}

// Every FRAUDWATCH_* variable in the compose file is one the config reads,
// and each command's environment passes that command's own validation.
func TestComposeEnvironmentMatchesTheConfigReference(t *testing.T) {
	p := mustLoadCompose(t)
	known := map[string]bool{"FRAUDWATCH_CONFIG": true}
	for _, v := range EnvVars() {
		known[v.Name] = true
	}
	for _, s := range p.Services {
		for name := range s.Environment {
			if strings.HasPrefix(name, "FRAUDWATCH_") && !known[name] {
				t.Errorf("service %s sets %s, which the config does not read", s.Name, name)
			}
		}
	}
	runEnv := envOf(service(t, p, "run"))
	if _, err := LoadConfig("", envMap(runEnv)); err != nil {
		t.Errorf("run's environment in compose does not pass run's validation: %v", err)
	}
	if _, err := loadConfigFor("", envMap(envOf(service(t, p, "ingest"))), validateIngestConfig); err != nil {
		t.Errorf("ingest's environment in compose does not pass ingest's validation: %v", err)
	}
	if _, err := loadConfigFor("", envMap(envOf(service(t, p, "triage"))), validateTriageConfig); err != nil {
		t.Errorf("triage's environment in compose does not pass triage's validation: %v", err)
	}
}

// Secrets come from the operator's environment, never from the file: the
// file does not load without them.
func TestComposeRequiresTheSecretsFromTheEnvironment(t *testing.T) {
	for name := range composeEnv {
		t.Run(name, func(t *testing.T) {
			env := copyEnv(composeEnv)
			delete(env, name)
			if _, err := loadCompose(t, env); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("loads without %s (err %v)", name, err)
			}
		})
	}
	p := mustLoadCompose(t)
	secrets := map[string]bool{}
	for _, v := range EnvVars() {
		if v.Secret {
			secrets[v.Name] = true
		}
	}
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Services {
		for name := range s.Environment {
			if secrets[name] && !regexp.MustCompile(regexp.QuoteMeta(name)+`: \$\{`+regexp.QuoteMeta(name)+`:\?`).Match(raw) {
				t.Errorf("service %s: %s is not taken from the environment as ${%s:?…}", s.Name, name, name)
			}
		}
	}
}

func copyEnv(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// The topics service creates every topic the config names by default,
// the feedback topic, and every topic the services are pointed at.
func TestComposeCreatesTheConfiguredTopics(t *testing.T) {
	p := mustLoadCompose(t)
	topics := service(t, p, "topics")
	script := strings.Join(topics.Command, " ")
	if !strings.Contains(script, "/opt/kafka/bin/kafka-topics.sh") || !strings.Contains(script, "--if-not-exists") {
		t.Fatalf("topics service does not create topics idempotently with kafka-topics.sh: %q", script)
	}
	m := regexp.MustCompile(`for t in ([^;]+);`).FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("no `for t in …;` topic list in %q", script)
	}
	created := map[string]bool{}
	for _, name := range strings.Fields(m[1]) {
		created[name] = true
	}
	want := []string{"fraud.feedback"}
	k := reflect.ValueOf(DefaultConfig().Kafka)
	for i := 0; i < k.NumField(); i++ {
		if strings.HasSuffix(k.Type().Field(i).Tag.Get("yaml"), "_topic") {
			want = append(want, k.Field(i).String())
		}
	}
	for _, s := range p.Services {
		for name, v := range s.Environment {
			if strings.HasPrefix(name, "FRAUDWATCH_") && strings.HasSuffix(name, "_TOPIC") && v != nil {
				want = append(want, *v)
			}
		}
	}
	if len(want) < 4 {
		t.Fatalf("found only topics %q in the config", want)
	}
	for _, name := range want {
		if !created[name] {
			t.Errorf("topic %q is used but not created (created: %v)", name, m[1])
		}
	}
}

// The Dockerfile builds this command, statically, and runs it unprivileged
// from a small image.
func TestDockerfileBuildsThisCommandStaticallyAndRunsAsNonRoot(t *testing.T) {
	f, err := os.Open("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type stage struct {
		from                 string
		runs, user, entry    []string
		copiesFromBuildStage bool
	}
	var stages []*stage
	sc := bufio.NewScanner(f)
	var line string
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") { // continuation
			line += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		line += l
		instr, args, _ := strings.Cut(line, " ")
		line = ""
		switch strings.ToUpper(instr) {
		case "FROM":
			stages = append(stages, &stage{from: args})
		case "RUN":
			stages[len(stages)-1].runs = append(stages[len(stages)-1].runs, args)
		case "USER":
			stages[len(stages)-1].user = append(stages[len(stages)-1].user, args)
		case "ENTRYPOINT":
			stages[len(stages)-1].entry = append(stages[len(stages)-1].entry, args)
		case "COPY":
			if strings.HasPrefix(args, "--from=") {
				stages[len(stages)-1].copiesFromBuildStage = true
			}
		}
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a runtime stage", len(stages))
	}
	build := regexp.MustCompile(`go build .*-o (\S+) (\./\S+)`)
	var built, pkg string
	for _, r := range stages[0].runs {
		if m := build.FindStringSubmatch(r); m != nil {
			built, pkg = m[1], m[2]
			if !strings.Contains(r, "CGO_ENABLED=0") {
				t.Errorf("the build is not static (no CGO_ENABLED=0): %s", r)
			}
		}
	}
	wd, _ := os.Getwd()
	root, _ := filepath.Abs("../..")
	if rel, _ := filepath.Rel(root, wd); "./"+filepath.ToSlash(rel) != pkg {
		t.Errorf("the Dockerfile builds %q, want ./%s (this command)", pkg, rel)
	}
	rt := stages[len(stages)-1]
	if strings.Contains(rt.from, "golang") || !rt.copiesFromBuildStage {
		t.Errorf("runtime stage %q: want a small base with only the built binary copied in", rt.from)
	}
	if len(rt.user) == 0 || strings.HasPrefix(rt.user[len(rt.user)-1], "root") || strings.HasPrefix(rt.user[len(rt.user)-1], "0") {
		t.Errorf("runtime user %q, want a non-root user", rt.user)
	}
	if len(rt.entry) == 0 || !strings.Contains(rt.entry[0], "fraudwatch") || built == "" {
		t.Errorf("entrypoint %q, binary %q", rt.entry, built)
	}
	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(ignore), "\n") {
		l = strings.TrimSpace(l)
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "detector", "features", "models", "fixtures"} {
			if l == needed || l == "/"+needed || l == "*" {
				t.Errorf(".dockerignore excludes %s, which the build needs", needed)
			}
		}
	}
}

func mustAtoi(t *testing.T, s string) uint32 {
	t.Helper()
	var n uint32
	for _, r := range s {
		if r < '0' || r > '9' {
			t.Fatalf("not a port: %q", s)
		}
		n = n*10 + uint32(r-'0')
	}
	return n
}
