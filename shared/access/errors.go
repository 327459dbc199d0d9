// Package access is the domain of partner access to Microsoft Security
// Copilot: grants of the three access methods (GDAP, B2B collaboration, Azure
// Lighthouse), their lifecycle, the least-privilege policy, the facts of
// Microsoft's guide as data, and the small interfaces the lifecycle needs from
// the outside world. It imports no SDK.
package access

import (
	"fmt"
	"sort"
	"strings"
)

// Kind classifies an error so that the edges (queue outcome, HTTP problem)
// can decide what to do with it without knowing where it came from.
type Kind int

// The error vocabulary. Adapters translate their SDK's errors into these at
// the boundary.
//
// KindOther is the zero Kind: an *Error of KindOther has no kind of its
// own and takes the kind of the error it wraps, so that adding context
// (E(op, err), fmt.Errorf("…: %w", err)) never reclassifies a failure.
const (
	KindOther        Kind = iota // no kind of its own: the wrapped error's (KindInternal if none)
	KindInternal                 // a bug or an unclassified failure: retry may or may not help
	KindInvalid                  // bad input: no retry can fix it
	KindNotFound                 // the thing does not exist
	KindConflict                 // a concurrent change or a state that forbids the request
	KindRefused                  // refused by policy (roles, durations, Global Administrator)
	KindTransient                // storage or Graph unavailable, throttled: try again later
	KindUnauthorized             // missing or bad credentials, signature, or consent
)

func (k Kind) String() string {
	switch k {
	case KindOther:
		return "other"
	case KindInvalid:
		return "invalid"
	case KindNotFound:
		return "not found"
	case KindConflict:
		return "conflict"
	case KindRefused:
		return "refused"
	case KindTransient:
		return "transient"
	case KindUnauthorized:
		return "unauthorized"
	}
	return "internal"
}

// Op names the operation that failed, as package.Method: "graph.AssignRole",
// "tablestore.Commit". It is for matching (Match) and for logs; the text of
// an error says in words what was being done, so Error does not repeat it.
type Op string

// Code is a machine-readable error code, such as Graph's
// "Authorization_RequestDenied", given to E.
type Code string

// Error is an error with a Kind. Op, Code and Fields carry machine-readable
// detail (the operation, a Graph error code, the fields of a request body
// that are wrong).
type Error struct {
	Op     Op                // the operation that failed, may be empty
	Kind   Kind              // KindOther: the kind of Err
	Code   string            // optional machine-readable code, e.g. Graph's "Authorization_RequestDenied"
	Msg    string            // human-readable, never holds a secret
	Fields map[string]string // field name -> problem, for KindInvalid
	Err    error             // wrapped cause, may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Msg)
	if b.Len() == 0 && e.Kind != KindOther {
		b.WriteString(e.Kind.String())
	}
	if e.Code != "" {
		pad(&b, " ")
		b.WriteString("(" + e.Code + ")")
	}
	if len(e.Fields) > 0 {
		names := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			names = append(names, k)
		}
		sort.Strings(names)
		for i, k := range names {
			if i == 0 {
				pad(&b, ": ")
			} else {
				b.WriteString("; ")
			}
			b.WriteString(k + " " + e.Fields[k])
		}
	}
	if e.Err != nil {
		pad(&b, ": ")
		b.WriteString(e.Err.Error())
	}
	if b.Len() == 0 {
		return KindOf(e).String()
	}
	return b.String()
}

// pad writes sep unless nothing is written yet.
func pad(b *strings.Builder, sep string) {
	if b.Len() > 0 {
		b.WriteString(sep)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error from its arguments, in Upspin's style, by their type:
//
//	Op                 the operation
//	Kind               the kind (none, or KindOther: the wrapped error's)
//	Code               a machine-readable code
//	string             the message: lowercase context, never a secret
//	map[string]string  field problems, for KindInvalid
//	error              the cause
//
// E(op, err) adds the operation to err and keeps its kind; E(op, "read
// grant g1", err) adds context too, as fmt.Errorf("read grant g1: %w", err)
// would. An argument of another type is a bug, reported in the error.
func E(args ...any) error {
	e := &Error{}
	for _, a := range args {
		switch a := a.(type) {
		case Op:
			e.Op = a
		case Kind:
			e.Kind = a
		case Code:
			e.Code = string(a)
		case string:
			e.Msg = a
		case map[string]string:
			e.Fields = a
		case error:
			e.Err = a
		default:
			return &Error{Op: e.Op, Kind: KindInternal, Msg: fmt.Sprintf("access.E: argument of type %T", a)}
		}
	}
	return e
}

// Errorf builds an *Error of the given kind.
func Errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// WrapKind wraps err with a kind and a lowercase context message. An
// explicit kind classifies: it is for the deliberate reclassification (an
// unsent notification is transient, whatever stopped it). To add context
// and keep err's kind, use E or fmt.Errorf with %w.
func WrapKind(kind Kind, err error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: err}
}

// Invalid builds a KindInvalid error listing field problems.
func Invalid(msg string, fields map[string]string) error {
	return &Error{Kind: KindInvalid, Msg: msg, Fields: fields}
}

// KindOf reports the first kind other than KindOther of an *Error in err's
// chain, or KindInternal if there is none. A nil error has no kind:
// KindOf(nil) returns KindInternal, and callers check err != nil first.
func KindOf(err error) Kind {
	if e := find(err, func(e *Error) bool { return e.Kind != KindOther }); e != nil {
		return e.Kind
	}
	return KindInternal
}

// IsKind reports whether err is not nil and of kind k (see KindOf).
func IsKind(err error, k Kind) bool {
	return err != nil && KindOf(err) == k
}

// FieldsOf returns the field problems of the first *Error in err's chain
// that lists any.
func FieldsOf(err error) map[string]string {
	if e := find(err, func(e *Error) bool { return len(e.Fields) > 0 }); e != nil {
		return e.Fields
	}
	return nil
}

// Match reports whether err matches template, an *Error: err's kind (see
// KindOf) is template's Kind, some *Error in err's chain has template's
// Op, and some has its Code; a zero field of template matches anything.
// It is for tests, in the manner of Upspin's errors.Match:
//
//	access.Match(access.E(access.KindConflict, access.Op("tablestore.Commit")), err)
func Match(template, err error) bool {
	t, ok := template.(*Error)
	if !ok || err == nil {
		return false
	}
	if t.Kind != KindOther && KindOf(err) != t.Kind {
		return false
	}
	if t.Op != "" && find(err, func(e *Error) bool { return e.Op == t.Op }) == nil {
		return false
	}
	if t.Code != "" && find(err, func(e *Error) bool { return e.Code == t.Code }) == nil {
		return false
	}
	return true
}

// find returns the first *Error in err's tree for which ok holds, in the
// order errors.As searches (depth first, errors.Join's in turn).
func find(err error, ok func(*Error) bool) *Error {
	for err != nil {
		switch x := err.(type) {
		case *Error:
			if x == nil {
				return nil
			}
			if ok(x) {
				return x
			}
			err = x.Err
		case interface{ Unwrap() []error }:
			for _, inner := range x.Unwrap() {
				if e := find(inner, ok); e != nil {
					return e
				}
			}
			return nil
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		default:
			return nil
		}
	}
	return nil
}

// CodeNeedsP2 marks a refusal because the tenant has no Microsoft Entra ID
// P2 (or Governance) licence, which time-bound role assignments need.
const CodeNeedsP2 Code = "needs-entra-id-p2"
