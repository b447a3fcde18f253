// Package redact helps the kms backends report rejected input without
// quoting secrets. A key URI that fails its checks may carry a token,
// password or key in its user information, query or path. A malformed key
// file may have a key where a name belongs. So errors name only the part
// that failed and what was wrong with it.
package redact

import (
	"errors"
	"net/url"
	"strconv"
)

// maxQuotedLen is the longest name that Name shows. Scheme and parameter
// names are short, while the tokens and keys that a URI might carry by
// mistake are longer: a Vault service token is about 95 bytes and an AWS
// secret access key 40.
const maxQuotedLen = 24

// ParseURI parses uri with url.Parse. url.Parse's own error quotes the
// whole URI, and some of its messages quote a port or host. The error of
// ParseURI contains no part of uri, except the at most three bytes at
// fault in an invalid percent escape or host character.
func ParseURI(uri string) (*url.URL, error) {
	u, err := url.Parse(uri)
	if err == nil {
		return u, nil
	}
	var escape url.EscapeError
	var host url.InvalidHostError
	switch {
	case errors.As(err, &escape), errors.As(err, &host):
		return nil, errors.New("not a valid URL: " + errors.Unwrap(err).Error())
	default:
		return nil, errors.New("not a valid URL")
	}
}

// Name returns s quoted when it looks like a name, such as a scheme, a
// query parameter name or a key state: at most 24 bytes of lowercase ASCII
// letters, digits, '.', '_', '+' and '-'. For anything else it returns a
// placeholder that gives only the length. Tokens and keys mix upper and
// lower case and are longer, so a value of another shape may be a secret
// pasted into the wrong place.
func Name(s string) string {
	if len(s) > maxQuotedLen || !plain(s) {
		return "(" + strconv.Itoa(len(s)) + " bytes, not shown)"
	}
	return strconv.Quote(s)
}

func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '+' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}
