package main

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
)

func TestGuestsShowsEachGuestsAccount(t *testing.T) {
	off := false
	sim := graphsim.New(graphsim.Seed{
		Partner: graphsim.Tenant{ID: "11112222-3333-4444-5555-666677778888", DisplayName: "Fabrikam"},
		Customers: []graphsim.Tenant{{ID: "aaaabbbb-0000-cccc-1111-dddd2222eeee", DisplayName: "Contoso",
			Users: []graphsim.User{
				{ID: "g-on", Mail: "on@fabrikam.example", UserType: "Guest"},
				{ID: "g-off", Mail: "off@fabrikam.example", UserType: "Guest", AccountEnabled: &off},
				{ID: "member", Mail: "admin@contoso.example"},
			},
			DeletedUsers: []graphsim.User{{ID: "g-gone", Mail: "gone@fabrikam.example", UserType: "Guest"}}}},
	})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-graphsim", srv.URL, "guests"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"enabled  g-on", "disabled g-off", "deleted  g-gone", "3 guests"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
	if strings.Contains(out.String(), "member") {
		t.Errorf("a member is listed: %q", out.String())
	}
}
