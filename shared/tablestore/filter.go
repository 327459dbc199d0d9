package tablestore

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cond is one OData comparison: prop op value. Filters are only ever built
// from conds by buildFilter, which quotes every value, so a value from a
// query string cannot change the shape of a filter.
type cond struct {
	prop  string // a property name: a constant of this package, never input
	op    string // eq, ne, lt, le, gt, ge
	value any    // string, time.Time, bool or int
}

// buildFilter joins conditions with "and". String values become OData
// string literals with single quotes doubled, the only escape OData string
// literals have; times become datetime literals written by us. A value of
// another type is a bug in this package and panics.
func buildFilter(conds ...cond) string {
	parts := make([]string, 0, len(conds))
	for _, c := range conds {
		switch c.op {
		case "eq", "ne", "lt", "le", "gt", "ge":
		default:
			panic("tablestore: bad filter operator " + strconv.Quote(c.op))
		}
		parts = append(parts, c.prop+" "+c.op+" "+odataLiteral(c.value))
	}
	return strings.Join(parts, " and ")
}

func odataLiteral(v any) string {
	switch v := v.(type) {
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case time.Time:
		// Fixed 7 fractional digits: the precision the service keeps, and
		// no more digits than its parser takes.
		return "datetime'" + v.UTC().Format(keyTimeLayout) + "'"
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	}
	panic(fmt.Sprintf("tablestore: filter value of type %T", v))
}

// rangeConds selects the keys in [from, to).
func rangeConds(prop, from, to string) []cond {
	return []cond{{prop, "ge", from}, {prop, "lt", to}}
}
