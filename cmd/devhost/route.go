package main

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// route is a parsed httpTrigger route template, the subset of ASP.NET Core
// route templates that Functions apps use: literal segments, {name},
// optional {name?}, a trailing catch-all {*name}, and the common inline
// constraints ({id:int}, {id:guid?}). Anything richer is refused at start
// rather than matched differently from the real host.
type route struct {
	template string
	segments []routeSegment
}

type segmentKind int

// The order is the precedence: when two templates match a path, the one
// with the more specific segment first wins, as in ASP.NET Core routing.
const (
	literalSegment segmentKind = iota
	constrainedSegment
	paramSegment
	optionalSegment
	catchAllSegment
)

type routeSegment struct {
	kind       segmentKind
	literal    string // literalSegment
	name       string // parameters
	constraint string // "" or one of constraints
	optional   bool
}

// constraints are the inline route constraints devhost checks.
var constraints = map[string]func(string) bool{
	"int":  func(s string) bool { _, err := strconv.ParseInt(s, 10, 32); return err == nil },
	"long": func(s string) bool { _, err := strconv.ParseInt(s, 10, 64); return err == nil },
	"bool": func(s string) bool { _, err := strconv.ParseBool(s); return err == nil && !isDigits(s) },
	"guid": func(s string) bool { return guidPattern.MatchString(s) },
	"alpha": func(s string) bool {
		return s != "" && strings.IndexFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') }) < 0
	},
	"double": func(s string) bool { _, err := strconv.ParseFloat(s, 64); return err == nil },
}

var (
	guidPattern  = regexp.MustCompile(`^(?i:\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?)$`)
	paramPattern = regexp.MustCompile(`^\{(\*{0,2})([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+))?(\?)?\}$`)
)

func isDigits(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}

// parseRoute reads a route template such as
// "grants/{customerTenantId?}/{grantId?}".
func parseRoute(template string) (*route, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(template, "~"), "/")
	t = strings.TrimSuffix(t, "/")
	r := &route{template: template}
	if t == "" {
		return r, nil
	}
	names := map[string]bool{}
	for i, part := range strings.Split(t, "/") {
		if part == "" {
			return nil, fmt.Errorf("%q has an empty segment", template)
		}
		if !strings.ContainsAny(part, "{}") {
			r.segments = append(r.segments, routeSegment{kind: literalSegment, literal: part})
			continue
		}
		m := paramPattern.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("%q: segment %q is not supported by devhost: use one literal or one parameter per segment ({name}, {name?}, {name:int}, {*rest}); defaults and complex segments are not supported", template, part)
		}
		seg := routeSegment{name: m[2], constraint: strings.ToLower(m[3]), optional: m[4] != ""}
		if seg.constraint != "" && constraints[seg.constraint] == nil {
			return nil, fmt.Errorf("%q: constraint %q is not supported by devhost (it knows %s)", template, m[3], strings.Join(slices.Sorted(maps.Keys(constraints)), ", "))
		}
		key := strings.ToLower(seg.name)
		if names[key] {
			return nil, fmt.Errorf("%q: parameter %q appears twice", template, seg.name)
		}
		names[key] = true
		switch {
		case m[1] != "":
			if seg.optional {
				return nil, fmt.Errorf("%q: a catch-all parameter cannot be optional: it already matches nothing", template)
			}
			if i != strings.Count(t, "/") {
				return nil, fmt.Errorf("%q: a catch-all parameter must be the last segment", template)
			}
			seg.kind = catchAllSegment
		case seg.optional:
			seg.kind = optionalSegment
		case seg.constraint != "":
			seg.kind = constrainedSegment
		default:
			seg.kind = paramSegment
		}
		r.segments = append(r.segments, seg)
	}
	// An optional segment can only be left out at the end of the path, so
	// every segment after one must be optional too.
	for i, seg := range r.segments {
		if seg.kind != optionalSegment {
			continue
		}
		for _, later := range r.segments[i+1:] {
			if later.kind != optionalSegment && later.kind != catchAllSegment {
				return nil, fmt.Errorf("%q: optional parameter %q is followed by a required segment", template, seg.name)
			}
		}
	}
	return r, nil
}

// match reports whether the path segments (already unescaped) fit the
// template, and the values of its parameters; an optional parameter left
// out has no entry.
func (r *route) match(path []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, seg := range r.segments {
		if seg.kind == catchAllSegment {
			if i <= len(path) {
				params[seg.name] = strings.Join(path[i:], "/")
				return params, true
			}
			return nil, false
		}
		if i >= len(path) {
			if seg.kind == optionalSegment {
				continue
			}
			return nil, false
		}
		v := path[i]
		switch seg.kind {
		case literalSegment:
			if !strings.EqualFold(v, seg.literal) {
				return nil, false
			}
			continue
		}
		if v == "" {
			return nil, false
		}
		if seg.constraint != "" && !constraints[seg.constraint](v) {
			return nil, false
		}
		params[seg.name] = v
	}
	if len(path) > len(r.segments) {
		return nil, false
	}
	return params, true
}

// precedence orders templates from the most to the least specific.
func (r *route) precedence() []segmentKind {
	out := make([]segmentKind, len(r.segments))
	for i, s := range r.segments {
		out[i] = s.kind
	}
	return out
}

// splitPath cuts an escaped URL path into unescaped segments below the
// route prefix. It splits before unescaping, so that an encoded slash
// (%2F) stays inside its segment. ok is false when the path is not under
// the prefix or does not unescape.
func splitPath(escapedPath, prefix string) (segments []string, ok bool) {
	p := strings.TrimPrefix(escapedPath, "/")
	if prefix != "" {
		head, rest, _ := strings.Cut(p, "/")
		if !strings.EqualFold(head, prefix) {
			return nil, false
		}
		p = rest
	}
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return []string{}, true
	}
	parts := strings.Split(p, "/")
	for i, s := range parts {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		parts[i] = u
	}
	return parts, true
}

// errNoRoute and errWrongMethod tell the two ways a request misses.
var (
	errNoRoute     = errors.New("no route matches")
	errWrongMethod = errors.New("the route does not accept this method")
)

// router matches requests to the app's HTTP functions.
type router struct {
	prefix string
	fns    []*function // httpTrigger functions, most specific route first
}

func newRouter(prefix string, fns []*function) *router {
	sorted := slices.Clone(fns)
	slices.SortStableFunc(sorted, func(a, b *function) int {
		if c := slices.Compare(a.route.precedence(), b.route.precedence()); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return &router{prefix: prefix, fns: sorted}
}

// find returns the function serving method on escapedPath and the route
// parameters. It returns errWrongMethod when a route matches the path but
// none of those accepts the method, and errNoRoute otherwise.
func (rt *router) find(method, escapedPath string) (*function, map[string]string, error) {
	segs, ok := splitPath(escapedPath, rt.prefix)
	if !ok {
		return nil, nil, errNoRoute
	}
	var err = errNoRoute
	for _, fn := range rt.fns {
		params, ok := fn.route.match(segs)
		if !ok {
			continue
		}
		if fn.methods != nil && !slices.Contains(fn.methods, method) {
			err = errWrongMethod
			continue
		}
		return fn, params, nil
	}
	return nil, nil, err
}
