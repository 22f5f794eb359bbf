package k8s

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apiserver/pkg/storage/value"
	"k8s.io/apiserver/pkg/storage/value/encrypt/envelope/kmsv2"
	kmstypes "k8s.io/apiserver/pkg/storage/value/encrypt/envelope/kmsv2/v2"
	kmsservice "k8s.io/kms/pkg/service"
)

// writeDEKSourceMaxTTL is kube-apiserver's: a seed stays usable for writes
// this long after the last healthy Status that confirmed its key ID.
const writeDEKSourceMaxTTL = 3 * time.Minute

// apiserver is the KMS v2 part of a kube-apiserver: its gRPC client of the
// plugin (kmsv2.NewGRPCService, over the unix socket) and the state that
// its health probe keeps (encryptionconfig's kmsv2PluginProbe, whose
// rotateDEKOnKeyIDChange this follows step by step: a Status whose key ID
// differs from the state's makes a new seed with kmsv2.GenerateTransformer,
// accepted only if Encrypt's key ID is Status's). Its transformers are
// kmsv2.NewEnvelopeTransformer's.
type apiserver struct {
	name  string
	svc   kmsservice.Service
	state atomic.Pointer[kmsv2.State]
}

var providerSeq atomic.Int64

func newAPIServer(t testing.TB, socket string) *apiserver {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// Each provider name is unique: kmsv2's test clock is kept per name.
	a := &apiserver{name: fmt.Sprintf("trent-%d", providerSeq.Add(1))}
	svc, err := kmsv2.NewGRPCService(ctx, "unix://"+socket, a.name, 3*time.Second)
	if err != nil {
		t.Fatalf("kmsv2.NewGRPCService: %v", err)
	}
	a.svc = svc
	a.state.Store(&kmsv2.State{KMSProviderName: a.name})
	return a
}

// refresh is one run of the health probe. It returns Status's answer and
// an error when the provider is unhealthy or a new seed could not be made.
func (a *apiserver) refresh(ctx context.Context) (*kmsservice.StatusResponse, error) {
	st, err := a.svc.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	if st.Version != kmsv2.KMSAPIVersionv2 {
		return st, fmt.Errorf("version %q", st.Version)
	}
	if st.Healthz != "ok" {
		return st, fmt.Errorf("unhealthy: %s", st.Healthz)
	}
	if _, err := kmsv2.ValidateKeyID(st.KeyID); err != nil {
		return st, err
	}
	exp := kmsv2.GetNowFunc(a.name)().Add(writeDEKSourceMaxTTL)
	cur := *a.state.Load()
	if cur.Transformer != nil && cur.EncryptedObjectKeyID == st.KeyID {
		cur.ExpirationTimestamp = exp
		a.state.Store(&cur)
		return st, nil
	}
	uid := string(uuid.NewUUID())
	tr, obj, cacheKey, err := kmsv2.GenerateTransformer(ctx, uid, a.svc, true)
	if err != nil {
		return st, err
	}
	if obj.KeyID != st.KeyID {
		return st, fmt.Errorf("encrypt's key ID %q is not status's %q", obj.KeyID, st.KeyID)
	}
	a.state.Store(&kmsv2.State{
		Transformer:                           tr,
		EncryptedObjectKeyID:                  obj.KeyID,
		EncryptedObjectEncryptedDEKSource:     obj.EncryptedDEKSource,
		EncryptedObjectAnnotations:            obj.Annotations,
		EncryptedObjectEncryptedDEKSourceType: obj.EncryptedDEKSourceType,
		UID:                                   uid,
		ExpirationTimestamp:                   exp,
		CacheKey:                              cacheKey,
		KMSProviderName:                       a.name,
	})
	return st, nil
}

func (a *apiserver) stateFunc() (kmsv2.State, error) {
	s := *a.state.Load()
	if s.Transformer == nil {
		return kmsv2.State{}, fmt.Errorf("no seed yet")
	}
	return s, nil
}

// transformer returns a new envelope transformer: its DEK cache starts
// empty, so its first read of an object asks the plugin to decrypt.
func (a *apiserver) transformer() value.Transformer {
	return kmsv2.NewEnvelopeTransformer(a.svc, a.name, a.stateFunc, "apiserver-test")
}

// object is a stored Secret: its etcd key and value.
type object struct {
	key   string
	plain []byte
	data  []byte
}

func (a *apiserver) write(t testing.TB, tr value.Transformer, name string) object {
	t.Helper()
	o := object{key: "/registry/secrets/default/" + name, plain: []byte("secret value of " + name + " " + randHex(8))}
	var err error
	o.data, err = tr.TransformToStorage(context.Background(), o.plain, value.DefaultContext(o.key))
	if err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
	return o
}

// read decrypts o with tr; it reports whether kube-apiserver would call the
// object stale (written under another key ID than the current one).
func (a *apiserver) read(tr value.Transformer, o object) (stale bool, err error) {
	got, stale, err := tr.TransformFromStorage(context.Background(), o.data, value.DefaultContext(o.key))
	if err != nil {
		return false, err
	}
	if string(got) != string(o.plain) {
		return false, fmt.Errorf("read %s: wrong plaintext", o.key)
	}
	return stale, nil
}

// encryptedObject decodes what kube-apiserver stores.
func encryptedObject(t testing.TB, o object) *kmstypes.EncryptedObject {
	t.Helper()
	var eo kmstypes.EncryptedObject
	if err := proto.Unmarshal(o.data, &eo); err != nil {
		t.Fatalf("stored object: %v", err)
	}
	return &eo
}
