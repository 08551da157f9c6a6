package features

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"unicode/utf8"
)

// Most messages match none of the commercial patterns, yet Go's regexp
// tries each of them at every position of every text: that was a third
// of the scoring time. A guard skips a pattern when the text holds none
// of the literals that every match must contain ("call", "dial", ...),
// which a plain substring search finds much faster. The literals are
// derived from the pattern itself, so a pattern edited later is guarded
// correctly or not at all, never wrongly.

// regexGuards caches the guard of each pattern.
var regexGuards sync.Map // *regexp.Regexp → []string (nil: unguarded)

// mayMatch reports whether re can match s: false only when s contains
// none of the literals every match of re contains.
func mayMatch(re *regexp.Regexp, s string) bool {
	v, ok := regexGuards.Load(re)
	if !ok {
		v, _ = regexGuards.LoadOrStore(re, requiredLiterals(re))
	}
	lits := v.([]string)
	if lits == nil {
		return true
	}
	for _, l := range lits {
		if strings.Contains(s, l) {
			return true
		}
	}
	return false
}

// findIndex is re.FindStringIndex(s), skipped when re cannot match.
func findIndex(re *regexp.Regexp, s string) []int {
	if !mayMatch(re, s) {
		return nil
	}
	return re.FindStringIndex(s)
}

// findAllSubmatchIndex is re.FindAllStringSubmatchIndex(s, n), skipped
// when re cannot match.
func findAllSubmatchIndex(re *regexp.Regexp, s string, n int) [][]int {
	if !mayMatch(re, s) {
		return nil
	}
	return re.FindAllStringSubmatchIndex(s, n)
}

// requiredLiterals returns strings one of which every match of re
// contains, or nil when there is no useful such set.
func requiredLiterals(re *regexp.Regexp) []string {
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil
	}
	lits := required(tree.Simplify())
	if lits == nil || shortest(lits) < 2 {
		return nil // a one-byte literal saves too little to be worth a pass
	}
	return lits
}

// required is the heart of requiredLiterals: a literal requires itself;
// a concatenation requires what its most selective part requires; an
// alternation requires one of what each branch requires (if each branch
// requires something); a group or a repetition of at least once requires
// what its body requires. Case-folded literals, and literals containing
// U+FFFD (which a regexp also matches on an invalid byte), are not used.
func required(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 || len(re.Rune) == 0 {
			return nil
		}
		for _, r := range re.Rune {
			if r == utf8.RuneError {
				return nil
			}
		}
		return []string{string(re.Rune)}
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
		return nil
	case syntax.OpConcat:
		// Runs of parts that match a small set of exact strings combine
		// ("w" then "k|eek" is "wk|week"); any other part may only
		// narrow the choice by what it requires itself.
		var best []string
		consider := func(r []string) {
			if r != nil && shortest(r) > 0 && better(r, best) {
				best = r
			}
		}
		var run []string
		for _, sub := range re.Sub {
			if e := exact(sub); e != nil {
				if run == nil {
					run = e
				} else {
					run = product(run, e)
				}
				if run != nil {
					continue
				}
			}
			if run != nil {
				// What follows the run starts with one of its prefixes:
				// "0" then "9…|87…" requires "09" or "087".
				if p := prefixes(sub); p != nil {
					if c := product(run, p); c != nil {
						consider(c)
					}
				}
			}
			consider(run)
			run = nil
			consider(required(sub))
		}
		consider(run)
		return best
	case syntax.OpAlternate:
		var all []string
		for _, sub := range re.Sub {
			r := required(sub)
			if r == nil {
				return nil
			}
			all = append(all, r...)
		}
		return all
	}
	return nil
}

// maxExact bounds the sets exact and product build.
const maxExact = 64

// exact returns every string re matches, when they are few and re is
// made only of literals, alternations, groups and optional parts; else
// nil.
func exact(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return []string{""}
	case syntax.OpLiteral:
		if r := required(re); r != nil {
			return r
		}
		return nil
	case syntax.OpCapture:
		return exact(re.Sub[0])
	case syntax.OpQuest:
		if e := exact(re.Sub[0]); e != nil && len(e) < maxExact {
			return append(e, "")
		}
		return nil
	case syntax.OpConcat:
		out := []string{""}
		for _, sub := range re.Sub {
			e := exact(sub)
			if e == nil {
				return nil
			}
			if out = product(out, e); out == nil {
				return nil
			}
		}
		return out
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			e := exact(sub)
			if e == nil || len(out)+len(e) > maxExact {
				return nil
			}
			out = append(out, e...)
		}
		return out
	}
	return nil
}

// prefixes returns strings one of which every match of re starts with,
// or nil when there is no such set.
func prefixes(re *syntax.Regexp) []string {
	if e := exact(re); e != nil {
		return e
	}
	switch re.Op {
	case syntax.OpCapture, syntax.OpPlus:
		return prefixes(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return prefixes(re.Sub[0])
		}
	case syntax.OpConcat:
		run := []string{""}
		for _, sub := range re.Sub {
			e := exact(sub)
			if e == nil {
				if p := prefixes(sub); p != nil {
					if c := product(run, p); c != nil {
						return c
					}
				}
				break
			}
			if run = product(run, e); run == nil {
				return nil
			}
		}
		if shortest(run) > 0 {
			return run
		}
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			p := prefixes(sub)
			if p == nil || len(out)+len(p) > maxExact {
				return nil
			}
			out = append(out, p...)
		}
		return out
	}
	return nil
}

// product is every a followed by every b, or nil when that is too many.
func product(a, b []string) []string {
	if len(a)*len(b) > maxExact {
		return nil
	}
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return out
}

// better prefers the set whose shortest literal is longer, then the one
// with fewer literals.
func better(a, b []string) bool {
	if b == nil {
		return true
	}
	if sa, sb := shortest(a), shortest(b); sa != sb {
		return sa > sb
	}
	return len(a) < len(b)
}

func shortest(lits []string) int {
	n := -1
	for _, l := range lits {
		if n < 0 || len(l) < n {
			n = len(l)
		}
	}
	return n
}
