package rules

import (
	"reflect"
	"unsafe"

	"github.com/expr-lang/expr/ast"

	"fraudwatch/features"
)

// Rule conditions are checked and compiled by expr, and most of them are
// also compiled here into Go closures over features.Set: expr's VM reads
// every feature through reflection and boxes every value, which made rule
// evaluation a seventh of the scoring time. A condition qualifies when it
// is made only of feature names, number, bool and string literals, the
// unary operators ! not - +, && and || or, == != < <= > >= on numbers
// (== != also on bools and strings), and + - * / on numbers. The closures
// follow expr's rules for these: int op int is an int, a float on either
// side makes both float64, / is always a float64 division. Anything else
// (%, **, in, matches, ternaries, builtins, ...) runs on the VM. Both ways
// give the same answer: TestFastConditionsAgreeWithTheVM checks every
// built-in rule on random feature sets.

type valueKind int

const (
	kindBool valueKind = iota + 1
	kindInt
	kindFloat
	kindString
)

// fastValue is a compiled subexpression: exactly one of the functions is
// set, as kind says.
type fastValue struct {
	kind valueKind
	b    func(*features.Set) bool
	i    func(*features.Set) int
	f    func(*features.Set) float64
	s    func(*features.Set) string
}

// asFloat returns v as a float64 function; v must be numeric.
func (v fastValue) asFloat() func(*features.Set) float64 {
	if v.kind == kindFloat {
		return v.f
	}
	i := v.i
	return func(s *features.Set) float64 { return float64(i(s)) }
}

// featureFields maps each expr name of features.Set to its field.
var featureFields = func() map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	t := reflect.TypeFor[features.Set]()
	for i := range t.NumField() {
		f := t.Field(i)
		if name := f.Tag.Get("expr"); name != "" && name != "-" && f.IsExported() {
			m[name] = f
		}
	}
	return m
}()

// compileFast compiles a condition; ok is false when it is not in the
// subset above.
func compileFast(node ast.Node) (cond func(*features.Set) bool, ok bool) {
	v, ok := compileValue(node)
	if !ok || v.kind != kindBool {
		return nil, false
	}
	return v.b, true
}

func compileValue(node ast.Node) (fastValue, bool) {
	switch n := node.(type) {
	case *ast.IdentifierNode:
		return fieldValue(n.Value)
	case *ast.IntegerNode:
		x := n.Value
		return fastValue{kind: kindInt, i: func(*features.Set) int { return x }}, true
	case *ast.FloatNode:
		x := n.Value
		return fastValue{kind: kindFloat, f: func(*features.Set) float64 { return x }}, true
	case *ast.BoolNode:
		x := n.Value
		return fastValue{kind: kindBool, b: func(*features.Set) bool { return x }}, true
	case *ast.StringNode:
		x := n.Value
		return fastValue{kind: kindString, s: func(*features.Set) string { return x }}, true
	case *ast.UnaryNode:
		return compileUnary(n)
	case *ast.BinaryNode:
		return compileBinary(n)
	}
	return fastValue{}, false
}

// fieldValue reads a feature straight from its offset in the struct.
func fieldValue(name string) (fastValue, bool) {
	f, ok := featureFields[name]
	if !ok {
		return fastValue{}, false
	}
	off := f.Offset
	switch f.Type.Kind() {
	case reflect.Bool:
		return fastValue{kind: kindBool, b: func(s *features.Set) bool { return *(*bool)(unsafe.Add(unsafe.Pointer(s), off)) }}, true
	case reflect.Int:
		return fastValue{kind: kindInt, i: func(s *features.Set) int { return *(*int)(unsafe.Add(unsafe.Pointer(s), off)) }}, true
	case reflect.Float64:
		return fastValue{kind: kindFloat, f: func(s *features.Set) float64 { return *(*float64)(unsafe.Add(unsafe.Pointer(s), off)) }}, true
	case reflect.String:
		return fastValue{kind: kindString, s: func(s *features.Set) string { return *(*string)(unsafe.Add(unsafe.Pointer(s), off)) }}, true
	}
	return fastValue{}, false
}

func compileUnary(n *ast.UnaryNode) (fastValue, bool) {
	x, ok := compileValue(n.Node)
	if !ok {
		return fastValue{}, false
	}
	switch {
	case (n.Operator == "!" || n.Operator == "not") && x.kind == kindBool:
		b := x.b
		return fastValue{kind: kindBool, b: func(s *features.Set) bool { return !b(s) }}, true
	case n.Operator == "+" && (x.kind == kindInt || x.kind == kindFloat):
		return x, true
	case n.Operator == "-" && x.kind == kindInt:
		i := x.i
		return fastValue{kind: kindInt, i: func(s *features.Set) int { return -i(s) }}, true
	case n.Operator == "-" && x.kind == kindFloat:
		f := x.f
		return fastValue{kind: kindFloat, f: func(s *features.Set) float64 { return -f(s) }}, true
	}
	return fastValue{}, false
}

