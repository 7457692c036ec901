package encodeurl

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/dsn"
	"github.com/connectdb/connectdb/internal/iostreams"
)

// seedPassword holds every special character Connect's guide names, plus a
// space and a non-ASCII letter.
const seedPassword = "p@ss#w!$%/?:word é"

// roundTripPasswords are the table cases: each character the guide names
// (@ # ! $ % / ?), every other ASCII punctuation character, spaces, text that
// looks already encoded, and non-ASCII text.
func roundTripPasswords() []string {
	pws := []string{
		seedPassword,
		"@", "#", "!", "$", "%", "/", "?", ":",
		"%41", "%41%42", "%", "%%", "%zz", "%4", "100%", "%2F", "%00", "%C3%A9",
		" ", "  leading and trailing  ", "two  spaces",
		"é", "日本語のパスワード", "emoji 🔑🐘", "Ωmega", "\u00a0nbsp", "zero\u200bwidth",
		"user:pass@host/db?sslmode=disable#frag",
		"postgres://u:p@h/d",
		"tab\there",
		"back\\slash", `quote"d`, "single'q",
		"+plus+", "a=b&c=d", "semi;colon", "[brackets]", "{braces}", "<angle>", "`tick`", "~tilde", "^caret", "|pipe",
	}
	// Every ASCII punctuation character alone, inside text, and all together.
	var all strings.Builder
	for c := byte(0x21); c < 0x7f; c++ {
		if isASCIIPunct(c) {
			pws = append(pws, string(c), "a"+string(c)+"b", string(c)+string(c))
			all.WriteByte(c)
		}
	}
	pws = append(pws, all.String(), all.String()+" é")
	return pws
}

func isASCIIPunct(c byte) bool {
	return c > ' ' && c < 0x7f && !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
}

// TestRoundTripSpecialCharacters runs encode-url with --password-stdin for
// each password and checks that pgx reads back exactly that user and
// password, and that the URL needs no repair.
func TestRoundTripSpecialCharacters(t *testing.T) {
	users := []string{"connect", "conn@ct:user/é"}
	for _, pw := range roundTripPasswords() {
		for _, user := range users {
			r := runOpts(t, EncodeURLOptions{User: user, Host: "db.example.com", Port: 5432, Database: "connect",
				Schema: "connect_schema", PasswordStdin: true}, pw+"\n", nil)
			if r.err != nil {
				t.Fatalf("password %q: %v", pw, r.err)
			}
			u := strings.TrimSuffix(r.out, "\n")
			if strings.Contains(u, "\n") {
				t.Fatalf("password %q: output is not one line: %q", pw, r.out)
			}
			cfg := pgxParse(t, u)
			if cfg.User != user || cfg.Password != pw {
				t.Errorf("password %q, user %q: pgx read user %q password %q from %s", pw, user, cfg.User, cfg.Password, u)
			}
			if cfg.Host != "db.example.com" || cfg.Port != 5432 || cfg.Database != "connect" {
				t.Errorf("password %q: pgx read host %q port %d database %q", pw, cfg.Host, cfg.Port, cfg.Database)
			}
			if got := cfg.RuntimeParams["options"]; got != "-csearch_path=connect_schema" {
				t.Errorf("password %q: options = %q", pw, got)
			}
			diags, repaired, err := dsn.Diagnose(u)
			if err != nil || len(diags) != 0 || repaired != u {
				t.Errorf("password %q: Diagnose found %v (err %v); the built URL should need no repair", pw, diags, err)
			}
		}
	}
}

// TestPasswordStdinFirstLine: only the first line counts, and only its line
// ending is trimmed.
func TestPasswordStdinFirstLine(t *testing.T) {
	for stdin, want := range map[string]string{
		"secret\n":            "secret",
		"secret\r\n":          "secret",
		"secret":              "secret",
		"secret\nsecond line": "secret",
		" spaced \n":          " spaced ",
	} {
		r := runOpts(t, EncodeURLOptions{User: "u", Host: "h", Database: "d", PasswordStdin: true}, stdin, nil)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if got := pgxParse(t, strings.TrimSpace(r.out)).Password; got != want {
			t.Errorf("stdin %q: password %q, want %q", stdin, got, want)
		}
	}
}

