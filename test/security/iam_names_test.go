package security

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestIAMNamesUniqueWithoutCase: IAM user and role names are unique
// without regard to case ("you cannot create resources named both
// MyResource and myresource"). Policies written for AWS rely on it, for
// instance a condition StringEqualsIgnoreCase aws:username "boss", or a
// human reading "BOSS" in the audit trail. Before the fix a helpdesk user
// allowed iam:CreateUser could create "BOSS" next to the administrator
// "boss", and another role "r" next to "R". Concurrent creations of case
// variants must also leave exactly one.
func TestIAMNamesUniqueWithoutCase(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	identCreateUser(t, s, Admin, "boss", "/admins/")
	s.MustQuery(t, Admin, "iam", "Action", "CreateRole", "RoleName", "Deployer", "AssumeRolePolicyDocument", identTrustAccount)
	for _, kv := range [][]string{
		{"Action", "CreateUser", "UserName", "BOSS"},
		{"Action", "CreateUser", "UserName", "Boss", "Path", "/admins/"},
		{"Action", "CreateRole", "RoleName", "deployer", "AssumeRolePolicyDocument", identTrustAccount},
		{"Action", "CreateRole", "RoleName", "DEPLOYER", "Path", "/x/", "AssumeRolePolicyDocument", identTrustAccount},
	} {
		t.Run("fail/"+kv[1]+" "+kv[3], func(t *testing.T) {
			status, body := s.Query(t, Admin, "iam", kv...)
			e := identParseError(t, body)
			if status != http.StatusConflict || e.Code != "EntityAlreadyExists" {
				t.Fatalf("got %d %s %q, want 409 EntityAlreadyExists", status, e.Code, e.Message)
			}
		})
	}
	body := string(s.MustQuery(t, Admin, "iam", "Action", "ListUsers"))
	if strings.Count(strings.ToLower(body), "<username>boss</username>") != 1 {
		t.Fatalf("ListUsers: %s", body)
	}

	// Racing case variants of one new name: one wins.
	variants := []string{"carol", "Carol", "CAROL", "cArol", "caRol", "carOl", "caroL", "CArol"}
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for _, v := range variants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, _ := s.Query(t, Admin, "iam", "Action", "CreateUser", "UserName", v); status == http.StatusOK {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d of %d case variants of one name were created", ok, len(variants))
	}

	// Once deleted, the name is free again in any case.
	identDeleteUser(t, s, "boss")
	identCreateUser(t, s, Admin, "BOSS", "")
}
