package config

import (
	"net/url"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func (c Config) validateLighthouse(bad func(v, format string, args ...any)) {
	if c.LighthouseAppPrincipalID != "" && !access.IsGUID(c.LighthouseAppPrincipalID) {
		bad("LIGHTHOUSE_APP_PRINCIPAL_ID", "must be the object id (GUID) of the app's managed identity in the partner tenant")
	}
	u, err := url.Parse(c.ARMBaseURL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		bad("ARM_BASE_URL", "%q is not an http(s) URL", c.ARMBaseURL)
	case u.Scheme == "http" && !c.LocalGraph():
		bad("ARM_BASE_URL", "plain HTTP only for a local simulator (GRAPH_AUTH=none)")
	}
}

// WatchesLighthouse reports whether the app watches and ends Lighthouse
// delegations through ARM: it needs its own identity in the templates.
func (c Config) WatchesLighthouse() bool { return c.LighthouseAppPrincipalID != "" }
