package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

// Defaults of a local run (scripts/run-local.sh).
const (
	defaultAPI      = "http://127.0.0.1:7071"
	defaultGraphsim = "http://127.0.0.1:8090"
	defaultPeers    = "http://127.0.0.1:8091"
	defaultCustomer = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
	defaultPartner  = "11112222-3333-4444-5555-666677778888"
)

const usage = `usage: accessctl [global flags] <command> [flags]

commands:
  request b2b|gdap|lighthouse   ask for access (signed ticketing command)
  revoke -grant ID               end a grant now
  extend -grant ID -days N       move a grant's end to N days from now
  grants                         list grants (-status, -expires-within, -all-customers)
  grant -grant ID                one grant and its audit trail
  advise -plugins "Sentinel,NL2KQL Sentinel" [-payer partner] [-time-bound]
  approve -relationship ID       local run: the customer approves a GDAP request in the Graph simulator
  sweep                          local run: run the expiry sweep now
  time [+90d|-1h|reset]          local run: move the app's clock (LOCAL_CLOCK_FILE)
  mails                          local run: the mail the Graph simulator received
  sinks                          local run: Teams cards and ticket comments received
  guests                         local run: the customer's guests in the Graph simulator, enabled, disabled or deleted
  delegate -subscription ID      local run: the customer deploys the Lighthouse onboarding template the app mailed
  undelegate -subscription ID    local run: the customer removes the Lighthouse delegation

global flags:
`

