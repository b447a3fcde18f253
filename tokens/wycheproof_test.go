package tokens

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// wycheproofDir is where the Wycheproof vectors are read from, in place:
// the shared data folder beside the repository, or $KENVELOPE_WYCHEPROOF.
func wycheproofDir(t *testing.T) string {
	if d := os.Getenv("KENVELOPE_WYCHEPROOF"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "data", "wycheproof")
}

type daeadVectors struct {
	NumberOfTests int `json:"numberOfTests"`
	TestGroups    []struct {
		KeySize int `json:"keySize"`
		Tests   []struct {
			TcID   int    `json:"tcId"`
			Key    string `json:"key"`
			AAD    string `json:"aad"`
			Msg    string `json:"msg"`
			CT     string `json:"ct"`
			Result string `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWycheproofAESSIV runs the Wycheproof AES-SIV-CMAC vectors through
// the same keyset construction and tink-go primitive that NewSIVFromKey
// uses. tink-go v2.9.0 supports only 512-bit AES-SIV keys (two AES-256
// keys), so the 256- and 384-bit groups must be rejected.
func TestWycheproofAESSIV(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(wycheproofDir(t), "aes_siv_cmac_test.json"))
	if err != nil {
		t.Fatalf("read Wycheproof vectors: %v (set KENVELOPE_WYCHEPROOF to their folder)", err)
	}
	var v daeadVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	ran, rejected := 0, 0
	for _, g := range v.TestGroups {
		for _, tc := range g.Tests {
			p, err := primitiveFor(unhex(t, tc.Key))
			if g.KeySize != 512 {
				if err == nil {
					t.Errorf("tcId %d: %d-bit key accepted, want rejected", tc.TcID, g.KeySize)
				}
				rejected++
				continue
			}
			if err != nil {
				t.Fatalf("tcId %d: %v", tc.TcID, err)
			}
			checkVector(t, tc.TcID, tc.Result, p.EncryptDeterministically, p.DecryptDeterministically,
				unhex(t, tc.Msg), unhex(t, tc.AAD), unhex(t, tc.CT))
			ran++
		}
	}
	if ran+rejected != v.NumberOfTests || ran == 0 {
		t.Errorf("checked %d vectors and rejected %d key sizes, file has %d", ran, rejected, v.NumberOfTests)
	}
	t.Logf("%d vectors with 512-bit keys passed; %d vectors with other key sizes rejected", ran, rejected)
}

func primitiveFor(key []byte) (tink.DeterministicAEAD, error) {
	h, err := rawSIVHandle(key)
	if err != nil {
		return nil, err
	}
	return daead.New(h)
}

func checkVector(t *testing.T, id int, result string,
	enc func(pt, ad []byte) ([]byte, error), dec func(ct, ad []byte) ([]byte, error), msg, aad, ct []byte) {
	t.Helper()
	pt, err := dec(ct, aad)
	switch result {
	case "valid":
		if err != nil || !bytes.Equal(pt, msg) {
			t.Errorf("tcId %d: Decrypt err = %v, plaintext equal %v; want the message", id, err, bytes.Equal(pt, msg))
		}
		got, err := enc(msg, aad)
		if err != nil || !bytes.Equal(got, ct) {
			t.Errorf("tcId %d: Encrypt = %x, err %v; want %x", id, got, err, ct)
		}
	case "invalid":
		if err == nil {
			t.Errorf("tcId %d: Decrypt of an invalid vector succeeded", id)
		}
	default:
		t.Errorf("tcId %d: unknown result %q", id, result)
	}
}
