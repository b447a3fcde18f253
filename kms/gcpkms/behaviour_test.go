package gcpkms_test

import (
	"context"
	"sync"
	"testing"
	"time"

	kmsapi "cloud.google.com/go/kms/apiv1"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kenvelope/kenvelope/internal/backendtest"
	"github.com/kenvelope/kenvelope/internal/gcpfake"
	"github.com/kenvelope/kenvelope/kms"
	"github.com/kenvelope/kenvelope/kms/gcpkms"
)

// TestBehaviour runs the shared backend scenarios with the real Cloud KMS
// client against an in-process gcpfake server, one server per scenario.
// The client reaches the server through a local proxy, which cuts or
// stalls the connection for an outage, and gcpfake's FailNext makes the
// server throttle.
func TestBehaviour(t *testing.T) {
	backendtest.Run(t, backendtest.Backend{Name: "gcpkms", NewKey: newBehaviourKey})
}

func newBehaviourKey(t *testing.T) *backendtest.Key {
	srv := startFake(t)
	proxy := backendtest.NewProxy(t, srv.Addr())
	kek := newKEK(t, proxyClient(t, proxy.Addr()))

	var mu sync.Mutex
	highest := uint32(1)
	return &backendtest.Key{
		KEK: kek,
		Rotate: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			v, err := srv.Rotate(testKeyName)
			highest = max(highest, v)
			return err
		},
		// Cloud KMS first schedules a version for destruction, and
		// the version can neither encrypt nor decrypt from then on.
		Destroy: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			for v := uint32(1); v <= highest; v++ {
				if err := srv.ScheduleDestroyVersion(testKeyName, v); err != nil {
					return err
				}
			}
			return nil
		},
		MinVersionNote: "Cloud KMS has no minimum decryption version. An old version is retired by disabling or " +
			"destroying it, which Unwrap reports as kms.ErrKeyDisabled or kms.ErrKeyDestroyed",
		Outages: map[backendtest.Fault]backendtest.Outage{
			backendtest.Unreachable: proxy.Refuse(),
			backendtest.Hanging:     proxy.Hang(),
			backendtest.Throttled:   failNextOutage{srv, codes.ResourceExhausted},
		},
	}
}

// proxyClient returns a Cloud KMS client for a gcpfake server behind the
// proxy at addr, without the client's own retries, so that kms.Retry is
// the only retry layer. Its reconnect back-off is capped at 50ms instead
// of gRPC's two minutes, so that it reconnects soon after an outage ends.
func proxyClient(t *testing.T, addr string) *kmsapi.KeyManagementClient {
	t.Helper()
	reconnect := grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 50 * time.Millisecond},
		MinConnectTimeout: time.Second,
	}
	client, err := kmsapi.NewKeyManagementClient(context.Background(),
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithGRPCDialOption(grpc.WithConnectParams(reconnect)))
	if err != nil {
		t.Fatalf("NewKeyManagementClient() err = %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return withoutRetries(client)
}

// failNextOutage makes every call to the gcpfake server fail with code.
type failNextOutage struct {
	srv  *gcpfake.Server
	code codes.Code
}

func (o failNextOutage) Begin(*testing.T) { o.srv.FailNext(o.code, 1<<30) }
func (o failNextOutage) End(*testing.T)   { o.srv.FailNext(codes.OK, 0) }

// BenchmarkRoundTrip measures Wrap and Unwrap of a 32-byte DEK with the
// real Cloud KMS client against gcpfake over gRPC on 127.0.0.1.
func BenchmarkRoundTrip(b *testing.B) {
	srv, err := gcpfake.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	if err := srv.CreateKey(testKeyName); err != nil {
		b.Fatal(err)
	}
	client, err := srv.NewClient(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = client.Close() })
	kek, err := gcpkms.New(b.Context(), client, testKEKName, testKeyName)
	if err != nil {
		b.Fatal(err)
	}

	ec := kms.EncryptionContext{"topic": "T"}
	for b.Loop() {
		w, err := kek.Wrap(b.Context(), testDEK, ec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := kek.Unwrap(b.Context(), w, ec); err != nil {
			b.Fatal(err)
		}
	}
}
