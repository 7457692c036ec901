// Package secrets finds the PostgreSQL passwords connectdb connects with
// and decrypts Posit Connect's encrypted setting values.
//
// Connect stores settings such as Postgres.Password encrypted with its
// secret key file. Key reads that file and decrypts (and, for tests,
// encrypts) such values in both of Connect's formats: NaCl secretbox by
// default and AES-256-GCM when Connect runs with UseFIPSEncryption.
//
// FindKey finds Connect's secret key in Connect's order (--secret-key,
// Server.EncryptionKeyFile, Server.EncryptionKey, {Server.DataDir}/db/
// secret.key), and CiphertextShape tells, without a key, whether a value
// has the exact structure of Connect's ciphertext.
//
// Resolver picks a password from, in order: --password-file, the
// CONNECTDB_*_PASSWORD environment variables, Connect's setting (from
// --env-file, a CONNECT_* override or the file; decrypted when it is
// ciphertext), PGPASSWORD, and the pgpass file.
//
// Secret wraps a password so that printing, formatting or JSON-encoding it
// never shows the value; call Reveal at the point of use.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/crypto/nacl/secretbox"
)

// KeySize is the number of bytes in a Connect secret key file (decoded).
const KeySize = 512

// Sizes of the parts of an encrypted value.
const (
	secretboxNonceSize = 24
	gcmNonceSize       = 12
	tagSize            = 16 // Poly1305 and GCM tags are both 16 bytes

	versionSecretbox byte = 0x01 // optional prefix some writers add
	versionFIPS      byte = 0x02 // AES-256-GCM
)

// keyMask is XORed with the stored key bytes (cyclically) to unmask them.
var keyMask = [10]byte{223, 99, 111, 160, 122, 212, 223, 105, 37, 190}

// ErrDecrypt means a value could not be decrypted: the key is wrong or the
// value is corrupt.
var ErrDecrypt = errors.New("wrong key or corrupt value")

// Key is a Connect secret key, ready to decrypt setting values. Its
// String, GoString and Format methods never show key material.
type Key struct {
	path string // where it was loaded from, for messages; may be empty
	enc  [32]byte
}

// ParseKey decodes the contents of a Connect key file: 512 bytes written
// as 1024 hex digits (or as base64), with surrounding white space allowed.
func ParseKey(data []byte) (*Key, error) {
	text := strings.TrimSpace(string(data))
	raw, err := hex.DecodeString(text)
	if err != nil {
		raw, err = base64.StdEncoding.DecodeString(text)
		if err != nil {
			raw, err = base64.RawStdEncoding.DecodeString(text)
		}
		if err != nil {
			return nil, errors.New("the key file is neither hex nor base64; pass the secret key file Connect itself uses")
		}
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("the key file holds %d bytes, not %d; pass the secret key file Connect itself uses", len(raw), KeySize)
	}
	k := &Key{}
	for i := range k.enc {
		k.enc[i] = raw[i] ^ keyMask[i%len(keyMask)]
	}
	clear(raw)
	return k, nil
}

// LoadKey reads and parses the key file at path. The warnings say when the
// file is readable by group or others.
func LoadKey(path string) (*Key, []string, error) {
	var warnings []string
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return nil, nil, fmt.Errorf("secret key path %s is a directory; pass the key file itself with --secret-key or CONNECTDB_SECRET_KEY", path)
		}
		if st.Mode().Perm()&0o077 != 0 {
			warnings = append(warnings, fmt.Sprintf("secret key file %s is readable by group or others (mode %04o); run chmod 600 %s", path, st.Mode().Perm(), path))
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, warnings, fmt.Errorf("secret key file %s not found; pass Connect's key file with --secret-key PATH or CONNECTDB_SECRET_KEY: %w", path, err)
		case errors.Is(err, fs.ErrPermission):
			return nil, warnings, fmt.Errorf("permission denied reading secret key file %s; run connectdb as root (for example with sudo): %w", path, err)
		}
		return nil, warnings, fmt.Errorf("cannot read secret key file %s: %w", path, err)
	}
	k, err := ParseKey(data)
	clear(data)
	if err != nil {
		return nil, warnings, fmt.Errorf("secret key file %s: %w", path, err)
	}
	k.path = path
	return k, warnings, nil
}

