package arm

import (
	"context"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"
)

// UnsignedCredential is the local run's stand-in for the app's managed
// identity (GRAPH_AUTH=none): an unsigned token for ARM naming the
// partner tenant and the app's object id, so that a simulator tells the
// app's identity from the token as ARM does. Never use it with ARM itself.
type UnsignedCredential struct {
	TenantID, ObjectID string
}

// GetToken returns an unsigned JWT valid for an hour.
func (u UnsignedCredential) GetToken(_ context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"aud": "https://management.azure.com", "iss": "https://sts.windows.net/" + u.TenantID + "/",
		"tid": u.TenantID, "oid": u.ObjectID, "idtyp": "app",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	return azcore.AccessToken{Token: tok, ExpiresOn: now.Add(time.Hour)}, err
}
