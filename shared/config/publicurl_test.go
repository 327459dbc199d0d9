package config

import (
	"maps"
	"testing"
)

func TestPublicURLFallsBackToTheHostName(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, ""},
		{map[string]string{"WEBSITE_HOSTNAME": "func-prod-abc.azurewebsites.net"}, "https://func-prod-abc.azurewebsites.net"},
		{map[string]string{"WEBSITE_HOSTNAME": "func-prod-abc.azurewebsites.net", "PORTAL_URL": "https://access.fabrikam.example/"}, "https://access.fabrikam.example"},
	} {
		env := base()
		maps.Copy(env, c.env)
		cfg, err := load(t, env)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.PublicURL(); got != c.want {
			t.Errorf("%v: PublicURL() = %q, want %q", c.env, got, c.want)
		}
	}
}
