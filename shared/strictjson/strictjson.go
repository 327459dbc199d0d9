// Package strictjson decodes the JSON bodies that come from outside
// (webhooks, queue messages) more strictly than encoding/json: a key that
// appears twice in one object, or that matches a field of the target only
// when case is ignored, is refused. encoding/json matches keys without
// case and keeps the last of two, so a body with "customerTenantId" and
// "CUSTOMERTENANTID" would be read as the second while a validator in
// front of the app reads the first; refusing both closes that gap.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
)

// ErrKeys is wrapped by every error Check returns.
var ErrKeys = errors.New("ambiguous keys")

// Check reports whether body's keys are unambiguous for a value of v's
// type: no object holds a key twice (ignoring case), and every key that
// names a field of a struct names it with the field's exact case. It checks
// keys only; decode with encoding/json afterwards. A body that is not JSON
// is left to the decoder to refuse (Check returns nil).
func Check(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := walk(dec, reflect.TypeOf(v), "")
	var syn *json.SyntaxError
	if errors.As(err, &syn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

// walk reads one value, of type t where known (nil: any).
func walk(dec *json.Decoder, t reflect.Type, path string) error {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface) {
		if t.Kind() == reflect.Interface {
			t = nil
			break
		}
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walk(dec, elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		if t != nil {
			switch t.Kind() {
			case reflect.Struct:
				fields = fieldsOf(t)
			case reflect.Map:
				elem = t.Elem()
			}
		}
		seen := map[string]string{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			name := join(path, key)
			fold := strings.ToLower(key)
			if first, dup := seen[fold]; dup {
				return fmt.Errorf("%w: %q and %q in one object", ErrKeys, join(path, first), name)
			}
			seen[fold] = key
			next := elem
			if fields != nil {
				if ft, exact := fields[key]; exact {
					next = ft
				} else {
					for f := range fields {
						if strings.EqualFold(f, key) {
							return fmt.Errorf("%w: %q is spelt %q", ErrKeys, join(path, f), name)
						}
					}
					next = nil
				}
			}
			if err := walk(dec, next, name); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var cache sync.Map // reflect.Type -> map[string]reflect.Type

// fieldsOf maps a struct's JSON names to their types, as encoding/json
// names them (tag name, else the field name; embedded structs inlined).
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := cache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range fieldsOf(ft) {
					m[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	cache.Store(t, m)
	return m
}
