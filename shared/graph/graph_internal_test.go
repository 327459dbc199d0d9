package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	absser "github.com/microsoft/kiota-abstractions-go/serialization"
)

func TestISODurationKeepsGraphsForm(t *testing.T) {
	for _, in := range []string{"P730D", "P180D", "P1D", "PT0S", "P2Y", "P1Y30D", "PT12H", "P1DT2H3M"} {
		d, err := absser.ParseISODuration(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := isoDuration(d); got != in {
			t.Errorf("%s: got %s, want %s (the SDK's String gives %s)", in, got, in, d.String())
		}
	}
	if got := isoDuration(nil); got != "" {
		t.Errorf("nil: got %q, want empty", got)
	}
}

func TestUnsignedJWT(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tok := unsignedJWT("tenant-1", "app-1", now)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[2] != "" {
		t.Fatalf("got %q, want header.payload.", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"aud": "https://graph.microsoft.com", "tid": "tenant-1", "appid": "app-1",
		"iat": float64(now.Unix()), "exp": float64(now.Add(time.Hour).Unix()),
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s: got %v, want %v", k, c[k], v)
		}
	}
}

func TestCredentialCacheMakesOnePerTenant(t *testing.T) {
	made := map[string]int{}
	cache := newCredentialCache(func(tenant string) (credential, error) {
		made[tenant]++
		return nil, nil
	})
	for _, tenant := range []string{"a", "b", "a", "a", "b"} {
		if _, err := cache.credential(tenant); err != nil {
			t.Fatal(err)
		}
	}
	if made["a"] != 1 || made["b"] != 1 {
		t.Errorf("credentials made: got %v, want one per tenant", made)
	}
}

func TestRequestWithoutTenantFails(t *testing.T) {
	err := tenantAuth{tokens: unsignedTokens{}}.AuthenticateRequest(context.Background(), nil, nil)
	if err != errNoTenant {
		t.Errorf("got %v, want errNoTenant", err)
	}
}
