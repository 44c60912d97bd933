package grammar

// knownFormats are the formats JSON Schema 2020-12 defines.
var knownFormats = map[string]bool{
	"date-time": true, "date": true, "time": true, "duration": true, "email": true, "idn-email": true,
	"hostname": true, "idn-hostname": true, "ipv4": true, "ipv6": true, "uri": true, "uri-reference": true,
	"iri": true, "iri-reference": true, "uuid": true, "uri-template": true, "json-pointer": true,
	"relative-json-pointer": true, "regex": true,
}

// formatAtom returns the constraint of a format, or ignore for formats
// this package does not know (annotations even under assertion).
func formatAtom(name string) (atom *strAtom, ignore bool) {
	return nil, !knownFormats[name]
}
