package httpx_test

import (
	"testing"

	"walletpass/internal/httpx"
)

func TestWithoutPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"host alone", "https://hooks.example.com", "https://hooks.example.com"},
		{"root path", "https://hooks.example.com/", "https://hooks.example.com"},
		{"port kept", "https://hooks.example.com:8443/in", "https://hooks.example.com:8443/…"},
		{"token in the query", "https://hooks.example.com/in?token=S3CR3T", "https://hooks.example.com/…"},
		{"query without a path", "https://hooks.example.com?token=S3CR3T", "https://hooks.example.com/…"},
		{"token in the path", "https://hooks.example.com/hooks/S3CR3T/in", "https://hooks.example.com/…"},
		{"empty query", "https://hooks.example.com/?", "https://hooks.example.com/…"},
		{"fragment", "https://hooks.example.com/#S3CR3T", "https://hooks.example.com/…"},
		{"user information", "https://user:S3CR3T@hooks.example.com/", "https://hooks.example.com/…"},
		{"IPv6 host", "https://[2001:db8::1]:8443/in?k=S3CR3T", "https://[2001:db8::1]:8443/…"},
		{"no host", "https:S3CR3T", "…"},
		{"relative", "/in?token=S3CR3T", "…"},
		{"not a URL", "https://hooks.example.com/in\x7f?token=S3CR3T", "…"},
		{"empty", "", "…"},
	}
	for _, tt := range tests {
		if got := httpx.WithoutPath(tt.in); got != tt.want {
			t.Errorf("%s: WithoutPath(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}
