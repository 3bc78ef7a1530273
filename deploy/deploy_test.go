package deploy

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// Docker cannot run where these tests run, so docker-compose.yml and the Dockerfile are
// checked by parsing: services, images, ports, the wiring between them and health checks.

type composeFile struct {
	Services map[string]composeService
	Secrets  map[string]struct{ File string }
	Volumes  map[string]any
}

type composeService struct {
	Image string
	Build *struct {
		Context, Dockerfile string
	}
	Entrypoint      []string
	Command         []string
	Environment     composeEnv
	Ports           []string
	DependsOn       composeDeps `yaml:"depends_on"`
	Healthcheck     *struct{ Test []string }
	Secrets         []string
	Volumes         []string
	StopGracePeriod string `yaml:"stop_grace_period"`
}

// composeEnv is a service's environment, written as a map or as a list of NAME=value.
type composeEnv map[string]string

func (e *composeEnv) UnmarshalYAML(n *yaml.Node) error {
	*e = composeEnv{}
	switch n.Kind {
	case yaml.MappingNode:
		var m map[string]string
		if err := n.Decode(&m); err != nil {
			return err
		}
		for k, v := range m {
			(*e)[k] = v
		}
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
	default:
		return fmt.Errorf("line %d: environment must be a map or a list", n.Line)
	}
	return nil
}

// composeDeps is depends_on, written as a list of services or a map to conditions.
type composeDeps map[string]string

func (d *composeDeps) UnmarshalYAML(n *yaml.Node) error {
	*d = composeDeps{}
	switch n.Kind {
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, s := range l {
			(*d)[s] = "service_started"
		}
	case yaml.MappingNode:
		var m map[string]struct{ Condition string }
		if err := n.Decode(&m); err != nil {
			return err
		}
		for s, c := range m {
			(*d)[s] = c.Condition
		}
	default:
		return fmt.Errorf("line %d: depends_on must be a list or a map", n.Line)
	}
	return nil
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

func service(t *testing.T, c composeFile, name string) composeService {
	t.Helper()
	s, ok := c.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no service %s", name)
	}
	return s
}

// publishedPort finds the host side of a published container port ("127.0.0.1:8081:8081").
func publishedPort(s composeService, container string) (hostIP, hostPort string, ok bool) {
	for _, p := range s.Ports {
		parts := strings.Split(p, ":")
		if len(parts) == 3 && parts[2] == container {
			return parts[0], parts[1], true
		}
	}
	return "", "", false
}

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	want := []string{"codec-server", "postgresql", "temporal", "temporal-ui", "worker"}
	var got []string
	for name := range c.Services {
		got = append(got, name)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("services %v, want %v", got, want)
	}
	for name, s := range c.Services {
		if (s.Image == "") == (s.Build == nil) {
			t.Errorf("service %s: want exactly one of image and build", name)
		}
		if s.Image != "" && (!strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest")) {
			t.Errorf("service %s: image %q is not pinned to a version", name, s.Image)
		}
		if s.Build != nil && (s.Build.Context != "." || s.Build.Dockerfile != "deploy/Dockerfile") {
			t.Errorf("service %s: build %+v, want context . and deploy/Dockerfile", name, *s.Build)
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %s on every interface: bind it to 127.0.0.1", name, p)
			}
		}
		for dep, cond := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("service %s depends on unknown service %s", name, dep)
			} else if cond == "service_healthy" && c.Services[dep].Healthcheck == nil {
				t.Errorf("service %s waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
	}
	if img := service(t, c, "temporal").Image; !strings.HasPrefix(img, "temporalio/auto-setup:") {
		t.Errorf("temporal image %q, want temporalio/auto-setup", img)
	}
	if img := service(t, c, "temporal-ui").Image; !strings.HasPrefix(img, "temporalio/ui:") {
		t.Errorf("temporal-ui image %q, want temporalio/ui", img)
	}
	if service(t, c, "postgresql").Healthcheck == nil || service(t, c, "temporal").Healthcheck == nil {
		t.Error("postgresql and temporal need health checks")
	}
}

func TestComposeWorker(t *testing.T) {
	c := loadCompose(t)
	w := service(t, c, "worker")
	host, port, err := net.SplitHostPort(w.Environment["TEMPORAL_ADDRESS"])
	if err != nil || port != "7233" {
		t.Fatalf("worker TEMPORAL_ADDRESS %q, want <temporal service>:7233", w.Environment["TEMPORAL_ADDRESS"])
	}
	if _, ok := c.Services[host]; !ok || !strings.HasPrefix(c.Services[host].Image, "temporalio/auto-setup:") {
		t.Errorf("worker TEMPORAL_ADDRESS host %q is not the temporal service", host)
	}
	if w.DependsOn[host] != "service_healthy" {
		t.Errorf("worker depends_on %v: want %s healthy", w.DependsOn, host)
	}
	for _, k := range []string{"TEMPORAL_NAMESPACE", "AWS_REGION", "OPPSYNC_PAYLOAD_KMS_KEY"} {
		if _, ok := w.Environment[k]; !ok {
			t.Errorf("worker has no %s", k)
		}
	}
	if w.Healthcheck == nil || !slices.ContainsFunc(w.Healthcheck.Test, func(s string) bool {
		u, err := url.Parse(s)
		return err == nil && u.Port() == "8080" && u.Path == "/healthz"
	}) {
		t.Errorf("worker healthcheck %+v: want a GET of :8080/healthz", w.Healthcheck)
	}
	if w.Healthcheck != nil && len(w.Healthcheck.Test) > 1 && w.Healthcheck.Test[0] == "CMD" && !dockerfileInstalls(t, w.Healthcheck.Test[1]) {
		t.Errorf("worker healthcheck runs %s, which the image does not have (distroless: no shell, curl or wget)", w.Healthcheck.Test[1])
	}
	grace, err := time.ParseDuration(w.StopGracePeriod)
	stop := 30 * time.Second
	if i := slices.Index(w.Command, "--stop-timeout"); i >= 0 && i+1 < len(w.Command) {
		stop, _ = time.ParseDuration(w.Command[i+1])
	}
	if err != nil || grace <= stop {
		t.Errorf("worker stop_grace_period %q must exceed its --stop-timeout %s", w.StopGracePeriod, stop)
	}
}

