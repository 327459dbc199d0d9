package testenv

import (
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

// TestPartnerCenterServesTheLeafAlone: like Partner Center's, the .cer holds
// the leaf only, and a verifier completes the chain from its caIssuers URL
// when, and only when, the issuer's origin is allowed.
func TestPartnerCenterServesTheLeafAlone(t *testing.T) {
	pc := NewPartnerCenter(t)
	resp, err := http.Get(pc.CertURL)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("the .cer is not one DER certificate: %v", err)
	}
	if len(leaf.IssuingCertificateURL) != 1 || leaf.Subject.Organization[0] != webhook.MicrosoftOrganization {
		t.Fatalf("leaf: caIssuers %v, O=%v; want one caIssuers URL and O=%s", leaf.IssuingCertificateURL, leaf.Subject.Organization, webhook.MicrosoftOrganization)
	}
	roots, err := webhook.LoadRoots(pc.RootsFile)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"EventName":"test-created"}`)
	for _, tt := range []struct {
		name    string
		issuers []string
		want    access.Kind // KindInternal: verifies
	}{
		{"issuer origin allowed", []string{pc.IssuerOrigin}, access.KindInternal},
		{"default issuer origins", nil, access.KindUnauthorized},
		{"only the certificate origin", []string{pc.Origin}, access.KindUnauthorized},
	} {
		v, err := webhook.NewPartnerCenterVerifier(webhook.PartnerCenterOptions{CertOrigins: []string{pc.Origin}, IssuerOrigins: tt.issuers, Roots: roots})
		if err != nil {
			t.Fatal(err)
		}
		err = v.Verify(context.Background(), pc.Headers(t, body), body)
		switch {
		case tt.want == access.KindInternal && err != nil:
			t.Errorf("%s: Verify = %v, want nil", tt.name, err)
		case tt.want != access.KindInternal && access.KindOf(err) != tt.want:
			t.Errorf("%s: Verify = %v, want kind %v", tt.name, err, tt.want)
		}
	}
}
