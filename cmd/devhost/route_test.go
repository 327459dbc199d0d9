package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestRouteMatch(t *testing.T) {
	const grants = "grants/{customerTenantId?}/{grantId?}"
	for _, tc := range []struct {
		template string
		path     string // escaped, below the prefix
		want     map[string]string
	}{
		{"webhooks/ticketing", "webhooks/ticketing", map[string]string{}},
		{"webhooks/ticketing", "WebHooks/Ticketing/", map[string]string{}}, // case-insensitive, trailing slash
		{"webhooks/ticketing", "webhooks", nil},
		{"webhooks/ticketing", "webhooks/ticketing/x", nil},
		{"webhooks/ticketing", "webhooks/other", nil},
		{grants, "grants", map[string]string{}},
		{grants, "grants/aaaabbbb-0000-cccc-1111-dddd2222eeee", map[string]string{"customerTenantId": "aaaabbbb-0000-cccc-1111-dddd2222eeee"}},
		{grants, "grants/t1/b2b:0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b", map[string]string{"customerTenantId": "t1", "grantId": "b2b:0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b"}},
		{grants, "grants/t1/gdap%3A2d8b4e1f-7c3a", map[string]string{"customerTenantId": "t1", "grantId": "gdap:2d8b4e1f-7c3a"}}, // ':' escaped by the client
		{grants, "grants/t1/lighthouse:sub%2Fwith%2Fslash", map[string]string{"customerTenantId": "t1", "grantId": "lighthouse:sub/with/slash"}},
		{grants, "grants/t1/g1/extra", nil},
		{grants, "grants//g1", nil}, // an empty segment is not a value
		{grants, "other/t1", nil},
		{"items/{id}", "items/42", map[string]string{"id": "42"}},
		{"items/{id}", "items", nil},
		{"items/{id:int}", "items/42", map[string]string{"id": "42"}},
		{"items/{id:int}", "items/abc", nil},
		{"items/{id:guid?}", "items", map[string]string{}},
		{"items/{id:guid?}", "items/0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b", map[string]string{"id": "0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b"}},
		{"items/{id:guid?}", "items/nope", nil},
		{"files/{*path}", "files/a/b/c.txt", map[string]string{"path": "a/b/c.txt"}},
		{"files/{*path}", "files", map[string]string{"path": ""}},
		{"", "", map[string]string{}},
		{"/advisor/", "advisor", map[string]string{}},
	} {
		r, err := parseRoute(tc.template)
		if err != nil {
			t.Errorf("parseRoute(%q): %v", tc.template, err)
			continue
		}
		segs, ok := splitPath("/"+tc.path, "")
		if !ok {
			t.Errorf("splitPath(%q) failed", tc.path)
			continue
		}
		got, ok := r.match(segs)
		if !ok {
			got = nil
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q matching %q = %v, want %v", tc.template, tc.path, got, tc.want)
		}
	}
}

func TestRouteParseRefuses(t *testing.T) {
	for template, want := range map[string]string{
		"a/{x}-{y}":         "complex segments",
		"a/{x=1}":           "defaults",
		"a/{x?}/b":          "followed by a required segment",
		"a/{x?}/{y}":        "followed by a required segment",
		"a/{x}/{X}":         "appears twice",
		"a/{*rest}/b":       "must be the last segment",
		"a/{*rest?}":        "cannot be optional",
		"a//b":              "empty segment",
		"a/{x:regex(\\d+)}": "not supported",
		"a/{x:minlength}":   "constraint \"minlength\" is not supported",
	} {
		if _, err := parseRoute(template); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseRoute(%q) error = %v, want one containing %q", template, err, want)
		}
	}
}

func TestRouter(t *testing.T) {
	mk := func(name, template string, methods ...string) *function {
		r, err := parseRoute(template)
		if err != nil {
			t.Fatal(err)
		}
		return &function{name: name, kind: httpTrigger, route: r, methods: methods}
	}
	rt := newRouter("api", []*function{
		mk("grants", "grants/{customerTenantId?}/{grantId?}", "GET"),
		mk("grants-export", "grants/export", "GET"), // a literal beats a parameter
		mk("ticket", "webhooks/ticketing", "POST"),
		mk("any", "any/{x}"),
	})
	for _, tc := range []struct {
		method, path string
		want         string
		params       map[string]string
		err          error
	}{
		{"GET", "/api/grants", "grants", map[string]string{}, nil},
		{"GET", "/api/grants/export", "grants-export", map[string]string{}, nil},
		{"GET", "/api/grants/t1/b2b:g1", "grants", map[string]string{"customerTenantId": "t1", "grantId": "b2b:g1"}, nil},
		{"GET", "/API/Grants/t1", "grants", map[string]string{"customerTenantId": "t1"}, nil},
		{"POST", "/api/grants", "", nil, errWrongMethod},
		{"POST", "/api/webhooks/ticketing", "ticket", map[string]string{}, nil},
		{"GET", "/api/webhooks/ticketing", "", nil, errWrongMethod},
		{"DELETE", "/api/any/1", "any", map[string]string{"x": "1"}, nil},
		{"GET", "/grants", "", nil, errNoRoute}, // outside the prefix
		{"GET", "/api", "", nil, errNoRoute},
		{"GET", "/api/nope", "", nil, errNoRoute},
		{"GET", "/api/grants/%zz", "", nil, errNoRoute}, // does not unescape
	} {
		fn, params, err := rt.find(tc.method, tc.path)
		name := ""
		if fn != nil {
			name = fn.name
		}
		if name != tc.want || !errors.Is(err, tc.err) || (tc.err == nil && !reflect.DeepEqual(params, tc.params)) {
			t.Errorf("find(%s %s) = %q %v %v, want %q %v %v", tc.method, tc.path, name, params, err, tc.want, tc.params, tc.err)
		}
	}

	// An empty route prefix puts routes at the root.
	rt = newRouter("", []*function{mk("advisor", "advisor", "POST")})
	if fn, _, err := rt.find("POST", "/advisor"); err != nil || fn.name != "advisor" {
		t.Errorf("find with no prefix = %v, %v, want advisor", fn, err)
	}
}
