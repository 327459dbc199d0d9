package main

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHTTPOutput feeds parseHTTPOutput what a handler might answer: it
// must never panic, and what it accepts must be writable to a client.
func FuzzHTTPOutput(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":"202","headers":{"Content-Type":"application/json"},"body":"{\"a\":1}"}`,
		`{"statusCode":404,"body":{"a":[1,2]}}`,
		`{"status":"201","headers":{"X":["1","2"],"N":5,"B":true,"Z":null}}`,
		`"{\"statusCode\":\"418\"}"`,
		`{}`, `null`, `[]`, `"x"`, `{"statusCode":"abc"}`, `{"headers":{"X":{}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := parseHTTPOutput(b)
		if err != nil {
			return
		}
		if res.status < 100 || res.status > 599 {
			t.Fatalf("accepted status %d from %q", res.status, b)
		}
		res.write(httptest.NewRecorder())
	})
}

// FuzzRoute checks route parsing and matching on any template and path:
// no panic, and a match only ever yields the template's parameters, the
// required ones with a value.
func FuzzRoute(f *testing.F) {
	for _, s := range [][2]string{
		{"grants/{customerTenantId?}/{grantId?}", "/api/grants/t1/b2b:g1"},
		{"items/{id:int}", "/api/items/42"},
		{"files/{*path}", "/api/files/a/b%2Fc"},
		{"a/{x}-{y}", "/api/a/1-2"},
		{"", "/api"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, template, path string) {
		r, err := parseRoute(template)
		if err != nil {
			return
		}
		segs, ok := splitPath(path, "api")
		if !ok {
			return
		}
		params, ok := r.match(segs)
		if !ok {
			return
		}
		for name, v := range params {
			var seg *routeSegment
			for i := range r.segments {
				if r.segments[i].kind != literalSegment && strings.EqualFold(r.segments[i].name, name) {
					seg = &r.segments[i]
				}
			}
			if seg == nil {
				t.Fatalf("%q matching %q yielded parameter %q, not in the template", template, path, name)
			}
			if v == "" && seg.kind != catchAllSegment {
				t.Fatalf("%q matching %q yielded an empty %q", template, path, name)
			}
		}
		for _, seg := range r.segments {
			if seg.kind == paramSegment || seg.kind == constrainedSegment {
				if _, ok := params[seg.name]; !ok {
					t.Fatalf("%q matching %q: required parameter %q missing", template, path, seg.name)
				}
			}
		}
	})
}
