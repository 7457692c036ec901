package check

// Temporary: replaced by internal/dsn when it lands on main.

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

type urlInfo struct {
	Scheme, User, Host, Database string
	Port                         int
	HasPassword                  bool
	SSLMode                      string
	SSLModeSet                   bool
	Schema                       string
	SSLCert, SSLKey, SSLRootCert string
	Options                      string
	OptionsSet                   bool
}

func parseURL(raw string) (*urlInfo, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("the URL cannot be parsed")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, errors.New("unsupported URL scheme")
	}
	info := &urlInfo{Scheme: u.Scheme, Host: u.Hostname(), Database: strings.TrimPrefix(u.Path, "/")}
	info.Port, _ = strconv.Atoi(u.Port())
	if u.User != nil {
		info.User = u.User.Username()
		_, info.HasPassword = u.User.Password()
	}
	q := u.Query()
	if q.Has("sslmode") {
		info.SSLMode, info.SSLModeSet = q.Get("sslmode"), true
	}
	info.SSLCert, info.SSLKey, info.SSLRootCert = q.Get("sslcert"), q.Get("sslkey"), q.Get("sslrootcert")
	if q.Has("options") {
		info.Options, info.OptionsSet = q.Get("options"), true
		if i := strings.Index(info.Options, "search_path="); i >= 0 {
			info.Schema = strings.Fields(info.Options[i+len("search_path="):] + " ")[0]
		}
	}
	return info, nil
}

type urlDiag struct {
	Field   string
	Error   bool
	Problem string
	Fix     string
}

func diagnoseURL(raw string) ([]urlDiag, error) {
	_, err := parseURL(raw)
	return nil, err
}

func optionsParam(info *urlInfo) (string, bool) { return info.Options, info.OptionsSet }

func searchPathOf(options string) (string, bool) {
	i := strings.Index(options, "search_path=")
	if i < 0 {
		return "", false
	}
	return strings.Fields(options[i+len("search_path="):] + " ")[0], true
}
