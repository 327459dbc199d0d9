// Package arm is the app's Azure Resource Manager adapter for Azure
// Lighthouse (DESIGN.md section 15): it lists a customer subscription's
// registration assignments with their definitions, and deletes one,
// following ARM's asynchronous operation to its end. It goes through
// azcore's ARM pipeline (authentication, retries, the ARM policies) and
// azcore's pollers: the resource manager module for managed services is
// not served here, and nothing in this package retries or polls by hand.
package arm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	armpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

// APIVersion is the Microsoft.ManagedServices API version the app uses.
const APIVersion = "2022-10-01"

// DefaultBaseURL is Azure Resource Manager's public endpoint.
const DefaultBaseURL = "https://management.azure.com"

// Options configure a Client.
type Options struct {
	// BaseURL is ARM's root (ARM_BASE_URL); empty: DefaultBaseURL.
	BaseURL string
	// Credential signs the requests as the app's own identity.
	Credential azcore.TokenCredential
	// Transport sends the requests; nil: azcore's default.
	Transport policy.Transporter
	// PollEvery is how often a deletion's operation is polled when ARM
	// does not say (Retry-After); zero: 10 seconds.
	PollEvery time.Duration
}

// Client calls ARM for Lighthouse.
type Client struct {
	base      string
	pl        runtime.Pipeline
	pollEvery time.Duration
}

var _ lifecycle.Delegations = (*Client)(nil)

// New builds a Client. A base URL other than ARM's own may be plain HTTP
// only on the loopback (a local simulator).
func New(o Options) (*Client, error) {
	base := strings.TrimSuffix(o.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("ARM_BASE_URL %q is not an http(s) URL", o.BaseURL)
	}
	local := u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost" || u.Hostname() == "::1"
	if u.Scheme == "http" && !local {
		return nil, fmt.Errorf("ARM_BASE_URL %q: plain HTTP is refused off the loopback", o.BaseURL)
	}
	if o.Credential == nil {
		return nil, errors.New("arm: no credential")
	}
	opts := &armpolicy.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: base, Audience: "https://management.azure.com"},
		}},
		InsecureAllowCredentialWithHTTP: local,
		Transport:                       o.Transport,
		Telemetry:                       policy.TelemetryOptions{ApplicationID: "copilot-partner-access"},
	}, DisableRPRegistration: true}
	c, err := azarm.NewClient("copilot-partner-access/arm", "v1.0.0", o.Credential, opts)
	if err != nil {
		return nil, fmt.Errorf("arm client: %w", err)
	}
	every := o.PollEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	return &Client{base: c.Endpoint(), pl: c.Pipeline(), pollEvery: every}, nil
}

// assignmentJSON is a registration assignment as ARM lists it with
// $expandRegistrationDefinition=true.
type assignmentJSON struct {
	ID         string `json:"id"`
	Properties struct {
		ProvisioningState      string `json:"provisioningState"`
		RegistrationDefinition *struct {
			Properties struct {
				ManagedByTenantID          string `json:"managedByTenantId"`
				RegistrationDefinitionName string `json:"registrationDefinitionName"`
				Authorizations             []struct {
					PrincipalID      string `json:"principalId"`
					RoleDefinitionID string `json:"roleDefinitionId"`
				} `json:"authorizations"`
			} `json:"properties"`
		} `json:"registrationDefinition"`
	} `json:"properties"`
}

