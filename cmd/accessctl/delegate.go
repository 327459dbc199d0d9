package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
)

// The customer's side of Azure Lighthouse in a local run: deploy the
// onboarding template the app mailed (the simulator then shows the
// registration assignment in ARM), or remove the delegation.

// onboardingTemplate finds, in the mail the Graph simulator received, the
// onboarding template sent for subscription.
func (g *globals) onboardingTemplate(ctx context.Context, subscription string) (map[string]any, error) {
	var st struct {
		Mails []struct {
			Body string `json:"body"`
		} `json:"mails"`
	}
	if err := g.get(ctx, g.graphsim+"/_sim/state", &st); err != nil {
		return nil, err
	}
	marker := "deploy it in subscription " + subscription
	for i := len(st.Mails) - 1; i >= 0; i-- {
		body := html.UnescapeString(st.Mails[i].Body)
		at := strings.Index(body, marker)
		if at < 0 {
			continue
		}
		rest := body[at:]
		start := strings.Index(rest, "{")
		if start < 0 {
			continue
		}
		var tmpl map[string]any
		if err := json.NewDecoder(strings.NewReader(rest[start:])).Decode(&tmpl); err != nil {
			return nil, fmt.Errorf("the onboarding template in the mail does not read: %w", err)
		}
		return tmpl, nil
	}
	return nil, fmt.Errorf("no onboarding template for subscription %s in the simulator's mail (accessctl mails)", subscription)
}

// parameter is a template parameter's default value.
func parameter(tmpl map[string]any, name string) any {
	ps, _ := tmpl["parameters"].(map[string]any)
	p, _ := ps[name].(map[string]any)
	return p["defaultValue"]
}

// subscription reads the -subscription flag, required, of a command that
// changes the simulator's Azure Resource Manager: local runs only.
func (g *globals) subscription(cmd, usage string, args []string) (string, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	sub := fs.String("subscription", "", usage)
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if err := localOnly(g.graphsim); err != nil {
		return "", err
	}
	if *sub == "" {
		return "", errors.New(cmd + ": -subscription is required")
	}
	return *sub, nil
}

func (g *globals) delegate(ctx context.Context, args []string) error {
	sub, err := g.subscription("delegate", "the customer subscription of the lighthouse grant", args)
	if err != nil {
		return err
	}
	tmpl, err := g.onboardingTemplate(ctx, sub)
	if err != nil {
		return err
	}
	tenant, _ := parameter(tmpl, "managedByTenantId").(string)
	offer, _ := parameter(tmpl, "mspOfferName").(string)
	var auths []map[string]string
	list, _ := parameter(tmpl, "authorizations").([]any)
	for _, a := range list {
		m, _ := a.(map[string]any)
		p, _ := m["principalId"].(string)
		r, _ := m["roleDefinitionId"].(string)
		auths = append(auths, map[string]string{"principalId": p, "roleDefinitionId": r})
	}
	body, _ := json.Marshal(map[string]any{"subscriptionId": sub, "managedByTenantId": tenant, "offerName": offer, "authorizations": auths})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.graphsim+"/_sim/arm/delegations", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := g.do(req); err != nil {
		return err
	}
	fmt.Fprintf(g.out, "deployed %q in subscription %s: %d authorizations, managed by %s\n", offer, sub, len(auths), tenant)
	return nil
}

func (g *globals) undelegate(ctx context.Context, args []string) error {
	sub, err := g.subscription("undelegate", "the customer subscription to remove the delegation from", args)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, g.graphsim+"/_sim/arm/subscriptions/"+url.PathEscape(sub), nil)
	if err != nil {
		return err
	}
	if err := g.do(req); err != nil {
		return err
	}
	fmt.Fprintf(g.out, "the customer removed the delegation of subscription %s\n", sub)
	return nil
}
