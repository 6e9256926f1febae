package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/yaml"

	"github.com/quenchhq/quench/internal/config"
)

// The Kubernetes manifests, as `kubectl apply -k` renders them (kustomize
// itself, sigs.k8s.io/kustomize/api), are valid against the Kubernetes API
// schema and say what an operator relies on: one SQLite replica with its
// volume, three PostgreSQL replicas with a disruption budget, probes on
// /readyz and /healthz, non-root, read-only root file system, resource
// requests, secrets as files, and settings Quench accepts.
//
// The schema is Kubernetes' OpenAPI document that kustomize's kyaml module
// embeds (sigs.k8s.io/kustomize/kyaml/openapi), turned into JSON Schema as
// kubeconform does (unknown fields refused, int-or-string and quantities
// as either) and checked with santhosh-tekuri/jsonschema. The
// ServiceMonitor, a custom resource, is decoded strictly into the
// Prometheus operator's own API types and checked with their Validate.
func TestKubernetesManifests(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "deploy", "kubernetes")
	schemas := kubernetesSchemas(t)

	sqlite := render(t, filepath.Join(dir, "sqlite"))
	postgres := render(t, filepath.Join(dir, "postgres"))
	// The monitoring component on top of an overlay, as an operator adds it.
	overlay := t.TempDir()
	rel := func(p string) string {
		r, err := filepath.Rel(overlay, filepath.Join(dir, p)) // kustomize wants relative paths
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	write(t, filepath.Join(overlay, "kustomization.yaml"), []byte(fmt.Sprintf(
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - %s\ncomponents:\n  - %s\n",
		rel("postgres"), rel("monitoring"))))
	monitored := render(t, overlay)

	for name, objs := range map[string][]object{"sqlite": sqlite, "postgres": postgres, "postgres+monitoring": monitored} {
		for _, o := range objs {
			if o.kind() == "ServiceMonitor" {
				checkServiceMonitor(t, o)
				continue
			}
			if err := schemas.validate(o); err != nil {
				t.Errorf("%s: %s %s: %v", name, o.kind(), o.name(), err)
			}
		}
	}

	// SQLite: exactly one replica, its database on a claimed volume.
	sts := only(t, sqlite, "StatefulSet")
	if n := sts.num("spec", "replicas"); n != 1 {
		t.Errorf("sqlite: %v replicas: SQLite has one writer", n)
	}
	if claims, _ := sts.get("spec", "volumeClaimTemplates").([]any); len(claims) != 1 {
		t.Errorf("sqlite: volume claims %v", claims)
	}
	checkPod(t, "sqlite", sts, sqlite, map[string]string{"QUENCH_DATA_DIR": "/data"})
	checkSelects(t, "sqlite", only(t, sqlite, "Service", "quench"), sts)

	// PostgreSQL: three replicas, a budget that keeps two, the database
	// URL from a Secret file.
	dep := only(t, postgres, "Deployment")
	if n := dep.num("spec", "replicas"); n != 3 {
		t.Errorf("postgres: %v replicas, want 3", n)
	}
	pdb := only(t, postgres, "PodDisruptionBudget")
	if pdb.num("spec", "minAvailable") != 2 {
		t.Errorf("postgres: the disruption budget keeps %v", pdb.get("spec", "minAvailable"))
	}
	checkSelects(t, "postgres", pdb, dep)
	checkSelects(t, "postgres", only(t, postgres, "Service", "quench"), dep)
	checkPod(t, "postgres", dep, postgres, map[string]string{"QUENCH_DATABASE_URL_FILE": "postgres://quench:secret@db:5432/quench"})

	// The ServiceMonitor scrapes the Service's port with a read token.
	sm := only(t, monitored, "ServiceMonitor")
	checkSelects(t, "monitoring", sm, only(t, monitored, "Service", "quench"))

	// The check can fail: a misspelt field and a wrong type are refused.
	bad := dep.clone()
	bad.m["spec"].(map[string]any)["replica"] = 3
	if err := schemas.validate(bad); err == nil || !strings.Contains(err.Error(), "replica") {
		t.Errorf("a misspelt field passed the schema: %v", err)
	}
	bad = dep.clone()
	bad.m["spec"].(map[string]any)["replicas"] = "three"
	if err := schemas.validate(bad); err == nil {
		t.Error("replicas: \"three\" passed the schema")
	}
}

// object is one rendered manifest.
type object struct{ m map[string]any }

func (o object) kind() string { s, _ := o.m["kind"].(string); return s }
func (o object) name() string { s, _ := o.get("metadata", "name").(string); return s }