func TestComposeCodecServer(t *testing.T) {
	c := loadCompose(t)
	codec := service(t, c, "codec-server")
	if len(codec.Entrypoint) == 0 || codec.Entrypoint[0] != "/usr/local/bin/oppsync-codec-server" {
		t.Errorf("codec-server entrypoint %v, want /usr/local/bin/oppsync-codec-server", codec.Entrypoint)
	} else if !dockerfileInstalls(t, codec.Entrypoint[0]) {
		t.Errorf("the Dockerfile does not install %s", codec.Entrypoint[0])
	}
	ip, hostPort, ok := publishedPort(codec, "8081")
	if !ok || ip != "127.0.0.1" {
		t.Fatalf("codec-server ports %v: want 127.0.0.1:<port>:8081", codec.Ports)
	}
	// Inside the container it must listen on every address, or the published port reaches
	// nothing; and it must allow the UI's origin as the browser sees it.
	if flagValue(codec.Command, "--listen") != "0.0.0.0:8081" {
		t.Errorf("codec-server command %v: want --listen 0.0.0.0:8081", codec.Command)
	}
	uiIP, uiPort, _ := publishedPort(service(t, c, "temporal-ui"), "8080")
	if uiIP == "" || flagValue(codec.Command, "--ui-origin") != "http://localhost:"+uiPort {
		t.Errorf("codec-server command %v: want --ui-origin http://localhost:%s (the UI as the browser sees it)", codec.Command, uiPort)
	}

	// The token is a compose secret, mounted at /run/secrets/<name>.
	tokenFile := codec.Environment["OPPSYNC_CODEC_TOKEN_FILE"]
	name, ok := strings.CutPrefix(tokenFile, "/run/secrets/")
	if !ok || !slices.Contains(codec.Secrets, name) {
		t.Errorf("codec-server OPPSYNC_CODEC_TOKEN_FILE %q is not one of its secrets %v", tokenFile, codec.Secrets)
	}
	if c.Secrets[name].File == "" {
		t.Errorf("secret %q is not defined from a file", name)
	}
	for k := range codec.Environment {
		if strings.Contains(k, "TOKEN") && k != "OPPSYNC_CODEC_TOKEN_FILE" {
			t.Errorf("codec-server env %s: the token must come as a file", k)
		}
	}

	// The browser, not the UI container, calls the codec server: the endpoint is the address
	// published on the host.
	ui := service(t, c, "temporal-ui")
	want := "http://localhost:" + hostPort
	if got := ui.Environment["TEMPORAL_CODEC_ENDPOINT"]; got != want {
		t.Errorf("temporal-ui TEMPORAL_CODEC_ENDPOINT %q, want %q", got, want)
	}
	if _, ok := ui.DependsOn["codec-server"]; !ok {
		t.Error("temporal-ui does not depend on codec-server")
	}
	// The UI sends the codec server's session cookie (the login at /login).
	if ui.Environment["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] != "true" {
		t.Error("temporal-ui does not send credentials to the codec server: TEMPORAL_CODEC_INCLUDE_CREDENTIALS must be true")
	}
}

// flagValue returns the value following flag in args, or "".
func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

var dockerfileCopy = regexp.MustCompile(`(?m)^COPY --from=build ((?:/out/\S+ )+)/usr/local/bin/\s*$`)

// dockerfileInstalls reports whether deploy/Dockerfile builds bin and copies it to its path.
func dockerfileInstalls(t *testing.T, bin string) bool {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	name, ok := strings.CutPrefix(bin, "/usr/local/bin/")
	if !ok {
		return false
	}
	m := dockerfileCopy.FindStringSubmatch(string(b))
	return m != nil && strings.Contains(string(b), "-o /out/"+name+" ") && slices.Contains(strings.Fields(m[1]), "/out/"+name)
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for bin, pkg := range map[string]string{
		"oppsync-worker":       "./cmd/oppsync-worker",
		"starter":              "./cmd/starter",
		"oppsync-codec-server": "./cmd/oppsync-codec-server",
		"oppsync-healthcheck":  "./cmd/oppsync-healthcheck",
	} {
		if !strings.Contains(df, "-o /out/"+bin+" "+pkg) {
			t.Errorf("Dockerfile does not build %s into /out/%s", pkg, bin)
		}
		if !dockerfileInstalls(t, "/usr/local/bin/"+bin) {
			t.Errorf("Dockerfile does not copy %s to /usr/local/bin", bin)
		}
	}
	for _, s := range []string{"CGO_ENABLED=0", "FROM gcr.io/distroless/static-debian12:nonroot", "USER nonroot:nonroot",
		`ENTRYPOINT ["/usr/local/bin/oppsync-worker"`} {
		if !strings.Contains(df, s) {
			t.Errorf("Dockerfile lacks %q", s)
		}
	}
}
