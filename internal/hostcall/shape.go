package hostcall

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// dataKeyed lists the objects whose keys are data (headers, properties,
// route parameters), not part of the shape.
var dataKeyed = map[string]bool{
	"Metadata.ApplicationProperties": true, "Metadata.UserProperties": true,
	"Data.req.Headers": true, "Data.req.Query": true, "Data.req.Params": true,
	"Metadata.Headers": true, "Metadata.Query": true, "Metadata.Params": true,
}

// SameShape reports, as an error, how the invocation got differs in shape
// from want (a host fixture): every object must have the same keys, with
// values of the same shapes, and every other value the same JSON type.
// That is what tells a payload the host would send from one it would not.
func SameShape(got, want []byte) error {
	g, err := shape(got)
	if err != nil {
		return err
	}
	w, err := shape(want)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(g, w) {
		gb, _ := json.MarshalIndent(g, "", " ")
		wb, _ := json.MarshalIndent(w, "", " ")
		return fmt.Errorf("shape differs\ngot:\n%s\nwant:\n%s\ninvocation:\n%s", gb, wb, got)
	}
	return nil
}

func shape(doc []byte) (any, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, fmt.Errorf("not JSON: %v\n%s", err, doc)
	}
	var walk func(v any, path string) any
	walk = func(v any, path string) any {
		switch x := v.(type) {
		case map[string]any:
			if dataKeyed[path] {
				return "object"
			}
			out := map[string]any{}
			for k, e := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				out[k] = walk(e, p)
			}
			return out
		case []any:
			return "array"
		case string:
			return "string"
		case float64:
			return "number"
		case bool:
			return "boolean"
		}
		return "null"
	}
	return walk(v, ""), nil
}
