package gcpkms

import (
	"google.golang.org/api/option"
)

// Opt configures a KEK built by New or OpenURI.
type Opt interface {
	apply(*settings)
}

type settings struct {
	clientOptions []option.ClientOption
}

type optFunc func(*settings)

func (f optFunc) apply(s *settings) { f(s) }

// ClientOptions adds options for the Cloud KMS client that OpenURI and
// kms.Open create, such as option.WithCredentialsFile, or option.WithEndpoint
// with option.WithoutAuthentication for a local test server. It applies
// only to OpenURI: New rejects it, because New's caller builds the client.
// Default: none, so the client uses Application Default Credentials and the
// public Cloud KMS endpoint.
func ClientOptions(opts ...option.ClientOption) Opt {
	opts = append([]option.ClientOption(nil), opts...)
	return optFunc(func(s *settings) { s.clientOptions = append(s.clientOptions, opts...) })
}

func newSettings(opts []Opt) settings {
	var s settings
	for _, o := range opts {
		o.apply(&s)
	}
	return s
}
