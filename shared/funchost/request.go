package funchost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// HTTPRequest is the request an httpTrigger delivers when the host does not
// forward requests (host.json "enableForwardingHttpRequest": false).
type HTTPRequest struct {
	// Method is the request method, upper case.
	Method string
	// URL is the URL the client called; never nil.
	URL *url.URL
	// Query holds the query parameters; never nil.
	Query url.Values
	// Header holds the request headers, keys in canonical form; never nil.
	Header http.Header
	// Params holds the route parameters that have a value; never nil.
	Params map[string]string
	// Body is the request body. When the host sends it as a JSON string
	// (the normal case) these are exactly the bytes the client sent, as
	// needed to check a signature over them.
	Body []byte
	// BodyReencoded is true when the host sent the body as a JSON object or
	// array instead of a string, as some hosts do for a JSON content type.
	// Body then holds the host's re-serialisation, compacted: the same JSON
	// value, but not the client's bytes, so a signature over the raw body
	// cannot be checked and must be treated as failing.
	BodyReencoded bool
	// Identities is the host's ClaimsIdentities, undecoded: the app trusts
	// function keys and signatures, not these.
	Identities json.RawMessage
}

// HTTP reads the httpTrigger binding called binding (the contract names it
// "req").
//
// Headers come from Data.<binding>.Headers, whose values are lists of
// strings (single strings are accepted); when that is absent they come from
// Metadata.Headers, which holds single strings. Header values are never
// unquoted: a quoted ETag is a real value. Query and Params follow the same
// rule, the query falling back to the URL's when the host sends none.
//
// A body of more than MaxHTTPBody bytes fails with an error matching
// ErrTooLarge. A missing Method, a URL that does not parse, or a header,
// query or parameter member of the wrong JSON type is an error naming it.
func (inv Invocation) HTTP(binding string) (HTTPRequest, error) {
	raw, path, err := inv.binding(binding)
	if err != nil {
		return HTTPRequest{}, err
	}
	obj, err := object(raw, path)
	if err != nil {
		return HTTPRequest{}, err
	}
	var r HTTPRequest

	// The body first, so that an oversize request is reported as such
	// (413) even when something else is wrong too.
	if v, ok := lookup(obj, "Body"); ok {
		switch k := kindOf(v); k {
		case kindString:
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return HTTPRequest{}, &DecodeError{Path: path + ".Body", Problem: err.Error(), Err: err}
			}
			r.Body = []byte(s)
		default:
			var b bytes.Buffer
			if err := json.Compact(&b, v); err != nil {
				return HTTPRequest{}, &DecodeError{Path: path + ".Body", Problem: err.Error(), Err: err}
			}
			r.Body, r.BodyReencoded = b.Bytes(), true
		}
		if len(r.Body) > MaxHTTPBody {
			return HTTPRequest{}, &DecodeError{Path: path + ".Body",
				Problem: fmt.Sprintf("%d bytes, over the %d-byte limit", len(r.Body), MaxHTTPBody),
				Err:     ErrTooLarge}
		}
	}

	if v, ok := lookup(obj, "Method"); ok {
		if r.Method, err = hostString(v, path+".Method"); err != nil {
			return HTTPRequest{}, err
		}
	}
	r.Method = strings.ToUpper(strings.TrimSpace(r.Method))
	if r.Method == "" {
		return HTTPRequest{}, malformed(path+".Method", "missing")
	}

	r.URL = &url.URL{}
	if v, ok := lookup(obj, "Url"); ok {
		s, err := hostString(v, path+".Url")
		if err != nil {
			return HTTPRequest{}, err
		}
		if r.URL, err = url.Parse(s); err != nil {
			return HTTPRequest{}, &DecodeError{Path: path + ".Url", Problem: fmt.Sprintf("%s does not parse", quoteShort(s)), Err: err}
		}
	}

	// Each of these prefers the binding's own member and falls back on the
	// flattened copy in Metadata.
	if r.Header, err = multi(inv.prefer(obj, path, "Headers")); err != nil {
		return HTTPRequest{}, err
	}
	// Keys that differ only in case merge; sorting first keeps the order of
	// the merged values independent of map order.
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	header := make(http.Header, len(r.Header))
	for _, k := range keys {
		ck := http.CanonicalHeaderKey(k)
		header[ck] = append(header[ck], r.Header[k]...)
	}
	r.Header = header

	if r.Query, err = multi(inv.prefer(obj, path, "Query")); err != nil {
		return HTTPRequest{}, err
	}
	if len(r.Query) == 0 {
		r.Query = r.URL.Query()
	}

	r.Params = map[string]string{}
	if raw, p := inv.prefer(obj, path, "Params"); raw != nil {
		params, err := object(raw, p)
		if err != nil {
			return HTTPRequest{}, err
		}
		for k, v := range params {
			switch kd := kindOf(v); kd {
			case kindMissing: // an optional route segment left out
			case kindString, kindNumber, kindBool:
				r.Params[k] = text(v)
			default:
				return HTTPRequest{}, malformed(p+"."+k, "want a string, got %s", kd)
			}
		}
	}

	if v, ok := lookup(obj, "Identities"); ok {
		r.Identities = append(json.RawMessage(nil), v...)
	}
	return r, nil
}

// prefer returns the binding's member called name if present, else the
// Metadata member of that name, with the path to report errors against;
// nil if neither is present.
func (inv Invocation) prefer(obj map[string]json.RawMessage, path, name string) (json.RawMessage, string) {
	if v, ok := lookup(obj, name); ok {
		return v, path + "." + name
	}
	if v, ok := lookup(inv.Metadata, name); ok {
		return v, "Metadata." + name
	}
	return nil, ""
}

// multi reads an object whose values are strings or lists of strings, the
// two shapes the host uses for headers and query parameters, into a map of
// lists. Null values are skipped; numbers and booleans are refused, because
// the host never sends them here and a value that is not text is a sign the
// payload is not what we think.
func multi(raw json.RawMessage, path string) (map[string][]string, error) {
	out := map[string][]string{}
	if raw == nil {
		return out, nil
	}
	obj, err := object(raw, path)
	if err != nil {
		return nil, err
	}
	for k, v := range obj {
		p := path + "." + k
		switch kd := kindOf(v); kd {
		case kindMissing:
		case kindString:
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, &DecodeError{Path: p, Problem: err.Error(), Err: err}
			}
			out[k] = append(out[k], s)
		case kindArray:
			var list []json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil {
				return nil, &DecodeError{Path: p, Problem: err.Error(), Err: err}
			}
			for i, e := range list {
				if ke := kindOf(e); ke != kindString {
					return nil, malformed(fmt.Sprintf("%s[%d]", p, i), "want a string, got %s", ke)
				}
				var s string
				if err := json.Unmarshal(e, &s); err != nil {
					return nil, &DecodeError{Path: p, Problem: err.Error(), Err: err}
				}
				out[k] = append(out[k], s)
			}
		default:
			return nil, malformed(p, "want a string or a list of strings, got %s", kd)
		}
	}
	return out, nil
}