// globals are the settings every command shares, from flags or environment.
type globals struct {
	api, graphsim, peers, secret, customer, partner, clockFile, sinkDir string
	out                                                                 io.Writer
	client                                                              *http.Client
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	g := &globals{out: stdout, client: &http.Client{Timeout: 60 * time.Second}}
	fs := flag.NewFlagSet("accessctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&g.api, "api", or(getenv("ACCESSCTL_API"), defaultAPI), "the app's base URL (ACCESSCTL_API)")
	fs.StringVar(&g.graphsim, "graphsim", or(getenv("ACCESSCTL_GRAPHSIM"), defaultGraphsim), "the Graph simulator of a local run (ACCESSCTL_GRAPHSIM)")
	fs.StringVar(&g.peers, "peers", or(getenv("ACCESSCTL_PEERS"), defaultPeers), "localpeers of a local run: Partner Center, Teams and ticket sinks (ACCESSCTL_PEERS)")
	fs.StringVar(&g.secret, "secret", getenv("TICKET_WEBHOOK_SECRET"), "ticket webhook HMAC secret (TICKET_WEBHOOK_SECRET)")
	fs.StringVar(&g.customer, "customer", or(getenv("ACCESSCTL_CUSTOMER"), defaultCustomer), "customer tenant id (ACCESSCTL_CUSTOMER)")
	fs.StringVar(&g.partner, "partner", or(getenv("PARTNER_TENANT_ID"), defaultPartner), "partner tenant id (PARTNER_TENANT_ID)")
	fs.StringVar(&g.clockFile, "clock-file", getenv("LOCAL_CLOCK_FILE"), "the local run's clock file (LOCAL_CLOCK_FILE)")
	fs.StringVar(&g.sinkDir, "sink-dir", getenv("ACCESSCTL_SINK_DIR"), "where the local run's Teams and ticket sinks write (ACCESSCTL_SINK_DIR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no command")
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	switch cmd {
	case "request":
		return g.request(ctx, rest)
	case "revoke", "extend":
		return g.change(ctx, cmd, rest)
	case "grants":
		return g.grants(ctx, rest)
	case "grant":
		return g.grant(ctx, rest)
	case "advise":
		return g.advise(ctx, rest)
	case "approve":
		return g.approve(ctx, rest)
	case "sweep":
		return g.sweep(ctx)
	case "time":
		return g.time(rest)
	case "mails":
		return g.mails(ctx)
	case "sinks":
		return g.sinks()
	case "guests":
		return g.guests(ctx)
	case "delegate":
		return g.delegate(ctx, rest)
	case "undelegate":
		return g.undelegate(ctx, rest)
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q", cmd)
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

func newDeliveryID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "cli-" + hex.EncodeToString(b[:])
}

// ticketCommand signs cmd as a ticketing system does and sends it.
func (g *globals) ticketCommand(ctx context.Context, cmd map[string]any) error {
	if g.secret == "" {
		return errors.New("no ticket webhook secret: set TICKET_WEBHOOK_SECRET or -secret")
	}
	if _, ok := cmd["deliveryId"]; !ok {
		cmd["deliveryId"] = newDeliveryID()
	}
	cmd["customerTenantId"] = g.customer
	body, _ := json.Marshal(cmd)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.api+"/api/webhooks/ticketing", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	webhook.SetTicketHeaders(req, []byte(g.secret), body, time.Now())
	return g.do(req)
}

// do sends a request and prints the answer, failing on an error status.
func (g *globals) do(req *http.Request) error {
	resp, err := g.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	var pretty bytes.Buffer
	if json.Indent(&pretty, b, "", "  ") == nil {
		b = pretty.Bytes()
	}
	fmt.Fprintf(g.out, "%d %s\n%s\n", resp.StatusCode, http.StatusText(resp.StatusCode), b)
	if resp.StatusCode >= 400 {
		return fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
	}
	return nil
}

func (g *globals) request(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("request b2b|gdap|lighthouse [flags]")
	}
	method := args[0]
	fs := flag.NewFlagSet("request", flag.ContinueOnError)
	email := fs.String("email", "", "b2b: the partner analyst's email")
	name := fs.String("name", "", "b2b: display name")
	roles := fs.String("roles", "Security Reader", "comma list of roles (names or template ids)")
	days := fs.Int("days", 0, "grant length in days (0: the policy's default)")
	ticket := fs.String("ticket", "", "ticket id, e.g. SEC-42")
	system := fs.String("system", "cli", "ticketing system")
	sub := fs.String("subscription", "", "lighthouse: the subscription to delegate")
	partnerContacts := fs.String("partner-contacts", "soc@fabrikam.example", "comma list of partner mail recipients")
	customerContacts := fs.String("customer-contacts", "secops@contoso.example", "comma list of customer mail recipients")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cmd := map[string]any{
		"action": "request-access", "method": method, "partnerTenantId": g.partner,
		"roles": splitList(*roles), "durationDays": *days, "subscriptionId": *sub,
		"partnerContacts": splitList(*partnerContacts), "customerContacts": splitList(*customerContacts),
		"invitee": map[string]string{"email": *email, "displayName": *name},
	}
	if *ticket != "" {
		cmd["ticket"] = map[string]string{"system": *system, "id": *ticket}
	}
	return g.ticketCommand(ctx, cmd)
}

func (g *globals) change(ctx context.Context, action string, args []string) error {
	fs := flag.NewFlagSet(action, flag.ContinueOnError)
	grant := fs.String("grant", "", "grant id, e.g. b2b:<guest id>")
	days := fs.Int("days", 0, "extend: new length from now, in days")
	ticket := fs.String("ticket", "", "ticket id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmd := map[string]any{"action": action + "-access", "grantId": *grant, "durationDays": *days}
	if *ticket != "" {
		cmd["ticket"] = map[string]string{"system": "cli", "id": *ticket}
	}
	return g.ticketCommand(ctx, cmd)
}

func (g *globals) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode >= 400 {
		return fmt.Errorf("GET %s: %s\n%s", req.URL.Path, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

func (g *globals) grants(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("grants", flag.ContinueOnError)
	status := fs.String("status", "", "only this status")
	within := fs.Int("expires-within", -1, "only grants that end within N days")
	all := fs.Bool("all-customers", false, "every customer, not just -customer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	q := url.Values{}
	if !*all {
		q.Set("customerTenantId", g.customer)
	}
	if *status != "" {
		q.Set("status", *status)
	}
	if *within >= 0 {
		q.Set("expiresWithinDays", strconv.Itoa(*within))
	}
	tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GRANT\tSTATUS\tROLES\tEXPIRES\tNOTICES\tTICKET")
	for {
		var page struct {
			Grants []struct {
				GrantID     string   `json:"grantId"`
				Status      string   `json:"status"`
				Roles       []string `json:"roles"`
				ExpiresAt   string   `json:"expiresAt"`
				NoticesSent []int    `json:"noticesSent"`
				Ticket      struct{ System, ID string }
			} `json:"grants"`
			ContinuationToken string `json:"continuationToken"`
		}
		if err := g.get(ctx, g.api+"/api/grants?"+q.Encode(), &page); err != nil {
			return err
		}
		for _, gr := range page.Grants {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%v\t%s %s\n", gr.GrantID, gr.Status, len(gr.Roles), gr.ExpiresAt, gr.NoticesSent, gr.Ticket.System, gr.Ticket.ID)
		}
		if page.ContinuationToken == "" {
			break
		}
		q.Set("continuationToken", page.ContinuationToken)
	}
	return tw.Flush()
}

func (g *globals) grant(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("grant", flag.ContinueOnError)
	id := fs.String("grant", "", "grant id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id == "" {
		return errors.New("grant -grant ID")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.api+"/api/grants/"+url.PathEscape(g.customer)+"/"+url.PathEscape(*id), nil)
	if err != nil {
		return err
	}
	return g.do(req)
}

func (g *globals) advise(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("advise", flag.ContinueOnError)
	plugins := fs.String("plugins", "", "comma list of plugins, e.g. \"Sentinel,NL2KQL Sentinel\"")
	payer := fs.String("payer", "", "whose SCUs: customer or partner")
	timeBound := fs.Bool("time-bound", false, "access must end by itself")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{"plugins": splitList(*plugins), "capacityPlan": *payer, "timeBound": *timeBound})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.api+"/api/advisor", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return g.do(req)
}

// localOnly refuses the local-run commands against anything but loopback.
func localOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1":
		return nil
	}
	return fmt.Errorf("%s is not a local run: this command is for the local run only", raw)
}

func (g *globals) approve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("approve", flag.ContinueOnError)
	rel := fs.String("relationship", "", "relationship id (from the gdap grant id)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := localOnly(g.graphsim); err != nil {
		return err
	}
	if err := localOnly(g.peers); err != nil {
		return err
	}
	id := strings.TrimPrefix(*rel, "gdap:")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.graphsim+"/_sim/relationships/"+url.PathEscape(id)+"/approve", nil)
	if err != nil {
		return err
	}
	if err := g.do(req); err != nil {
		return err
	}
	// Partner Center now tells the app, with a signed event: locally,
	// localpeers plays Partner Center.
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, g.peers+"/partner-center/approved/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	return g.do(req)
}

