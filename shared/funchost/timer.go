package funchost

import (
	"encoding/json"
	"time"
)

// TimerInfo is what a timerTrigger delivers.
type TimerInfo struct {
	// IsPastDue is true when the invocation is later than scheduled (the app
	// was down, or the previous run overran).
	IsPastDue bool
	// Status is nil when the host has no schedule status yet: on the first
	// run, or when the trigger does not use the schedule monitor.
	Status *ScheduleStatus
}

// ScheduleStatus is the schedule monitor's record, all times in UTC.
type ScheduleStatus struct {
	// Last is when the previous run was due.
	Last time.Time
	// Next is when the run after this one is due.
	Next time.Time
	// LastUpdated is when the host last wrote this record.
	LastUpdated time.Time
}

// Timer reads the timerTrigger binding called binding (the contract names it
// "timer"). Absent members are zero; present ones must be readable: an
// IsPastDue that is not a boolean, a ScheduleStatus that is not an object or
// null, or a time that is not RFC 3339 is an error naming it. A binding sent
// as a string holding the JSON object is accepted too.
func (inv Invocation) Timer(binding string) (TimerInfo, error) {
	raw, path, err := inv.binding(binding)
	if err != nil {
		return TimerInfo{}, err
	}
	if kindOf(raw) == kindString {
		// Some hosts serialise non-HTTP trigger objects once more.
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return TimerInfo{}, &DecodeError{Path: path, Problem: err.Error(), Err: err}
		}
		if !json.Valid([]byte(s)) {
			return TimerInfo{}, malformed(path, "want a JSON object, got a string that is not JSON")
		}
		raw = json.RawMessage(s)
	}
	obj, err := object(raw, path)
	if err != nil {
		return TimerInfo{}, err
	}

	var t TimerInfo
	if v, ok := lookup(obj, "IsPastDue"); ok {
		if t.IsPastDue, err = hostBool(v, path+".IsPastDue"); err != nil {
			return TimerInfo{}, err
		}
	}
	v, ok := lookup(obj, "ScheduleStatus")
	if !ok {
		return t, nil
	}
	spath := path + ".ScheduleStatus"
	status, err := object(v, spath)
	if err != nil {
		return TimerInfo{}, err
	}
	t.Status = &ScheduleStatus{}
	for _, f := range []struct {
		dst  *time.Time
		name string
	}{
		{&t.Status.Last, "Last"},
		{&t.Status.Next, "Next"},
		{&t.Status.LastUpdated, "LastUpdated"},
	} {
		if v, ok := lookup(status, f.name); ok {
			if *f.dst, _, err = hostTime(v, spath+"."+f.name); err != nil {
				return TimerInfo{}, err
			}
		}
	}
	return t, nil
}
