// Package access is the domain of partner access to Microsoft Security
// Copilot: grants of the three access methods (GDAP, B2B collaboration, Azure
// Lighthouse), their lifecycle, the least-privilege policy, the facts of
// Microsoft's guide as data, and the small interfaces the lifecycle needs from
// the outside world. It imports no SDK.
package access

import (
	"errors"
	"fmt"
	"sort"
)

// Kind classifies an error so that the edges (queue outcome, HTTP problem)
// can decide what to do with it without knowing where it came from.
type Kind int

// The error vocabulary. Adapters translate their SDK's errors into these at
// the boundary.
const (
	KindInternal     Kind = iota // a bug or an unclassified failure: retry may or may not help
	KindInvalid                  // bad input: no retry can fix it
	KindNotFound                 // the thing does not exist
	KindConflict                 // a concurrent change or a state that forbids the request
	KindRefused                  // refused by policy (roles, durations, Global Administrator)
	KindTransient                // storage or Graph unavailable, throttled: try again later
	KindUnauthorized             // missing or bad credentials, signature, or consent
)

func (k Kind) String() string {
	switch k {
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

// Error is an error with a Kind. Code and Fields carry machine-readable
// detail (a Graph error code, the fields of a request body that are wrong).
type Error struct {
	Kind   Kind
	Code   string            // optional machine-readable code, e.g. Graph's "Authorization_RequestDenied"
	Msg    string            // human-readable, never holds a secret
	Fields map[string]string // field name -> problem, for KindInvalid
	Err    error             // wrapped cause, may be nil
}

func (e *Error) Error() string {
	msg := e.Msg
	if msg == "" {
		msg = e.Kind.String()
	}
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if len(e.Fields) > 0 {
		names := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			names = append(names, k)
		}
		sort.Strings(names)
		for i, k := range names {
			sep := "; "
			if i == 0 {
				sep = ": "
			}
			msg += sep + k + " " + e.Fields[k]
		}
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error of the given kind.
func Errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// WrapKind wraps err with a kind and a lowercase context message.
func WrapKind(kind Kind, err error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: err}
}

// KindOf reports the kind of the first *Error in err's chain, or
// KindInternal if there is none. A nil error has no kind: KindOf(nil)
// returns KindInternal, and callers check err != nil first.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsKind reports whether err's chain holds an *Error of kind k.
func IsKind(err error, k Kind) bool {
	return err != nil && KindOf(err) == k
}

// FieldsOf returns the field problems of the first *Error in err's chain.
func FieldsOf(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// Invalid builds a KindInvalid error listing field problems.
func Invalid(msg string, fields map[string]string) error {
	return &Error{Kind: KindInvalid, Msg: msg, Fields: fields}
}
