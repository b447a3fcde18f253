package fields

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// The scanning functions below assume src has passed json.Valid, so they
// only find where each value ends; they do not report syntax errors.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(src []byte, i int) int {
	for i < len(src) && isSpace(src[i]) {
		i++
	}
	return i
}

// stringEnd returns the offset just past the string that starts at
// src[i] == '"'.
func stringEnd(src []byte, i int) int {
	for i++; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(src)
}

// scalarEnd returns the offset just past the number or literal at i.
func scalarEnd(src []byte, i int) int {
	for i < len(src) {
		switch c := src[i]; {
		case c == ',' || c == ']' || c == '}' || isSpace(c):
			return i
		}
		i++
	}
	return i
}

// valueEnd returns the offset just past the value that starts at i.
func valueEnd(src []byte, i int) int {
	switch src[i] {
	case '"':
		return stringEnd(src, i)
	case '{', '[':
	default:
		return scalarEnd(src, i)
	}
	depth := 0
	for i < len(src) {
		switch src[i] {
		case '"':
			i = stringEnd(src, i)
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return i
}

// appendCompact appends v without insignificant whitespace. Strings,
// numbers and member order are kept byte for byte.
func appendCompact(dst, v []byte) []byte {
	if v[0] != '{' && v[0] != '[' {
		return append(dst, v...)
	}
	for i := 0; i < len(v); {
		switch c := v[i]; {
		case c == '"':
			end := stringEnd(v, i)
			dst = append(dst, v[i:end]...)
			i = end
		case isSpace(c):
			i++
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

// stringText returns the content of the JSON string raw (quotes
// included), unescaping it only when it contains a backslash.
func stringText(raw []byte) ([]byte, error) {
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return body, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// markedString reports whether the JSON string raw, once unescaped,
// starts with Marker. It decodes escapes only as far as the marker
// reaches, as in "\u006benv1:", so long strings cost no allocation.
func markedString(raw []byte) bool {
	i := 1 // past the opening quote
	for k := 0; k < len(Marker); k++ {
		if i >= len(raw)-1 {
			return false
		}
		c := raw[i]
		i++
		if c == '\\' {
			c, i = unescapeASCII(raw, i)
		}
		if c != Marker[k] {
			return false
		}
	}
	return true
}

// unescapeASCII decodes the escape whose letter is at raw[i] and returns
// its character and the offset after it. It returns 0 for an escape that
// does not decode to an ASCII character, which no marker contains.
func unescapeASCII(raw []byte, i int) (byte, int) {
	if i >= len(raw) {
		return 0, i
	}
	switch c := raw[i]; c {
	case '"', '\\', '/':
		return c, i + 1
	case 'b', 'f', 'n', 'r', 't':
		return 0, i + 1
	case 'u':
		if i+5 > len(raw) {
			return 0, len(raw)
		}
		v, err := strconv.ParseUint(string(raw[i+1:i+5]), 16, 16)
		if err != nil || v > 0x7f {
			return 0, i + 5
		}
		return byte(v), i + 5
	}
	return 0, i + 1
}

// validName reports whether body, the text of a JSON member name between
// its quotes, decodes to valid Unicode: valid UTF-8, and every \u escape
// of a surrogate part of a pair. encoding/json turns both faults into
// U+FFFD, so two different names would decode, and be bound, alike.
func validName(body []byte) bool {
	ascii := true
	for _, c := range body {
		if c == '\\' || c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return true
	}
	if !utf8.Valid(body) {
		return false
	}
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		i++ // the escape letter; the document passed json.Valid
		if body[i] != 'u' {
			continue
		}
		r := hex4(body[i+1:])
		i += 4
		switch {
		case r >= 0xdc00 && r <= 0xdfff:
			return false // a low surrogate without a high one before it
		case r >= 0xd800 && r <= 0xdbff:
			if i+6 >= len(body) || body[i+1] != '\\' || body[i+2] != 'u' {
				return false
			}
			if low := hex4(body[i+3:]); low < 0xdc00 || low > 0xdfff {
				return false
			}
			i += 6
		}
	}
	return true
}

// hex4 decodes the four hexadecimal digits at the start of b, which
// json.Valid has checked.
func hex4(b []byte) rune {
	v, _ := strconv.ParseUint(string(b[:4]), 16, 16)
	return rune(v)
}

// containsMarkedValue reports whether the valid JSON document src has a
// string value, not a member name, that starts with Marker.
func containsMarkedValue(src []byte) bool {
	for i := 0; i < len(src); i++ {
		if src[i] != '"' {
			continue
		}
		end := stringEnd(src, i)
		next := skipSpace(src, end)
		if markedString(src[i:end]) && (next >= len(src) || src[next] != ':') {
			return true
		}
		i = end - 1
	}
	return false
}
