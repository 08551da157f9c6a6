package httpapi_test

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"fraudwatch/detector/triage"
	"fraudwatch/detector/triage/httpapi"
)

func TestConfigValidate(t *testing.T) {
	ok := httpapi.Token{Name: "anna", Role: triage.RoleAnalyst, Token: "0123456789abcdef"}
	for _, tc := range []struct {
		name    string
		tokens  []httpapi.Token
		wantErr string // "" for valid
	}{
		{"one token of 16 characters is enough", []httpapi.Token{ok}, ""},
		{"no token is refused", nil, "no tokens"},
		{"an empty name is refused", []httpapi.Token{{Role: triage.RoleViewer, Token: "0123456789abcdef"}}, "empty name"},
		{"a short token is refused", []httpapi.Token{{Name: "x", Role: triage.RoleViewer, Token: "short-secret"}}, "at least 16"},
		{"an unknown role is refused", []httpapi.Token{{Name: "x", Role: "root", Token: "0123456789abcdef"}}, `role "root"`},
		{"two tokens of one name are refused", []httpapi.Token{ok, {Name: "anna", Role: triage.RoleViewer, Token: "fedcba9876543210"}}, "name also used by token 0"},
		{"one token for two names is refused", []httpapi.Token{ok, {Name: "boris", Role: triage.RoleViewer, Token: ok.Token}}, "token also used by token 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := httpapi.Config{Tokens: tc.tokens}
			err := cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			for _, tok := range tc.tokens {
				if err != nil && tok.Token != "" && strings.Contains(err.Error(), tok.Token) {
					t.Errorf("the error shows a token: %v", err)
				}
			}
			if _, err := httpapi.New(unusedService{}, httpapi.Config{Tokens: tc.tokens}); (err == nil) != (tc.wantErr == "") {
				t.Errorf("New: error %v", err)
			}
		})
	}
}

func TestTokensDecodeFromYAML(t *testing.T) {
	var cfg httpapi.Config
	src := "tokens:\n  - name: anna\n    role: analyst\n    token: 0123456789abcdef0123\n"
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Tokens) != 1 || cfg.Tokens[0] != (httpapi.Token{Name: "anna", Role: triage.RoleAnalyst, Token: "0123456789abcdef0123"}) {
		t.Errorf("decoded %+v", cfg.Tokens)
	}
}
