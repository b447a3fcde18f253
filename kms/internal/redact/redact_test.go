package redact_test

import (
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/kms/internal/redact"
)

func TestName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"aws-kms", `"aws-kms"`},
		{"tink-keyset", `"tink-keyset"`},
		{"enabled", `"enabled"`},
		{"", `""`},
		{"hvs.CAESIJ", "(10 bytes, not shown)"},
		{"wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY", "(37 bytes, not shown)"},
		{"abcdefghijklmnopqrstuvwxyz", "(26 bytes, not shown)"},
		{"a b", "(3 bytes, not shown)"},
		{"a\"b", "(3 bytes, not shown)"},
	}
	for _, tc := range tests {
		if got := redact.Name(tc.in); got != tc.want {
			t.Errorf("Name(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseURI(t *testing.T) {
	const secret = "SECRETVALUE"
	tests := []struct{ name, uri, want string }{
		{"bad escape", "hcvault://127.0.0.1/" + secret + "%zz", `invalid URL escape "%zz"`},
		{"port", "hcvault://127.0.0.1:" + secret + "/x", "not a valid URL"},
		{"host character", "hcvault://" + secret + "^/x", `invalid character "^" in host name`},
		{"control character", "hcvault://127.0.0.1/" + secret + "\n", "not a valid URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redact.ParseURI(tc.uri)
			if err == nil {
				t.Fatal("ParseURI err = nil, want an error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("ParseURI err = %q, contains the URI", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseURI err = %q, want it to contain %q", err, tc.want)
			}
		})
	}
	if u, err := redact.ParseURI("keyfile:///etc/k.json"); err != nil || u.Path != "/etc/k.json" {
		t.Errorf("ParseURI(keyfile:///etc/k.json) = %v, %v, want path /etc/k.json", u, err)
	}
}
