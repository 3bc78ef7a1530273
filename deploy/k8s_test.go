package deploy

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// Minimal shapes of the Kubernetes objects the tests look at; unknown fields are ignored.
type (
	objectMeta struct {
		Name        string
		Namespace   string
		Labels      map[string]string
		Annotations map[string]string
	}
	k8sObject struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string
		Metadata   objectMeta
		file       string
		node       *yaml.Node
	}
	deployment struct {
		Spec struct {
			Replicas *int
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			}
			Template struct {
				Metadata objectMeta
				Spec     podSpec
			}
		}
	}
	podSpec struct {
		ServiceAccountName            string `yaml:"serviceAccountName"`
		TerminationGracePeriodSeconds *int   `yaml:"terminationGracePeriodSeconds"`
		SecurityContext               struct {
			RunAsNonRoot *bool `yaml:"runAsNonRoot"`
			RunAsUser    *int  `yaml:"runAsUser"`
		} `yaml:"securityContext"`
		Containers []container
		Volumes    []struct {
			Name   string
			Secret *struct {
				SecretName string `yaml:"secretName"`
				Items      []struct{ Key, Path string }
			}
		}
	}
	container struct {
		Name    string
		Image   string
		Command []string
		Args    []string
		Ports   []struct {
			Name          string
			ContainerPort int `yaml:"containerPort"`
		}
		Env []struct {
			Name      string
			Value     string
			ValueFrom *struct {
				SecretKeyRef    *struct{ Name, Key string } `yaml:"secretKeyRef"`
				ConfigMapKeyRef *struct{ Name, Key string } `yaml:"configMapKeyRef"`
			} `yaml:"valueFrom"`
		}
		EnvFrom []struct {
			ConfigMapRef *struct{ Name string } `yaml:"configMapRef"`
			SecretRef    *struct{ Name string } `yaml:"secretRef"`
		} `yaml:"envFrom"`
		Resources struct {
			Requests, Limits map[string]string
		}
		ReadinessProbe  *probe `yaml:"readinessProbe"`
		LivenessProbe   *probe `yaml:"livenessProbe"`
		SecurityContext struct {
			RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
			ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			Capabilities             struct {
				Drop []string
			}
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	}
	probe struct {
		HTTPGet *struct {
			Path string
			Port any
		} `yaml:"httpGet"`
		TCPSocket *struct{ Port any } `yaml:"tcpSocket"`
	}
)

// loadManifests reads every YAML document of every file in deploy/k8s except the
// kustomization, keyed by kind/name.
func loadManifests(t *testing.T) map[string]k8sObject {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in k8s/ (%v)", err)
	}
	objs := map[string]k8sObject{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(r)
		for {
			var n yaml.Node
			if err := dec.Decode(&n); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var o k8sObject
			if err := n.Decode(&o); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", f)
				continue
			}
			o.file, o.node = f, &n
			key := o.Kind + "/" + o.Metadata.Name
			if _, dup := objs[key]; dup {
				t.Errorf("%s: %s defined twice", f, key)
			}
			objs[key] = o
		}
		_ = r.Close()
	}
	return objs
}

func decodeAs[T any](t *testing.T, objs map[string]k8sObject, key string) T {
	t.Helper()
	var v T
	o, ok := objs[key]
	if !ok {
		t.Fatalf("no %s in k8s/", key)
	}
	if err := o.node.Decode(&v); err != nil {
		t.Fatalf("%s (%s): %v", key, o.file, err)
	}
	return v
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	b, err := os.ReadFile("k8s/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Resources []string
		Namespace string
		Images    []struct {
			Name    string
			NewName string `yaml:"newName"`
			NewTag  string `yaml:"newTag"`
		}
	}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("k8s/*.yaml")
	var want []string
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" {
			want = append(want, base)
		}
	}
	got := slices.Clone(raw.Resources)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources %v, want every manifest %v", got, want)
	}
	if raw.Namespace != "oppsync" {
		t.Errorf("kustomization namespace %q, want oppsync", raw.Namespace)
	}
	if len(raw.Images) != 1 || raw.Images[0].Name != "oppsync" || raw.Images[0].NewTag == "" || raw.Images[0].NewTag == "latest" {
		t.Errorf("kustomization images %+v: want the oppsync image pinned to a tag other than latest", raw.Images)
	}
}

