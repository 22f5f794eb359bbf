package multiregion

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trentkms/trent/internal/testenv"
)

// awsCLI returns the AWS CLI and an environment that keeps it off any real
// endpoint and configuration.
func awsCLI(t *testing.T) (string, []string) {
	t.Helper()
	cli := os.Getenv("AWS_CLI")
	if cli == "" {
		if _, err := os.Stat("/usr/bin/aws"); err == nil {
			cli = "/usr/bin/aws"
		} else if p, err := exec.LookPath("aws"); err == nil {
			cli = p
		}
	}
	if cli == "" {
		testenv.Missing(t, testenv.AWSCLI, "no AWS CLI installed")
	}
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AWS_") {
			env = append(env, e)
		}
	}
	env = append(env, "AWS_ACCESS_KEY_ID="+adminAKID, "AWS_SECRET_ACCESS_KEY="+adminSecret,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true",
		"XDG_CONFIG_HOME="+t.TempDir())
	return cli, env
}

// cli runs `aws kms ARGS --endpoint-url` against d and decodes its JSON.
func cli(t *testing.T, d *deployment, out any, args ...string) {
	t.Helper()
	bin, env := awsCLI(t)
	cmd := exec.Command(bin, append([]string{"kms", "--endpoint-url", d.endpoint(), "--region", d.region, "--output", "json"}, args...)...)
	cmd.Env = env
	b, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("aws kms %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	if out != nil && len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("aws kms %s: %v\n%s", args[0], err, b)
		}
	}
}

type cliMetadata struct {
	KeyMetadata struct {
		KeyState                 string
		MultiRegionConfiguration struct {
			MultiRegionKeyType string
			PrimaryKey         struct{ Region string }
			ReplicaKeys        []struct{ Region string }
		}
	}
	ReplicaKeyMetadata struct {
		KeyState string
		Arn      string
	}
}

// importMaterial imports material into key id of d (RSAES_OAEP_SHA_256).
func importMaterial(t *testing.T, d *deployment, id string, material []byte) error {
	t.Helper()
	ctx := context.Background()
	p, err := d.client().GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(id),
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), material, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.client().ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: p.ImportToken,
		EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	return err
}

// serviceEvents returns the names of d's AwsServiceEvent records about key
// id, and whether its trail holds the API call name about it.
func trailOf(t *testing.T, d *deployment, id string) (events map[string]bool, calls map[string]bool) {
	t.Helper()
	events, calls = map[string]bool{}, map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(d.dir, "audit", "*.jsonl"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			if !bytes.Contains(sc.Bytes(), []byte(id)) {
				continue
			}
			var raw struct {
				Event map[string]any `json:"event"`
			}
			if json.Unmarshal(sc.Bytes(), &raw) != nil {
				continue
			}
			name, _ := raw.Event["eventName"].(string)
			switch raw.Event["eventType"] {
			case "AwsServiceEvent":
				events[name] = true
			case "AwsApiCall":
				calls[name] = true
			}
		}
		fh.Close()
	}
	return events, calls
}

