package check

import "testing"

func TestSuggest(t *testing.T) {
	for in, want := range map[string]string{"pg.conect": "pg.connect", "pg.tsl": "pg.tls", "url.parse": "url.parse", "nothing-like-it": ""} {
		if got := Suggest(in); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