// randomString draws runes from ASCII, Latin-1, a few scripts, emoji and
// the whole Unicode range, weighted towards the characters URLs care about.
func randomString(rng *rand.Rand, maxLen int) string {
	n := rng.IntN(maxLen + 1)
	var b strings.Builder
	for range n {
		var r rune
		switch rng.IntN(6) {
		case 0, 1:
			r = rune(0x20 + rng.IntN(0x5f)) // printable ASCII
		case 2:
			r = rune([]byte("@#!$%/?:&=+ ;,[]'\"\\")[rng.IntN(19)])
		case 3:
			r = rune(0xa0 + rng.IntN(0x60)) // Latin-1
		case 4:
			r = []rune{'é', 'ß', 'Ж', '中', '🔑', '🐘', '\u200b', 'ﬁ'}[rng.IntN(8)]
		default:
			r = rune(1 + rng.IntN(utf8.MaxRune))
			if !utf8.ValidRune(r) {
				r = '?'
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TestRoundTripProperty: for random users and passwords, the URL encode-url
// builds reads back the same credentials in pgx.
func TestRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261125, 1))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := range n {
		user := randomString(rng, 12)
		pw := randomString(rng, 24)
		if user == "" || strings.ContainsRune(user, 0) || strings.ContainsRune(pw, 0) {
			continue
		}
		u, err := buildURL(user, pw)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		cfg, err := pgconn.ParseConfig(u)
		if err != nil {
			t.Fatalf("case %d: pgx rejects the URL for user %q password %q: %v", i, user, pw, err)
		}
		if cfg.User != user || cfg.Password != pw {
			t.Fatalf("case %d: pgx read user %q password %q, want %q %q", i, cfg.User, cfg.Password, user, pw)
		}
		// Every 50th case goes through the whole command, stdin included.
		if i%50 == 0 && !strings.ContainsAny(pw, "\r\n") {
			r := runOpts(t, EncodeURLOptions{User: user, Host: "db.example.com", Port: 5432, Database: "connect", PasswordStdin: true}, pw+"\n", nil)
			if r.err != nil || strings.TrimSuffix(r.out, "\n") != u {
				t.Fatalf("case %d: command gave %q (err %v), want %q", i, r.out, r.err, u)
			}
		}
	}
}

// buildURL builds a URL the way build mode does, without the command's I/O.
func buildURL(user, pw string) (string, error) {
	io, _, _, _ := iostreams.Test()
	o := &EncodeURLOptions{F: cmdutil.NewFactory(io), User: user, Host: "db.example.com", Port: 5432, Database: "connect"}
	res, err := o.build(pw)
	if err != nil {
		return "", err
	}
	return res.url, nil
}

// FuzzBuildURLRoundTrip: any user and password that the command accepts
// come back unchanged through pgx.
func FuzzBuildURLRoundTrip(f *testing.F) {
	f.Add("connect", seedPassword)
	f.Add("u", "%41")
	f.Add("a:b@c", "x/y?z#w")
	f.Add("é", "\t \\\"'")
	for _, pw := range roundTripPasswords()[:20] {
		f.Add("connect", pw)
	}
	f.Fuzz(func(t *testing.T, user, pw string) {
		u, err := buildURL(user, pw)
		if user == "" || strings.ContainsRune(user, 0) || strings.ContainsRune(pw, 0) {
			if err == nil && user == "" {
				t.Fatalf("empty user accepted")
			}
			return
		}
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		cfg, err := pgconn.ParseConfig(u)
		if err != nil {
			t.Fatalf("pgx rejects %q: %v", u, err)
		}
		if cfg.User != user || cfg.Password != pw {
			t.Fatalf("pgx read user %q password %q, want %q %q", cfg.User, cfg.Password, user, pw)
		}
		if info, err := dsn.Parse(u); err != nil || info.User != user || info.HasPassword != (pw != "") {
			t.Fatalf("dsn.Parse(%q) = %+v, %v", dsn.Redact(u), info, err)
		}
	})
}

// FuzzCheckNeverShowsPassword: whatever URL --check is given, the password
// in its userinfo never appears in the text or JSON output unless
// --show-password asks for it.
func FuzzCheckNeverShowsPassword(f *testing.F) {
	f.Add("p@ss#w!$%/?:word é", "db.example.com/connect")
	f.Add("secret", "h:5432/db?sslmode=require&password=x")
	f.Add("a/b?c", "h/d?application_name=a@b")
	f.Add("pw#frag", "/db")
	f.Add("Sentinel-7q@Z#x", "db.example.com/connect?x=%zz")
	f.Fuzz(func(t *testing.T, pw, rest string) {
		raw := "postgres://connect:" + pw + "@" + rest
		// Only distinctive passwords that occur nowhere else in the URL can
		// be looked for in the output.
		// JSON escapes some characters; look for the escaped form too.
		b, _ := json.Marshal(pw)
		forms := []string{pw, dsn.EncodePassword(pw), strings.Trim(string(b), `"`)}
		if len(pw) < 6 || strings.ContainsAny(pw, "\r\n") {
			return
		}
		// The rest of the URL is printed, escaped for JSON or with control
		// characters made visible; skip passwords that occur in it.
		other := "postgres://connect:@" + rest
		ob, _ := json.Marshal(other)
		background := other + string(ob) + sanitize(other)
		for _, form := range forms {
			if strings.Contains(background, form) {
				return
			}
		}
		for _, output := range []string{"text", "json"} {
			r := runOpts(t, EncodeURLOptions{Check: "-", CheckSet: true}, raw+"\n", withOutput(output))
			all := r.out + r.errOut + fmt.Sprint(r.err)
			for _, form := range forms {
				if strings.Contains(all, form) {
					t.Fatalf("%s output shows the password %q:\n%s", output, pw, all)
				}
			}
		}
	})
}
