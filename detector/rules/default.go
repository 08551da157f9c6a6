package rules

import _ "embed"

//go:embed default.yaml
var defaultRules []byte

// DefaultYAML returns the built-in rule file, the one `run` uses when the
// config names none. Analysts start their own from a copy of it.
func DefaultYAML() []byte { return append([]byte(nil), defaultRules...) }

// Default compiles the built-in rule file.
func Default() (*Ruleset, error) { return Parse("built-in default.yaml", defaultRules) }
