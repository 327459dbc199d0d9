package graphsim

import (
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
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
	claims := jwt.MapClaims{
		"aud": GraphAudience,
		"iss": "https://sts.windows.net/" + tenantID + "/",
		"tid": tenantID,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	// Signing cannot fail: the claims are strings and integers, and the key
	// is the constant the none method asks for.
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	return tok
}

// tokenProblem is why a token was refused, worded as Graph words it for the
// 401 answer.
type tokenProblem string

func (p tokenProblem) Error() string { return string(p) }

// tokenParser reads tokens without verifying them. Padding is allowed
// because some clients pad their base64url segments.
var tokenParser = jwt.NewParser(jwt.WithPaddingAllowed())

// expiryLeeway is how long after its exp claim a token is still taken, as
// Entra's resources allow for clock skew.
const expiryLeeway = 5 * time.Minute

// tenantOfToken returns the tid claim of a bearer token. Like Graph, it
// tells tenants apart by the token alone; unlike Graph it checks no
// signature, since the simulator holds no keys: any alg, "none" included,
// and any signature segment are taken.
func tenantOfToken(authorization string, now time.Time) (string, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", tokenProblem("Access token is empty.")
	}
	c := jwt.MapClaims{}
	tok, _, err := tokenParser.ParseUnverified(strings.TrimSpace(token), c)
	if err != nil && !errors.Is(err, jwt.ErrTokenUnverifiable) {
		// ErrTokenUnverifiable is an alg the library does not know or a
		// missing alg, found after the claims were read: no concern of a
		// simulator that checks no signature.
		return "", malformed(tok, err)
	}
	tid, _ := c["tid"].(string)
	if tid == "" {
		return "", tokenProblem("The token has no tid claim.")
	}
	if aud, err := c.GetAudience(); err != nil || !audienceOK(aud) {
		return "", tokenProblem("Invalid audience: the token is not for Microsoft Graph.")
	}
	exp, err := c.GetExpirationTime()
	if err != nil {
		return "", tokenProblem("IDX14102: Unable to decode the payload of the JWT as JSON.")
	}
	if exp != nil && time.Unix(exp.Unix(), 0).Add(expiryLeeway).Before(now) {
		return "", tokenProblem("Lifetime validation failed, the token is expired.")
	}
	return strings.ToLower(tid), nil
}

// malformed words a parse failure of ParseUnverified as Graph words it,
// naming the segment that failed. ParseUnverified reads the header, then
// the claims, then the alg, then the signature, so what it filled in says
// how far it got.
func malformed(tok *jwt.Token, err error) error {
	var b64 base64.CorruptInputError
	isB64 := errors.As(err, &b64)
	switch {
	case tok == nil:
		return tokenProblem("IDX14100: JWT is not well formed, there are no dots (.).")
	case tok.Header == nil:
		if isB64 {
			return tokenProblem("IDX14102: Unable to decode the header of the JWT as Base64Url encoded string.")
		}
		return tokenProblem("IDX14102: Unable to decode the header of the JWT as JSON.")
	case tok.Method == nil:
		if isB64 {
			return tokenProblem("IDX14102: Unable to decode the payload of the JWT as Base64Url encoded string.")
		}
		return tokenProblem("IDX14102: Unable to decode the payload of the JWT as JSON.")
	default:
		return tokenProblem("IDX14102: Unable to decode the signature of the JWT as Base64Url encoded string.")
	}
}

// audienceOK accepts Graph's audience in the forms Entra issues it, as a
// string or a one-element array.
func audienceOK(auds jwt.ClaimStrings) bool {
	for _, a := range auds {
		switch strings.TrimSuffix(strings.ToLower(a), "/") {
		case GraphAudience, graphAppID:
			return true
		}
	}
	return false
}
