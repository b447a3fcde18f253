package keyring

import "testing"

func TestChangeLogTouched(t *testing.T) {
	e := Entry{ID: DEKID{1}, Token: Token{2}}
	cases := []struct {
		name    string
		changes []change
		sealing bool
		want    bool
	}{
		{"no change", nil, true, false},
		{"its deletion", []change{{id: e.ID, token: e.Token}}, false, true},
		{"another deletion", []change{{id: DEKID{9}, token: e.Token}}, true, false},
		{"its quarantine, sealing", []change{{token: e.Token, quarantine: true}}, true, true},
		{"its quarantine, opening", []change{{token: e.Token, quarantine: true}}, false, false},
		{"another quarantine", []change{{token: Token{9}, quarantine: true}}, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var l changeLog
			l.add(change{id: e.ID, token: e.Token}) // before since: not counted
			since := l.next
			for _, c := range tc.changes {
				l.add(c)
			}
			if got := l.touched(since, e, tc.sealing); got != tc.want {
				t.Errorf("touched() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestChangeLogOverflowCountsAsTouched(t *testing.T) {
	var l changeLog
	since := l.next
	for range changeLogSize + 1 {
		l.add(change{id: DEKID{9}})
	}
	if !l.touched(since, Entry{ID: DEKID{1}}, false) {
		t.Error("touched() after more changes than the log keeps = false, want true")
	}
}
