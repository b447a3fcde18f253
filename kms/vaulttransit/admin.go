package vaulttransit

import (
	"context"

	"github.com/kenvelope/kenvelope/kms"
)

// Rotate adds a new version to the transit key and makes it the one Wrap
// uses. The token needs update on transit/keys/<key>/rotate, which the
// policy for normal use does not grant. Keyrings notice the new version
// through PrimaryVersion.
func (k *KEK) Rotate(ctx context.Context) error {
	_, err := k.client.Logical().WriteWithContext(ctx, k.mount+"/keys/"+k.keyName+"/rotate", nil)
	return k.adminError(opRotate, 0, err)
}

// SetMinDecryptionVersion sets the key's min_decryption_version, so that
// Unwrap of data keys wrapped under an older version fails with
// kms.ErrVersionTooOld. Lowering it again makes them readable again,
// because Vault keeps the old versions until they are trimmed. The token
// needs update on transit/keys/<key>/config.
func (k *KEK) SetMinDecryptionVersion(ctx context.Context, version uint32) error {
	body := map[string]any{"min_decryption_version": version}
	_, err := k.client.Logical().WriteWithContext(ctx, k.mount+"/keys/"+k.keyName+"/config", body)
	return k.adminError(opSetMinD, version, err)
}

func (k *KEK) adminError(op kms.Op, version uint32, err error) error {
	if err == nil {
		return nil
	}
	return k.classify(op, version, err, kms.ErrKeyDestroyed)
}
