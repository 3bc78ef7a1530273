package crm

import "testing"

func TestKeepUnmasked(t *testing.T) {
	for _, tc := range []struct {
		name, incoming, stored, want string
	}{
		{"a mask keeps the stored real value",
			`{"customerEmail":"Accept To View","stage":"Qualified"}`, `{"customerEmail":"cto@acme.example","stage":"Prospect"}`,
			`{"customerEmail":"cto@acme.example","stage":"Qualified"}`},
		{"the mask in any case",
			`{"customerEmail":"Accept to View"}`, `{"customerEmail":"cto@acme.example"}`, `{"customerEmail":"cto@acme.example"}`},
		{"an unmasked value fills the field, byte for byte",
			`{"customerEmail": "cto@acme.example"}`, `{"customerEmail":"Accept To View"}`, `{"customerEmail": "cto@acme.example"}`},
		{"nothing real stored: the mask stays as it came",
			`{"customerEmail": "Accept To View", "customerPhone": "Accept To View"}`, `{"customerEmail":"Accept To View","customerPhone":" "}`,
			`{"customerEmail": "Accept To View", "customerPhone": "Accept To View"}`},
		{"stored field absent or null",
			`{"a":"Accept To View","b":"Accept To View"}`, `{"b":null}`, `{"a":"Accept To View","b":"Accept To View"}`},
		{"nothing stored", `{"a":"Accept To View"}`, ``, `{"a":"Accept To View"}`},
		{"a stored non-string value is real",
			`{"a":"Accept To View"}`, `{"a":["x"]}`, `{"a":["x"]}`},
		{"no mask: incoming as it is, stored not read", `{"a": "<b>"}`, `not json`, `{"a": "<b>"}`},
		{"stored unreadable: nothing to keep", `{"a":"Accept To View"}`, `[1]`, `{"a":"Accept To View"}`},
		{"restored records keep < > & as given",
			`{"a":"Accept To View","b":"<x> & y"}`, `{"a":"R&D <lab>"}`, `{"a":"R&D <lab>","b":"<x> & y"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := KeepUnmasked([]byte(tc.incoming), []byte(tc.stored))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("KeepUnmasked(%s, %s) = %s, want %s", tc.incoming, tc.stored, got, tc.want)
			}
		})
	}
	if _, err := KeepUnmasked([]byte(`["Accept To View"]`), []byte(`{}`)); err == nil {
		t.Error("KeepUnmasked(an array): no error")
	}
}
