package posture

import (
	"errors"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseListeners(t *testing.T) {
	tests := []struct {
		name, listeners, protocolMap string
		want                         []listener
	}{
		{"protocol names", "PLAINTEXT://:9092, SSL://broker:9093", "",
			[]listener{{"PLAINTEXT", protoPlaintext}, {"SSL", protoSSL}}},
		{"mapped names", "INTERNAL://:9092,EXTERNAL://[::1]:9093", "INTERNAL:SASL_SSL,EXTERNAL:SSL",
			[]listener{{"INTERNAL", protoSASLSSL}, {"EXTERNAL", protoSSL}}},
		{"map overrides name", "SSL://:9093", "SSL:PLAINTEXT", []listener{{"SSL", protoPlaintext}}},
		{"unmapped name", "CONTROLLER://:9094", "INTERNAL:SSL", []listener{{"CONTROLLER", ""}}},
		{"empty", "", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseListeners(tc.listeners, tc.protocolMap); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseListeners(%q, %q) = %v, want %v", tc.listeners, tc.protocolMap, got, tc.want)
			}
		})
	}
}

func configs(kv ...string) configSet {
	m := map[string]kadm.Config{}
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		m[kv[i]] = kadm.Config{Key: kv[i], Value: &v, Source: kmsg.ConfigSourceStaticBrokerConfig}
	}
	return configSet{byKey: m}
}

// statusOf returns the status and severity of the only finding of check
// on resource.
func statusOf(t *testing.T, fs []Finding, check, resource string) (Status, Severity) {
	t.Helper()
	var found []Finding
	for _, f := range fs {
		if f.Check == check && f.Resource == resource {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d findings %s on %q, want 1; all: %+v", len(found), check, resource, fs)
	}
	return found[0].Status, found[0].Severity
}

func TestCheckBrokerListeners(t *testing.T) {
	tests := []struct {
		name     string
		cs       configSet
		check    string
		resource string
		status   Status
		severity Severity
	}{
		{"plaintext listener", configs("listeners", "PLAINTEXT://:9092"),
			"listener-protocol", "b listener PLAINTEXT", Fail, High},
		{"sasl_plaintext listener", configs("listeners", "SASL_PLAINTEXT://:9092"),
			"listener-protocol", "b listener SASL_PLAINTEXT", Fail, High},
		{"ssl listener", configs("listeners", "SSL://:9093"),
			"listener-protocol", "b listener SSL", Pass, High},
		{"unmapped listener", configs("listeners", "CLIENTS://:9093"),
			"listener-protocol", "b listener CLIENTS", Unknown, High},
		{"ssl listener, broker-wide client auth", configs("listeners", "SSL://:9093", "ssl.client.auth", "required"),
			"ssl-client-auth", "b listener SSL", Pass, High},
		{"ssl listener, requested", configs("listeners", "SSL://:9093", "ssl.client.auth", "requested"),
			"ssl-client-auth", "b listener SSL", Fail, High},
		{"ssl listener, prefixed none wins", configs("listeners", "SSL://:9093", "ssl.client.auth", "required",
			"listener.name.ssl.ssl.client.auth", "none"),
			"ssl-client-auth", "b listener SSL", Fail, High},
		{"ssl listener, client auth unreported", configs("listeners", "SSL://:9093"),
			"ssl-client-auth", "b listener SSL", Unknown, High},
		{"sasl_ssl ignores broker-wide client auth", configs("listeners", "SASL_SSL://:9093", "ssl.client.auth", "required"),
			"ssl-client-auth", "b listener SASL_SSL", Fail, Medium},
		{"sasl_ssl with prefixed client auth", configs("listeners", "EXT://:9093",
			"listener.security.protocol.map", "EXT:SASL_SSL", "listener.name.ext.ssl.client.auth", "required"),
			"ssl-client-auth", "b listener EXT", Pass, Medium},
		{"protocols 1.2 and 1.3", configs("listeners", "SSL://:9093", "ssl.enabled.protocols", "TLSv1.2,TLSv1.3"),
			"tls-protocols", "b listener SSL", Pass, High},
		{"protocols with 1.1", configs("listeners", "SSL://:9093", "ssl.enabled.protocols", "TLSv1.1,TLSv1.2"),
			"tls-protocols", "b listener SSL", Fail, High},
		{"prefixed protocols win", configs("listeners", "SSL://:9093", "ssl.enabled.protocols", "TLSv1.3",
			"listener.name.ssl.ssl.enabled.protocols", "TLSv1"),
			"tls-protocols", "b listener SSL", Fail, High},
		{"no listeners: broker-wide client auth", configs("ssl.client.auth", "required"),
			"ssl-client-auth", "b", Pass, High},
		{"no listeners: protocols unreported", configs(),
			"tls-protocols", "b", Unknown, High},
		{"auto create on", configs("auto.create.topics.enable", "true"),
			"auto-create-topics", "b", Fail, Medium},
		{"allow everyone off", configs("allow.everyone.if.no.acl.found", "false"),
			"allow-everyone-if-no-acl", "b", Pass, High},
		{"no authorizer", configs("authorizer.class.name", ""),
			"authorizer", "b", Fail, High},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, sev := statusOf(t, checkBroker("b", tc.cs), tc.check, tc.resource)
			if status != tc.status || sev != tc.severity {
				t.Errorf("%s on %q = %s/%s, want %s/%s", tc.check, tc.resource, status, sev, tc.status, tc.severity)
			}
		})
	}
}

func TestCheckBrokerUnreadable(t *testing.T) {
	fs := checkBroker("b", configSet{err: errors.New("CLUSTER_AUTHORIZATION_FAILED")})
	for _, f := range fs {
		if f.Status != Unknown {
			t.Errorf("finding %s = %s with unreadable configs, want unknown", f.Check, f.Status)
		}
	}
}