func isNumber(k valueKind) bool { return k == kindInt || k == kindFloat }

func compileBinary(n *ast.BinaryNode) (fastValue, bool) {
	l, ok := compileValue(n.Left)
	if !ok {
		return fastValue{}, false
	}
	r, ok := compileValue(n.Right)
	if !ok {
		return fastValue{}, false
	}
	op := n.Operator
	switch op {
	case "&&", "and", "||", "or":
		if l.kind != kindBool || r.kind != kindBool {
			return fastValue{}, false
		}
		a, b := l.b, r.b
		if op == "&&" || op == "and" {
			return boolValue(func(s *features.Set) bool { return a(s) && b(s) }), true
		}
		return boolValue(func(s *features.Set) bool { return a(s) || b(s) }), true
	case "==", "!=":
		eq, ok := compileEqual(l, r)
		if !ok {
			return fastValue{}, false
		}
		if op == "!=" {
			return boolValue(func(s *features.Set) bool { return !eq(s) }), true
		}
		return boolValue(eq), true
	case "<", "<=", ">", ">=":
		if !isNumber(l.kind) || !isNumber(r.kind) {
			return fastValue{}, false
		}
		if l.kind == kindInt && r.kind == kindInt {
			a, b := l.i, r.i
			switch op {
			case "<":
				return boolValue(func(s *features.Set) bool { return a(s) < b(s) }), true
			case "<=":
				return boolValue(func(s *features.Set) bool { return a(s) <= b(s) }), true
			case ">":
				return boolValue(func(s *features.Set) bool { return a(s) > b(s) }), true
			default:
				return boolValue(func(s *features.Set) bool { return a(s) >= b(s) }), true
			}
		}
		a, b := l.asFloat(), r.asFloat()
		switch op {
		case "<":
			return boolValue(func(s *features.Set) bool { return a(s) < b(s) }), true
		case "<=":
			return boolValue(func(s *features.Set) bool { return a(s) <= b(s) }), true
		case ">":
			return boolValue(func(s *features.Set) bool { return a(s) > b(s) }), true
		default:
			return boolValue(func(s *features.Set) bool { return a(s) >= b(s) }), true
		}
	case "+", "-", "*":
		if !isNumber(l.kind) || !isNumber(r.kind) {
			return fastValue{}, false
		}
		if l.kind == kindInt && r.kind == kindInt {
			a, b := l.i, r.i
			switch op {
			case "+":
				return fastValue{kind: kindInt, i: func(s *features.Set) int { return a(s) + b(s) }}, true
			case "-":
				return fastValue{kind: kindInt, i: func(s *features.Set) int { return a(s) - b(s) }}, true
			default:
				return fastValue{kind: kindInt, i: func(s *features.Set) int { return a(s) * b(s) }}, true
			}
		}
		a, b := l.asFloat(), r.asFloat()
		switch op {
		case "+":
			return fastValue{kind: kindFloat, f: func(s *features.Set) float64 { return a(s) + b(s) }}, true
		case "-":
			return fastValue{kind: kindFloat, f: func(s *features.Set) float64 { return a(s) - b(s) }}, true
		default:
			return fastValue{kind: kindFloat, f: func(s *features.Set) float64 { return a(s) * b(s) }}, true
		}
	case "/":
		if !isNumber(l.kind) || !isNumber(r.kind) {
			return fastValue{}, false
		}
		a, b := l.asFloat(), r.asFloat()
		return fastValue{kind: kindFloat, f: func(s *features.Set) float64 { return a(s) / b(s) }}, true
	}
	return fastValue{}, false
}

func boolValue(b func(*features.Set) bool) fastValue { return fastValue{kind: kindBool, b: b} }

// compileEqual is expr's == for two numbers (compared as float64 unless
// both are ints), two bools or two strings.
func compileEqual(l, r fastValue) (func(*features.Set) bool, bool) {
	switch {
	case l.kind == kindInt && r.kind == kindInt:
		a, b := l.i, r.i
		return func(s *features.Set) bool { return a(s) == b(s) }, true
	case isNumber(l.kind) && isNumber(r.kind):
		a, b := l.asFloat(), r.asFloat()
		return func(s *features.Set) bool { return a(s) == b(s) }, true
	case l.kind == kindBool && r.kind == kindBool:
		a, b := l.b, r.b
		return func(s *features.Set) bool { return a(s) == b(s) }, true
	case l.kind == kindString && r.kind == kindString:
		a, b := l.s, r.s
		return func(s *features.Set) bool { return a(s) == b(s) }, true
	}
	return nil, false
}
