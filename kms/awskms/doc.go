// Package awskms is the AWS KMS backend of kenvelope: a kms.KEK that wraps
// data keys with the Encrypt and Decrypt calls of a symmetric KMS key
// (key spec SYMMETRIC_DEFAULT), through github.com/aws/aws-sdk-go-v2.
//
// # Keys and aliases
//
// New and Open accept a key id, a key ARN, an alias name (alias/NAME) or an
// alias ARN. An alias is resolved to its key ARN once, with DescribeKey, when
// the KEK is built. Every later Encrypt and Decrypt names that key ARN, so
// re-pointing the alias takes effect only when the KEK is built again, for
// example at the next restart. Until then, Unwrap of a data key that another
// process wrapped under the new key fails with kms.ErrContextMismatch, and
// the error states that the alias may have been re-pointed. Decrypt
// always receives the KeyId, which pins the key, and the KeyId that Encrypt
// and Decrypt return must name the same key, or the call fails with
// kms.ErrInvalidResponse.
//
// # Versions
//
// AWS KMS rotates key material behind a single key id and records the
// backing key inside the ciphertext, so Wrap reports Version 0 and Unwrap
// rejects any other version with kms.ErrKeyNotFound. The KEK does not
// implement kms.Versioned.
//
// # IAM permissions
//
// The caller's identity needs kms:Encrypt and kms:Decrypt on the key, and
// kms:DescribeKey when the KEK is configured with an alias. A KEK built from
// a key id or key ARN can use DescribeKey in one more case, described under
// Errors, and works without that permission. Grant tokens given with
// GrantTokens are sent on every call, so a grant that has not yet propagated
// can authorise the calls right after CreateGrant.
//
// # Encryption context
//
// The kms.EncryptionContext goes to AWS KMS unchanged as the
// EncryptionContext of Encrypt and Decrypt. AWS KMS logs it in CloudTrail
// in clear text, so it must never contain PHI.
//
// # Errors
//
// Every error is a *kms.Error whose Kind is one of the sentinel errors of
// package kms, except when the caller's context ends: then the error wraps
// ctx.Err() and no *kms.Error, so a retry layer does not retry it. AWS KMS
// error codes map as follows:
//
//   - ThrottlingException, LimitExceededException, RequestLimitExceeded and
//     HTTP 429: kms.ErrThrottled.
//   - KMSInternalException, DependencyTimeoutException,
//     KeyUnavailableException, any other HTTP 5xx, and failures to send the
//     request or read the response: kms.ErrUnavailable.
//   - DisabledException: kms.ErrKeyDisabled.
//   - KMSInvalidStateException: kms.ErrKeyDestroyed when the key is pending
//     deletion, kms.ErrKeyDisabled when it is disabled or pending import,
//     kms.ErrUnavailable while it is being created or updated or its custom
//     key store is disconnected. The backend reads the state from the error
//     message ("... is pending deletion.", "... is disabled."). When the
//     message names neither state, it calls DescribeKey and reads KeyState.
//     If that call also fails, the error is kms.ErrKeyDisabled.
//   - NotFoundException: kms.ErrKeyNotFound.
//   - AccessDeniedException and the signature or credential errors:
//     kms.ErrPermission.
//   - InvalidCiphertextException and IncorrectKeyException:
//     kms.ErrContextMismatch. AWS KMS and local-kms report both a different
//     encryption context and an altered ciphertext as
//     InvalidCiphertextException, so the error message names both causes.
//   - ValidationException, InvalidKeyUsageException,
//     InvalidGrantTokenException and any other error: kms.ErrInvalidConfig.
//
// A successful response that cannot be parsed, or whose ciphertext, data
// key or KeyId fails validation, is kms.ErrInvalidResponse.
//
// # Retries
//
// kenvelope's retry middleware retries kms.ErrThrottled, kms.ErrUnavailable
// and kms.ErrInvalidResponse with its own back-off, so the SDK should not
// retry as well: the SDK's standard retryer makes up to three attempts, and
// the two layers would multiply their attempts and delays. Open therefore
// builds its client with aws.NopRetryer (one attempt). New uses the client it
// is given as it is; build that client with RetryMaxAttempts 1 or
// aws.NopRetryer for the same behaviour.
//
// # Key URIs
//
// The package registers the "aws-kms" scheme with kms.Register, so that
// kms.Open accepts the URI forms Tink uses and two more:
//
//	aws-kms://arn:aws:kms:eu-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
//	aws-kms://arn:aws:kms:eu-west-2:111122223333:alias/lab-results
//	aws-kms://alias/lab-results?region=eu-west-2
//	aws-kms://1234abcd-12ab-34cd-56ef-1234567890ab?region=eu-west-2
//
// The region comes from the ARN, else from the region query parameter, else
// from the SDK's default configuration, and must have the form of a region
// name such as eu-west-2 or us-gov-west-1. Credentials and every other
// setting come from config.LoadDefaultConfig: environment variables, shared
// configuration files, and on AWS the instance or task role. A URI with user
// information or any query parameter but region is rejected, and the error
// does not quote the URI, because it may carry credentials by mistake.
package awskms
