package secrets

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type vector struct {
	Mode       string `json:"mode"`
	Plaintext  string `json:"plaintext"`
	Ciphertext string `json:"ciphertext"`
}

func loadVectors(t testing.TB) (*Key, []vector) {
	t.Helper()
	k, _, err := LoadKey("testdata/connect.key")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	return k, vs
}

func TestVectorsDecrypt(t *testing.T) {
	k, vs := loadVectors(t)
	for _, v := range vs {
		if !LooksEncrypted(v.Ciphertext) {
			t.Errorf("%s %q: LooksEncrypted = false", v.Mode, v.Plaintext)
		}
		got, err := k.Decrypt(v.Ciphertext)
		if err != nil || got != v.Plaintext {
			t.Errorf("%s: Decrypt = %q, %v; want %q", v.Mode, got, err, v.Plaintext)
		}
	}
}

func otherKey(t testing.TB, seed int64) *Key {
	raw := make([]byte, KeySize)
	rand.New(rand.NewSource(seed)).Read(raw)
	k, err := ParseKey([]byte(hex.EncodeToString(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestWrongKeyFails(t *testing.T) {
	_, vs := loadVectors(t)
	k := otherKey(t, 7)
	for _, v := range vs {
		got, err := k.Decrypt(v.Ciphertext)
		if !errors.Is(err, ErrDecrypt) || got != "" {
			t.Errorf("%s: wrong key gave %q, %v", v.Mode, got, err)
		}
		if v.Plaintext != "" && strings.Contains(err.Error(), v.Plaintext) {
			t.Errorf("error leaks plaintext: %v", err)
		}
	}
}

func TestCorruptValues(t *testing.T) {
	k, vs := loadVectors(t)
	flip := func(s string, i int) string {
		b, _ := base64.StdEncoding.DecodeString(s)
		b[i%len(b)] ^= 0x40
		return base64.StdEncoding.EncodeToString(b)
	}
	bad := []string{
		"", "not base64!!", "aGVsbG8=", // short
		vs[0].Ciphertext[:len(vs[0].Ciphertext)-4],
		flip(vs[0].Ciphertext, 30), flip(vs[4].Ciphertext, 20), flip(vs[4].Ciphertext, 0),
		base64.StdEncoding.EncodeToString(make([]byte, 64)),
		"\x00\xff",
	}
	for _, v := range bad {
		if got, err := k.Decrypt(v); !errors.Is(err, ErrDecrypt) || got != "" {
			t.Errorf("Decrypt(%q) = %q, %v; want ErrDecrypt", v, got, err)
		}
	}
}

func TestVersionPrefixAndRoundTrip(t *testing.T) {
	k, _ := loadVectors(t)
	rng := rand.New(rand.NewSource(42))
	for i := 0; i < 200; i++ {
		p := make([]byte, rng.Intn(300))
		rng.Read(p)
		plain := string(p)
		for _, fips := range []bool{false, true} {
			c, err := k.Encrypt(plain, fips)
			if err != nil {
				t.Fatal(err)
			}
			if !LooksEncrypted(c) {
				t.Fatalf("own ciphertext does not look encrypted (fips=%v, %d bytes)", fips, len(plain))
			}
			b, _ := base64.StdEncoding.DecodeString(c)
			if fips && b[0] != 0x02 {
				t.Fatal("FIPS value lacks 0x02 prefix")
			}
			if got, err := k.Decrypt(c); err != nil || got != plain {
				t.Fatalf("round trip fips=%v: %v", fips, err)
			}
			if !fips {
				prefixed := base64.StdEncoding.EncodeToString(append([]byte{0x01}, b...))
				if got, err := k.Decrypt(prefixed); err != nil || got != plain {
					t.Fatalf("0x01-prefixed value: %v", err)
				}
			}
			if _, err := otherKey(t, int64(i)).Decrypt(c); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("other key decrypted: %v", err)
			}
		}
	}
}

func TestParseKeyFormats(t *testing.T) {
	data, err := os.ReadFile("testdata/connect.key")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ParseKey(data)
	good := map[string]string{
		"hex":             string(data),
		"hex upper":       strings.ToUpper(string(data)),
		"hex whitespace":  "\n  " + strings.TrimSpace(string(data)) + "\r\n\n",
		"base64":          base64.StdEncoding.EncodeToString(raw) + "\n",
		"base64 unpadded": base64.RawStdEncoding.EncodeToString(raw),
	}
	for name, in := range good {
		k, err := ParseKey([]byte(in))
		if err != nil || k.enc != want.enc {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string]string{
		"empty":     "",
		"short hex": strings.TrimSpace(string(data))[:1022],
		"garbage":   "zz" + string(data),
		"long":      hex.EncodeToString(append(raw, 0)),
	}
	for name, in := range bad {
		if _, err := ParseKey([]byte(in)); err == nil {
			t.Errorf("%s: ParseKey succeeded", name)
		} else if strings.Contains(err.Error(), strings.TrimSpace(string(data))[:16]) {
			t.Errorf("%s: error leaks key material: %v", name, err)
		}
	}
}

func TestLoadKeyErrorsAndWarnings(t *testing.T) {
	dir := t.TempDir()
	data, _ := os.ReadFile("testdata/connect.key")
	p := filepath.Join(dir, "secret.key")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	k, warnings, err := LoadKey(p)
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "chmod 600 "+p) {
		t.Errorf("LoadKey 0644: %v %v", warnings, err)
	}
	if s := k.String(); s != "secrets.Key("+p+")" {
		t.Errorf("String = %q", s)
	}
	os.Chmod(p, 0o600)
	if _, warnings, err := LoadKey(p); err != nil || len(warnings) != 0 {
		t.Errorf("LoadKey 0600: %v %v", warnings, err)
	}
	if _, _, err := LoadKey(filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "--secret-key") {
		t.Errorf("missing key: %v", err)
	}
	if _, _, err := LoadKey(dir); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("dir key: %v", err)
	}
}

func TestLooksEncrypted(t *testing.T) {
	tests := map[string]bool{
		"":                          false,
		"hunter2":                   false,
		"p@ss#w!$%/?:word":          false,
		"correcthorsebatterystaple": false,
		base64.StdEncoding.EncodeToString(make([]byte, 39)):                       false,
		base64.StdEncoding.EncodeToString(make([]byte, 40)):                       true,
		base64.StdEncoding.EncodeToString(append([]byte{2}, make([]byte, 28)...)): true,
		base64.StdEncoding.EncodeToString(append([]byte{2}, make([]byte, 27)...)): false,
		base64.StdEncoding.EncodeToString(append([]byte{1}, make([]byte, 28)...)): false,
		base64.RawStdEncoding.EncodeToString(make([]byte, 41)):                    false,
	}
	for in, want := range tests {
		if got := LooksEncrypted(in); got != want {
			t.Errorf("LooksEncrypted(%q) = %v", in, got)
		}
	}
}

func FuzzDecrypt(f *testing.F) {
	k, vs := loadVectors(f)
	for _, v := range vs {
		f.Add(v.Ciphertext)
	}
	f.Add("")
	f.Add("AQ==")
	f.Fuzz(func(t *testing.T, value string) {
		p, err := k.Decrypt(value)
		if err != nil && p != "" {
			t.Error("plaintext returned with an error")
		}
		if err == nil && !LooksEncrypted(value) {
			// A 0x01-prefixed secretbox value is the only decryptable
			// form LooksEncrypted might in theory miss; it still has
			// 1+24+16 bytes, so this must not happen.
			t.Errorf("decrypted a value that does not look encrypted")
		}
	})
}
