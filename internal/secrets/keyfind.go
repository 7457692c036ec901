package secrets

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/connectdb/connectdb/internal/config"
)

// Settings that place Connect's secret key.
const (
	SettingKeyFile = "Server.EncryptionKeyFile"
	SettingKey     = "Server.EncryptionKey"
)

// DefaultKeyName is the key file Connect creates in {Server.DataDir}/db.
const DefaultKeyName = "secret.key"

// ErrBothKeys means Server.EncryptionKeyFile and Server.EncryptionKey are
// both set: Connect refuses to start.
var ErrBothKeys = errors.New("both Server.EncryptionKeyFile and Server.EncryptionKey are set")

// KeySearch says where to look for Connect's secret key.
type KeySearch struct {
	// Path is --secret-key (or CONNECTDB_SECRET_KEY): it wins over
	// everything Connect's config says.
	Path string
	// Config is Connect's configuration: Server.EncryptionKeyFile,
	// Server.EncryptionKey and Server.DataDir, with their origins, and
	// Root for Connect's paths. Nil means Connect's defaults.
	Config *config.Config
}

// FoundKey is Connect's secret key and where it was found.
type FoundKey struct {
	Key *Key
	// From says where the key came from, e.g. "--secret-key /root/k",
	// "Server.EncryptionKey from CONNECT_SERVER_ENCRYPTIONKEY" or
	// "/var/lib/rstudio-connect/db/secret.key ({Server.DataDir}/db/secret.key)".
	From string
	// Warnings are findings such as a key file readable by others.
	Warnings []string
}

// DefaultKeyPath returns {Server.DataDir}/db/secret.key for cfg (nil:
// Connect's default data directory).
func DefaultKeyPath(cfg *config.Config) string {
	dir := config.DefaultDataDir
	if cfg != nil && cfg.Server.DataDir != "" {
		dir = cfg.Server.DataDir
	}
	return filepath.Join(dir, "db", DefaultKeyName)
}

// Places lists, for messages, where FindKey looks.
func (s KeySearch) Places() string {
	return "--secret-key, CONNECTDB_SECRET_KEY, " + SettingKeyFile + ", " + SettingKey + " and " + DefaultKeyPath(s.Config)
}

// FindKey finds Connect's secret key in Connect's order: the Path given to
// connectdb; then Server.EncryptionKeyFile; then Server.EncryptionKey
// (each from the config file or its CONNECT_SERVER_* override); then the
// key Connect manages itself at {Server.DataDir}/db/secret.key. It returns
// a nil FoundKey and no error when none of these holds a key. Setting both
// EncryptionKeyFile and EncryptionKey is an error wrapping ErrBothKeys,
// as it stops Connect from starting. Errors never contain key material.
func FindKey(s KeySearch) (*FoundKey, error) {
	if s.Path != "" {
		k, w, err := LoadKey(s.Path)
		if err != nil {
			return nil, err
		}
		return &FoundKey{Key: k, From: "--secret-key " + s.Path, Warnings: w}, nil
	}
	cfg := s.Config
	if cfg == nil {
		cfg = config.Default()
	}
	file, inline := cfg.Server.EncryptionKeyFile, cfg.Server.EncryptionKey
	switch {
	case file != "" && inline != "":
		return nil, fmt.Errorf("%w (%s from %s, %s from %s): Connect refuses to start with both; remove one of them",
			ErrBothKeys, SettingKeyFile, cfg.Where(SettingKeyFile), SettingKey, cfg.Where(SettingKey))
	case file != "":
		from := SettingKeyFile + " " + file + " (from " + cfg.Where(SettingKeyFile) + ")"
		k, w, err := loadKeyAs(cfg.HostPath(file), file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", from, err)
		}
		return &FoundKey{Key: k, From: from, Warnings: w}, nil
	case inline != "":
		from := SettingKey + " from " + cfg.Where(SettingKey)
		k, err := ParseKey([]byte(inline))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", from, err)
		}
		k.path = from
		return &FoundKey{Key: k, From: from}, nil
	}
	path := DefaultKeyPath(cfg)
	if _, err := os.Stat(cfg.HostPath(path)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	k, w, err := loadKeyAs(cfg.HostPath(path), path)
	if err != nil {
		return nil, err
	}
	return &FoundKey{Key: k, From: path + " ({Server.DataDir}/db/secret.key)", Warnings: w}, nil
}

// loadKeyAs loads the key at hostPath and names it path in messages.
func loadKeyAs(hostPath, path string) (*Key, []string, error) {
	k, w, err := LoadKey(hostPath)
	if hostPath != path {
		for i := range w {
			w[i] = strings.ReplaceAll(w[i], hostPath, path)
		}
		if err != nil {
			err = &shownError{msg: strings.ReplaceAll(err.Error(), hostPath, path), err: err}
		}
	}
	if k != nil {
		k.path = path
	}
	return k, w, err
}

type shownError struct {
	msg string
	err error
}

func (e *shownError) Error() string { return e.msg }
func (e *shownError) Unwrap() error { return e.err }

// Shape is what a setting value looks like without a key.
type Shape int

const (
	// ShapePlain: not Connect's ciphertext; the value is plain text.
	ShapePlain Shape = iota
	// ShapeAmbiguous: letters and digits only, as long as a ciphertext
	// could be. Long random passwords (the Helm chart documents a plain
	// Postgres.Password) look like this, and so do some ciphertexts;
	// only a key can tell.
	ShapeAmbiguous
	// ShapeCiphertext: canonical padded base64 with a +, / or = in it
	// that decodes to nonce(24) || secretbox (optionally after a 0x01
	// version byte) or to 0x02 || nonce(12) || AES-GCM, each with its tag.
	ShapeCiphertext
)

func (s Shape) String() string {
	switch s {
	case ShapeAmbiguous:
		return "ambiguous"
	case ShapeCiphertext:
		return "ciphertext"
	}
	return "plain"
}

// CiphertextShape tells whether value has the exact structure of a value
// encrypted by Connect (rscadmin encrypt-config-value).
func CiphertextShape(value string) Shape {
	v := strings.TrimSpace(value)
	if len(v) == 0 || len(v)%4 != 0 {
		return ShapePlain
	}
	b, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || base64.StdEncoding.EncodeToString(b) != v {
		return ShapePlain
	}
	fits := len(b) >= secretboxNonceSize+tagSize ||
		len(b) >= 1+gcmNonceSize+tagSize && b[0] == versionFIPS
	if !fits {
		return ShapePlain
	}
	if strings.ContainsAny(v, "+/=") {
		return ShapeCiphertext
	}
	return ShapeAmbiguous
}
