// Package rules loads, validates and evaluates the analyst-owned rule
// file: YAML rules whose conditions are expr-lang expressions over the
// named features of features.Set, a score-to-severity table and the advice
// shown to employees per category.
package rules

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	yaml "go.yaml.in/yaml/v3"

	"fraudwatch/features"
	"fraudwatch/models"
)

// File is the YAML form of a rule file, decoded strictly: unknown keys are
// errors, so a misspelt key never silently disables a rule.
type File struct {
	Version    string                         `yaml:"version"`
	Thresholds Thresholds                     `yaml:"thresholds"`
	Advice     map[models.Category]AdviceText `yaml:"advice"`
	Rules      []Rule                         `yaml:"rules"`
}

// Thresholds map a total score to a severity: the highest threshold the
// score reaches wins. Each must be positive and greater than the one below.
type Thresholds struct {
	Low      float64 `yaml:"low"`
	Medium   float64 `yaml:"medium"`
	High     float64 `yaml:"high"`
	Critical float64 `yaml:"critical"`
}

// AdviceText is the employee warning for one category. "{lines}" is
// replaced by the official verification line(s) from config.
type AdviceText struct {
	RU string `yaml:"ru"`
	EN string `yaml:"en"`
}

// Rule is one analyst-written rule.
type Rule struct {
	ID          string          `yaml:"id"`
	Category    models.Category `yaml:"category"`
	Description string          `yaml:"description"`
	When        string          `yaml:"when"`
	Weight      float64         `yaml:"weight"`
	// Evidence names the features whose excerpts explain the rule; when
	// empty, the features named in the condition are used, in order.
	Evidence []string `yaml:"evidence,omitempty"`
	// Shadow rules are evaluated and reported but never count towards the
	// score: how a new rule is tried on live traffic before it ships.
	Shadow bool `yaml:"shadow,omitempty"`
}

// Ruleset is a validated, compiled rule file. It is immutable and safe for
// concurrent use; reloading means building a new Ruleset.
type Ruleset struct {
	version    string
	thresholds Thresholds
	advice     map[models.Category]AdviceText
	rules      []compiled
	vms        sync.Pool
}

type compiled struct {
	Rule
	program  *vm.Program
	fast     func(*features.Set) bool // the same condition without the VM; nil when it needs the VM (fast.go)
	evidence []string
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)

// LoadFile reads and compiles a rule file. Errors name the file, the rule
// and the problem.
func LoadFile(path string) (*Ruleset, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading rule file: %w", err)
	}
	return Parse(path, b)
}

// Parse decodes and compiles rule file content; name is used in errors.
func Parse(name string, b []byte) (*Ruleset, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("rule file %s: %w", name, err)
	}
	rs, err := Compile(f)
	if err != nil {
		return nil, fmt.Errorf("rule file %s: %w", name, err)
	}
	return rs, nil
}

