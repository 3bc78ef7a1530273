package sellingapi

import (
	"encoding/json"
	"fmt"
	"time"

	smithytime "github.com/aws/smithy-go/time"
)

// Wire formats of Smithy timestamps (https://smithy.io/2.0/spec/protocol-traits.html#timestampformat-trait).
// Generated MarshalJSON/UnmarshalJSON methods convert *time.Time members through these, choosing
// by the member's timestampFormat trait; awsJson1_0's default is epoch seconds, but every
// timestamp of this service targets the DateTime shape, whose trait says date-time.

// dateTime is RFC 3339 in UTC with millisecond precision on the way out ("2026-01-02T15:04:05.123Z");
// any RFC 3339 offset or precision is accepted on the way in.
type dateTime time.Time

func (t dateTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(smithytime.FormatDateTime(time.Time(t)))
}

func (t *dateTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("date-time timestamp: want a string: %w", err)
	}
	v, err := smithytime.ParseDateTime(s)
	if err != nil {
		return fmt.Errorf("date-time timestamp: %w", err)
	}
	*t = dateTime(v)
	return nil
}

// epochSeconds is seconds since the Unix epoch as a JSON number, with millisecond precision.
type epochSeconds time.Time

func (t epochSeconds) MarshalJSON() ([]byte, error) {
	return json.Marshal(smithytime.FormatEpochSeconds(time.Time(t)))
}

func (t *epochSeconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("epoch-seconds timestamp: want a number: %w", err)
	}
	*t = epochSeconds(smithytime.ParseEpochSeconds(f))
	return nil
}

// httpDate is RFC 7231's IMF-fixdate ("Mon, 02 Jan 2006 15:04:05 GMT").
type httpDate time.Time

func (t httpDate) MarshalJSON() ([]byte, error) {
	return json.Marshal(smithytime.FormatHTTPDate(time.Time(t)))
}

func (t *httpDate) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("http-date timestamp: want a string: %w", err)
	}
	v, err := smithytime.ParseHTTPDate(s)
	if err != nil {
		return fmt.Errorf("http-date timestamp: %w", err)
	}
	*t = httpDate(v)
	return nil
}
