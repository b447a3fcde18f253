// Package gcpfake runs an in-process Cloud KMS server for tests, so that the
// real cloud.google.com/go/kms client can be used without reaching Google.
//
// The server listens on 127.0.0.1 and implements Encrypt, Decrypt and
// GetCryptoKey of google.cloud.kms.v1.KeyManagementService for symmetric
// keys. Each crypto key version has its own AES-256-GCM key, and every
// ciphertext starts with the number of the version that produced it, so
// Decrypt finds the version the way Cloud KMS does. The server checks the
// CRC32C fields of requests and fills those of responses as Cloud KMS
// documents them. Test controls create, rotate, disable and destroy keys, and
// fault modes corrupt responses or fail calls with a chosen gRPC code.
//
// The status codes follow Cloud KMS. Two messages have the form that Cloud
// KMS returns: "<version name> is not enabled, current state is: <STATE>."
// and one starting "Decryption failed". The other messages are the fake's
// own wording.
package gcpfake

import (
	"context"
	"fmt"
	"net"
	"sync"

	kmsapi "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// Server is a fake Cloud KMS server. Its methods are safe for concurrent
// use.
type Server struct {
	kmspb.UnimplementedKeyManagementServiceServer

	listener net.Listener
	grpc     *grpc.Server

	mu     sync.Mutex
	keys   map[string]*cryptoKey
	faults faults
}

// Start starts a server on a free port of 127.0.0.1. Call Close when done.
func Start() (*Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gcpfake: listen on 127.0.0.1: %w", err)
	}
	s := &Server{listener: lis, grpc: grpc.NewServer(), keys: map[string]*cryptoKey{}}
	kmspb.RegisterKeyManagementServiceServer(s.grpc, s)
	go func() {
		// Serve returns when Close stops the server, and then its error
		// carries nothing a test needs.
		_ = s.grpc.Serve(lis)
	}()
	return s, nil
}

// Close stops the server and closes open connections.
func (s *Server) Close() {
	s.grpc.Stop()
}

// Addr returns the server's host:port.
func (s *Server) Addr() string {
	return s.listener.Addr().String()
}

// ClientOptions returns the options that point a Cloud KMS client at the
// server: its endpoint, no credentials and plaintext gRPC.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.Addr()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// NewClient returns a Cloud KMS client connected to the server. The caller
// closes it.
func (s *Server) NewClient(ctx context.Context) (*kmsapi.KeyManagementClient, error) {
	client, err := kmsapi.NewKeyManagementClient(ctx, s.ClientOptions()...)
	if err != nil {
		return nil, fmt.Errorf("gcpfake: create client for %s: %w", s.Addr(), err)
	}
	return client, nil
}

// CreateKey creates a symmetric crypto key whose version 1 is enabled and
// primary. keyName has the form projects/P/locations/L/keyRings/R/cryptoKeys/K.
func (s *Server) CreateKey(keyName string) error {
	if !keyNamePattern.MatchString(keyName) {
		return fmt.Errorf("gcpfake: invalid crypto key name %q, want projects/P/locations/L/keyRings/R/cryptoKeys/K", keyName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[keyName]; ok {
		return fmt.Errorf("gcpfake: crypto key %q already exists", keyName)
	}
	key := &cryptoKey{name: keyName}
	if _, err := key.addVersion(); err != nil {
		return err
	}
	s.keys[keyName] = key
	return nil
}

// Rotate adds a new version to the key and makes it the primary. It returns
// the new version number.
func (s *Server) Rotate(keyName string) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, ok := s.keys[keyName]
	if !ok {
		return 0, fmt.Errorf("gcpfake: crypto key %q not found", keyName)
	}
	return key.addVersion()
}

// DestroyVersion destroys version v of the key at once and discards its key
// material. Cloud KMS first schedules destruction, which
// ScheduleDestroyVersion models.
func (s *Server) DestroyVersion(keyName string, v uint32) error {
	return s.setState(keyName, v, kmspb.CryptoKeyVersion_DESTROYED)
}

// ScheduleDestroyVersion moves version v to DESTROY_SCHEDULED. The version
// keeps its key material but can neither encrypt nor decrypt.
func (s *Server) ScheduleDestroyVersion(keyName string, v uint32) error {
	return s.setState(keyName, v, kmspb.CryptoKeyVersion_DESTROY_SCHEDULED)
}

// DisableVersion moves version v to DISABLED.
func (s *Server) DisableVersion(keyName string, v uint32) error {
	return s.setState(keyName, v, kmspb.CryptoKeyVersion_DISABLED)
}

// EnableVersion moves a disabled or destroy-scheduled version v back to
// ENABLED.
func (s *Server) EnableVersion(keyName string, v uint32) error {
	return s.setState(keyName, v, kmspb.CryptoKeyVersion_ENABLED)
}

func (s *Server) setState(keyName string, v uint32, state kmspb.CryptoKeyVersion_CryptoKeyVersionState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, ok := s.keys[keyName]
	if !ok {
		return fmt.Errorf("gcpfake: crypto key %q not found", keyName)
	}
	version := key.version(v)
	if version == nil {
		return fmt.Errorf("gcpfake: crypto key %q has no version %d", keyName, v)
	}
	if version.state == kmspb.CryptoKeyVersion_DESTROYED {
		return fmt.Errorf("gcpfake: version %d of %q is destroyed and cannot change state", v, keyName)
	}
	version.state = state
	if state == kmspb.CryptoKeyVersion_DESTROYED {
		version.aead = nil
	}
	return nil
}

// faults holds the fault modes. Server.mu guards it.
type faults struct {
	failCode        codes.Code
	failLeft        int
	corruptChecksum bool
	dropVerified    bool
}

// FailNext makes the next n calls to any method fail with a status of code,
// before the server looks at the request.
func (s *Server) FailNext(code codes.Code, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.failCode = code
	s.faults.failLeft = n
}

// CorruptResponseChecksum makes Encrypt return a wrong CiphertextCrc32C and
// Decrypt a wrong PlaintextCrc32C while on is true, as data damaged on the
// way back to the client would look.
func (s *Server) CorruptResponseChecksum(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.corruptChecksum = on
}

// DropVerifiedFlags makes Encrypt return VerifiedPlaintextCrc32C and
// VerifiedAdditionalAuthenticatedDataCrc32C as false while on is true, as a
// request whose checksums never reached the server would look.
func (s *Server) DropVerifiedFlags(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.dropVerified = on
}
