package gcpkms

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/kenvelope/kenvelope/kms"
)

// keyNameForm is the crypto key name form that error messages show.
const keyNameForm = "projects/P/locations/L/keyRings/R/cryptoKeys/K"

// versionSegment separates a crypto key name from a version number in a
// crypto key version name.
const versionSegment = "/cryptoKeyVersions/"

// resourceIDPattern is Cloud KMS's rule for key ring and crypto key ids:
// 1 to 63 letters, digits, underscores or hyphens.
var resourceIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)

// checkKeyName returns an error wrapping kms.ErrInvalidConfig unless name is
// a crypto key name. A crypto key version name gets its own message, because
// it is the likeliest mistake.
func checkKeyName(name string) error {
	parts := strings.Split(name, "/")
	if len(parts) == 10 && parts[8] == "cryptoKeyVersions" && checkKeyParts(parts[:8]) == nil {
		return fmt.Errorf("key name %q names a crypto key version: pass the crypto key %q instead, "+
			"because Wrap must use whichever version is primary and Decrypt reads the version from the ciphertext: %w",
			name, strings.Join(parts[:8], "/"), kms.ErrInvalidConfig)
	}
	if err := checkKeyParts(parts); err != nil {
		return fmt.Errorf("invalid crypto key name %q, want %s: %v: %w", name, keyNameForm, err, kms.ErrInvalidConfig)
	}
	return nil
}

// checkKeyParts checks the segments of a crypto key name split at "/".
func checkKeyParts(parts []string) error {
	if len(parts) != 8 {
		return fmt.Errorf("got %d path segments, want 8", len(parts))
	}
	for i, word := range []string{"projects", "locations", "keyRings", "cryptoKeys"} {
		if parts[2*i] != word {
			return fmt.Errorf("segment %d is %q, want %q", 2*i+1, parts[2*i], word)
		}
	}
	if parts[1] == "" || strings.ContainsAny(parts[1], " \t\r\n") {
		return fmt.Errorf("project id %q is empty or contains white space", parts[1])
	}
	if parts[3] == "" || strings.ContainsAny(parts[3], " \t\r\n") {
		return fmt.Errorf("location %q is empty or contains white space", parts[3])
	}
	if !resourceIDPattern.MatchString(parts[5]) {
		return fmt.Errorf("key ring id %q is not 1 to 63 letters, digits, '_' or '-'", parts[5])
	}
	if !resourceIDPattern.MatchString(parts[7]) {
		return fmt.Errorf("crypto key id %q is not 1 to 63 letters, digits, '_' or '-'", parts[7])
	}
	return nil
}

// versionNumber returns N from versionName, which must be
// keyName/cryptoKeyVersions/N with N a positive 32-bit number.
func versionNumber(keyName, versionName string) (uint32, error) {
	digits, ok := strings.CutPrefix(versionName, keyName+versionSegment)
	if !ok {
		return 0, fmt.Errorf("version name %q is not a version of crypto key %q", versionName, keyName)
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("version name %q does not end in a positive 32-bit version number", versionName)
	}
	return uint32(n), nil
}
