package apns

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// answers is the transport under apns2's client: it reads the body of an
// answer of APNs's (what its base lets it: New's fails one longer than
// maxAnswer, and then the push as unanswered) and hands apns2 a body of
// the reason and a valid timestamp only.
//
// apns2 decodes the body into its Response as it comes: a body that is not
// a JSON object of the types it expects (a timestamp that is not an
// integer, a proxy's HTML page) failed the push as if APNs had not
// answered, whatever the status, and a body with a "StatusCode" or
// "ApnsID" key (its fields have no JSON tags) overwrote the HTTP status or
// the apns-id header.
type answers struct{ base http.RoundTripper }

// CloseIdleConnections closes the base's idle connections, as
// http.Client.CloseIdleConnections asks of its transport.
func (a answers) CloseIdleConnections() {
	if c, ok := a.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (a answers) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	clean, err := json.Marshal(readAnswer(body))
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(clean))
	resp.ContentLength = int64(len(clean))
	return resp, nil
}

// answerBody is what the client takes from the body of an answer.
type answerBody struct {
	Reason string `json:"reason,omitempty"`
	// Timestamp is, in milliseconds since 1970, when APNs last learned
	// that the token was no longer valid (a 410's); 0 when not said.
	Timestamp int64 `json:"timestamp,omitempty"`
}

// maxReason bounds the reason an answer keeps: APNs's are a word of a few
// dozen letters ("DeviceTokenNotForTopic"); the push log stores it and the
// log quotes it.
const maxReason = 64

// readAnswer reads the body of an answer as APNs writes it, a JSON object
// (only the first JSON value counts): its "reason" if it is a string (at
// most maxReason bytes of printable ASCII, any other byte '?'), its
// "timestamp" if it is an integer number of milliseconds from
// earliestTimestamp to a day from now (another one, such as 0 or one past
// what a time holds, would keep every registration of a token APNs says
// is gone). Anything else in the body is ignored.
func readAnswer(body []byte) answerBody {
	var in struct {
		Reason    string          `json:"reason"`
		Timestamp json.RawMessage `json:"timestamp"`
	}
	// A value of another type is skipped, the rest still read.
	_ = json.NewDecoder(bytes.NewReader(body)).Decode(&in)
	reason := []byte(in.Reason[:min(len(in.Reason), maxReason)])
	for i, c := range reason {
		if c < ' ' || c > '~' {
			reason[i] = '?' // a NUL would fail PostgreSQL's text, a line break would start a log line
		}
	}
	out := answerBody{Reason: string(reason)}
	ms, err := strconv.ParseInt(string(in.Timestamp), 10, 64)
	if err == nil && ms >= earliestTimestamp.UnixMilli() && ms <= time.Now().Add(24*time.Hour).UnixMilli() {
		out.Timestamp = ms
	}
	return out
}

// earliestTimestamp is before any token APNs can say is gone: Wallet's
// pushes went through APNs's HTTP/2 API from 2015 on.
var earliestTimestamp = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
