package fields_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/envelope"
	"github.com/kenvelope/kenvelope/fields"
)

// roundTrip encrypts src with j under c, decrypts the result, and returns
// both with the number of values sealed.
func roundTrip(t *testing.T, j *fields.JSON, c *fields.RecordCipher, src string) (enc, dec []byte, n int, err error) {
	t.Helper()
	var size int
	enc, err = j.Encrypt([]byte(src), countingReserve(c, &n, &size))
	if err != nil {
		return nil, nil, n, err
	}
	dec, err = j.Decrypt(enc, c)
	return enc, dec, n, err
}

func TestJSONOddValues(t *testing.T) {
	c := newCipher(t)
	tests := []struct {
		name, src string
		paths     []string
		sealed    int
	}{
		{"duplicate keys", `{"ssn":"1","ssn":"2"}`, []string{"ssn"}, 2},
		{"huge number", `{"n":1e400,"m":-0,"k":-0.0e-0}`, []string{"n", "m", "k"}, 3},
		{"escaped key", `{"\u0073sn":"x"}`, []string{"ssn"}, 1},
		{"surrogate pair key", `{"\ud83d\ude00":"x"}`, []string{"😀"}, 1},
		{"escaped backslash before u", `{"\\ud800":"x"}`, []string{`\\ud800`}, 1},
		{"whitespace", " \t\n{ \"a\" :\n [ 1 , { \"b\" : \"x\" } ] \r\n} \n", []string{"a[1].b"}, 1},
		{"top array", `[{"a":1},{"a":2}]`, []string{"[*].a"}, 2},
		{"escaped string", `{"a":"\ud83d\ude00\n\"\\"}`, []string{"a"}, 1},
		{"unicode path", `{"prénom":{"名前":"x"}}`, []string{"prénom.名前"}, 1},
		{"escaped path", `{"a.b":{"[c]":{"d\\e":"x"}}}`, []string{`a\.b.\[c\].d\\e`}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, dec, n, err := roundTrip(t, mustJSON(t, tc.paths), c, tc.src)
			if err != nil {
				t.Fatalf("round trip of %s err = %v", tc.src, err)
			}
			if n != tc.sealed {
				t.Errorf("sealed %d values, want %d", n, tc.sealed)
			}
			if string(dec) != tc.src {
				t.Errorf("Decrypt() = %q, want %q", dec, tc.src)
			}
		})
	}
}

func TestJSONBadDocuments(t *testing.T) {
	c := newCipher(t)
	var n, s int
	j := mustJSON(t, []string{"a"}, fields.AllOptional())
	for name, src := range map[string]string{
		"bom":        "\xef\xbb\xbf{\"a\":1}",
		"trailing":   `{"a":1} x`,
		"two values": `{"a":1} {"a":2}`,
		"empty":      ``,
		"deep":       strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
	} {
		if _, err := j.Encrypt([]byte(src), countingReserve(c, &n, &s)); !errors.Is(err, fields.ErrInvalidRecord) {
			t.Errorf("Encrypt(%s) err = %v, want ErrInvalidRecord", name, err)
		}
	}
}

func TestJSONDeepValid(t *testing.T) {
	c := newCipher(t)
	j := mustJSON(t, []string{"a"}, fields.AllOptional())
	src := `{"x":` + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + `,"a":1}`
	if _, _, _, err := roundTrip(t, j, c, src); err != nil {
		t.Fatalf("deep document err = %v", err)
	}
}

