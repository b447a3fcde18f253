package awskms

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awssdk "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kenvelope/kenvelope/kms"
)

// Scheme is the key URI scheme that this package registers with kms.Register.
const Scheme = "aws-kms"

func init() {
	kms.Register(Scheme, func(ctx context.Context, name, uri string) (kms.KEK, error) {
		kek, err := Open(ctx, name, uri)
		if err != nil {
			return nil, err // a nil *KEK must not become a non-nil kms.KEK
		}
		return kek, nil
	})
}

// Open returns a KEK for an aws-kms:// key URI (see the package doc for the
// forms), with a client built from config.LoadDefaultConfig. The client makes
// one attempt per call (aws.NopRetryer) because kenvelope's retry middleware
// owns retries. Errors in the URI or options wrap kms.ErrInvalidConfig.
func Open(ctx context.Context, name, uri string, opts ...Opt) (*KEK, error) {
	keyID, region, err := parseURI(uri)
	if err != nil {
		return nil, fmt.Errorf("awskms: KEK %q: %w: %w", name, err, kms.ErrInvalidConfig)
	}
	s := newSettings(opts)
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("awskms: KEK %q: %w: %w", name, err, kms.ErrInvalidConfig)
	}

	client, err := newClient(ctx, region, &s)
	if err != nil {
		return nil, fmt.Errorf("awskms: KEK %q: %w: %w", name, err, kms.ErrInvalidConfig)
	}
	return New(ctx, client, name, keyID, GrantTokens(s.grantTokens))
}

// newClient loads the SDK's default configuration and builds a KMS client.
// region, when set, overrides the configured region.
func newClient(ctx context.Context, region string, s *settings) (*awssdk.Client, error) {
	load := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if region != "" {
		load = append(load, config.WithRegion(region))
	}
	load = append(load, s.loadOptions...)

	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: use a key ARN, add ?region=REGION to the URI, or set AWS_REGION")
	}
	if !validRegion(cfg.Region) {
		return nil, errors.New("the region from the AWS configuration is not a region name such as eu-west-2")
	}

	return awssdk.NewFromConfig(cfg, func(o *awssdk.Options) {
		if s.endpoint != "" {
			o.BaseEndpoint = aws.String(s.endpoint)
		}
	}), nil
}

// parseURI splits an aws-kms:// URI into the key id and the region that the
// URI names, which is empty when it names none. Its errors never quote the
// URI, nor any part of it that failed a check, because a URI may carry
// credentials by mistake.
func parseURI(uri string) (keyID, region string, err error) {
	rest, ok := strings.CutPrefix(uri, Scheme+"://")
	if !ok {
		return "", "", fmt.Errorf("key URI does not start with %s://", Scheme)
	}
	keyID, rawQuery, _ := strings.Cut(rest, "?")
	if strings.Contains(keyID, "@") {
		return "", "", errors.New("key URI contains user information (an '@' before the key id), but credentials come only from the AWS SDK configuration")
	}
	ref, err := parseKeyID(keyID)
	if err != nil {
		return "", "", fmt.Errorf("key URI: %w", err)
	}

	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", "", errors.New("key URI has an invalid query")
	}
	for param, values := range query {
		if param != "region" || len(values) != 1 || values[0] == "" {
			return "", "", errors.New("key URI: the only query parameter allowed is one non-empty region")
		}
	}

	region = query.Get("region")
	if region != "" && !validRegion(region) {
		return "", "", errors.New("key URI: the region parameter is not a region name such as eu-west-2")
	}
	if ref.region != "" && region != "" && region != ref.region {
		return "", "", fmt.Errorf("key URI: region %s differs from the ARN's region %s", region, ref.region)
	}
	if region == "" {
		region = ref.region
	}
	return keyID, region, nil
}