func TestManifestsCommon(t *testing.T) {
	objs := loadManifests(t)
	for key, o := range objs {
		if o.Kind != "Namespace" && o.Metadata.Namespace != "oppsync" {
			t.Errorf("%s (%s): namespace %q, want oppsync", key, o.file, o.Metadata.Namespace)
		}
		if o.Metadata.Labels["app.kubernetes.io/part-of"] != "oppsync" {
			t.Errorf("%s: no app.kubernetes.io/part-of: oppsync label", key)
		}
		if o.Kind != "Deployment" {
			continue
		}
		d := decodeAs[deployment](t, objs, key)
		pod := d.Spec.Template.Spec
		for k, v := range d.Spec.Selector.MatchLabels {
			if d.Spec.Template.Metadata.Labels[k] != v {
				t.Errorf("%s: selector %s=%s does not match the pod labels", key, k, v)
			}
		}
		if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot ||
			pod.SecurityContext.RunAsUser == nil || *pod.SecurityContext.RunAsUser == 0 {
			t.Errorf("%s: pod securityContext must set runAsNonRoot: true and a non-zero runAsUser", key)
		}
		if _, ok := objs["ServiceAccount/"+pod.ServiceAccountName]; !ok {
			t.Errorf("%s: service account %q is not defined", key, pod.ServiceAccountName)
		}
		for _, c := range pod.Containers {
			where := key + " container " + c.Name
			if c.Image != "oppsync" {
				t.Errorf("%s: image %q, want oppsync (set in kustomization.yaml)", where, c.Image)
			}
			for _, r := range []string{"cpu", "memory"} {
				if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
					t.Errorf("%s: no %s request and limit", where, r)
				}
			}
			sc := c.SecurityContext
			if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				t.Errorf("%s: runAsNonRoot is not true", where)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: readOnlyRootFilesystem is not true", where)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation is not false", where)
			}
			if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
				t.Errorf("%s: capabilities drop %v, want [ALL]", where, sc.Capabilities.Drop)
			}
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				t.Errorf("%s: readiness and liveness probes are required", where)
			}
		}
	}
	for _, key := range []string{"ServiceAccount/oppsync-worker", "ServiceAccount/oppsync-codec-server"} {
		arn := objs[key].Metadata.Annotations["eks.amazonaws.com/role-arn"]
		if !regexp.MustCompile(`^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$`).MatchString(arn) {
			t.Errorf("%s: eks.amazonaws.com/role-arn %q is not an IAM role ARN (IRSA)", key, arn)
		}
	}
}

// containerPort resolves a probe's or service's port (a number or a port name).
func containerPort(t *testing.T, c container, port any) int {
	t.Helper()
	switch p := port.(type) {
	case int:
		return p
	case string:
		for _, cp := range c.Ports {
			if cp.Name == p {
				return cp.ContainerPort
			}
		}
	}
	t.Errorf("container %s has no port %v", c.Name, port)
	return 0
}