func (g *globals) sweep(ctx context.Context) error {
	if err := localOnly(g.api); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.api+"/admin/functions/expiry-sweep", strings.NewReader("{}"))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return g.do(req)
}

// time moves the local run's clock: "+90d", "-2h", "reset" or nothing to
// show it.
func (g *globals) time(args []string) error {
	if g.clockFile == "" {
		return errors.New("no clock file: the local run sets LOCAL_CLOCK_FILE (see scripts/run-local.sh)")
	}
	if err := localOnly(g.api); err != nil {
		return err
	}
	cur := time.Duration(0)
	if b, err := os.ReadFile(g.clockFile); err == nil {
		cur, _ = time.ParseDuration(strings.TrimSpace(string(b)))
	}
	if len(args) == 0 {
		fmt.Fprintf(g.out, "offset %s: the app's time is %s\n", cur, time.Now().Add(cur).UTC().Format(time.RFC3339))
		return nil
	}
	next := time.Duration(0)
	if args[0] != "reset" {
		d, err := parseOffset(args[0])
		if err != nil {
			return err
		}
		next = cur + d
	}
	if err := os.MkdirAll(filepath.Dir(g.clockFile), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(g.clockFile, []byte(next.String()+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(g.out, "offset %s: the app's time is %s\n", next, time.Now().Add(next).UTC().Format(time.RFC3339))
	return nil
}

// parseOffset reads "+90d", "-1h30m", "12h".
func parseOffset(s string) (time.Duration, error) {
	sign := time.Duration(1)
	switch {
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	case strings.HasPrefix(s, "-"):
		sign, s = -1, s[1:]
	}
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil {
			return 0, fmt.Errorf("offset %q: want +90d, -1h or 12h", s)
		}
		return sign * time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("offset %q: want +90d, -1h or 12h", s)
	}
	return sign * d, nil
}

func (g *globals) mails(ctx context.Context) error {
	if err := localOnly(g.graphsim); err != nil {
		return err
	}
	var st struct {
		Mails []struct {
			From    string   `json:"from"`
			To      []string `json:"to"`
			Subject string   `json:"subject"`
			Body    string   `json:"body"`
		} `json:"mails"`
	}
	if err := g.get(ctx, g.graphsim+"/_sim/state", &st); err != nil {
		return err
	}
	for i, m := range st.Mails {
		fmt.Fprintf(g.out, "--- mail %d from %s to %s\nSubject: %s\n\n%s\n\n", i+1, m.From, strings.Join(m.To, ", "), m.Subject, m.Body)
	}
	fmt.Fprintf(g.out, "%d mails\n", len(st.Mails))
	return nil
}

func (g *globals) sinks() error {
	if g.sinkDir == "" {
		return errors.New("no sink folder: the local run sets ACCESSCTL_SINK_DIR")
	}
	for _, name := range []string{"teams.jsonl", "ticket.jsonl"} {
		b, err := os.ReadFile(filepath.Join(g.sinkDir, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		lines := strings.Count(string(b), "\n")
		fmt.Fprintf(g.out, "== %s (%d)\n%s\n", name, lines, b)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
