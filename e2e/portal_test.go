package e2e

import (
	"context"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

var update = flag.Bool("update", false, "write the README's screenshot of the portal (docs/portal.png)")

// chromium finds the browser: Debian's chromium package (.ci/run installs
// it). Under CI a missing browser fails the test; elsewhere it is skipped.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: .ci/run installs Debian's chromium package")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium); CI runs this test")
	return ""
}

// browser is a headless Chromium with its own profile (cookies included).
func browser(t *testing.T, width, height int) context.Context {
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(width, height), chromedp.UserDataDir(t.TempDir()))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

// demoGrants asks for the walkthrough's grants: three Contoso guests, for
// 90, 20 and 45 days, active once their invitations are processed.
func demoGrants(l *local) []string {
	var ids []string
	for i, g := range []struct {
		email, ticket string
		days          int
	}{{"alex@fabrikam.example", "SEC-42", 90}, {"sam@fabrikam.example", "SEC-57", 20}, {"kim@fabrikam.example", "SEC-61", 45}} {
		status, res := l.ticket(map[string]any{"deliveryId": "portal-demo-" + g.ticket, "action": "request-access", "method": "b2b",
			"ticket": map[string]string{"system": "jira", "id": g.ticket}, "partnerTenantId": partner,
			"invitee": map[string]string{"email": g.email, "displayName": "Analyst " + g.ticket},
			"roles":   []string{"Security Operator"}, "durationDays": g.days, "customerContacts": []string{"secops@contoso.example"}})
		if status != http.StatusAccepted {
			l.t.Fatalf("request %d: got %d %v", i, status, res)
		}
		ids = append(ids, res["grantId"].(string))
	}
	for _, id := range ids {
		l.eventually("grant "+id+" is active", 30*time.Second, func() bool { return l.grant(id).Status == access.StatusActive })
	}
	return ids
}

func TestPortalInABrowser(t *testing.T) {
	ctx := browser(t, 1280, 900)
	l := startLocal(t)
	ids := demoGrants(l)
	long, short, mid := ids[0], ids[1], ids[2]

	// Not signed in: the portal sends the browser to the sign-in page,
	// where the Contoso admin is chosen.
	do(t, ctx, "sign in as the Contoso admin",
		chromedp.Navigate(l.base+"/api/portal"),
		chromedp.WaitVisible(chromedp.CSS("#contoso-admin")),
		chromedp.Click(chromedp.CSS("#contoso-admin")),
		chromedp.WaitVisible(chromedp.CSS("#timeline")),
	)
	rows := eval[int](t, ctx, `document.querySelectorAll("#timeline g.row").length`)
	bars := eval[int](t, ctx, `document.querySelectorAll("#timeline rect.bar").length`)
	todays := eval[int](t, ctx, `document.querySelectorAll("#timeline line.today").length`)
	notices := eval[int](t, ctx, `document.querySelectorAll("#timeline line.notice").length`)
	expires := eval[[]string](t, ctx, `[...document.querySelectorAll("#timeline g.row")].map(g => g.dataset.grant + " " + g.dataset.expires)`)
	widths := eval[[]float64](t, ctx, `[...document.querySelectorAll("#timeline rect.bar")].map(r => r.getBBox().width)`)
	if rows != 3 || bars != 3 || todays != 1 {
		t.Fatalf("timeline: %d rows, %d bars, %d today lines; want 3, 3, 1", rows, bars, todays)
	}
	// Notices of 30, 7 and 1 days: the 90- and 45-day grants have all
	// three ahead, the 20-day one 7 and 1.
	if notices != 8 {
		t.Errorf("timeline: %d notice marks, want 8", notices)
	}
	// The grant that ends first comes first, its bar the shortest.
	if len(expires) != 3 || !strings.HasPrefix(expires[0], short+" ") || !strings.HasPrefix(expires[1], mid+" ") || !strings.HasPrefix(expires[2], long+" ") {
		t.Errorf("timeline rows: %v, want %s, %s, %s", expires, short, mid, long)
	}
	if len(widths) != 3 || !(widths[0] > 0 && widths[0] < widths[1] && widths[1] < widths[2]) {
		t.Errorf("bar widths: %v, want them growing with the days left (20, 45, 90)", widths)
	}

	// One grant: its trail, then revoke it.
	do(t, ctx, "open a grant",
		chromedp.Click(chromedp.CSS(`#grants a[href$="`+short+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#trail")),
	)
	if trail := text(t, ctx, "#trail"); !strings.Contains(trail, "activate") {
		t.Errorf("trail before the revoke: %q, want the activation", trail)
	}
	do(t, ctx, "revoke it",
		chromedp.Click(chromedp.CSS("#revoke button")),
		chromedp.WaitNotPresent(chromedp.CSS("#revoke")),
		chromedp.WaitVisible(chromedp.CSS("#trail")),
	)
	if status := text(t, ctx, "#status"); status != "revoked" || l.grant(short).Status != access.StatusRevoked {
		t.Fatalf("after revoke: page says %q, grant is %s", status, l.grant(short).Status)
	}
	if trail := text(t, ctx, "#trail"); !strings.Contains(trail, "Megan Bowen <oid c0000000-0000-4000-8000-0000000000a1") {
		t.Errorf("trail after the revoke: %q, want it to name the Contoso admin", trail)
	}

	// The Fabrikam operator extends the other grant.
	before := l.grant(long).ExpiresAt
	do(t, ctx, "sign in as the Fabrikam operator and extend",
		chromedp.Navigate(l.base+"/.auth/logout"),
		chromedp.WaitVisible(chromedp.CSS("#fabrikam-operator")),
		chromedp.Click(chromedp.CSS("#fabrikam-operator")),
		chromedp.WaitVisible(chromedp.CSS("#grants")),
		chromedp.Click(chromedp.CSS(`#grants a[href$="`+long+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#extend")),
		chromedp.SetValue(chromedp.CSS(`#extend input[name="days"]`), "120"),
		chromedp.Click(chromedp.CSS("#extend button")),
	)
	until(t, ctx, "the trail names the operator", `document.querySelector("#trail") !== null && document.querySelector("#trail").textContent.includes("Alex Operator")`)
	if after := l.grant(long).ExpiresAt; !after.After(before.Add(29 * access.Day)) {
		t.Errorf("extend: the grant ends %s, was %s; want 120 days from now", after, before)
	}

	// The list as the operator sees it: the README's screenshot.
	do(t, ctx, "the operator's list", chromedp.Navigate(l.base+"/api/portal"), chromedp.WaitVisible(chromedp.CSS("#timeline")))
	if n := eval[int](t, ctx, `document.querySelectorAll("#grants tbody tr").length`); n != 3 {
		t.Errorf("the operator's list: %d grants, want 3", n)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(filepath.Join("..", "docs", "portal.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// On a phone's width the page does not scroll sideways.
	phone := browser(t, 390, 844)
	do(t, phone, "the portal at phone width",
		chromedp.Navigate(l.base+"/.auth/login/aad?post_login_redirect_uri=%2Fapi%2Fportal"),
		chromedp.Click(chromedp.CSS("#contoso-admin")),
		chromedp.WaitVisible(chromedp.CSS("#timeline")),
	)
	if eval[bool](t, phone, `document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`) {
		t.Errorf("at 390 px the page is wider than the screen")
	}
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(v)
}

// until evaluates expr until it is true; a page still loading counts as
// not yet.
func until(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s (last error %v)", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