// Member names that encoding/json decodes to U+FFFD would share a bound
// path, so both directions reject them.
func TestJSONInvalidUnicodeNames(t *testing.T) {
	c := newCipher(t)
	j := mustJSON(t, []string{"*"})
	var n, s int
	cases := []struct{ name, src string }{
		{"lone high surrogate", `{"\ud800":"alpha","\udbff":"omega"}`},
		{"lone low surrogate", `{"\udc00":"alpha"}`},
		{"high then non-surrogate", `{"\ud800\u0041":"alpha"}`},
		{"high at end", `{"a\ud83d":"alpha"}`},
		{"invalid UTF-8", "{\"\xff\\n\":\"alpha\",\"\\ufffd\\n\":\"omega\"}"},
		{"inside an array", `[{"\ud800":"alpha"}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := j.Encrypt([]byte(tc.src), countingReserve(c, &n, &s)); !errors.Is(err, fields.ErrInvalidRecord) {
				t.Errorf("Encrypt(%q) err = %v, want ErrInvalidRecord", tc.src, err)
			}
			if _, err := j.Decrypt([]byte(tc.src), c); !errors.Is(err, fields.ErrInvalidRecord) {
				t.Errorf("Decrypt(%q) err = %v, want ErrInvalidRecord", tc.src, err)
			}
		})
	}
}

// A sealed field pasted from another record of the same topic, key and
// DEK opens under the codec alone. The record tag, which package kafka
// adds, catches it.
func TestJSONCrossRecordSplice(t *testing.T) {
	c := newCipher(t)
	c.Key = nil
	j := mustJSON(t, []string{"diagnosis"})
	var n, s int
	a, err := j.Encrypt([]byte(`{"patient":"A","diagnosis":"flu"}`), countingReserve(c, &n, &s))
	if err != nil {
		t.Fatal(err)
	}
	b, err := j.Encrypt([]byte(`{"patient":"B","diagnosis":"HIV"}`), countingReserve(c, &n, &s))
	if err != nil {
		t.Fatal(err)
	}
	binding := envelope.Binding{Topic: c.Topic, Key: c.Key}
	tagA := c.DEK.Tag(nil, c.Descriptor, binding, a)
	spliced := bytes.Replace(a, markedRE.Find(a), markedRE.Find(b), 1)
	if err := c.DEK.CheckTag(tagA, c.Descriptor, binding, spliced); !errors.Is(err, envelope.ErrAuth) {
		t.Errorf("CheckTag(record A with B's diagnosis) err = %v, want ErrAuth", err)
	}
	if err := c.DEK.CheckTag(tagA, c.Descriptor, binding, a); err != nil {
		t.Errorf("CheckTag(record A) err = %v, want nil", err)
	}
}

// Errors name the configured path; map keys from the record, which may be
// medical record numbers, are shown as "*".
func TestJSONErrorHidesMemberNames(t *testing.T) {
	c := newCipher(t)
	var n, s int
	j, err := fields.NewJSON(mustSelection(t, []string{"byMRN.*.dx", "name[*].given"}, fields.Optional("name[*].given")),
		fields.Nulls(fields.RejectNull))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, src, path string
		decrypt         bool
	}{
		{"null under map key", `{"byMRN":{"MRN-0042-SECRET":{"dx":null}}}`, "byMRN.*.dx", false},
		{"marker in clear", `{"byMRN":{},"MRN-0042-SECRET":["kenv1:x"]}`, "*[0]", false},
		{"clear under map key", `{"byMRN":{"MRN-0042-SECRET":{"dx":"flu"}}}`, "byMRN.*.dx", true},
		{"bad marker under map key", `{"byMRN":{"MRN-0042-SECRET":{"dx":"kenv1:!"}}}`, "byMRN.*.dx", true},
		{"index kept", `{"byMRN":{},"name":[{"given":"a"},{"given":"b"}]}`, "name[0].given", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.decrypt {
				_, err = j.Decrypt([]byte(tc.src), c)
			} else {
				_, err = j.Encrypt([]byte(tc.src), countingReserve(c, &n, &s))
			}
			var fe *fields.FieldError
			if !errors.As(err, &fe) || fe.Path != tc.path {
				t.Fatalf("err = %v, want a *FieldError on %q", err, tc.path)
			}
			if strings.Contains(err.Error(), "MRN-0042") {
				t.Errorf("error text %q contains a member name taken from the record", err)
			}
		})
	}
}

// Go's base64 decoder skips CR and LF even in strict mode; the marker
// text must not.
func TestJSONMarkerStrictBase64(t *testing.T) {
	c := newCipher(t)
	j := mustJSON(t, []string{"a"})
	var n, s int
	enc, err := j.Encrypt([]byte(`{"a":"abcd"}`), countingReserve(c, &n, &s))
	if err != nil {
		t.Fatal(err)
	}
	m := markedRE.Find(enc)
	b64 := string(m[len(`"kenv1:`) : len(m)-1])
	cases := []struct{ name, value string }{
		{"bare marker", `"kenv1:"`},
		{"unpadded", `"kenv1:` + strings.TrimRight(b64[:len(b64)-2], "=") + `"`},
		{"newline escape", `"kenv1:\n` + b64 + `"`},
		{"carriage return", `"kenv1:` + b64[:8] + `\r` + b64[8:] + `"`},
		{"space", `"kenv1:` + b64[:8] + ` ` + b64[8:] + `"`},
		{"url alphabet", `"kenv1:` + strings.NewReplacer("+", "-", "/", "_").Replace(b64) + `"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "url alphabet" && !strings.ContainsAny(b64, "+/") {
				t.Skip("this ciphertext has no + or /")
			}
			bad := bytes.Replace(enc, m, []byte(tc.value), 1)
			if _, err := j.Decrypt(bad, c); !errors.Is(err, fields.ErrBadMarker) {
				t.Errorf("Decrypt(%s) err = %v, want ErrBadMarker", bad, err)
			}
		})
	}
	if _, err := fields.DecodeMarked(nil, []byte("kenv1:"+b64[:8]+"\n"+b64[8:])); !errors.Is(err, fields.ErrBadMarker) {
		t.Errorf("DecodeMarked(raw LF) err = %v, want ErrBadMarker", err)
	}
	if _, err := fields.DecodeMarked(nil, []byte("kenv1:"+b64)); err != nil {
		t.Errorf("DecodeMarked(valid) err = %v, want nil", err)
	}
}

func TestJSONContainsSealed(t *testing.T) {
	j := mustJSON(t, []string{"a"})
	cases := []struct {
		src  string
		want bool
	}{
		{`{"a":"plain"}`, false},
		{`{"a":"kenv1:AAAA"}`, true},
		{`{"x":[1,{"y":"kenv1:AAAA"}]}`, true},
		{`{"x":"\u006benv1:AAAA"}`, true},
		{`{"kenv1:AAAA":1}`, false},
		{`"kenv1:AAAA"`, true},
		{`not json kenv1:AAAA`, true},
		{`not json`, false},
	}
	for _, tc := range cases {
		if got := j.ContainsSealed([]byte(tc.src)); got != tc.want {
			t.Errorf("ContainsSealed(%s) = %v, want %v", tc.src, got, tc.want)
		}
	}
}
