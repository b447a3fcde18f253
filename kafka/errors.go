package kafka

import (
	"errors"
	"fmt"
)

var (
	// ErrAlreadyEncrypted is returned by a Producer for a record that
	// already carries the descriptor header, unless PassThroughEncrypted
	// is set.
	ErrAlreadyEncrypted = errors.New("record already carries the kenvelope header; set PassThroughEncrypted to send it unchanged")

	// ErrDuplicateHeader is returned for a record with more than one
	// descriptor header.
	ErrDuplicateHeader = errors.New("record carries more than one kenvelope header")

	// ErrNotEncrypted is returned by a Consumer for a record without the
	// descriptor header, unless AllowUnencrypted is set.
	ErrNotEncrypted = errors.New("record is not encrypted (no kenvelope header); set AllowUnencrypted to receive such records marked as unencrypted")

	// ErrRecordTooLarge is wrapped by *RecordTooLargeError.
	ErrRecordTooLarge = errors.New("record too large")

	// ErrNoTopic is returned for a record without a topic: the topic is
	// part of what the ciphertext is bound to.
	ErrNoTopic = errors.New("record has no topic")
)

// RecordError reports a record that could not be encrypted or decrypted. It
// carries where the record is and which KEK it needed, never its key or
// value. Offset and Partition are -1 when not yet known (before produce).
type RecordError struct {
	Op         string // "encrypt" or "decrypt"
	Topic      string
	Partition  int32
	Offset     int64
	KEKName    string // empty when the descriptor could not be read
	KEKVersion uint32
	DEKID      string // subject keys only: the DEK id in hexadecimal
	Err        error
}

func (e *RecordError) Error() string {
	msg := fmt.Sprintf("kenvelope: %s record topic %q partition %d offset %d", e.Op, e.Topic, e.Partition, e.Offset)
	if e.KEKName != "" {
		msg += fmt.Sprintf(" KEK %q version %d", e.KEKName, e.KEKVersion)
	}
	if e.DEKID != "" {
		msg += " DEK " + e.DEKID
	}
	return msg + ": " + e.Err.Error()
}

// Unwrap returns the cause, such as envelope.ErrAuth or a *kms.Error.
func (e *RecordError) Unwrap() error { return e.Err }

// RecordTooLargeError reports a record whose encrypted size exceeds the
// producer's MaxRecordBytes. It is returned before anything is encrypted.
type RecordTooLargeError struct {
	PlainSize     int // key, value and headers before encryption
	EncryptedSize int // the same after encryption
	Max           int
}

func (e *RecordTooLargeError) Error() string {
	return fmt.Sprintf("record too large: %d bytes after encryption (%d before), max %d; raise MaxRecordBytes together with the broker's max.message.bytes",
		e.EncryptedSize, e.PlainSize, e.Max)
}

// Unwrap returns ErrRecordTooLarge.
func (e *RecordTooLargeError) Unwrap() error { return ErrRecordTooLarge }
