package dsn

import "strings"

// WithoutPassword returns raw with the password removed from the userinfo
// and any password= query parameter dropped; everything else is kept as
// written. A URL that does not parse is returned redacted.
func WithoutPassword(raw string) string {
	l, _, err := analyze(raw)
	if err != nil {
		return Redact(raw)
	}
	var b strings.Builder
	b.WriteString(raw[:l.hostStart])
	if l.userStart >= 0 && l.passStart >= 0 {
		b.Reset()
		b.WriteString(raw[:l.passStart-1]) // up to the ':' before the password
		b.WriteString(raw[l.passEnd:l.hostStart])
	}
	end := len(raw)
	if l.queryStart >= 0 {
		end = l.queryStart
	}
	b.WriteString(raw[l.hostStart:end])
	if l.queryStart >= 0 {
		var kept []string
		for _, seg := range strings.Split(raw[l.queryStart:l.queryEnd], "&") {
			k, _, _ := strings.Cut(seg, "=")
			if seg == "" || strings.EqualFold(decode(k), "password") {
				continue
			}
			kept = append(kept, seg)
		}
		if len(kept) == 0 {
			s := strings.TrimSuffix(b.String(), "?")
			b.Reset()
			b.WriteString(s)
		} else {
			b.WriteString(strings.Join(kept, "&"))
		}
		b.WriteString(raw[l.queryEnd:])
	}
	return b.String()
}