// Compile validates and compiles a decoded rule file. Every problem is
// reported, one per line, each naming the rule.
func Compile(f File) (*Ruleset, error) {
	var errs []error
	if strings.TrimSpace(f.Version) == "" {
		errs = append(errs, errors.New("version: missing (name the rule set so alerts can say which rules made them)"))
	}
	if err := f.Thresholds.validate(); err != nil {
		errs = append(errs, err)
	}
	for c := range f.Advice {
		if !c.Valid() && c != "default" {
			errs = append(errs, fmt.Errorf("advice: unknown category %q", c))
		}
	}
	if a, ok := f.Advice["default"]; !ok || a.RU == "" || a.EN == "" {
		errs = append(errs, errors.New(`advice: "default" needs both ru and en text`))
	}
	if len(f.Rules) == 0 {
		errs = append(errs, errors.New("rules: none defined"))
	}
	known := map[string]bool{}
	for _, n := range features.FeatureNames() {
		known[n] = true
	}
	seen := map[string]bool{}
	out := make([]compiled, 0, len(f.Rules))
	for i, r := range f.Rules {
		c, err := compileRule(r, known)
		if err != nil {
			label := r.ID
			if label == "" {
				label = fmt.Sprintf("#%d", i+1)
			}
			errs = append(errs, fmt.Errorf("rule %q: %w", label, err))
			continue
		}
		if seen[r.ID] {
			errs = append(errs, fmt.Errorf("rule %q: duplicate id", r.ID))
			continue
		}
		seen[r.ID] = true
		out = append(out, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	rs := &Ruleset{version: f.Version, thresholds: f.Thresholds, advice: f.Advice, rules: out}
	rs.vms.New = func() any { return &vm.VM{} }
	return rs, nil
}

func (t Thresholds) validate() error {
	levels := []struct {
		name string
		v    float64
	}{{"low", t.Low}, {"medium", t.Medium}, {"high", t.High}, {"critical", t.Critical}}
	prev := 0.0
	for _, l := range levels {
		if !(l.v > prev) || math.IsInf(l.v, 0) {
			return fmt.Errorf("thresholds: %s = %v must be greater than %v (the level below)", l.name, l.v, prev)
		}
		prev = l.v
	}
	return nil
}

func compileRule(r Rule, known map[string]bool) (compiled, error) {
	switch {
	case r.ID == "":
		return compiled{}, errors.New("id: missing")
	case !idPattern.MatchString(r.ID):
		return compiled{}, fmt.Errorf("id: %q is not lower_snake words joined by dots", r.ID)
	case !r.Category.Valid():
		return compiled{}, fmt.Errorf("category: unknown %q (want one of %s)", r.Category, categoryList())
	case strings.TrimSpace(r.When) == "":
		return compiled{}, errors.New("when: missing condition")
	case math.IsNaN(r.Weight) || math.IsInf(r.Weight, 0):
		return compiled{}, errors.New("weight: not a finite number")
	case strings.TrimSpace(r.Description) == "":
		return compiled{}, errors.New("description: missing (say what the rule catches, for the SOC)")
	}
	tree, err := parser.Parse(r.When)
	if err != nil {
		return compiled{}, fmt.Errorf("when: %v", err)
	}
	names := identifiers(tree.Node)
	for _, n := range names {
		if !known[n] {
			return compiled{}, fmt.Errorf("when: unknown feature %q (see the feature list in the README)", n)
		}
	}
	prog, err := expr.Compile(r.When, expr.Env(features.Set{}), expr.AsBool())
	if err != nil {
		return compiled{}, fmt.Errorf("when: %v", err)
	}
	evidence := r.Evidence
	for _, n := range evidence {
		if !known[n] {
			return compiled{}, fmt.Errorf("evidence: unknown feature %q", n)
		}
	}
	if len(evidence) == 0 {
		evidence = names
	}
	fast, _ := compileFast(tree.Node)
	return compiled{Rule: r, program: prog, fast: fast, evidence: evidence}, nil
}

// identifiers lists the distinct names a condition refers to, in order.
func identifiers(node ast.Node) []string {
	v := &identVisitor{seen: map[string]bool{}}
	ast.Walk(&node, v)
	return v.names
}

type identVisitor struct {
	seen  map[string]bool
	names []string
}

func (v *identVisitor) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok && !v.seen[id.Value] {
		v.seen[id.Value] = true
		v.names = append(v.names, id.Value)
	}
}

func categoryList() string {
	var names []string
	for _, c := range models.AllCategories() {
		names = append(names, string(c))
	}
	return strings.Join(names, ", ")
}

// Version names the rule set; alerts carry it.
func (rs *Ruleset) Version() string { return rs.version }

// Rules returns the rules in file order (copies; the Ruleset stays immutable).
func (rs *Ruleset) Rules() []Rule {
	out := make([]Rule, len(rs.rules))
	for i, c := range rs.rules {
		out[i] = c.Rule
	}
	return out
}

// Evaluation is the outcome of the rules on one event's features.
type Evaluation struct {
	Score    float64
	Severity models.Severity
	// Categories of the counting rules with positive weight, strongest
	// first (by summed weight; unknown_number, which only strengthens
	// others, always last). The first category picks the advice.
	Categories []models.Category
	// Reasons: counting rules by weight, heaviest first (file order among
	// equals), then shadow rules in file order.
	Reasons []models.Reason
}

// Evaluate runs every rule against set. A rule whose evaluation fails at
// run time (it cannot at the types expr checks, but a panic in an
// expression is still caught by expr) is skipped and reported in err,
// which never stops the other rules.
//
// unknown_number never makes an alert on its own: when every counting rule
// that fired is of that category, the severity is none.
func (rs *Ruleset) Evaluate(set *features.Set) (Evaluation, error) {
	machine := rs.vms.Get().(*vm.VM)
	defer rs.vms.Put(machine)
	var ev Evaluation
	var shadow []models.Reason
	var errs []error
	onlyUnknown := true
	for i := range rs.rules {
		r := &rs.rules[i]
		if r.fast != nil {
			if !r.fast(set) {
				continue
			}
		} else {
			out, err := machine.Run(r.program, set)
			if err != nil {
				errs = append(errs, fmt.Errorf("rule %q: %w", r.ID, err))
				continue
			}
			if fired, _ := out.(bool); !fired {
				continue
			}
		}
		reason := models.Reason{Rule: r.ID, Category: r.Category, Weight: r.Weight, Evidence: evidenceFor(r.evidence, set), Shadow: r.Shadow}
		if r.Shadow {
			shadow = append(shadow, reason)
			continue
		}
		ev.Reasons = append(ev.Reasons, reason)
		ev.Score += r.Weight
		if r.Weight > 0 {
			if r.Category != models.CategoryUnknownNumber {
				onlyUnknown = false
			}
			if !containsCategory(ev.Categories, r.Category) {
				ev.Categories = append(ev.Categories, r.Category)
			}
		}
	}
	ev.Score = math.Round(ev.Score*100) / 100
	ev.Categories = byStrength(ev.Categories, ev.Reasons)
	slices.SortStableFunc(ev.Reasons, func(a, b models.Reason) int { return cmp.Compare(b.Weight, a.Weight) }) // heaviest first
	ev.Reasons = append(ev.Reasons, shadow...)
	ev.Severity = rs.severity(ev.Score)
	if onlyUnknown {
		ev.Severity = models.SeverityNone
	}
	return ev, errors.Join(errs...)
}

func (rs *Ruleset) severity(score float64) models.Severity {
	t := rs.thresholds
	switch {
	case score >= t.Critical:
		return models.SeverityCritical
	case score >= t.High:
		return models.SeverityHigh
	case score >= t.Medium:
		return models.SeverityMedium
	case score >= t.Low:
		return models.SeverityLow
	}
	return models.SeverityNone
}

// Thresholds returns the score-to-severity table.
func (rs *Ruleset) Thresholds() Thresholds { return rs.thresholds }

// Advice returns the advice for the main category of a verdict, with
// "{lines}" replaced by lines. Categories without their own text get the
// default advice.
func (rs *Ruleset) Advice(cats []models.Category, lines string) models.Advice {
	a := rs.advice["default"]
	for _, c := range cats {
		if t, ok := rs.advice[c]; ok && t.RU != "" && t.EN != "" {
			a = t
			break
		}
	}
	return models.Advice{
		RU: strings.ReplaceAll(a.RU, "{lines}", lines),
		EN: strings.ReplaceAll(a.EN, "{lines}", lines),
	}
}

// byStrength orders categories by the summed weight of their reasons,
// strongest first, then spam, then unknown_number: it strengthens the
// others but is never what an alert is about.
func byStrength(cats []models.Category, reasons []models.Reason) []models.Category {
	weight := make(map[models.Category]float64, len(cats))
	for _, r := range reasons {
		weight[r.Category] += r.Weight
	}
	// unknown_number only strengthens the others, and spam is the
	// catch-all for advertising: a specific category, when there is one,
	// names the alert and picks its advice.
	rank := func(c models.Category) int {
		switch c {
		case models.CategoryUnknownNumber:
			return 2
		case models.CategorySpam:
			return 1
		}
		return 0
	}
	slices.SortStableFunc(cats, func(a, b models.Category) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return cmp.Compare(ra, rb)
		}
		return cmp.Compare(weight[b], weight[a])
	})
	return cats
}

func containsCategory(cs []models.Category, c models.Category) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

func evidenceFor(names []string, set *features.Set) string {
	if set.Evidence == nil {
		return ""
	}
	var parts []string
	for _, n := range names {
		if e := set.Evidence[n]; e != "" {
			parts = append(parts, e)
			if len(parts) == 2 {
				break
			}
		}
	}
	return strings.Join(parts, "; ")
}
