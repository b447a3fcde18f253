package awskms

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/config"
)

// Limits that AWS KMS sets on grant tokens.
const (
	maxGrantTokens   = 10
	maxGrantTokenLen = 8192
)

// Opt configures a KEK built by New or Open.
type Opt interface {
	apply(*settings)
}

type settings struct {
	grantTokens []string
	endpoint    string
	loadOptions []func(*config.LoadOptions) error
}

type optFunc func(*settings)

func (f optFunc) apply(s *settings) { f(s) }

// GrantTokens sets the grant tokens sent with every Encrypt, Decrypt and
// DescribeKey call, at most 10. Default: none.
func GrantTokens(tokens []string) Opt {
	tokens = append([]string(nil), tokens...)
	return optFunc(func(s *settings) { s.grantTokens = tokens })
}

// Endpoint sets the URL of the AWS KMS endpoint that Open's client calls,
// such as http://127.0.0.1:4599 for local-kms. It applies only to Open.
// Default: the SDK's configuration (AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL,
// the shared config file), else the regional AWS endpoint.
func Endpoint(rawURL string) Opt {
	return optFunc(func(s *settings) { s.endpoint = rawURL })
}

// LoadOptions adds options for config.LoadDefaultConfig, such as
// config.WithCredentialsProvider or config.WithRetryer. They apply after
// Open's own options (region, and aws.NopRetryer as the retryer), so they
// override them. It applies only to Open. Default: none.
func LoadOptions(fns ...func(*config.LoadOptions) error) Opt {
	fns = append([]func(*config.LoadOptions) error(nil), fns...)
	return optFunc(func(s *settings) { s.loadOptions = append(s.loadOptions, fns...) })
}

func newSettings(opts []Opt) settings {
	var s settings
	for _, o := range opts {
		o.apply(&s)
	}
	return s
}

// validate checks the options that both New and Open use.
func (s *settings) validate() error {
	if len(s.grantTokens) > maxGrantTokens {
		return fmt.Errorf("%d grant tokens given, AWS KMS accepts at most %d", len(s.grantTokens), maxGrantTokens)
	}
	for i, t := range s.grantTokens {
		if t == "" || len(t) > maxGrantTokenLen {
			return fmt.Errorf("grant token %d is %d bytes, want 1 to %d", i, len(t), maxGrantTokenLen)
		}
	}
	if s.endpoint != "" {
		u, err := url.Parse(s.endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// The URL is not quoted, because it may carry credentials.
			return errors.New("endpoint is not an http or https URL with a host")
		}
	}
	return nil
}

// validateForNew rejects the options that only Open uses.
func (s *settings) validateForNew() error {
	if s.endpoint != "" || len(s.loadOptions) > 0 {
		return errors.New("options Endpoint and LoadOptions apply only to Open, so configure the client given to New instead")
	}
	return s.validate()
}