// TestThreeRegions: three deployments; the AWS CLI replicates a key to
// two Regions and moves its primary; an imported multi-Region key takes
// the same material in each Region and refuses other material; both
// Regions record the operations; no material crossed in the clear.
func TestThreeRegions(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	clock := clockFile(t, base)
	us := newDeployment(t, base, "us-east-1", "", "", clock)
	eu := newDeployment(t, base, "eu-west-1", "", "", clock)
	ap := newDeployment(t, base, "ap-southeast-2", "", "", clock)
	proxies := link(t, us, eu, ap)

	ck, err := us.client().CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	for _, r := range []string{"eu-west-1", "ap-southeast-2"} {
		var out cliMetadata
		cli(t, us, &out, "replicate-key", "--key-id", id, "--replica-region", r, "--description", "cli replica")
		if out.ReplicaKeyMetadata.KeyState != "Creating" || !strings.Contains(out.ReplicaKeyMetadata.Arn, ":"+r+":") {
			t.Fatalf("aws kms replicate-key: %+v", out)
		}
	}
	replicated(t, eu, id, types.KeyStateEnabled)
	replicated(t, ap, id, types.KeyStateEnabled)
	waitFor(t, 20*time.Second, "ap-southeast-2 to know both replicas", func() bool {
		var out cliMetadata
		cli(t, ap, &out, "describe-key", "--key-id", id)
		c := out.KeyMetadata.MultiRegionConfiguration
		return c.MultiRegionKeyType == "REPLICA" && c.PrimaryKey.Region == "us-east-1" && len(c.ReplicaKeys) == 2
	})
	ct, err := ap.client().Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("from ap")})
	if err != nil {
		t.Fatal(err)
	}
	decrypts(t, eu, ct.CiphertextBlob, []byte("from ap"))

	// The CLI moves the primary to ap-southeast-2, which then rotates;
	// the two others follow.
	cli(t, us, nil, "update-primary-region", "--key-id", id, "--primary-region", "ap-southeast-2")
	waitFor(t, 20*time.Second, "ap-southeast-2 primary everywhere", func() bool {
		for _, d := range []*deployment{us, eu, ap} {
			m := describe(t, d, id)
			if *m.MultiRegionConfiguration.PrimaryKey.Region != "ap-southeast-2" || m.KeyState != types.KeyStateEnabled {
				return false
			}
		}
		return true
	})
	if _, err := ap.client().RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	cur := *describe(t, ap, id).CurrentKeyMaterialId
	for _, d := range []*deployment{us, eu} {
		waitFor(t, 20*time.Second, "the rotation in "+d.region, func() bool { return aws.ToString(describe(t, d, id).CurrentKeyMaterialId) == cur })
	}
	dk, err := ap.client().GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), NumberOfBytes: aws.Int32(32)})
	if err != nil {
		t.Fatal(err)
	}
	decrypts(t, us, dk.CiphertextBlob, dk.Plaintext)
	decrypts(t, eu, dk.CiphertextBlob, dk.Plaintext)

	// Imported material: the same bits imported in each Region.
	material := make([]byte, 32)
	copy(material, randHex(16))
	ik, err := us.client().CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true), Origin: types.OriginTypeExternal})
	if err != nil {
		t.Fatal(err)
	}
	iid := *ik.KeyMetadata.KeyId
	if _, err := us.client().ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(iid), ReplicaRegion: aws.String("eu-west-1")}); errCode(err) != "KMSInvalidStateException" {
		t.Fatalf("replicating a key pending import: %v", err)
	}
	if err := importMaterial(t, us, iid, material); err != nil {
		t.Fatal(err)
	}
	if _, err := us.client().ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(iid), ReplicaRegion: aws.String("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	replicated(t, eu, iid, types.KeyStatePendingImport)
	wrong := bytes.Repeat([]byte{0x42}, 32)
	if err := importMaterial(t, eu, iid, wrong); errCode(err) != "IncorrectKeyMaterialException" {
		t.Fatalf("importing other material into the replica: %v", err)
	}
	if err := importMaterial(t, eu, iid, material); err != nil {
		t.Fatalf("importing the same material into the replica: %v", err)
	}
	if describe(t, eu, iid).KeyState != types.KeyStateEnabled {
		t.Fatal("the replica is not Enabled after its import")
	}
	ict, err := us.client().Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(iid), Plaintext: []byte("imported")})
	if err != nil {
		t.Fatal(err)
	}
	decrypts(t, eu, ict.CiphertextBlob, []byte("imported"))

	// Both Regions record: the call in the primary's trail, the
	// replication in the replica's.
	waitFor(t, 10*time.Second, "the trails", func() bool {
		_, calls := trailOf(t, us, id)
		events, _ := trailOf(t, eu, id)
		apEvents, _ := trailOf(t, ap, id)
		return calls["ReplicateKey"] && calls["UpdatePrimaryRegion"] && events["ReplicateKey"] &&
			events["SynchronizeMultiRegionKey"] && apEvents["UpdatePrimaryRegion"]
	})

	var wire []byte
	for _, p := range proxies {
		wire = append(wire, p.bytes()...)
	}
	for _, s := range [][]byte{material, dk.Plaintext} {
		if bytes.Contains(wire, s) || bytes.Contains(wire, []byte(base64.StdEncoding.EncodeToString(s))) {
			t.Fatal("key material crossed between the deployments in the clear")
		}
	}
	t.Logf("scanned %d bytes of replication traffic", len(wire))
}
