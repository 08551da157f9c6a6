package rules

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"fraudwatch/features"
)

// randomSet fills every feature with a value rules care about: small
// counts, zero, the odd negative or huge number, fractions, NaN-free
// floats, both bools and the strings the features take.
func randomSet(r *rand.Rand) *features.Set {
	var s features.Set
	v := reflect.ValueOf(&s).Elem()
	strs := []string{"", "ru", "en", "mixed", "RU", "US", "GB"}
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.Int:
			switch r.IntN(10) {
			case 0:
				f.SetInt(int64(r.IntN(1_000_000) - 500_000))
			case 1, 2, 3:
				f.SetInt(0)
			default:
				f.SetInt(int64(r.IntN(6)))
			}
		case reflect.Float64:
			switch r.IntN(6) {
			case 0:
				f.SetFloat(0)
			case 1:
				f.SetFloat(r.Float64() * 1e6)
			case 2:
				f.SetFloat(float64(r.IntN(5)))
			default:
				f.SetFloat(r.Float64())
			}
		case reflect.Bool:
			f.SetBool(r.IntN(2) == 0)
		case reflect.String:
			f.SetString(strs[r.IntN(len(strs))])
		}
	}
	return &s
}

func runVM(t *testing.T, prog *vm.Program, s *features.Set) bool {
	t.Helper()
	out, err := expr.Run(prog, s)
	if err != nil {
		t.Fatal(err)
	}
	return out.(bool)
}

// Every built-in rule, and conditions using every operator the fast path
// compiles, give the VM's answer on thousands of random feature sets.
func TestFastConditionsAgreeWithTheVM(t *testing.T) {
	rs, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	conds := []string{
		`tokens > 0.5 && max_amount >= 10000`, `-tokens < -2 || +max_amount == 1`, `tokens / urls > 1`,
		`max_amount / 0 > 1`, `tokens * 2 - urls == max_amount`, `lang == "ru" != (sender_country == "RU")`,
		`not has_sender and (call_duration <= 30 or call_missed)`, `tokens != 0.0`, `max_amount + 1 > tokens * 1.5`,
		`!(is_call == is_message)`, `tokens == 3 && -call_duration < 0`, `true && tokens >= 0 || false`,
	}
	fast := 0
	type pair struct {
		name string
		prog *vm.Program
		f    func(*features.Set) bool
	}
	var pairs []pair
	for _, r := range rs.rules {
		if r.fast != nil {
			fast++
			pairs = append(pairs, pair{r.ID, r.program, r.fast})
		}
	}
	if fast < len(rs.rules)*3/4 {
		t.Errorf("only %d of %d built-in rules run without the VM", fast, len(rs.rules))
	}
	for _, c := range conds {
		prog, err := expr.Compile(c, expr.Env(features.Set{}), expr.AsBool())
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		tree, err := parser.Parse(c)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := compileFast(tree.Node)
		if !ok {
			t.Fatalf("%s: not compiled by the fast path", c)
		}
		pairs = append(pairs, pair{c, prog, f})
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		s := randomSet(r)
		for _, p := range pairs {
			if got, want := p.f(s), runVM(t, p.prog, s); got != want {
				t.Fatalf("%s: fast path says %v, the VM %v, on %+v", p.name, got, want, *s)
			}
		}
	}
}

// Conditions outside the subset are left to the VM.
func TestFastPathLeavesTheRestToTheVM(t *testing.T) {
	for _, c := range []string{`tokens % 2 == 0`, `lang in ["ru", "en"]`, `tokens > 1 ? has_sender : false`, `lang matches "^r"`, `tokens ** 2 > 4`, `len(lang) > 1`, `lang + "x" == "rux"`, `lang < "s"`} {
		tree, err := parser.Parse(c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if _, ok := compileFast(tree.Node); ok {
			t.Errorf("%s: compiled by the fast path, which does not implement it", c)
		}
	}
}
