package main

import (
	"context"
	"fmt"
	"strings"
)

// guests lists the guest users of the customer tenants in the local run's
// Graph simulator: whether each may still sign in, and those deleted
// (B2B_GUEST_AFTER_END, DESIGN.md section 13).
func (g *globals) guests(ctx context.Context) error {
	if err := localOnly(g.graphsim); err != nil {
		return err
	}
	type user struct {
		ID             string `json:"id"`
		Mail           string `json:"mail"`
		UserType       string `json:"userType"`
		AccountEnabled *bool  `json:"accountEnabled"`
	}
	var st struct {
		Tenants []struct {
			ID           string `json:"id"`
			DisplayName  string `json:"displayName"`
			Users        []user `json:"users"`
			DeletedUsers []user `json:"deletedUsers"`
		} `json:"tenants"`
	}
	if err := g.get(ctx, g.graphsim+"/_sim/state", &st); err != nil {
		return err
	}
	n := 0
	for _, t := range st.Tenants {
		for _, u := range t.Users {
			if !strings.EqualFold(u.UserType, "Guest") {
				continue
			}
			state := "enabled"
			if u.AccountEnabled != nil && !*u.AccountEnabled {
				state = "disabled"
			}
			fmt.Fprintf(g.out, "%-8s %s  %s  (%s)\n", state, u.ID, u.Mail, t.DisplayName)
			n++
		}
		for _, u := range t.DeletedUsers {
			fmt.Fprintf(g.out, "%-8s %s  %s  (%s)\n", "deleted", u.ID, u.Mail, t.DisplayName)
			n++
		}
	}
	fmt.Fprintf(g.out, "%d guests\n", n)
	return nil
}