func (o object) get(path ...string) any {
	var v any = o.m
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// num reads a number, whatever type the decoder gave it.
func (o object) num(path ...string) float64 {
	var f float64
	fmt.Sscan(fmt.Sprint(o.get(path...)), &f)
	return f
}

func (o object) clone() object {
	b, _ := json.Marshal(o.m)
	var m map[string]any
	json.Unmarshal(b, &m)
	return object{m}
}

// render runs kustomize on dir as kubectl apply -k does.
func render(t *testing.T, dir string) []object {
	t.Helper()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out []object
	for _, r := range res.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(y)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, object{m})
	}
	if len(out) == 0 {
		t.Fatalf("kustomize build %s rendered nothing", dir)
	}
	return out
}

// only returns the one object of kind (and name, if given).
func only(t *testing.T, objs []object, kind string, name ...string) object {
	t.Helper()
	var found []object
	for _, o := range objs {
		if o.kind() == kind && (len(name) == 0 || o.name() == name[0]) {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s %v rendered, want 1", len(found), kind, name)
	}
	return found[0]
}

// checkSelects makes sure sel's selector (a Service's, a budget's, a
// ServiceMonitor's) matches the labels of target (a workload's pods, a
// Service).
func checkSelects(t *testing.T, what string, sel, target object) {
	t.Helper()
	want, _ := sel.get("spec", "selector").(map[string]any)
	if ml, ok := want["matchLabels"].(map[string]any); ok {
		want = ml
	}
	labels, _ := target.get("spec", "template", "metadata", "labels").(map[string]any)
	if target.kind() == "Service" {
		labels, _ = target.get("metadata", "labels").(map[string]any)
	}
	if len(want) == 0 {
		t.Errorf("%s: %s %s selects everything", what, sel.kind(), sel.name())
	}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("%s: %s %s selects %s=%v, which %s %s lacks", what, sel.kind(), sel.name(), k, v, target.kind(), target.name())
		}
	}
}