// Path returns the file the key was loaded from, or "".
func (k *Key) Path() string { return k.path }

// String describes the key without revealing it. Key's methods that print
// have value receivers so that a copied Key is hidden too.
func (k Key) String() string {
	if k.path == "" {
		return "secrets.Key(xxxxx)"
	}
	return "secrets.Key(" + k.path + ")"
}

// GoString is like String, so %#v hides the key too.
func (k Key) GoString() string { return k.String() }

// Format prints String for every verb.
func (k Key) Format(f fmt.State, verb rune) { fmt.Fprint(f, k.String()) }

// MarshalJSON encodes the key's description, never its bytes.
func (k Key) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", k.String())), nil }

// LooksEncrypted reports whether value has the shape of a Connect encrypted
// value: standard base64 that decodes to at least nonce plus tag (24+16
// bytes for secretbox), or a 0x02 byte plus at least 12+16 bytes (FIPS
// AES-GCM). It is a heuristic: a long plain password made of base64
// characters can look encrypted too, so callers that find a value that
// looks encrypted but have no key must ask for the key or the plaintext.
func LooksEncrypted(value string) bool {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return false
	}
	return len(b) >= secretboxNonceSize+tagSize ||
		len(b) >= 1+gcmNonceSize+tagSize && b[0] == versionFIPS
}

// Decrypt decrypts a base64 Connect encrypted value. It tries, in order,
// FIPS AES-256-GCM (0x02 prefix), secretbox, and secretbox after a 0x01
// version byte. Errors wrap ErrDecrypt and never contain the value.
func (k *Key) Decrypt(value string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return "", fmt.Errorf("the value is not valid base64, so it is not an encrypted Connect value: %w", ErrDecrypt)
	}
	if len(b) >= 1+gcmNonceSize+tagSize && b[0] == versionFIPS {
		if p, ok := k.openGCM(b[1:]); ok {
			return p, nil
		}
	}
	if p, ok := k.openSecretbox(b); ok {
		return p, nil
	}
	if len(b) > 0 && b[0] == versionSecretbox {
		if p, ok := k.openSecretbox(b[1:]); ok {
			return p, nil
		}
	}
	return "", ErrDecrypt
}

func (k *Key) openSecretbox(b []byte) (string, bool) {
	if len(b) < secretboxNonceSize+tagSize {
		return "", false
	}
	var nonce [secretboxNonceSize]byte
	copy(nonce[:], b)
	out, ok := secretbox.Open(nil, b[secretboxNonceSize:], &nonce, &k.enc)
	return string(out), ok
}

func (k *Key) openGCM(b []byte) (string, bool) {
	aead, err := k.gcm()
	if err != nil || len(b) < gcmNonceSize+tagSize {
		return "", false
	}
	out, err := aead.Open(nil, b[:gcmNonceSize], b[gcmNonceSize:], nil)
	return string(out), err == nil
}

func (k *Key) gcm() (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.enc[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Encrypt encrypts plaintext the way Connect does: secretbox with a random
// 24-byte nonce, or with fips set, 0x02, a random 12-byte nonce and
// AES-256-GCM. The result is standard base64.
func (k *Key) Encrypt(plaintext string, fips bool) (string, error) {
	if fips {
		aead, err := k.gcm()
		if err != nil {
			return "", fmt.Errorf("cannot set up AES-GCM: %w", err)
		}
		var nonce [gcmNonceSize]byte
		if _, err := rand.Read(nonce[:]); err != nil {
			return "", fmt.Errorf("cannot make a nonce: %w", err)
		}
		out := make([]byte, 0, 1+gcmNonceSize+len(plaintext)+tagSize)
		out = append(append(out, versionFIPS), nonce[:]...)
		out = aead.Seal(out, nonce[:], []byte(plaintext), nil)
		return base64.StdEncoding.EncodeToString(out), nil
	}
	var nonce [secretboxNonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", fmt.Errorf("cannot make a nonce: %w", err)
	}
	out := secretbox.Seal(nonce[:], []byte(plaintext), &nonce, &k.enc)
	return base64.StdEncoding.EncodeToString(out), nil
}
