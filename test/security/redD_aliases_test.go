package security

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// TestListAliasesPagesWithPredefined: ListAliases merges the predefined
// alias/aws/* names of AWS managed keys with the account's own aliases,
// some of which sort among them. Every page size gives every alias exactly
// once, in order, whatever the Marker: no alias lost or repeated at a page
// boundary.
func TestListAliasesPagesWithPredefined(t *testing.T) {
	s := Start(t, Opts{})
	key := s.CreateKey(t, Admin, nil)
	for _, a := range []string{"alias/a", "alias/aws-x", "alias/awt", "alias/awsz", "alias/zz"} {
		if r := s.Call(t, Admin, "CreateAlias", map[string]any{"AliasName": a, "TargetKeyId": key}); r.Status != http.StatusOK {
			t.Fatalf("CreateAlias %s: %d %s %s", a, r.Status, r.ErrorType, r.Message)
		}
	}
	// Create one AWS managed key, so that its alias is stored too.
	if r := s.Call(t, Admin, "DescribeKey", map[string]any{"KeyId": "alias/aws/s3"}); r.Status != http.StatusOK {
		t.Fatalf("DescribeKey alias/aws/s3: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	list := func(limit int) []string {
		var names []string
		marker := ""
		for page := 0; page < 200; page++ {
			in := map[string]any{"Limit": limit}
			if marker != "" {
				in["Marker"] = marker
			}
			r := s.Call(t, Admin, "ListAliases", in)
			if r.Status != http.StatusOK {
				t.Fatalf("ListAliases: %d %s %s", r.Status, r.ErrorType, r.Message)
			}
			var out struct {
				Aliases    []struct{ AliasName string }
				Truncated  bool
				NextMarker string
			}
			json.Unmarshal(r.Body, &out)
			if len(out.Aliases) > limit {
				t.Fatalf("Limit %d: a page of %d", limit, len(out.Aliases))
			}
			for _, a := range out.Aliases {
				names = append(names, a.AliasName)
			}
			if !out.Truncated {
				return names
			}
			marker = out.NextMarker
		}
		t.Fatalf("Limit %d: no last page", limit)
		return nil
	}
	all := list(100)
	if !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != len(all) {
		t.Fatalf("the whole list is not sorted and unique: %v", all)
	}
	for _, want := range []string{"alias/a", "alias/aws-x", "alias/awt", "alias/awsz", "alias/zz", "alias/aws/s3", "alias/aws/ebs"} {
		if !slices.Contains(all, want) {
			t.Fatalf("%s is not listed: %v", want, all)
		}
	}
	for _, limit := range []int{1, 2, 3, 5, 7} {
		if got := list(limit); !slices.Equal(got, all) {
			t.Errorf("Limit %d pages give %v, want %v", limit, got, all)
		}
	}
}
