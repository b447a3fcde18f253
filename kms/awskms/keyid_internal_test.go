package awskms

import "testing"

func TestParseKeyID(t *testing.T) {
	const keyARN = "arn:aws:kms:eu-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	const aliasARN = "arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/team/lab-results"
	tests := []struct {
		in   string
		want keyRef
	}{
		{"1234abcd-12ab-34cd-56ef-1234567890ab", keyRef{id: "1234abcd-12ab-34cd-56ef-1234567890ab"}},
		{"mrk-1234abcd12ab34cd56ef1234567890ab", keyRef{id: "mrk-1234abcd12ab34cd56ef1234567890ab"}},
		{keyARN, keyRef{id: keyARN, arn: true, region: "eu-west-2"}},
		{"alias/lab_results-2", keyRef{id: "alias/lab_results-2", alias: true}},
		{aliasARN, keyRef{id: aliasARN, alias: true, arn: true, region: "us-gov-west-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseKeyID(tc.in)
			if err != nil {
				t.Fatalf("parseKeyID(%q) err = %v, want nil", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("parseKeyID(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseKeyIDInvalid(t *testing.T) {
	for _, in := range []string{
		"",
		"alias/",
		"alias/lab results",
		"key/1234",
		"1234abcd 12ab",
		"arn:aws:kms:eu-west-2:111122223333",
		"arn:aws:kms:eu-west-2:111122223333:key/",
		"arn:aws:kms:eu-west-2:111122223333:key/12:34",
		"arn:aws:kms:eu-west-2:111122223333:alias/",
		"arn:aws:kms:eu-west-2:111122223333:grant/1234",
		"arn:aws:kms::111122223333:key/1234",
		"arn:aws:kms:eu-west-2::key/1234",
		"arn::kms:eu-west-2:111122223333:key/1234",
		"arn:aws:iam:eu-west-2:111122223333:key/1234",
	} {
		if got, err := parseKeyID(in); err == nil {
			t.Errorf("parseKeyID(%q) = %+v, want an error", in, got)
		}
	}
}

func TestParseURI(t *testing.T) {
	const keyARN = "arn:aws:kms:eu-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	tests := []struct {
		uri, keyID, region string
	}{
		{"aws-kms://" + keyARN, keyARN, "eu-west-2"},
		{"aws-kms://" + keyARN + "?region=eu-west-2", keyARN, "eu-west-2"},
		{"aws-kms://alias/lab-results?region=us-east-1", "alias/lab-results", "us-east-1"},
		{"aws-kms://alias/lab-results", "alias/lab-results", ""},
		{"aws-kms://1234abcd-12ab-34cd-56ef-1234567890ab?region=us-east-1", "1234abcd-12ab-34cd-56ef-1234567890ab", "us-east-1"},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			keyID, region, err := parseURI(tc.uri)
			if err != nil {
				t.Fatalf("parseURI(%q) err = %v, want nil", tc.uri, err)
			}
			if keyID != tc.keyID || region != tc.region {
				t.Errorf("parseURI(%q) = %q, %q, want %q, %q", tc.uri, keyID, region, tc.keyID, tc.region)
			}
		})
	}
}
