package iostreams

import "testing"

func TestApplyColorEnv(t *testing.T) {
	tests := []struct {
		name string
		tty  bool
		env  map[string]string
		want bool
	}{
		{"terminal", true, nil, true},
		{"pipe", false, nil, false},
		{"NO_COLOR set", true, map[string]string{"NO_COLOR": "1"}, false},
		{"NO_COLOR empty means unset", true, map[string]string{"NO_COLOR": ""}, true},
		{"dumb terminal", true, map[string]string{"TERM": "dumb"}, false},
		{"CLICOLOR_FORCE in CI", false, map[string]string{"CLICOLOR_FORCE": "1"}, true},
		{"FORCE_COLOR in CI", false, map[string]string{"FORCE_COLOR": "true"}, true},
		{"FORCE_COLOR=0", false, map[string]string{"FORCE_COLOR": "0"}, false},
		{"NO_COLOR beats force", false, map[string]string{"NO_COLOR": "x", "FORCE_COLOR": "1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _, _ := Test()
			s.SetTTY(false, tt.tty, false)
			s.ApplyColorEnv(func(k string) string { return tt.env[k] })
			if s.ColorEnabled() != tt.want {
				t.Errorf("colour = %v, want %v", s.ColorEnabled(), tt.want)
			}
		})
	}
}
