package keyring

// changeLogSize bounds the changes a subjectCache remembers for addIf. A
// resolve that spans more changes than this treats its DEK as changed and
// reads the store again, which costs no KMS call.
const changeLogSize = 512

// change is one deletion (id and token set) or quarantine change (token
// set, quarantine true) that the store reported.
type change struct {
	id         DEKID
	token      Token
	quarantine bool
}

// changeLog is a ring of the latest changes. next counts every change
// added since the Ring started.
type changeLog struct {
	next uint64
	ring [changeLogSize]change
}

func (l *changeLog) add(c change) {
	l.ring[l.next%changeLogSize] = c
	l.next++
}

// touched reports whether a change added at or after position since
// concerns e: its deletion, or, when sealing, a quarantine change of its
// subject. Changes that have already left the ring count as touching e.
func (l *changeLog) touched(since uint64, e Entry, sealing bool) bool {
	if l.next-since > changeLogSize {
		return true
	}
	for n := since; n < l.next; n++ {
		c := &l.ring[n%changeLogSize]
		if c.quarantine {
			if sealing && c.token == e.Token {
				return true
			}
			continue
		}
		if c.id == e.ID {
			return true
		}
	}
	return false
}
