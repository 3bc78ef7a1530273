package apimapping

import (
	"fmt"
	"strings"
)

// segment is one step of a member path: a member, optionally followed by [0] (the list's
// first element) or [K=V] (the list element whose member K is V).
type segment struct {
	name       string
	first      bool
	key, value string
}

func (s segment) inList() bool { return s.first || s.key != "" }

func parsePath(p string) ([]segment, error) {
	var segs []segment
	for part := range strings.SplitSeq(p, ".") {
		name, sel, hasSel := strings.Cut(part, "[")
		s := segment{name: name}
		if name == "" {
			return nil, fmt.Errorf("%q has an empty member name", p)
		}
		if hasSel {
			sel, ok := strings.CutSuffix(sel, "]")
			switch k, v, isKV := strings.Cut(sel, "="); {
			case !ok:
				return nil, fmt.Errorf("%q: %q lacks its closing ]", p, part)
			case sel == "0":
				s.first = true
			case isKV && k != "" && v != "":
				s.key, s.value = k, v
			default:
				return nil, fmt.Errorf("%q: selector [%s] is neither [0] nor [Member=Value]", p, sel)
			}
		}
		segs = append(segs, s)
	}
	return segs, nil
}

// lookup returns the value at segs in root; ok is false when a step is absent or null or
// not the shape the path expects.
func lookup(root map[string]any, segs []segment) (any, bool) {
	var cur any = root
	for _, s := range segs {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := m[s.name]
		if !ok || v == nil {
			return nil, false
		}
		if s.inList() {
			if v, ok = element(v, s); !ok {
				return nil, false
			}
		}
		cur = v
	}
	return cur, true
}

// element picks the list element s selects.
func element(list any, s segment) (any, bool) {
	l, ok := list.([]any)
	if !ok || len(l) == 0 {
		return nil, false
	}
	if s.first {
		return l[0], true
	}
	for _, e := range l {
		if m, ok := e.(map[string]any); ok && m[s.key] == s.value {
			return m, true
		}
	}
	return nil, false
}

// object returns the object at segs in root, creating every missing step: a list element
// selected by [K=V] is created with K set to V.
func object(root map[string]any, segs []segment) map[string]any {
	cur := root
	for _, s := range segs {
		v := cur[s.name]
		if !s.inList() {
			next, ok := v.(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[s.name] = next
			}
			cur = next
			continue
		}
		l, _ := v.([]any)
		if e, ok := element(l, s); ok {
			if next, ok := e.(map[string]any); ok {
				cur = next
				continue
			}
		}
		next := map[string]any{}
		if s.key != "" {
			next[s.key] = s.value
		}
		if s.first && len(l) > 0 {
			l[0] = next
		} else {
			l = append(l, next)
		}
		cur[s.name] = l
		cur = next
	}
	return cur
}

// set writes v at segs in root, creating the steps before it; the last segment names a
// plain member.
func set(root map[string]any, segs []segment, v any) map[string]any {
	parent := object(root, segs[:len(segs)-1])
	parent[segs[len(segs)-1].name] = v
	return parent
}

// listPrefix returns the path up to and including the first [0] segment, which FromAPI
// uses to report list elements it drops; ok is false when the path has none.
func listPrefix(segs []segment) (prefix []segment, ok bool) {
	for i, s := range segs {
		if s.first {
			return segs[:i+1], true
		}
	}
	return nil, false
}

func pathString(segs []segment) string {
	var b strings.Builder
	for i, s := range segs {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.name)
		switch {
		case s.first:
			b.WriteString("[0]")
		case s.key != "":
			fmt.Fprintf(&b, "[%s=%s]", s.key, s.value)
		}
	}
	return b.String()
}
