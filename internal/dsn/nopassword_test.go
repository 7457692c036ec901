package dsn

import "testing"

func TestWithoutPassword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:p%40ss@h:5432/db?sslmode=require", "postgres://u@h:5432/db?sslmode=require"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://u:@h/db", "postgres://u@h/db"},
		{"postgres://u@h/db?password=secret", "postgres://u@h/db"},
		{"postgres://u@h/db?sslmode=disable&password=secret&application_name=x", "postgres://u@h/db?sslmode=disable&application_name=x"},
		{"postgres://u:pw@/db?host=/var/run/postgresql", "postgres://u@/db?host=/var/run/postgresql"},
		{"postgresql://h1:5432,h2:5433/db", "postgresql://h1:5432,h2:5433/db"},
	}
	for _, tt := range tests {
		if got := WithoutPassword(tt.in); got != tt.want {
			t.Errorf("WithoutPassword(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
