package webhook

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/strictjson"
)

// Partner Center event names the app acts on. Others are parsed too; the
// handler decides what to do with them.
const (
	EventRelationshipApproved   = "granular-admin-relationship-approved"
	EventRelationshipActivated  = "granular-admin-relationship-activated"
	EventRelationshipExpired    = "granular-admin-relationship-expired"
	EventRelationshipTerminated = "granular-admin-relationship-terminated"
	EventTestCreated            = "test-created"
)

// maxEventSize bounds what ParseEvent reads: a real event is a few hundred
// bytes, only a pointer to the changed resource.
const maxEventSize = 64 << 10

// PartnerCenterEvent is a Partner Center webhook event. It says only which
// resource changed; the app re-reads the resource from Graph.
type PartnerCenterEvent struct {
	EventName             string
	ResourceURI           string
	ResourceName          string
	AuditURI              string
	ResourceChangeUTCDate time.Time // zero when the event carries none
	// RelationshipID is the last path segment of ResourceURI for a
	// granular-admin-relationship event ("<guid>-<guid>"), else "".
	RelationshipID string
}

// wireEvent is the JSON shape Partner Center posts.
type wireEvent struct {
	EventName             string  `json:"EventName"`
	ResourceURI           string  `json:"ResourceUri"`
	ResourceName          string  `json:"ResourceName"`
	AuditURI              *string `json:"AuditUri"`
	ResourceChangeUTCDate string  `json:"ResourceChangeUtcDate"`
}

// ParseEvent decodes a Partner Center event. It returns a KindInvalid error
// listing the fields that are wrong: a missing event name, a resource URI
// that is not an absolute URL, a relationship event whose URI does not end
// in a relationship id, or a change date that is not RFC 3339.
func ParseEvent(body []byte) (PartnerCenterEvent, error) {
	if len(body) > maxEventSize {
		return PartnerCenterEvent{}, access.Invalid("partner center event is larger than 64 KiB", nil)
	}
	var w wireEvent
	if err := strictjson.Check(body, &w); err != nil {
		return PartnerCenterEvent{}, access.Invalid("partner center event has ambiguous keys", map[string]string{"body": err.Error()})
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&w); err != nil {
		return PartnerCenterEvent{}, access.Invalid("partner center event is not a JSON object of the expected shape", nil)
	}
	if err := dec.Decode(&json.RawMessage{}); err != io.EOF {
		return PartnerCenterEvent{}, access.Invalid("partner center event has data after the JSON object", nil)
	}
	ev := PartnerCenterEvent{
		EventName:    strings.TrimSpace(w.EventName),
		ResourceURI:  strings.TrimSpace(w.ResourceURI),
		ResourceName: strings.TrimSpace(w.ResourceName),
	}
	if w.AuditURI != nil {
		ev.AuditURI = strings.TrimSpace(*w.AuditURI)
	}
	fields := map[string]string{}
	if ev.EventName == "" {
		fields["EventName"] = "required"
	}
	var u *url.URL
	if ev.ResourceURI == "" {
		if ev.EventName != EventTestCreated {
			fields["ResourceUri"] = "required"
		}
	} else if p, err := url.Parse(ev.ResourceURI); err != nil || !p.IsAbs() || p.Host == "" {
		fields["ResourceUri"] = "must be an absolute URL"
	} else {
		u = p
	}
	if u != nil && isRelationshipEvent(ev) {
		id := lastSegment(u.Path)
		if !isRelationshipID(id) {
			fields["ResourceUri"] = "must end in a relationship id"
		} else {
			ev.RelationshipID = id
		}
	}
	if s := strings.TrimSpace(w.ResourceChangeUTCDate); s != "" {
		t, ok := parseChangeDate(s)
		if !ok {
			fields["ResourceChangeUtcDate"] = "must be an RFC 3339 date-time"
		}
		ev.ResourceChangeUTCDate = t
	}
	if len(fields) > 0 {
		return PartnerCenterEvent{}, access.Invalid("partner center event is not valid", fields)
	}
	return ev, nil
}

func isRelationshipEvent(ev PartnerCenterEvent) bool {
	return strings.HasPrefix(ev.EventName, "granular-admin-relationship-") ||
		strings.EqualFold(ev.ResourceName, "GranularAdminRelationship")
}

func lastSegment(path string) string {
	path = strings.TrimRight(path, "/")
	return path[strings.LastIndexByte(path, '/')+1:]
}

// isRelationshipID accepts GDAP relationship ids: two GUIDs joined by a
// hyphen, as Partner Center and Graph write them. The id goes into Graph URL
// paths and grant ids, so nothing looser is accepted.
func isRelationshipID(s string) bool {
	return len(s) == 73 && s[36] == '-' && access.IsGUID(s[:36]) && access.IsGUID(s[37:])
}

// parseChangeDate reads Partner Center's dates, which carry seven fractional
// digits and an offset ("2026-11-27T08:00:00.5485487+00:00"); one without an
// offset is taken as UTC, as the field's name says.
func parseChangeDate(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t, true
	}
	return time.Time{}, false
}
