package lifecycle

import (
	"errors"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// The package depends on the domain and the standard library only, so
// that its tests need no SDK, no network and no emulator.
func TestImportsOnlyTheDomainAndTheStandardLibrary(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	const domain = "github.com/mssp-tools/copilot-partner-access/shared/access"
	checked := 0
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(path, "/")
			if strings.Contains(first, ".") && path != domain {
				t.Errorf("%s imports %s: want only the standard library and %s", name, path, domain)
			}
		}
	}
	if checked < 10 {
		t.Errorf("checked %d files, want the whole package", checked)
	}
}

func TestViews(t *testing.T) {
	f := newFixture(t)
	g := f.activeGuest()
	f.command(requestLighthouse("d-v"))
	got, trail, err := f.svc.Trail(f.ctx, customer, g.ID)
	if err != nil || got.ID != g.ID || len(trail) != 2 || trail[1].Action != "activate" {
		t.Fatalf("trail: got %+v, %+v, %v; want the grant and its two audit rows", got, trail, err)
	}
	_, _, err = f.svc.Trail(f.ctx, customer, "b2b:nobody")
	wantKind(t, "trail of an unknown grant", err, access.KindNotFound)

	list, next, err := f.svc.Grants(f.ctx, access.GrantQuery{CustomerTenantID: customer, Status: access.StatusActive})
	if err != nil || len(list) != 1 || list[0].ID != g.ID || next != "" {
		t.Errorf("active grants: got %+v, %q, %v; want the guest's", list, next, err)
	}
	list, next, err = f.svc.Grants(f.ctx, access.GrantQuery{Limit: 1})
	if err != nil || len(list) != 1 || next == "" {
		t.Fatalf("first page: got %d grants, token %q, %v; want 1 and a token", len(list), next, err)
	}
	rest, _, err := f.svc.Grants(f.ctx, access.GrantQuery{Limit: 1, ContinuationToken: next})
	if err != nil || len(rest) != 1 || rest[0].ID == list[0].ID {
		t.Errorf("second page: got %+v, %v; want the other grant", rest, err)
	}
	_, _, err = f.svc.Grants(f.ctx, access.GrantQuery{ContinuationToken: "forged"})
	wantKind(t, "a forged token", err, access.KindInvalid)

	body := []byte(`{"eventId":`)
	if err := f.svc.Reject(f.ctx, QueueInvitationSent, "m-1", body, errors.New("unexpected end of JSON input")); err != nil {
		t.Fatal(err)
	}
	if len(f.store.rejected) != 1 {
		t.Fatalf("rejected: got %d, want 1", len(f.store.rejected))
	}
	r := f.store.rejected[0]
	if r.Source != QueueInvitationSent || r.MessageID != "m-1" || !slices.Equal(r.Body, body) || !r.ReceivedAt.Equal(t0) || !strings.Contains(r.Reason, "JSON") {
		t.Errorf("rejected: got %+v, want the message kept whole with its reason at %v", r, t0)
	}
}
