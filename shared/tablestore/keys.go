package tablestore

import (
	"fmt"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Row kinds of the Grants table. A RowKey starts with its kind and a '|',
// so that one range query reads one kind: every grant row lies in
// ["grant|", "grant}"), because '}' is the byte after '|'.
const (
	kindGrant  = "grant"
	kindAudit  = "audit"
	kindEvent  = "event"
	kindOutbox = "outbox"
)

// sep separates the parts of a key. Escaped parts never hold it, so a
// prefix "audit|<grant>|" cannot also match a grant whose id merely starts
// with <grant>.
const sep = "|"

// maxKeyLen is Azure's limit on PartitionKey and RowKey (1 KiB).
const maxKeyLen = 1024

// keyTimeLayout writes times at fixed width with Azure's 100 ns precision,
// so that keys sort in time order (for years 1000 to 9999).
const keyTimeLayout = "2006-01-02T15:04:05.0000000Z"

// dayLayout names a UTC day, in partition keys of DueIndex and Rejected.
const dayLayout = "2006-01-02"

// escapeKey makes an id safe in a PartitionKey or RowKey. Azure refuses
// '/', '\', '#', '?' and control characters in keys; our own separator '|'
// must not appear in a part; a single quote would need OData quoting in the
// URL of a point operation (and aztables doubles it in the body too). Rather
// than list what is dangerous, only ASCII letters, digits and "-_.:@" pass
// through: grant ids ("b2b:<guid>") and tenant ids stay readable in Storage
// Explorer, and every other byte, including each byte of a non-ASCII rune,
// becomes "~XX" (upper-case hex). The escape character is escaped itself, so
// distinct ids give distinct keys. The raw id is kept in a property too, so
// keys are never decoded.
func escapeKey(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !keySafe(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keySafe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('~')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

func keySafe(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '-', c == '_', c == '.', c == ':', c == '@':
		return true
	}
	return false
}

// joinKey escapes each part and joins them with sep.
func joinKey(parts ...string) string {
	for i, p := range parts {
		parts[i] = escapeKey(p)
	}
	return strings.Join(parts, sep)
}

// checkKey refuses a key Azure would refuse, before a round trip is spent
// on it. Escaped parts are safe by construction (plain ASCII); the length is
// what an outside id (an event id from a webhook) can still break.
func checkKey(what, key string) error {
	if len(key) > maxKeyLen {
		return access.Errorf(access.KindInvalid, "%s is %d bytes long once escaped, over the %d-byte key limit", what, len(key), maxKeyLen)
	}
	return nil
}

// customerPartition is the Grants partition of a customer: every row of
// one state change lives there, so one entity group transaction holds it.
func customerPartition(customerTenantID string) string { return escapeKey(customerTenantID) }

func grantRowKey(grantID string) string { return kindGrant + sep + escapeKey(grantID) }

func eventRowKey(eventID string) string { return kindEvent + sep + escapeKey(eventID) }

// auditPrefix is the start of every audit row of a grant.
func auditPrefix(grantID string) string { return kindAudit + sep + escapeKey(grantID) + sep }

// auditRowKey orders a grant's trail by the entry's time, then by the
// commit that wrote it (stamp, increasing within this process), then by the
// entry's place in that commit. Commit passes the time as stored, in whole
// seconds, so the entries of one commit within one second keep the order
// the Change gives them by seq alone. The stamp keeps two commits that
// carry the same time (a fixed clock in tests, whole seconds in production)
// from colliding on a key, which would fail the second commit as a
// conflict.
func auditRowKey(grantID string, at time.Time, stamp string, seq int) string {
	return auditPrefix(grantID) + formatKeyTime(at) + sep + stamp + sep + fmt.Sprintf("%03d", seq)
}

// outboxPrefix is the start of every outbox row of an event.
func outboxPrefix(eventID string) string { return kindOutbox + sep + escapeKey(eventID) + sep }

// outboxRowKey addresses a notification by its own id, not by its position
// in the Change, so that MarkAllSent and Claim find the row from the
// Notification alone.
// The position is kept in the Seq property, which orders Unsent.
func outboxRowKey(eventID, notificationID string) string {
	return outboxPrefix(eventID) + escapeKey(notificationID)
}

// prefixEnd is the first key after every key that starts with prefix; every
// prefix here ends in sep ('|'), whose successor is '}'.
func prefixEnd(prefix string) string {
	return prefix[:len(prefix)-1] + string(prefix[len(prefix)-1]+1)
}

func formatKeyTime(t time.Time) string { return t.UTC().Format(keyTimeLayout) }

func dayOf(t time.Time) string { return t.UTC().Format(dayLayout) }

// dueRowKey is unique per grant and stage within a day's partition.
func dueRowKey(customerTenantID, grantID string, stage int) string {
	return joinKey(customerTenantID, grantID, fmt.Sprint(stage))
}

// rejectedPartition groups rejected messages by function and day, which is
// how an operator looks for them.
func rejectedPartition(source string, receivedAt time.Time) string {
	return escapeKey(source) + sep + dayOf(receivedAt)
}

func rejectedRowKey(messageID string, receivedAt time.Time) string {
	return escapeKey(messageID) + sep + formatKeyTime(receivedAt)
}
