package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/jackc/pgservicefile"
)

// Environment variables of libpq's connection service file.
const (
	EnvPGService     = "PGSERVICE"
	EnvPGServiceFile = "PGSERVICEFILE"
	EnvPGSysConfDir  = "PGSYSCONFDIR"
)

// DefaultSysConfDir is where Debian's libpq looks for pg_service.conf when
// PGSYSCONFDIR is unset.
const DefaultSysConfDir = "/etc/postgresql-common"

// Service is one [name] section of a libpq service file.
type Service struct {
	Name     string
	Path     string            // the file it was found in, shortened with ~/
	Settings map[string]string // keyword=value, e.g. host, port, dbname, user, sslmode
}

// Service finds the connection service name as libpq does: in PGSERVICEFILE
// (or ~/.pg_service.conf), then in pg_service.conf in PGSYSCONFDIR (or
// DefaultSysConfDir). A password in a service file is a secret: read it
// with Settings["password"] and never print it.
func (r *Resolver) Service(name string) (Service, error) {
	user := r.getenv(EnvPGServiceFile)
	if user == "" {
		if h := r.home(); h != "" {
			user = filepath.Join(h, ".pg_service.conf")
		}
	}
	sys := r.getenv(EnvPGSysConfDir)
	if sys == "" {
		sys = DefaultSysConfDir
	}
	var tried []string
	for _, path := range []string{user, filepath.Join(sys, "pg_service.conf")} {
		if path == "" {
			continue
		}
		tried = append(tried, r.tilde(path))
		sf, err := pgservicefile.ReadServicefile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Service{}, fmt.Errorf("cannot read service file %s: %w; fix it or unset %s", path, err, EnvPGService)
		}
		if s, err := sf.GetService(name); err == nil {
			return Service{Name: name, Path: r.tilde(path), Settings: s.Settings}, nil
		}
	}
	return Service{}, fmt.Errorf("service %q (%s) is not defined in %v; add a [%s] section or unset %s", name, EnvPGService, tried, name, EnvPGService)
}
