package gcpkms

import (
	"errors"
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

// projectPattern and locationPattern admit project ids (including the
// legacy domain.com:project form), project numbers and location ids such as
// global or europe-west2. They are looser than Google's rules, which Cloud
// KMS enforces, but reject '@', '?', '#', '%' and white space, which no
// valid name contains.
var (
	projectPattern  = regexp.MustCompile(`^[A-Za-z0-9.:_-]{1,100}$`)
	locationPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)
)

// checkKeyName returns an error wrapping kms.ErrInvalidConfig unless name is
// a crypto key name. A crypto key version name gets its own message, because
// it is the likeliest mistake. The errors quote only segments that passed
// their check, because a rejected name may be a URI with a token in it.
func checkKeyName(name string) error {
	parts := strings.Split(name, "/")
	if len(parts) == 10 && parts[8] == "cryptoKeyVersions" && checkKeyParts(parts[:8]) == nil {
		return fmt.Errorf("key name is a crypto key version name: pass the crypto key %q instead, "+
			"because Wrap must use whichever version is primary and Decrypt reads the version from the ciphertext: %w",
			strings.Join(parts[:8], "/"), kms.ErrInvalidConfig)
	}
	if err := checkKeyParts(parts); err != nil {
		return fmt.Errorf("invalid crypto key name, want %s: %v: %w", keyNameForm, err, kms.ErrInvalidConfig)
	}
	return nil
}

// checkKeyParts checks the segments of a crypto key name split at "/". Its
// errors name the segment at fault but do not quote it.
func checkKeyParts(parts []string) error {
	if len(parts) != 8 {
		return fmt.Errorf("got %d path segments, want 8", len(parts))
	}
	for i, word := range []string{"projects", "locations", "keyRings", "cryptoKeys"} {
		if parts[2*i] != word {
			return fmt.Errorf("segment %d is not %q", 2*i+1, word)
		}
	}
	if !projectPattern.MatchString(parts[1]) {
		return errors.New("project id is empty or contains characters other than letters, digits, '.', ':', '_' or '-'")
	}
	if !locationPattern.MatchString(parts[3]) {
		return errors.New("location is empty or contains characters other than letters, digits, '_' or '-'")
	}
	if !resourceIDPattern.MatchString(parts[5]) {
		return errors.New("key ring id is not 1 to 63 letters, digits, '_' or '-'")
	}
	if !resourceIDPattern.MatchString(parts[7]) {
		return errors.New("crypto key id is not 1 to 63 letters, digits, '_' or '-'")
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
