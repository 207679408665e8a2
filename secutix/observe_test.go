package secutix

import (
	"errors"
	"net/http"
	"testing"
)

// TestResultOf: what Config.Observe reports for each kind of answer; a
// 509 is over_quota, a 200 carrying an error envelope is an error.
func TestResultOf(t *testing.T) {
	for _, c := range []struct {
		resp *response
		err  error
		want string
	}{
		{nil, errors.New("connection refused"), ResultNetworkError},
		{&response{status: 509}, nil, ResultOverQuota},
		{&response{status: http.StatusTooManyRequests}, nil, ResultOverQuota},
		{&response{status: http.StatusForbidden}, nil, ResultUnauthorized},
		{&response{status: http.StatusBadGateway}, nil, ResultServerError},
		{&response{status: http.StatusNotFound}, nil, ResultClientError},
		{&response{status: 200, body: []byte(`{"statusCode":"success"}`)}, nil, ResultSuccess},
		{&response{status: 200, body: []byte(`{"token":"x"}`)}, nil, ResultSuccess},
		{&response{status: 200, body: []byte(`{"statusCode":"IN_PROGRESS"}`)}, nil, ResultInProgress},
		{&response{status: 200, body: []byte(`{"statusCode":"failed","statusDetail":"NOT_FOUND"}`)}, nil, ResultError},
		{&response{status: 200, body: []byte(`not json`)}, nil, ResultError},
	} {
		if got := resultOf(c.resp, c.err); got != c.want {
			status := 0
			if c.resp != nil {
				status = c.resp.status
			}
			t.Errorf("resultOf(%d, %v) = %s, want %s", status, c.err, got, c.want)
		}
	}
}
