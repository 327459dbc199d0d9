package access

import (
	"fmt"
	"sort"
	"strings"
)

// AdviceRequest is what a partner needs from an access method.
type AdviceRequest struct {
	Plugins      []string // plugin names or short forms
	CapacityPlan string   // "customer", "partner" or "" for either
	TimeBound    bool     // access must end by itself
}

// Recommendation is the verdict on one method.
type Recommendation struct {
	Method  Method   `json:"method"`
	Fits    bool     `json:"fits"`
	Reasons []string `json:"reasons"`
}

// Advise ranks the three methods for a request, best first: methods that fit
// before those that do not, then the guide's preference (GDAP, then B2B,
// then Lighthouse), with time-bound access by design ahead when asked for.
// An unknown plugin or payer is KindInvalid.
func Advise(req AdviceRequest) ([]Recommendation, error) {
	fields := map[string]string{}
	var plugins []Plugin
	for i, name := range req.Plugins {
		p, ok := LookupPlugin(name)
		if !ok {
			fields[fmt.Sprintf("plugins[%d]", i)] = "unknown plugin " + quoteShort(name) + "; known: " + pluginNames()
			continue
		}
		plugins = append(plugins, p)
	}
	payer := strings.ToLower(strings.TrimSpace(req.CapacityPlan))
	if payer != "" && payer != PaidByCustomer && payer != PaidByPartner {
		fields["capacityPlan"] = "must be \"customer\" or \"partner\""
	}
	if len(fields) > 0 {
		return nil, Invalid("invalid advice request", fields)
	}

	type ranked struct {
		Recommendation
		score int
	}
	var out []ranked
	for i, f := range Facts {
		r := ranked{Recommendation: Recommendation{Method: f.Method, Fits: true}, score: -i}
		for _, p := range plugins {
			switch p.Support[f.Method] {
			case Supported:
			case Partial:
				r.Fits = false
				r.Reasons = append(r.Reasons, fmt.Sprintf("%s works only in part through %s: %s", p.Name, f.Title, p.Note))
			default:
				r.Fits = false
				r.Reasons = append(r.Reasons, fmt.Sprintf("%s is not supported through %s", p.Name, f.Title))
			}
		}
		if r.Fits && len(plugins) > 0 {
			r.Reasons = append(r.Reasons, fmt.Sprintf("every requested plugin works through %s (%s)", f.Title, f.Plugins))
		}
		switch {
		case payer == "":
			r.Reasons = append(r.Reasons, "prompts use the "+f.CapacityPlan+"'s capacity plan (SCUs)")
		case payer == f.CapacityPlan:
			r.Reasons = append(r.Reasons, "prompts use the "+f.CapacityPlan+"'s capacity plan (SCUs), as asked")
		default:
			r.Fits = false
			r.Reasons = append(r.Reasons, "prompts would use the "+f.CapacityPlan+"'s capacity plan (SCUs), not the "+payer+"'s")
		}
		if req.TimeBound {
			if f.TimeBoundBuiltIn {
				r.score += 10
				r.Reasons = append(r.Reasons, "time-bound by design: "+f.TimeBound)
			} else {
				r.Reasons = append(r.Reasons, "time-bound only with help: "+f.TimeBound)
			}
		}
		if f.Method == Lighthouse {
			// Said whatever was asked: the one method whose access never ends
			// by itself, and the app is what ends it.
			r.Reasons = append(r.Reasons, LighthouseRemoval)
		}
		if f.Recommended {
			r.Reasons = append(r.Reasons, "the method Microsoft recommends")
		}
		if r.Fits {
			r.score += 100
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].score > out[j].score })
	recs := make([]Recommendation, len(out))
	for i, r := range out {
		recs[i] = r.Recommendation
	}
	return recs, nil
}

func pluginNames() string {
	names := make([]string, len(Plugins))
	for i, p := range Plugins {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}
