package keyfile_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/keyfile"
	"github.com/kenvelope/kenvelope/kms/kmstest"
)

func TestOpenMalformed(t *testing.T) {
	tests := []struct {
		name    string
		change  func(doc map[string]any) // nil when raw is used
		raw     string
		version uint32 // version the error must name, zero for none
		want    string
	}{
		{name: "empty file", raw: "", want: "empty or cut short"},
		{name: "cut short", raw: `{"format": 1, "name": "lab-results"`, want: "empty or cut short"},
		{name: "syntax", raw: `{"format": 1,, "name": "x"}`, want: "invalid JSON at byte offset 14"},
		{name: "key in syntax error", raw: `{"format": 1, "name": "lab-results", "versions": [{"key": "` + b64(testKey) + `" x}]}`, want: "invalid JSON at byte offset"},
		{name: "data after object", raw: `{"format": 1} {}`, want: "data after the JSON object"},
		{name: "wrong type", change: func(d map[string]any) { d["primary"] = "2" }, want: `"primary" has the wrong type`},
		{name: "unknown field", change: func(d map[string]any) { d["primary_version"] = 2 }, want: "field that the key file format does not define"},
		{name: "format 2", change: func(d map[string]any) { d["format"] = 2 }, want: "format is 2, want 1"},
		{name: "other name", change: func(d map[string]any) { d["name"] = "billing" }, want: `file contains KEK "billing", want "lab-results"`},
		{name: "no versions", change: func(d map[string]any) { d["versions"] = []any{} }, want: "lists no versions"},
		{name: "version 0", change: func(d map[string]any) { versionAt(d, 1)["version"] = 0 }, want: "version number is 0"},
		{name: "duplicate version", change: func(d map[string]any) { versionAt(d, 1)["version"] = 1 }, version: 1, want: "listed twice"},
		{name: "invalid state", change: func(d map[string]any) { versionAt(d, 1)["state"] = "active" }, version: 2, want: `state "active" is invalid`},
		{name: "short key", change: func(d map[string]any) { versionAt(d, 1)["key"] = b64(testKey[:31]) }, version: 2, want: "key is 31 bytes, want 32"},
		{name: "long key", change: func(d map[string]any) { versionAt(d, 1)["key"] = b64(append(testKey, 'x')) }, version: 2, want: "key is 33 bytes, want 32"},
		{name: "missing key", change: func(d map[string]any) { delete(versionAt(d, 1), "key") }, version: 2, want: "key is 0 bytes, want 32"},
		{name: "invalid base64", change: func(d map[string]any) { versionAt(d, 1)["key"] = "a2V5Zm!s" }, want: "not valid standard base64"},
		{name: "destroyed with key", change: func(d map[string]any) { versionAt(d, 1)["state"] = "destroyed" }, version: 2, want: "destroyed version still has a key"},
		{name: "primary not listed", change: func(d map[string]any) { d["primary"] = 3 }, want: "primary version 3 is not listed"},
		{name: "min version 0", change: func(d map[string]any) { d["min_version"] = 0 }, want: "min_version is 0, want 1 to primary version 2"},
		{name: "min above primary", change: func(d map[string]any) { d["min_version"] = 3 }, want: "min_version is 3, want 1 to primary version 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.raw)
			if tc.change != nil {
				doc := validDoc(t)
				tc.change(doc)
				var err error
				if data, err = json.Marshal(doc); err != nil {
					t.Fatal(err)
				}
			}
			path := writeKeyFile(t, data, 0o600)

			_, err := keyfile.Open(path, "lab-results")
			var ferr *keyfile.FileError
			if !errors.As(err, &ferr) {
				t.Fatalf("Open err = %v, want *FileError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open err = %q, want it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("Open err = %q, want it to name the path", err)
			}
			if ferr.Version != tc.version {
				t.Errorf("FileError.Version = %d, want %d", ferr.Version, tc.version)
			}
			if !errors.Is(err, kms.ErrInvalidConfig) {
				t.Errorf("Open err = %v, want it to wrap ErrInvalidConfig", err)
			}
			kmstest.CheckNoLeak(t, err, testKey)
			kmstest.CheckNoLeak(t, err, []byte(b64(testKey))) // the key as the file spells it
		})
	}
}
