package access

import (
	"errors"
	"fmt"
	"testing"
)

// TestKindThroughWraps: context never reclassifies; only an explicit kind
// does.
func TestKindThroughWraps(t *testing.T) {
	conflict := &Error{Op: "tablestore.Commit", Kind: KindConflict, Code: "UpdateConditionNotSatisfied", Msg: "commit grant g1"}
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"plain error", errors.New("boom"), KindInternal},
		{"nil", nil, KindInternal},
		{"explicit kind", conflict, KindConflict},
		{"fmt.Errorf keeps the kind", fmt.Errorf("activate g1: %w", conflict), KindConflict},
		{"E(op, err) keeps the kind", E(Op("lifecycle.Activate"), conflict), KindConflict},
		{"E(op, msg, err) keeps the kind", E(Op("lifecycle.Activate"), "activate g1", conflict), KindConflict},
		{"E over fmt.Errorf over E", E(Op("a"), fmt.Errorf("b: %w", E(Op("c"), conflict))), KindConflict},
		{"E over a plain error", E(Op("graph.User"), errors.New("boom")), KindInternal},
		{"WrapKind still sets the kind", WrapKind(KindTransient, conflict, "notify partner"), KindTransient},
		{"E with a kind sets it", E(KindInvalid, conflict), KindInvalid},
		{"WrapKind(KindOther) inherits", WrapKind(KindOther, conflict, "context"), KindConflict},
		{"errors.Join: the first kind", errors.Join(E(Op("x"), errors.New("plain")), conflict), KindConflict},
		{"Errorf", Errorf(KindRefused, "Global Administrator"), KindRefused},
		{"Invalid", Invalid("bad body", map[string]string{"roles": "required"}), KindInvalid},
	}
	for _, tt := range tests {
		if got := KindOf(tt.err); got != tt.want {
			t.Errorf("%s: KindOf(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
		if tt.err != nil && !IsKind(tt.err, tt.want) {
			t.Errorf("%s: IsKind(%v, %v) = false, want true", tt.name, tt.err, tt.want)
		}
	}
	if IsKind(nil, KindInternal) {
		t.Errorf("IsKind(nil, KindInternal) = true, want false: nil is no error")
	}
}

func TestMatch(t *testing.T) {
	inner := &Error{Op: "tablestore.Commit", Kind: KindConflict, Code: "UpdateConditionNotSatisfied", Msg: "commit grant g1"}
	err := E(Op("lifecycle.Activate"), fmt.Errorf("activate g1: %w", inner))
	tests := []struct {
		name     string
		template error
		err      error
		want     bool
	}{
		{"kind", E(KindConflict), err, true},
		{"wrong kind", E(KindTransient), err, false},
		{"inner op", E(Op("tablestore.Commit")), err, true},
		{"outer op", E(Op("lifecycle.Activate")), err, true},
		{"kind and op", E(KindConflict, Op("tablestore.Commit")), err, true},
		{"kind and wrong op", E(KindConflict, Op("graph.AssignRole")), err, false},
		{"code", E(Code("UpdateConditionNotSatisfied")), err, true},
		{"wrong code", E(Code("EntityAlreadyExists")), err, false},
		{"empty template matches any error", E(), err, true},
		{"plain error is internal", E(KindInternal), errors.New("boom"), true},
		{"plain error has no op", E(Op("graph.User")), errors.New("boom"), false},
		{"nil error", E(KindInternal), nil, false},
		{"template not an *Error", errors.New("conflict"), err, false},
	}
	for _, tt := range tests {
		if got := Match(tt.template, tt.err); got != tt.want {
			t.Errorf("%s: Match(%+v, %v) = %v, want %v", tt.name, tt.template, tt.err, got, tt.want)
		}
	}
}

func TestE(t *testing.T) {
	cause := errors.New("table storage answered 412")
	fields := map[string]string{"roles": "required"}
	err := E(Op("tablestore.Commit"), KindConflict, Code("UpdateConditionNotSatisfied"), "commit grant g1", fields, cause)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("E returned %T, want *Error", err)
	}
	want := Error{Op: "tablestore.Commit", Kind: KindConflict, Code: "UpdateConditionNotSatisfied", Msg: "commit grant g1", Fields: fields, Err: cause}
	if e.Op != want.Op || e.Kind != want.Kind || e.Code != want.Code || e.Msg != want.Msg || e.Err != want.Err || len(e.Fields) != 1 {
		t.Errorf("E = %+v, want %+v", *e, want)
	}
	if !errors.Is(err, cause) {
		t.Errorf("E(…, cause) does not wrap cause")
	}
	if FieldsOf(E(Op("lifecycle.Request"), "request", Invalid("bad body", fields)))["roles"] != "required" {
		t.Errorf("FieldsOf through a wrap lost the fields")
	}
	if bad := E(Op("x"), 42); KindOf(bad) != KindInternal || !Match(E(Op("x")), bad) {
		t.Errorf("E with an int = %v (kind %v), want an internal error of op x", bad, KindOf(bad))
	}
}

// TestErrorText: the operation is not in the text, the message reads as
// fmt.Errorf's would, and explicit kinds read as before.
func TestErrorText(t *testing.T) {
	cause := errors.New("graph answered 404: gone")
	tests := []struct {
		err  error
		want string
	}{
		{E(Op("graph.User"), cause), "graph answered 404: gone"},
		{E(Op("graph.User"), "read user u1 in t1", cause), "read user u1 in t1: graph answered 404: gone"},
		{E(KindNotFound), "not found"},
		{E(KindNotFound, Code("Request_ResourceNotFound")), "not found (Request_ResourceNotFound)"},
		{E(Code("X"), cause), "(X): graph answered 404: gone"},
		{E(Op("x")), "internal"},
		{WrapKind(KindTransient, cause, "send mail"), "send mail: graph answered 404: gone"},
		{Invalid("bad body", map[string]string{"roles": "required", "days": "over 365"}), "bad body: days over 365; roles required"},
		{&Error{Kind: KindInvalid, Fields: map[string]string{"to": "required"}}, "invalid: to required"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	for k, want := range map[Kind]string{KindOther: "other", KindInternal: "internal", KindConflict: "conflict", KindUnauthorized: "unauthorized"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
