package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The fair floor does in Graph what the contract requires of every event,
// and nothing more: verify the guest and assign its role (invitation-sent),
// or read the relationship and create its access assignment (gdap-approved),
// then send the two notifications, one to each party. Its requests are the
// handler's own requests of one warm-up event, recorded at the Graph proxy,
// with the floor's guest or relationship in place of the handler's: the
// same paths, query options, bodies and tokens, so that the simulator does
// the same work for both. Anything else the handler asks of Graph shows in
// the report as a request the floor does not make.

// notifyOp is the notification request; every event sends two.
const (
	notifyOp      = "POST /users/{id}/sendMail"
	notifications = 2
)

// requiredGraph is what each event type must read and write in Graph
// before its state change (DESIGN.md sections 4 and 10).
var requiredGraph = map[string][]string{
	fnInvitationSent: {"GET /users/{id}", "POST /roleManagement/directory/roleAssignments"},
	fnGDAPApproved: {"GET /tenantRelationships/delegatedAdminRelationships/{id}",
		"POST /tenantRelationships/delegatedAdminRelationships/{id}/accessAssignments"},
}

// floorGraph is the Graph part of the floor of one event type.
type floorGraph struct {
	base   string   // the Graph proxy
	before []sample // reads and writes before the commit, in order
	after  []sample // the notifications after it
	// The recorded event's subject (guest or relationship) and the tenant
	// its tokens name; the floor puts its own in their place.
	id, tenant string
	client     *http.Client
}

// newFloorGraph picks the required requests out of the handler's requests
// of one event. It fails if the handler did not make one of them: the
// floor would then not be the floor of that handler's work.
func newFloorGraph(fn, base string, recorded []sample, id, tenant string) (*floorGraph, error) {
	f := &floorGraph{base: base, id: id, tenant: tenant, client: &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
	}, Timeout: time.Minute}}
	used := make([]bool, len(recorded))
	take := func(op string) (sample, bool) {
		for i, s := range recorded {
			if !used[i] && s.op == op {
				used[i] = true
				return s, true
			}
		}
		return sample{}, false
	}
	for _, op := range requiredGraph[fn] {
		s, ok := take(op)
		if !ok {
			return nil, fmt.Errorf("%s: the handler made no %s for the recorded event (it made %v)", fn, op, ops(recorded))
		}
		f.before = append(f.before, s)
	}
	for range notifications {
		s, ok := take(notifyOp)
		if !ok {
			return nil, fmt.Errorf("%s: the handler sent fewer than %d notifications for the recorded event (it made %v)", fn, notifications, ops(recorded))
		}
		f.after = append(f.after, s)
	}
	return f, nil
}

func ops(ss []sample) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.op
	}
	return out
}

// send replays s for the floor's subject id in tenant.
func (f *floorGraph) send(ctx context.Context, s sample, id, tenant string) error {
	uri := strings.ReplaceAll(s.uri, f.id, id)
	req, err := http.NewRequestWithContext(ctx, s.method, f.base+uri, bytes.NewReader(bytes.ReplaceAll(s.body, []byte(f.id), []byte(id))))
	if err != nil {
		return err
	}
	req.Header = s.header.Clone()
	req.Header.Del("Content-Length")
	if tenant != f.tenant {
		// Only the requests into the recorded subject's tenant move to
		// the floor's; the notifications stay the partner's.
		auth, err := retoken(s.header.Get("Authorization"), f.tenant, tenant)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", auth)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("floor %s: %w", s.op, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("floor %s answered %d: %s", s.op, resp.StatusCode, body)
	}
	return nil
}

// retoken puts tenant into the tid and issuer of an unsigned simulator
// token (GRAPH_AUTH=none) for tenant from, as the handler's token for that
// tenant has; a token for another tenant is kept.
func retoken(authorization, from, tenant string) (string, error) {
	raw, ok := strings.CutPrefix(authorization, "Bearer ")
	if !ok {
		return "", fmt.Errorf("floor: the recorded request has no bearer token")
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil {
		return "", fmt.Errorf("floor: recorded token: %w", err)
	}
	if claims["tid"] != from {
		return authorization, nil
	}
	claims["tid"], claims["iss"] = tenant, "https://sts.windows.net/"+tenant+"/"
	tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	return "Bearer " + tok, err
}
