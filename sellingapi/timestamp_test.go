package sellingapi

import (
	"encoding/json"
	"testing"
	"time"
)

// The model's only timestamp shape (DateTime) says date-time, but the generator also emits
// epoch-seconds (awsJson1_0's default) and http-date members; all three round-trip here.
func TestTimestampWireFormats(t *testing.T) {
	at := time.Date(2026, 1, 2, 15, 4, 5, 123_000_000, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		name string
		v    any
		wire string
		back func([]byte) (time.Time, error)
	}{
		{"date-time", dateTime(at), `"2026-01-02T14:04:05.123Z"`, func(b []byte) (time.Time, error) {
			var v dateTime
			err := json.Unmarshal(b, &v)
			return time.Time(v), err
		}},
		{"epoch-seconds", epochSeconds(at), `1767362645.123`, func(b []byte) (time.Time, error) {
			var v epochSeconds
			err := json.Unmarshal(b, &v)
			return time.Time(v), err
		}},
		{"http-date", httpDate(at.Truncate(time.Second)), `"Fri, 02 Jan 2026 14:04:05 GMT"`, func(b []byte) (time.Time, error) {
			var v httpDate
			err := json.Unmarshal(b, &v)
			return time.Time(v), err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.wire {
				t.Fatalf("encoded %s, want %s", b, tc.wire)
			}
			got, err := tc.back(b)
			if err != nil {
				t.Fatal(err)
			}
			want := at
			if tc.name == "http-date" {
				want = at.Truncate(time.Second)
			}
			if !got.Equal(want) {
				t.Errorf("decoded %v, want %v", got, want)
			}
		})
	}
}

func TestDateTimeAcceptsOffsetsAndRejectsNumbers(t *testing.T) {
	var v dateTime
	if err := json.Unmarshal([]byte(`"2026-01-02T16:04:05+02:00"`), &v); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 1, 2, 14, 4, 5, 0, time.UTC); !time.Time(v).Equal(want) {
		t.Errorf("decoded %v, want %v", time.Time(v), want)
	}
	if err := json.Unmarshal([]byte(`1767362645`), &v); err == nil {
		t.Error("a number decoded as a date-time timestamp")
	}
}
