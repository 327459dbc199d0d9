package testenv

import (
	"net"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Tests here that Stop the shared Azurite run after TestAzuriteListens;
// a later Start starts a fresh one.

func TestMain(m *testing.M) { Main(m) }

func TestAzuriteListens(t *testing.T) {
	ep := Azurite(t)
	for name, endpoint := range map[string]string{"blob": ep.BlobEndpoint, "queue": ep.QueueEndpoint, "table": ep.TableEndpoint} {
		u, err := url.Parse(endpoint)
		if err != nil {
			t.Fatalf("%s endpoint %q: %v", name, endpoint, err)
		}
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatalf("%s endpoint %q does not accept connections: %v", name, endpoint, err)
		}
		conn.Close()
	}
	for _, want := range []string{"AccountName=devstoreaccount1;", "AccountKey=" + AccountKey + ";", "TableEndpoint=" + ep.TableEndpoint + ";"} {
		if !strings.Contains(ep.ConnectionString, want) {
			t.Errorf("connection string %q lacks %q", ep.ConnectionString, want)
		}
	}
	// A second call in the same process must reuse the emulator.
	if again := Azurite(t); again != ep {
		t.Errorf("second Azurite() = %+v, want the first %+v", again, ep)
	}
}

func TestParseConnectionString(t *testing.T) {
	tests := []struct {
		name    string
		cs      string
		want    Endpoints
		wantErr bool
	}{
		{
			name: "built by ConnectionStringFor",
			cs:   ConnectionStringFor(1, 2, 3),
			want: Endpoints{
				BlobEndpoint:  "http://127.0.0.1:1/devstoreaccount1",
				QueueEndpoint: "http://127.0.0.1:2/devstoreaccount1",
				TableEndpoint: "http://127.0.0.1:3/devstoreaccount1",
			},
		},
		{name: "development shorthand", cs: "UseDevelopmentStorage=true", wantErr: true},
		{name: "relative endpoint", cs: "TableEndpoint=devstoreaccount1", wantErr: true},
		{name: "part without equals", cs: "AccountName;TableEndpoint=http://h/a", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConnectionString(tt.cs)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseConnectionString(%q) = %+v, nil; want an error", tt.cs, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConnectionString(%q): %v", tt.cs, err)
			}
			tt.want.ConnectionString = tt.cs
			if got != tt.want {
				t.Errorf("ParseConnectionString(%q)\n got %+v\nwant %+v", tt.cs, got, tt.want)
			}
		})
	}
}

func TestUniqueName(t *testing.T) {
	a, b := UniqueName(t, "t"), UniqueName(t, "t")
	if a == b {
		t.Errorf("UniqueName twice = %q and %q, want different names", a, b)
	}
	if !regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{2,62}$`).MatchString(a + "DueIndex") { // Azure's table names
		t.Errorf("UniqueName = %q: with a table name appended it is not a valid table name", a)
	}
}

func TestMissingAzuriteSaysHowToInstall(t *testing.T) {
	_, _, err := startFrom(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "npm install --prefix .tools/azurite azurite@3.35.0") {
		t.Errorf("startFrom(an empty dir) = %v, want the install command", err)
	}
}

func TestStartUsesConfiguredAzurite(t *testing.T) {
	cs := ConnectionStringFor(10000, 10001, 10002)
	t.Setenv(EnvConnectionString, cs)
	Stop() // forget any Azurite of this process, so Start reads the environment
	t.Cleanup(Stop)
	got, err := Start()
	if err != nil {
		t.Fatalf("Start with %s set: %v", EnvConnectionString, err)
	}
	if want := endpointsFor(10000, 10001, 10002); got != want {
		t.Errorf("Start\n got %+v\nwant %+v", got, want)
	}

	t.Setenv(EnvConnectionString, "UseDevelopmentStorage=true")
	Stop()
	if _, err := Start(); err == nil || !strings.Contains(err.Error(), EnvConnectionString) {
		t.Errorf("Start with a short connection string = %v, want an error naming %s", err, EnvConnectionString)
	}
}
