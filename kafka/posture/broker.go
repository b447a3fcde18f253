package posture

import (
	"strings"
)

// Kafka security protocols.
const (
	protoPlaintext     = "PLAINTEXT"
	protoSSL           = "SSL"
	protoSASLPlaintext = "SASL_PLAINTEXT"
	protoSASLSSL       = "SASL_SSL"
)

// listener is one entry of the broker setting listeners; protocol is
// empty when the name maps to no known security protocol.
type listener struct {
	name     string
	protocol string
}

func (l listener) tls() bool { return l.protocol == protoSSL || l.protocol == protoSASLSSL }

// parseListeners parses listeners ("NAME://host:port,...") and resolves
// each name through listener.security.protocol.map ("NAME:PROTOCOL,...");
// a name missing from the map is its own protocol when it is one.
func parseListeners(listeners, protocolMap string) []listener {
	protocols := map[string]string{}
	for _, entry := range splitList(protocolMap) {
		if name, proto, ok := strings.Cut(entry, ":"); ok {
			protocols[strings.ToUpper(strings.TrimSpace(name))] = strings.ToUpper(strings.TrimSpace(proto))
		}
	}
	var out []listener
	for _, entry := range splitList(listeners) {
		name, _, _ := strings.Cut(entry, "://")
		name = strings.ToUpper(name)
		proto, ok := protocols[name]
		if !ok {
			switch name {
			case protoPlaintext, protoSSL, protoSASLPlaintext, protoSASLSSL:
				proto = name
			}
		}
		out = append(out, listener{name: name, protocol: proto})
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// checkBroker runs the broker-level checks on one broker's configs.
func checkBroker(resource string, cs configSet) []Finding {
	out, listeners, known := checkListeners(resource, cs)
	if known {
		for _, l := range listeners {
			if l.tls() {
				out = append(out, checkClientAuth(resource+" listener "+l.name, cs, l))
				out = append(out, checkProtocols(resource+" listener "+l.name, cs, l.name))
			}
		}
	} else {
		// Without the listeners, check the broker-wide values.
		out = append(out,
			checkEquals("ssl-client-auth", High, resource, cs, "ssl.client.auth", "required"),
			checkProtocols(resource, cs, ""))
	}
	return append(out,
		checkEquals("auto-create-topics", Medium, resource, cs, "auto.create.topics.enable", "false"),
		checkEquals("allow-everyone-if-no-acl", High, resource, cs, "allow.everyone.if.no.acl.found", "false"),
		checkAuthorizer(resource, cs),
	)
}

func checkListeners(resource string, cs configSet) (out []Finding, ls []listener, known bool) {
	raw := cs.get("listeners")
	if !raw.known {
		return []Finding{finding("listener-protocol", High, resource, "listeners", "only SSL or SASL_SSL listeners", raw, false)}, nil, false
	}
	protoMap := cs.get("listener.security.protocol.map")
	ls = parseListeners(raw.value, protoMap.value)
	if len(ls) == 0 {
		return []Finding{finding("listener-protocol", High, resource, "listeners", "only SSL or SASL_SSL listeners", raw, false)}, nil, true
	}
	for _, l := range ls {
		s := setting{value: l.protocol, known: true}
		if l.protocol == "" {
			s = setting{value: "name " + l.name + " not in listener.security.protocol.map (" + protoMap.String() + ")"}
		}
		out = append(out, finding("listener-protocol", High, resource+" listener "+l.name, "listeners",
			"SSL or SASL_SSL", s, l.tls()))
	}
	return out, ls, true
}

// checkClientAuth checks the ssl.client.auth that applies to a TLS
// listener. Kafka ignores the broker-wide setting on a SASL_SSL listener
// and, since KIP-684, reads only the listener-prefixed one there, so the
// default there is none. A client certificate on SASL_SSL is a second factor
// next to SASL, which is why that finding has medium severity.
func checkClientAuth(resource string, cs configSet, l listener) Finding {
	prefixed := "listener.name." + strings.ToLower(l.name) + ".ssl.client.auth"
	key, sev := prefixed, High
	if l.protocol == protoSASLSSL {
		sev = Medium
	}
	s := cs.get(prefixed)
	if !cs.has(prefixed) {
		if l.protocol == protoSASLSSL && cs.err == nil {
			s = setting{value: "none (default; broker-wide ssl.client.auth does not apply to SASL_SSL)", known: true}
		} else {
			key, s = "ssl.client.auth", cs.get("ssl.client.auth")
		}
	}
	return finding("ssl-client-auth", sev, resource, key, "required", s, strings.EqualFold(s.value, "required"))
}

// checkProtocols checks ssl.enabled.protocols for a listener, or the
// broker-wide value when name is empty.
func checkProtocols(resource string, cs configSet, name string) Finding {
	key := "ssl.enabled.protocols"
	if prefixed := "listener.name." + strings.ToLower(name) + "." + key; name != "" && cs.has(prefixed) {
		key = prefixed
	}
	s := cs.get(key)
	versions := splitList(s.value)
	ok := len(versions) > 0
	for _, v := range versions {
		if v != "TLSv1.2" && v != "TLSv1.3" {
			ok = false
		}
	}
	return finding("tls-protocols", High, resource, key, "only TLSv1.2 and TLSv1.3", s, ok)
}

func checkEquals(check string, sev Severity, resource string, cs configSet, key, want string) Finding {
	s := cs.get(key)
	return finding(check, sev, resource, key, want, s, strings.EqualFold(s.value, want))
}

// checkAuthorizer checks that ACLs are enforced at all: without an
// authorizer every authenticated client may do everything.
func checkAuthorizer(resource string, cs configSet) Finding {
	s := cs.get("authorizer.class.name")
	return finding("authorizer", High, resource, "authorizer.class.name", "an authorizer class", s, s.value != "")
}
