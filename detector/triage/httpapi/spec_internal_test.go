package httpapi

import (
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"fraudwatch/detector/triage"
	"fraudwatch/models"
)

// TestTheDescriptionHasExactlyTheServedEndpoints keeps openapi.yaml and
// the routes in step both ways, and checks what the description promises
// about roles and request bodies.
func TestTheDescriptionHasExactlyTheServedEndpoints(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %q, want 3.0.3", doc.OpenAPI)
	}
	served := map[string]route{}
	for _, rt := range (&Server{}).apiRoutes() {
		served[rt.method+" "+rt.path] = rt
	}
	described := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			described[method+" "+path] = op
		}
	}
	for key, rt := range served {
		op := described[key]
		if op == nil {
			t.Errorf("%s is served but not described", key)
			continue
		}
		if op.Responses.Status(401) == nil {
			t.Errorf("%s: 401 is not described", key)
		}
		if rt.need != triage.RoleViewer && op.Responses.Status(403) == nil {
			t.Errorf("%s needs %s: 403 is not described", key, rt.need)
		}
		if rt.method == "POST" {
			if op.RequestBody == nil {
				t.Errorf("%s: no request body described", key)
				continue
			}
			s := op.RequestBody.Value.Content.Get("application/json").Schema.Value
			if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
				t.Errorf("%s: the request body schema must say additionalProperties: false", key)
			}
			for _, code := range []int{400, 413, 415} {
				if op.Responses.Status(code) == nil {
					t.Errorf("%s: %d is not described", key, code)
				}
			}
		}
	}
	for key := range described {
		if _, ok := served[key]; !ok && key != "GET /api/openapi.yaml" {
			t.Errorf("%s is described but not served", key)
		}
	}
	enum := func(name string) []string {
		var out []string
		for _, v := range doc.Components.Schemas[name].Value.Enum {
			out = append(out, v.(string))
		}
		return out
	}
	for name, want := range map[string][]string{
		"Role":        {"viewer", "analyst", "admin"},
		"Status":      {"open", "acknowledged", "resolved"},
		"Severity":    {"none", "low", "medium", "high", "critical"},
		"Verdict":     {"fraud", "legit", "unsure"},
		"MatcherName": {"sender_hash", "campaign", "rule", "category", "employee"},
	} {
		if got := enum(name); !slices.Equal(got, want) {
			t.Errorf("enum %s = %v, want %v", name, got, want)
		}
	}
	var cats []string
	for _, c := range models.AllCategories() {
		cats = append(cats, string(c))
	}
	if got := enum("Category"); !slices.Equal(got, cats) {
		t.Errorf("enum Category = %v, want models.AllCategories() %v", got, cats)
	}
}
