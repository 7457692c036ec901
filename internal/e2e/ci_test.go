package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// recipeBlocks returns the YAML code blocks of docs/ci.md by their first
// line (a comment naming the file, such as "# .gitlab-ci.yml").
func recipeBlocks(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "ci.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]string{}
	for _, m := range regexp.MustCompile("(?s)```yaml\n(# [^\n]+)\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		blocks[strings.TrimPrefix(m[1], "# ")] = m[2]
	}
	return blocks
}

type ghWorkflow struct {
	Jobs map[string]struct {
		Env   map[string]string `yaml:"env"`
		Steps []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			If   string            `yaml:"if"`
			Env  map[string]string `yaml:"env"`
			Run  string            `yaml:"run"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

type glJob struct {
	BeforeScript []string          `yaml:"before_script"`
	Script       []string          `yaml:"script"`
	Variables    map[string]string `yaml:"variables"`
	Artifacts    struct {
		When    string            `yaml:"when"`
		Reports map[string]string `yaml:"reports"`
	} `yaml:"artifacts"`
}

// secretRef is a GitHub expression that reads a secret.
var secretRef = regexp.MustCompile(`\$\{\{\s*secrets\.([A-Z_]+)\s*\}\}`)

// shell runs script as CI runners do (bash, errexit and pipefail) in dir,
// with connectdb on PATH and env; it returns the exit code and the output.
func shell(t *testing.T, dir, script string, env []string) (int, string) {
	t.Helper()
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + filepath.Dir(bin) + ":" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatalf("running %q: %v", script, err)
	}
	return 0, string(out)
}

// validJUnit parses and validates a JUnit file and returns its failures.
func validJUnit(t *testing.T, path string) (tests, failures int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the recipe wrote no JUnit report: %v", err)
	}
	defer f.Close()
	root, err := parseXML(f)
	if err != nil {
		t.Fatalf("%s is not XML: %v", path, err)
	}
	if errs := validateJUnit(root); len(errs) > 0 {
		t.Fatalf("%s does not match the JUnit schema:\n%s", path, strings.Join(errs, "\n"))
	}
	for _, s := range root.children {
		for _, c := range s.children {
			if c.name != "testcase" {
				continue
			}
			tests++
			for _, k := range c.children {
				if k.name == "failure" {
					failures++
				}
			}
		}
	}
	return tests, failures
}

// TestCIRecipes runs the connectdb commands of docs/ci.md, exactly as
// written, against a real server: once with a config that passes and once
// with one that fails a check. The install steps download a release and are
// not run; the binary under test is on PATH instead.
func TestCIRecipes(t *testing.T) {
	blocks := recipeBlocks(t)
	var gh ghWorkflow
	if err := yaml.Unmarshal([]byte(blocks[".github/workflows/connectdb.yml"]), &gh); err != nil || len(gh.Jobs) != 1 {
		t.Fatalf("docs/ci.md: no GitHub workflow block (%v)", err)
	}
	var gl map[string]glJob
	if err := yaml.Unmarshal([]byte(blocks[".gitlab-ci.yml"]), &gl); err != nil || len(gl) != 1 {
		t.Fatalf("docs/ci.md: no GitLab CI block (%v)", err)
	}

	role := srv.NewRole(t, "ci-s3cret")
	db := srv.NewDatabase(t, role)
	url := srv.URL(role, "", db, "sslmode=disable")
	configs := map[string]string{
		"passing": "[Database]\nProvider = postgres\n\n[Postgres]\nURL = \"" + url + "\"\n",
		// 500 connections for one node do not fit max_connections 100.
		"failing": "[Database]\nProvider = postgres\nMaxOpenConnections = 500\n\n[Postgres]\nURL = \"" + url + "\"\n",
	}
	secrets := map[string]string{"CONNECTDB_POSTGRES_PASSWORD": "ci-s3cret"}

	for name, cfg := range configs {
		wantFail := name == "failing"
		t.Run("github/"+name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "rstudio-connect.gcfg", cfg)
			ran := false
			for _, job := range gh.Jobs {
				for _, step := range job.Steps {
					if step.Run == "" || step.Name == "Install connectdb" {
						continue
					}
					var env []string
					for k, v := range job.Env {
						env = append(env, k+"="+v)
					}
					for k, v := range step.Env {
						v = secretRef.ReplaceAllStringFunc(v, func(s string) string { return secrets[secretRef.FindStringSubmatch(s)[1]] })
						env = append(env, k+"="+v)
					}
					code, out := shell(t, dir, step.Run, env)
					ran = true
					if strings.Contains(out, "ci-s3cret") {
						t.Fatalf("the password appears in the step's output:\n%s", out)
					}
					if !strings.Contains(out, "connectdb check: ") {
						t.Errorf("no summary line in the step's output:\n%s", out)
					}
					if wantFail {
						if code != 1 || !strings.Contains(out, "::error title=pool.max-connections (primary)::") {
							t.Errorf("step %q: exit %d, want 1 with an ::error annotation for pool.max-connections:\n%s", step.Name, code, out)
						}
					} else if code != 0 || strings.Contains(out, "::error") {
						t.Errorf("step %q: exit %d, want 0 without errors:\n%s", step.Name, code, out)
					}
				}
				for _, step := range job.Steps {
					if strings.HasPrefix(step.Uses, "actions/upload-artifact@") {
						if step.If != "always()" {
							t.Errorf("the upload step runs only on success (if: %q); the report is needed most on failure", step.If)
						}
						tests, failures := validJUnit(t, filepath.Join(dir, step.With["path"]))
						if tests == 0 || (failures > 0) != wantFail {
							t.Errorf("uploaded report: %d tests, %d failures", tests, failures)
						}
					}
				}
			}
			if !ran {
				t.Fatal("the GitHub workflow has no connectdb step")
			}
		})

		t.Run("gitlab/"+name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "rstudio-connect.gcfg", cfg)
			for _, job := range gl {
				var env []string
				for k, v := range job.Variables {
					env = append(env, k+"="+v)
				}
				for k, v := range secrets { // a masked CI/CD variable
					env = append(env, k+"="+v)
				}
				code, out := shell(t, dir, strings.Join(job.Script, "\n"), env)
				if strings.Contains(out, "ci-s3cret") {
					t.Fatalf("the password appears in the job's output:\n%s", out)
				}
				if want := map[bool]int{false: 0, true: 1}[wantFail]; code != want {
					t.Errorf("script: exit %d, want %d:\n%s", code, want, out)
				}
				if job.Artifacts.When != "always" {
					t.Errorf("artifacts are kept only on success (when: %q)", job.Artifacts.When)
				}
				report := job.Artifacts.Reports["junit"]
				tests, failures := validJUnit(t, filepath.Join(dir, report))
				if tests == 0 || (failures > 0) != wantFail {
					t.Errorf("report %s: %d tests, %d failures", report, tests, failures)
				}
			}
		})
	}
}
