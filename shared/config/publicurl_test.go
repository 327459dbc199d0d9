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

func TestGuestAfterEndIsChecked(t *testing.T) {
	cfg, err := load(t, base())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.B2BGuestAfterEnd != GuestDisable || cfg.B2BGuestDeleteAfterDays != 30 {
		t.Errorf("defaults: %q %d, want disable 30", cfg.B2BGuestAfterEnd, cfg.B2BGuestDeleteAfterDays)
	}
	for _, bad := range []map[string]string{{"B2B_GUEST_AFTER_END": "remove"}, {"B2B_GUEST_DELETE_AFTER_DAYS": "-1"}, {"IDLE_REVOKE_DAYS": "-3"}, {"B2B_ASSIGNMENT": "eligible"}} {
		env := base()
		maps.Copy(env, bad)
		if _, err := load(t, env); err == nil {
			t.Errorf("%v: loaded, want an error naming the setting", bad)
		}
	}
}