// checkPod checks the workload's pod: hardening, probes, requests, and the
// settings it gives Quench, which Quench's configuration must accept. want
// lists settings the pod must have; for a _FILE setting the value is what
// its secret file holds here.
func checkPod(t *testing.T, what string, w object, all []object, want map[string]string) {
	t.Helper()
	pod, _ := w.get("spec", "template", "spec").(map[string]any)
	if sc, _ := pod["securityContext"].(map[string]any); sc["runAsNonRoot"] != true {
		t.Errorf("%s: pod securityContext %v: want runAsNonRoot", what, sc)
	}
	containers, _ := pod["containers"].([]any)
	if len(containers) != 1 {
		t.Fatalf("%s: %d containers", what, len(containers))
	}
	c := object{containers[0].(map[string]any)}
	if c.get("securityContext", "readOnlyRootFilesystem") != true || c.get("securityContext", "allowPrivilegeEscalation") != false {
		t.Errorf("%s: container securityContext %v", what, c.get("securityContext"))
	}
	if drop, _ := c.get("securityContext", "capabilities", "drop").([]any); !slices.Contains(drop, any("ALL")) {
		t.Errorf("%s: capabilities not dropped: %v", what, drop)
	}
	if c.get("readinessProbe", "httpGet", "path") != "/readyz" || c.get("livenessProbe", "httpGet", "path") != "/healthz" {
		t.Errorf("%s: readiness %v, liveness %v: want /readyz and /healthz", what, c.get("readinessProbe"), c.get("livenessProbe"))
	}
	if c.get("resources", "requests", "cpu") == nil || c.get("resources", "requests", "memory") == nil {
		t.Errorf("%s: no resource requests", what)
	}
	mounts := map[string]string{}
	for _, m := range c.get("volumeMounts").([]any) {
		mm := m.(map[string]any)
		mounts[mm["mountPath"].(string)] = mm["name"].(string)
	}
	if mounts["/tmp"] == "" {
		t.Errorf("%s: no writable /tmp beside the read-only root", what)
	}

	// The environment Quench gets: the ConfigMap, then the env entries.
	env := map[string]string{}
	for _, from := range c.get("envFrom").([]any) {
		ref := object{from.(map[string]any)}.get("configMapRef", "name")
		data, _ := only(t, all, "ConfigMap", fmt.Sprint(ref)).get("data").(map[string]any)
		if data == nil {
			t.Errorf("%s: envFrom %v names no rendered ConfigMap", what, ref)
		}
		for k, v := range data {
			env[k] = fmt.Sprint(v)
		}
	}
	files := t.TempDir()
	for _, e := range c.get("env").([]any) {
		ee := e.(map[string]any)
		name, _ := ee["name"].(string)
		value, _ := ee["value"].(string)
		if strings.HasSuffix(name, "_FILE") {
			// A secret file: it must sit in a mounted Secret volume.
			dir := filepath.Dir(value)
			if vol := mounts[dir]; vol == "" || !slices.ContainsFunc(pod["volumes"].([]any), func(v any) bool {
				vm := v.(map[string]any)
				return vm["name"] == vol && vm["secret"] != nil
			}) {
				t.Errorf("%s: %s=%s is not in a mounted Secret", what, name, value)
			}
			secret := filepath.Join(files, filepath.Base(value))
			if err := os.WriteFile(secret, []byte(want[name]+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			value = secret
		}
		env[name] = value
	}
	for k, v := range want {
		if !strings.HasSuffix(k, "_FILE") && env[k] != v {
			t.Errorf("%s: %s=%q, want %q", what, k, env[k], v)
		}
		if _, ok := env[k]; !ok {
			t.Errorf("%s: %s is not set", what, k)
		}
	}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Errorf("%s: Quench refuses the manifests' settings: %v", what, err)
	}
}

// checkServiceMonitor decodes the ServiceMonitor strictly (an unknown or
// misplaced field is an error) into the Prometheus operator's types and
// runs the operator's own checks of each endpoint.
func checkServiceMonitor(t *testing.T, o object) {
	t.Helper()
	b, _ := json.Marshal(o.m)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var sm monitoringv1.ServiceMonitor
	if err := dec.Decode(&sm); err != nil {
		t.Errorf("ServiceMonitor: %v", err)
		return
	}
	if sm.APIVersion != "monitoring.coreos.com/v1" || len(sm.Spec.Selector.MatchLabels) == 0 || len(sm.Spec.Endpoints) == 0 {
		t.Errorf("ServiceMonitor: %+v", sm)
	}
	for _, ep := range sm.Spec.Endpoints {
		if err := ep.Validate(); err != nil {
			t.Errorf("ServiceMonitor endpoint %s: %v", ep.Port, err)
		}
		if ep.Path != "/metrics" || ep.Port != "http" {
			t.Errorf("ServiceMonitor scrapes port %q path %q", ep.Port, ep.Path)
		}
		// /metrics needs a token with the read scope.
		if a := ep.Authorization; a == nil || a.Credentials == nil || a.Credentials.Name == "" || a.Credentials.Key == "" {
			t.Errorf("ServiceMonitor endpoint %s sends no token: %+v", ep.Port, a)
		}
	}
}

// k8sSchemas validates built-in objects against Kubernetes' schema.
type k8sSchemas struct {
	byKind map[string]*jsonschema.Schema // "apps/v1 Deployment"
}

var loadSchemas = sync.OnceValues(func() (*k8sSchemas, error) {
	defs := map[string]any{}
	names := map[string]string{}
	for name, def := range openapi.Schema().Definitions {
		b, err := json.Marshal(def)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		gvks, _ := m["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			g := g.(map[string]any)
			apiVersion := fmt.Sprint(g["version"])
			if group := fmt.Sprint(g["group"]); group != "" {
				apiVersion = group + "/" + apiVersion
			}
			names[apiVersion+" "+fmt.Sprint(g["kind"])] = name
		}
		defs[name] = strict(m)
	}
	// Quantities are written as strings or numbers (cpu: 1, memory: 128Mi).
	defs["io.k8s.apimachinery.pkg.api.resource.Quantity"] = map[string]any{"oneOf": []any{
		map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	if err := c.AddResource("kubernetes.json", map[string]any{"definitions": defs}); err != nil {
		return nil, err
	}
	s := &k8sSchemas{byKind: map[string]*jsonschema.Schema{}}
	for kind, name := range names {
		sch, err := c.Compile("kubernetes.json#/definitions/" + name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s.byKind[kind] = sch
	}
	return s, nil
})

func kubernetesSchemas(t *testing.T) *k8sSchemas {
	t.Helper()
	s, err := loadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	if s.byKind["apps/v1 Deployment"] == nil || s.byKind["policy/v1 PodDisruptionBudget"] == nil {
		t.Fatal("the embedded Kubernetes schema lacks apps/v1 or policy/v1")
	}
	return s
}

func (s *k8sSchemas) validate(o object) error {
	kind := fmt.Sprint(o.m["apiVersion"], " ", o.kind())
	sch := s.byKind[kind]
	if sch == nil {
		return fmt.Errorf("no schema for %s", kind)
	}
	// Round-trip through JSON: the validator wants JSON's types.
	b, _ := json.Marshal(o.m)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return sch.Validate(v)
}

// strict makes an OpenAPI v2 schema refuse what Kubernetes would drop or
// refuse: fields an object does not declare (a typo is otherwise silently
// ignored), and it lets int-or-string fields be either.
func strict(schema any) any {
	m, ok := schema.(map[string]any)
	if !ok {
		return schema // true, false
	}
	if m["format"] == "int-or-string" {
		return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for name, p := range props {
			props[name] = strict(p)
		}
		if _, ok := m["additionalProperties"]; !ok && m["x-kubernetes-preserve-unknown-fields"] != true {
			m["additionalProperties"] = false
		}
	}
	for _, k := range []string{"items", "additionalProperties", "not"} {
		if sub, ok := m[k]; ok {
			m[k] = strict(sub)
		}
	}
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := m[k].([]any); ok {
			for i, sub := range list {
				list[i] = strict(sub)
			}
		}
	}
	return m
}
