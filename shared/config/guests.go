package config

// What B2B_GUEST_AFTER_END may say: disable the guest the app created once
// its grant ends, disable then delete it, or keep it as it is.
const (
	GuestDisable = "disable"
	GuestDelete  = "delete"
	GuestKeep    = "keep"
)

// What B2B_ASSIGNMENT may say: permanent directory role assignments that
// the app removes at the end, or time-bound ones through PIM.
const (
	AssignDirectory = "directory"
	AssignPIM       = "pim"
)

func (c Config) validateGuests(bad func(v, format string, args ...any)) {
	switch c.B2BGuestAfterEnd {
	case GuestDisable, GuestDelete, GuestKeep:
	default:
		bad("B2B_GUEST_AFTER_END", "%q is not disable, delete or keep", c.B2BGuestAfterEnd)
	}
	if c.B2BAssignment != AssignDirectory && c.B2BAssignment != AssignPIM {
		bad("B2B_ASSIGNMENT", "%q is not directory or pim", c.B2BAssignment)
	}
	if c.IdleRevokeDays < 0 || c.IdleRevokeDays > maxReviewDays {
		bad("IDLE_REVOKE_DAYS", "%d must be from 0 (off) to %d", c.IdleRevokeDays, maxReviewDays)
	}
	if c.B2BGuestDeleteAfterDays < 0 || c.B2BGuestDeleteAfterDays > maxReviewDays {
		bad("B2B_GUEST_DELETE_AFTER_DAYS", "%d must be from 0 to %d", c.B2BGuestDeleteAfterDays, maxReviewDays)
	}
}
