package envelope_test

import (
	"fmt"

	"github.com/kenvelope/kenvelope/envelope"
)

func Example() {
	dek := envelope.NewDEK()
	d := envelope.Descriptor{
		Algorithm:  envelope.AES256GCM,
		Scope:      envelope.ScopeStream,
		Payload:    envelope.PayloadValue,
		KEKName:    "patients",
		KEKVersion: 1,
		KeyRef:     []byte("edek from the KMS"),
	}
	desc, err := d.Marshal()
	if err != nil {
		panic(err)
	}
	b := envelope.Binding{Topic: "fhir.observation", Key: []byte("patient-7")}
	sealed := dek.Seal(nil, []byte(`{"resourceType":"Observation"}`), desc, b)

	plain, err := dek.Open(nil, sealed, desc, b)
	fmt.Println(string(plain), err)

	b.Topic = "other-topic"
	_, err = dek.Open(nil, sealed, desc, b)
	fmt.Println(err)
	// Output:
	// {"resourceType":"Observation"} <nil>
	// envelope: record binding does not match: the value was sealed for another topic, key or field: envelope: message authentication failed
}