func TestWorkerDeployment(t *testing.T) {
	objs := loadManifests(t)
	d := decodeAs[deployment](t, objs, "Deployment/oppsync-worker")
	pod := d.Spec.Template.Spec
	if d.Spec.Replicas != nil {
		t.Errorf("worker Deployment sets replicas: the HorizontalPodAutoscaler owns the count")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	// Grace period longer than the worker's drain (--stop-timeout, 30s by default).
	stop := 30 * time.Second
	if i := slices.Index(c.Args, "--stop-timeout"); i >= 0 && i+1 < len(c.Args) {
		var err error
		if stop, err = time.ParseDuration(c.Args[i+1]); err != nil {
			t.Fatalf("--stop-timeout %q: %v", c.Args[i+1], err)
		}
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= stop {
		t.Errorf("terminationGracePeriodSeconds must be set and exceed the worker's --stop-timeout %s", stop)
	}

	for name, p := range map[string]*probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want httpGet", name)
			continue
		}
		if p.HTTPGet.Path != "/healthz" || containerPort(t, c, p.HTTPGet.Port) != 8080 {
			t.Errorf("%s probe: GET %v%s, want :8080/healthz", name, p.HTTPGet.Port, p.HTTPGet.Path)
		}
	}

	// Settings from the ConfigMap, the API key from a Secret.
	var configMaps []string
	for _, ef := range c.EnvFrom {
		if ef.SecretRef != nil {
			t.Errorf("envFrom a whole Secret %q: reference the one key instead", ef.SecretRef.Name)
		}
		if ef.ConfigMapRef != nil {
			configMaps = append(configMaps, ef.ConfigMapRef.Name)
		}
	}
	if !slices.Equal(configMaps, []string{"oppsync-worker-config"}) {
		t.Fatalf("envFrom ConfigMaps %v, want [oppsync-worker-config]", configMaps)
	}
	cm := decodeAs[struct{ Data map[string]string }](t, objs, "ConfigMap/oppsync-worker-config")
	for _, k := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "AWS_REGION", "OPPSYNC_PAYLOAD_KMS_KEY"} {
		if cm.Data[k] == "" {
			t.Errorf("ConfigMap oppsync-worker-config has no %s", k)
		}
	}
	if !regexp.MustCompile(`^[a-z0-9.-]+:\d+$`).MatchString(cm.Data["TEMPORAL_ADDRESS"]) {
		t.Errorf("TEMPORAL_ADDRESS %q: want host:port", cm.Data["TEMPORAL_ADDRESS"])
	}
	for k := range cm.Data {
		if strings.Contains(k, "API_KEY") || strings.Contains(k, "TOKEN") || strings.Contains(k, "SECRET") {
			t.Errorf("ConfigMap holds %s: credentials belong in a Secret", k)
		}
	}
	apiKey := false
	for _, e := range c.Env {
		if e.Name == "TEMPORAL_API_KEY" {
			apiKey = e.Value == "" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name != ""
		}
	}
	if !apiKey {
		t.Error("TEMPORAL_API_KEY must come from a Secret (valueFrom.secretKeyRef)")
	}
	if pod.ServiceAccountName != "oppsync-worker" {
		t.Errorf("serviceAccountName %q, want oppsync-worker (IRSA)", pod.ServiceAccountName)
	}
}

func TestWorkerAutoscalingAndDisruption(t *testing.T) {
	objs := loadManifests(t)
	workerLabels := decodeAs[deployment](t, objs, "Deployment/oppsync-worker").Spec.Template.Metadata.Labels

	type hpaObject struct {
		Spec struct {
			ScaleTargetRef struct {
				APIVersion string `yaml:"apiVersion"`
				Kind, Name string
			} `yaml:"scaleTargetRef"`
			MinReplicas int `yaml:"minReplicas"`
			MaxReplicas int `yaml:"maxReplicas"`
			Metrics     []struct {
				Type     string
				Resource struct {
					Name   string
					Target struct {
						Type               string
						AverageUtilization int `yaml:"averageUtilization"`
					}
				}
			}
		}
	}
	if o := objs["HorizontalPodAutoscaler/oppsync-worker"]; o.APIVersion != "autoscaling/v2" {
		t.Errorf("HorizontalPodAutoscaler apiVersion %q, want autoscaling/v2", o.APIVersion)
	}
	hpa := decodeAs[hpaObject](t, objs, "HorizontalPodAutoscaler/oppsync-worker")
	ref := hpa.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != "oppsync-worker" {
		t.Errorf("HPA targets %+v, want the apps/v1 Deployment oppsync-worker", ref)
	}
	if hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < hpa.Spec.MinReplicas {
		t.Errorf("HPA replicas %d-%d: want at least 2 and max ≥ min", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}
	cpu := false
	for _, m := range hpa.Spec.Metrics {
		cpu = cpu || (m.Type == "Resource" && m.Resource.Name == "cpu" && m.Resource.Target.Type == "Utilization" &&
			m.Resource.Target.AverageUtilization > 0 && m.Resource.Target.AverageUtilization <= 100)
	}
	if !cpu {
		t.Errorf("HPA metrics %+v: want CPU utilization", hpa.Spec.Metrics)
	}

	type pdbObject struct {
		Spec struct {
			MinAvailable *int `yaml:"minAvailable"`
			Selector     struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			}
		}
	}
	if o := objs["PodDisruptionBudget/oppsync-worker"]; o.APIVersion != "policy/v1" {
		t.Errorf("PodDisruptionBudget apiVersion %q, want policy/v1", o.APIVersion)
	}
	pdb := decodeAs[pdbObject](t, objs, "PodDisruptionBudget/oppsync-worker")
	if len(pdb.Spec.Selector.MatchLabels) == 0 {
		t.Error("PDB has no selector")
	}
	for k, v := range pdb.Spec.Selector.MatchLabels {
		if workerLabels[k] != v {
			t.Errorf("PDB selector %s=%s does not match the worker pods", k, v)
		}
	}
	if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable >= hpa.Spec.MinReplicas {
		t.Errorf("PDB minAvailable %v must be below the HPA's minReplicas %d, or no node could ever be drained", pdb.Spec.MinAvailable, hpa.Spec.MinReplicas)
	}
}

