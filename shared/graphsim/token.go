package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// GraphAudience is the audience of a Microsoft Graph access token.
const GraphAudience = "https://graph.microsoft.com"

// graphAppID is Microsoft Graph's application id, which Entra also puts in
// the aud claim of some tokens.
const graphAppID = "00000003-0000-0000-c000-000000000000"

// UnsignedToken returns an unsigned JWT (alg "none") for a tenant, valid for
// an hour: what a client in "none" auth mode sends, and what curl users and
// tests can put in an Authorization header.
func UnsignedToken(tenantID string) string {
	now := time.Now()
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	payload, _ := json.Marshal(map[string]any{
		"aud": GraphAudience,
		"iss": "https://sts.windows.net/" + tenantID + "/",
		"tid": tenantID,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	})
	return header + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
}

// tokenProblem is why a token was refused, worded as Graph words it for the
// 401 answer.
type tokenProblem string

func (p tokenProblem) Error() string { return string(p) }

// claims are the parts of an access token the simulator looks at.
type claims struct {
	TenantID string          `json:"tid"`
	Audience json.RawMessage `json:"aud"`
	Expires  *float64        `json:"exp"`
}

// tenantOfToken returns the tid claim of a bearer token. Like Graph, it
// tells tenants apart by the token alone; unlike Graph it checks no
// signature, since the simulator holds no keys.
func tenantOfToken(authorization string, now time.Time) (string, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", tokenProblem("Access token is empty.")
	}
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return "", tokenProblem("IDX14100: JWT is not well formed, there are no dots (.).")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", tokenProblem("IDX14102: Unable to decode the payload of the JWT as Base64Url encoded string.")
	}
	var c claims
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", tokenProblem("IDX14102: Unable to decode the payload of the JWT as JSON.")
	}
	if c.TenantID == "" {
		return "", tokenProblem("The token has no tid claim.")
	}
	if !audienceOK(c.Audience) {
		return "", tokenProblem("Invalid audience: the token is not for Microsoft Graph.")
	}
	if c.Expires != nil && time.Unix(int64(*c.Expires), 0).Add(5*time.Minute).Before(now) {
		return "", tokenProblem("Lifetime validation failed, the token is expired.")
	}
	return strings.ToLower(c.TenantID), nil
}

// audienceOK accepts Graph's audience in the forms Entra issues it, as a
// string or a one-element array.
func audienceOK(raw json.RawMessage) bool {
	var auds []string
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		auds = []string{one}
	} else if err := json.Unmarshal(raw, &auds); err != nil {
		return false
	}
	for _, a := range auds {
		switch strings.TrimSuffix(strings.ToLower(a), "/") {
		case GraphAudience, graphAppID:
			return true
		}
	}
	return false
}
