package awskms

import (
	"errors"
	"regexp"
	"strings"
)

// keyRef is a parsed key identifier: a key id, key ARN, alias name or alias
// ARN.
type keyRef struct {
	id     string // as configured
	alias  bool   // alias name or alias ARN
	arn    bool   // key ARN or alias ARN
	region string // region of an ARN, empty otherwise
}

// parseKeyID checks that s has one of the four forms AWS KMS accepts as a
// KeyId for Encrypt.
func parseKeyID(s string) (keyRef, error) {
	switch {
	case s == "":
		return keyRef{}, errors.New("key id is empty")
	case strings.HasPrefix(s, "arn:"):
		return parseARN(s)
	case strings.HasPrefix(s, "alias/"):
		if err := checkAliasName(s); err != nil {
			return keyRef{}, err
		}
		return keyRef{id: s, alias: true}, nil
	default:
		if !validChars(s, "-") {
			return keyRef{}, errors.New("key id is not a key id, key ARN, alias/NAME or alias ARN")
		}
		return keyRef{id: s}, nil
	}
}

// parseARN parses arn:PARTITION:kms:REGION:ACCOUNT:key/ID and
// arn:PARTITION:kms:REGION:ACCOUNT:alias/NAME.
func parseARN(s string) (keyRef, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[1] == "" || parts[2] != "kms" || parts[3] == "" || parts[4] == "" {
		return keyRef{}, errors.New("key ARN is not of the form arn:aws:kms:REGION:ACCOUNT:key/ID or :alias/NAME")
	}
	if !validRegion(parts[3]) {
		return keyRef{}, errors.New("key ARN names a region that is not a region name such as eu-west-2")
	}
	if !validChars(parts[1], "-") || !validChars(parts[4], "") {
		return keyRef{}, errors.New("key ARN has a partition or account id with characters other than letters, digits and '-'")
	}
	ref := keyRef{id: s, arn: true, region: parts[3]}

	resource := parts[5]
	if strings.HasPrefix(resource, "alias/") {
		if err := checkAliasName(resource); err != nil {
			return keyRef{}, err
		}
		ref.alias = true
		return ref, nil
	}
	id, ok := strings.CutPrefix(resource, "key/")
	if !ok || id == "" || !validChars(id, "-") {
		return keyRef{}, errors.New("key ARN names neither key/ID nor alias/NAME with valid characters")
	}
	return ref, nil
}

// checkAliasName checks alias/NAME against the characters AWS KMS allows in
// alias names: letters, digits, '/', '_' and '-'.
func checkAliasName(s string) error {
	name := strings.TrimPrefix(s, "alias/")
	if name == "" || !validChars(name, "/_-") {
		return errors.New("alias is not of the form alias/NAME with letters, digits, '/', '_' or '-'")
	}
	return nil
}

// regionPattern matches AWS region names such as eu-west-2, us-gov-west-1,
// us-isob-east-1 and eusc-de-east-1. The SDK checks only that a region is a
// valid host label, which lets a name such as attacker.example through into
// the endpoint host, so Open and New check this stricter form.
// NOTE: the pattern follows the region names AWS has published so far. A
// region named in a new form would fail here until the pattern admits it.
var regionPattern = regexp.MustCompile(`^[a-z]{2,8}(-[a-z]{1,16}){1,3}-[0-9]{1,3}$`)

// validRegion reports whether s has the form of an AWS region name.
func validRegion(s string) bool { return regionPattern.MatchString(s) }

// validChars reports whether s contains only ASCII letters, digits and the
// bytes in extra.
func validChars(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0
		if !ok {
			return false
		}
	}
	return true
}