func TestCodecServer(t *testing.T) {
	objs := loadManifests(t)
	d := decodeAs[deployment](t, objs, "Deployment/oppsync-codec-server")
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Command, []string{"/usr/local/bin/oppsync-codec-server"}) {
		t.Errorf("command %v, want the codec server binary", c.Command)
	}
	if flagValue(c.Args, "--listen") != "0.0.0.0:8081" || flagValue(c.Args, "--ui-origin") == "" {
		t.Errorf("args %v: want --listen 0.0.0.0:8081 (reachable from the Service) and the UI's --ui-origin", c.Args)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8081 {
		t.Errorf("ports %+v, want 8081", c.Ports)
	}

	// The token is a file from a Secret volume, named by OPPSYNC_CODEC_TOKEN_FILE.
	tokenFile := ""
	for _, e := range c.Env {
		if e.Name == "OPPSYNC_CODEC_TOKEN_FILE" {
			tokenFile = e.Value
		}
		if strings.Contains(e.Name, "TOKEN") && e.Name != "OPPSYNC_CODEC_TOKEN_FILE" {
			t.Errorf("env %s: the token must come as a file", e.Name)
		}
	}
	if tokenFile == "" {
		t.Fatal("no OPPSYNC_CODEC_TOKEN_FILE")
	}
	if !secretFile(pod, c, tokenFile) {
		t.Errorf("OPPSYNC_CODEC_TOKEN_FILE %s is not a file of a mounted Secret", tokenFile)
	}
	// Replicas share the session key (else a session made on one is refused by the others),
	// and browsers reach them through TLS (a Secure cookie).
	if d.Spec.Replicas == nil || *d.Spec.Replicas > 1 {
		keyFile := ""
		for _, e := range c.Env {
			if e.Name == "OPPSYNC_CODEC_SESSION_KEY_FILE" {
				keyFile = e.Value
			}
		}
		if keyFile == "" || !secretFile(pod, c, keyFile) {
			t.Errorf("codec server replicas without a shared session key (OPPSYNC_CODEC_SESSION_KEY_FILE from a mounted Secret): each would refuse the others' sessions")
		}
	}
	if !slices.Contains(c.Args, "--secure-cookie") {
		t.Errorf("args %v: want --secure-cookie (the codec server is reached over TLS)", c.Args)
	}

	type serviceObject struct {
		Spec struct {
			Selector map[string]string
			Ports    []struct {
				Port       int
				TargetPort any `yaml:"targetPort"`
			}
		}
	}
	svc := decodeAs[serviceObject](t, objs, "Service/oppsync-codec-server")
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not match the codec server pods", k, v)
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8081 || containerPort(t, c, svc.Spec.Ports[0].TargetPort) != 8081 {
		t.Errorf("Service ports %+v, want 8081 → the container's 8081", svc.Spec.Ports)
	}
}

// secretFile reports whether path is a file of a Secret volume mounted in c.
func secretFile(pod podSpec, c container, path string) bool {
	for _, m := range c.VolumeMounts {
		rel, err := filepath.Rel(m.MountPath, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != m.Name || v.Secret == nil || v.Secret.SecretName == "" {
				continue
			}
			for _, it := range v.Secret.Items {
				if it.Path == rel {
					return true
				}
			}
		}
	}
	return false
}
