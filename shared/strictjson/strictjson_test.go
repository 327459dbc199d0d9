package strictjson

import (
	"errors"
	"testing"
)

type ticket struct {
	System string `json:"system"`
	ID     string `json:"id"`
}

type message struct {
	CustomerTenantID string            `json:"customerTenantId"`
	Roles            []string          `json:"roles"`
	Ticket           ticket            `json:"ticket"`
	Tickets          []ticket          `json:"tickets"`
	Extra            map[string]string `json:"extra"`
	skipped          string
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		bad        bool
	}{
		{"plain", `{"customerTenantId":"a","roles":["x"],"ticket":{"system":"jira","id":"1"}}`, false},
		{"unknown keys pass", `{"customerTenantId":"a","somethingElse":{"a":1,"b":2}}`, false},
		{"same key twice", `{"customerTenantId":"a","customerTenantId":"b"}`, true},
		{"key in another case", `{"customerTenantId":"a","CUSTOMERTENANTID":"b"}`, true},
		{"only the wrong case", `{"CustomerTenantId":"a"}`, true},
		{"nested wrong case", `{"ticket":{"System":"jira"}}`, true},
		{"nested duplicate", `{"ticket":{"id":"1","id":"2"}}`, true},
		{"duplicate in a list element", `{"tickets":[{"id":"1"},{"id":"1","ID":"2"}]}`, true},
		{"duplicate in a map", `{"extra":{"k":"1","K":"2"}}`, true},
		{"duplicate in an unknown object", `{"other":{"k":1,"k":2}}`, true},
		{"not JSON is the decoder's", `{"customerTenantId":`, false},
		{"unexported field is not a key", `{"Skipped":"x"}`, false},
	} {
		err := Check([]byte(tt.body), &message{})
		if (err != nil) != tt.bad || (err != nil && !errors.Is(err, ErrKeys)) {
			t.Errorf("%s: Check = %v, want bad %v", tt.name, err, tt.bad)
		}
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte(`{"customerTenantId":"a","roles":["x"],"ticket":{"system":"jira","id":"1"}}`))
	f.Add([]byte(`{"a":{"b":[{"c":1,"C":2}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := Check(body, &message{}); err != nil && !errors.Is(err, ErrKeys) {
			t.Fatalf("Check = %v, want nil or ErrKeys", err)
		}
	})
}
