package target

import (
	"os/user"
	"strings"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/dsn"
	"github.com/connectdb/connectdb/internal/secrets"
)

// FromLibpqEnv is the start of a target's Source when libpq's environment
// chose it.
const FromLibpqEnv = "libpq environment"

// libpqVars are the variables psql reads to choose a server, in the order
// they are named, with the connection keyword each sets; then the others
// the PostgreSQL driver (pgx v5, pgconn's parseEnvSettings) read on its own
// before connectdb took them out of its process (see cmdutil.IsolatePGEnv),
// so that the libpq environment still reaches the same server the same
// way. Of pgx's variables only the passwords (PGPASSWORD, PGPASSFILE),
// which secrets.Resolver reads with libpq's rules, and the service
// (PGSERVICE, PGSERVICEFILE), which LibpqURL reads, are not here.
var libpqVars = []struct{ env, key string }{
	{"PGHOST", "host"}, {"PGPORT", "port"}, {"PGUSER", "user"}, {"PGDATABASE", "dbname"},
	{"PGSSLMODE", "sslmode"}, {"PGSSLROOTCERT", "sslrootcert"}, {"PGSSLCERT", "sslcert"}, {"PGSSLKEY", "sslkey"},
	{"PGAPPNAME", "application_name"}, {"PGCONNECT_TIMEOUT", "connect_timeout"}, {"PGOPTIONS", "options"},
	{"PGTARGETSESSIONATTRS", "target_session_attrs"}, {"PGSSLNEGOTIATION", "sslnegotiation"},
	{"PGSSLCERTMODE", "sslcertmode"}, {"PGSSLSNI", "sslsni"}, {"PGSSLPASSWORD", "sslpassword"},
	{"PGCHANNELBINDING", "channel_binding"}, {"PGREQUIREAUTH", "require_auth"},
	{"PGMINPROTOCOLVERSION", "min_protocol_version"}, {"PGMAXPROTOCOLVERSION", "max_protocol_version"},
	{"PGTZ", "timezone"},
}

// libpqChosen reports whether libpq's environment names a server: PGHOST
// or PGSERVICE is set.
func libpqChosen(getenv func(string) string) bool {
	return getenv("PGHOST") != "" || getenv(secrets.EnvPGService) != ""
}

// useLibpqEnv makes libpq's environment the target when nothing else chose
// one: no --url, no Connect config file (cfg is the defaults), and PGHOST
// or PGSERVICE set. It builds the URL psql would connect to and puts it in
// Globals.URL, with Globals.URLSource saying where it came from. A Connect
// config always wins, because Connect does not read these variables.
func useLibpqEnv(f *cmdutil.Factory, cfg *config.Config) error {
	g := f.Globals
	if g.URL != "" || g.ConfigExplicit || cfg.Path != "" || cfg.Postgres.URL != "" || !libpqChosen(f.Getenv) {
		return nil
	}
	u, source, err := LibpqURL(f.Getenv)
	if err != nil {
		return cmdutil.UsageError(err)
	}
	g.URL, g.URLSource = u, source
	return nil
}

// LibpqURL returns the URL psql would connect to with the environment
// getenv, and a label naming the variables (and service file) used. As in
// libpq, a service's settings win over the variables, and the user
// defaults to the operating system user. sslmode defaults to prefer, as in
// psql. The URL may hold a password from the service file.
func LibpqURL(getenv func(string) string) (rawURL, source string, err error) {
	settings := map[string]string{}
	var used []string
	for _, v := range libpqVars {
		if val := getenv(v.env); val != "" {
			settings[v.key] = val
			used = append(used, v.env)
		}
	}
	if name := getenv(secrets.EnvPGService); name != "" {
		r := &secrets.Resolver{Getenv: getenv}
		svc, err := r.Service(name)
		if err != nil {
			return "", "", err
		}
		for k, v := range svc.Settings {
			if k == "database" {
				k = "dbname"
			}
			settings[k] = v
		}
		used = append([]string{"service " + name + " in " + svc.Path}, used...)
	}
	if settings["user"] == "" {
		if u, err := user.Current(); err == nil {
			settings["user"] = u.Username
		}
	}
	if settings["dbname"] == "" {
		settings["dbname"] = settings["user"]
	}
	if settings["sslmode"] == "" {
		settings["sslmode"] = "prefer"
	}
	p := dsn.Parts{User: settings["user"], Password: settings["password"], Database: settings["dbname"]}
	for _, v := range libpqVars {
		if v.key == "user" || v.key == "dbname" {
			continue
		}
		if val := settings[v.key]; val != "" {
			p.Params = append(p.Params, dsn.Param{Key: v.key, Value: val})
		}
	}
	return p.URL(), FromLibpqEnv + " (" + strings.Join(used, ", ") + ")", nil
}