// Assignments lists a subscription's registration assignments with their
// definitions ("Registration Assignments - List", Microsoft.ManagedServices
// 2022-10-01), following nextLink.
func (c *Client) Assignments(ctx context.Context, subscriptionID string) ([]lifecycle.Delegation, error) {
	if !access.IsGUID(subscriptionID) {
		return nil, access.Invalid("list delegations", map[string]string{"subscriptionId": "must be a GUID"})
	}
	next := c.base + "/subscriptions/" + subscriptionID + "/providers/Microsoft.ManagedServices/registrationAssignments?api-version=" +
		APIVersion + "&$expandRegistrationDefinition=true"
	var out []lifecycle.Delegation
	for next != "" {
		req, err := runtime.NewRequest(ctx, http.MethodGet, next)
		if err != nil {
			return nil, fmt.Errorf("list delegations of %s: %w", subscriptionID, err)
		}
		resp, err := c.pl.Do(req)
		if err != nil {
			return nil, fmt.Errorf("list delegations of %s: %w", subscriptionID, transient(err))
		}
		if !runtime.HasStatusCode(resp, http.StatusOK) {
			return nil, fmt.Errorf("list delegations of %s: %w", subscriptionID, answer(resp))
		}
		var page struct {
			Value    []assignmentJSON `json:"value"`
			NextLink string           `json:"nextLink"`
		}
		if err := runtime.UnmarshalAsJSON(resp, &page); err != nil {
			return nil, fmt.Errorf("list delegations of %s: %w", subscriptionID, err)
		}
		for _, a := range page.Value {
			d := lifecycle.Delegation{AssignmentID: a.ID, ProvisioningState: a.Properties.ProvisioningState}
			if def := a.Properties.RegistrationDefinition; def != nil {
				d.ManagedByTenantID, d.OfferName = def.Properties.ManagedByTenantID, def.Properties.RegistrationDefinitionName
				for _, au := range def.Properties.Authorizations {
					d.Authorizations = append(d.Authorizations, lifecycle.DelegatedRole{PrincipalID: au.PrincipalID, RoleDefinitionID: au.RoleDefinitionID})
				}
			}
			out = append(out, d)
		}
		next = page.NextLink
	}
	return out, nil
}

// RemoveAssignment deletes a registration assignment ("Registration
// Assignments - Delete"): ARM answers 202 with an Azure-AsyncOperation to
// poll, which azcore's poller follows until the operation ends. One already
// gone is no error; a 403 (the customer took the app's role away) is
// KindRefused.
func (c *Client) RemoveAssignment(ctx context.Context, subscriptionID, assignmentID string) error {
	id := "/" + strings.TrimPrefix(assignmentID, "/")
	if !strings.HasPrefix(strings.ToLower(id), "/subscriptions/"+strings.ToLower(subscriptionID)+"/") ||
		!strings.Contains(strings.ToLower(id), "/providers/microsoft.managedservices/registrationassignments/") {
		return access.Invalid("remove delegation", map[string]string{"assignmentId": "must be a registration assignment of subscription " + subscriptionID})
	}
	req, err := runtime.NewRequest(ctx, http.MethodDelete, c.base+id+"?api-version="+APIVersion)
	if err != nil {
		return fmt.Errorf("remove delegation %s: %w", id, err)
	}
	resp, err := c.pl.Do(req)
	if err != nil {
		return fmt.Errorf("remove delegation %s: %w", id, transient(err))
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNoContent, http.StatusNotFound:
		return nil
	case http.StatusAccepted:
		poller, err := runtime.NewPoller[struct{}](resp, c.pl, nil)
		if err != nil {
			return fmt.Errorf("remove delegation %s: follow the operation: %w", id, err)
		}
		if _, err := poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: c.pollEvery}); err != nil {
			var re *azcore.ResponseError
			if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
				return nil
			}
			return fmt.Errorf("remove delegation %s: the operation did not succeed: %w", id, transient(err))
		}
		return nil
	}
	return fmt.Errorf("remove delegation %s: %w", id, answer(resp))
}

// answer classifies a failure answer of ARM.
func answer(resp *http.Response) error {
	err := runtime.NewResponseError(resp)
	var re *azcore.ResponseError
	code := ""
	if errors.As(err, &re) {
		code = re.ErrorCode
	}
	kind := access.KindInternal
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		kind = access.KindUnauthorized
	case resp.StatusCode == http.StatusForbidden:
		kind = access.KindRefused
	case resp.StatusCode == http.StatusNotFound:
		kind = access.KindNotFound
	case resp.StatusCode == http.StatusConflict:
		kind = access.KindConflict
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		kind = access.KindTransient
	case resp.StatusCode >= 400:
		kind = access.KindInvalid
	}
	return &access.Error{Kind: kind, Code: code, Msg: fmt.Sprintf("azure resource manager answered %d %s", resp.StatusCode, code), Err: err}
}

// transient marks a failure to reach ARM, or an operation that failed
// without an answer to classify, as worth retrying.
func transient(err error) error {
	var ae *access.Error
	if errors.As(err, &ae) {
		return err
	}
	return &access.Error{Kind: access.KindTransient, Msg: "azure resource manager call did not finish", Err: err}
}
