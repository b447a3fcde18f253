package awskms_test

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssdk "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go/middleware"

	"github.com/kenvelope/kenvelope/internal/testenv"
	"github.com/kenvelope/kenvelope/kms/awskms"
)

// testRegion is the region .ci/start-local-kms gives local-kms. local-kms
// does not check the region of a request, so only key ARNs depend on it.
const testRegion = "eu-west-2"

// staticCreds are made-up credentials, so the SDK never looks for real ones.
var staticCreds = credentials.NewStaticCredentialsProvider("AKIDKENVELOPETEST", "not-a-secret", "")

// localKMS returns the local-kms endpoint, skipping the test (or failing it
// in CI) when .ci/start-local-kms has not run.
func localKMS(t *testing.T) string {
	t.Helper()
	return testenv.Get(t, testenv.AWSKMSEndpoint)
}

// newClient returns a KMS client for endpoint with static credentials and
// no SDK retries. It loads no shared configuration, so it never contacts
// the EC2 instance metadata service.
func newClient(endpoint string, apiOptions ...func(*middleware.Stack) error) *awssdk.Client {
	return awssdk.New(awssdk.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  staticCreds,
		Retryer:      aws.NopRetryer{},
		APIOptions:   apiOptions,
	})
}

// testKey is a symmetric key created in local-kms for one test.
type testKey struct {
	id, arn     string
	alias       string // alias/NAME
	aliasARN    string
	adminClient *awssdk.Client
}

// createKey creates a symmetric key and an alias for it. Names are random,
// because local-kms keeps keys from earlier runs in its data folder.
func createKey(t *testing.T, endpoint string) testKey {
	t.Helper()
	client := newClient(endpoint)
	out, err := client.CreateKey(t.Context(), &awssdk.CreateKeyInput{Description: aws.String("kenvelope awskms test")})
	if err != nil {
		t.Fatalf("CreateKey(ctx) err = %v, want nil", err)
	}
	k := testKey{id: *out.KeyMetadata.KeyId, arn: *out.KeyMetadata.Arn, adminClient: client}

	k.alias = "alias/kenvelope-test-" + rand.Text()
	_, err = client.CreateAlias(t.Context(), &awssdk.CreateAliasInput{AliasName: &k.alias, TargetKeyId: &k.id})
	if err != nil {
		t.Fatalf("CreateAlias(ctx, %s) err = %v, want nil", k.alias, err)
	}
	k.aliasARN = strings.TrimSuffix(k.arn, "key/"+k.id) + k.alias
	return k
}

// newKEK builds a KEK on the local-kms key named by keyID.
func newKEK(t *testing.T, client awskms.API, keyID string, opts ...awskms.Opt) *awskms.KEK {
	t.Helper()
	kek, err := awskms.New(t.Context(), client, "lab-results", keyID, opts...)
	if err != nil {
		t.Fatalf("New(ctx, %s) err = %v, want nil", keyID, err)
	}
	return kek
}

// newDEK returns a random 32-byte data key.
func newDEK(t *testing.T) []byte {
	t.Helper()
	dek := make([]byte, 32)
	rand.Read(dek)
	return dek
}

// callRecorder is SDK middleware that records the operation name and grant
// tokens of every call a client makes.
type callRecorder struct {
	mu    sync.Mutex
	calls []recordedCall
}

type recordedCall struct {
	op          string
	grantTokens []string
}

// add installs the recorder in a client's middleware stack.
func (r *callRecorder) add(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("kenvelopeRecorder",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			r.record(middleware.GetOperationName(ctx), in.Parameters)
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func (r *callRecorder) record(op string, params any) {
	call := recordedCall{op: op}
	switch in := params.(type) {
	case *awssdk.EncryptInput:
		call.grantTokens = in.GrantTokens
	case *awssdk.DecryptInput:
		call.grantTokens = in.GrantTokens
	case *awssdk.DescribeKeyInput:
		call.grantTokens = in.GrantTokens
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call)
}

// count returns the number of recorded calls of op.
func (r *callRecorder) count(op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c.op == op {
			n++
		}
	}
	return n
}

// all returns a copy of the recorded calls.
func (r *callRecorder) all() []recordedCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recordedCall(nil), r.calls...)
}
