package chattemplate

import "strings"

// rewriteFilters renames the tojson filter in a template's tags to
// tojsonName, leaving text, comments, raw blocks and string literals
// alone. Lengths change, so the engine's line numbers stay right (no
// newline is added or removed).
func rewriteFilters(src string) string {
	if !strings.Contains(src, "tojson") {
		return src
	}
	var b strings.Builder
	b.Grow(len(src) + 64)
	i := 0
	for i < len(src) {
		j := strings.IndexByte(src[i:], '{')
		if j < 0 || i+j+1 >= len(src) {
			b.WriteString(src[i:])
			break
		}
		j += i
		b.WriteString(src[i:j])
		switch src[j+1] {
		case '#':
			end := strings.Index(src[j+2:], "#}")
			if end < 0 {
				b.WriteString(src[j:])
				return b.String()
			}
			end += j + 4
			b.WriteString(src[j:end])
			i = end
		case '{', '%':
			closer := "}}"
			if src[j+1] == '%' {
				closer = "%}"
			}
			end := tagEnd(src, j+2, closer)
			tag := src[j:end]
			if closer == "%}" && isRawTag(tag) {
				// Copy through the matching endraw tag untouched.
				k := strings.Index(src[end:], "endraw")
				if k < 0 {
					b.WriteString(src[j:])
					return b.String()
				}
				stop := strings.Index(src[end+k:], "%}")
				if stop < 0 {
					b.WriteString(src[j:])
					return b.String()
				}
				stop += end + k + 2
				b.WriteString(src[j:stop])
				i = stop
				continue
			}
			b.WriteString(renameInTag(tag))
			i = end
		default:
			b.WriteByte('{')
			i = j + 1
		}
	}
	return b.String()
}

// tagEnd returns the index just past the closer of a tag whose body starts
// at i, skipping string literals; len(src) when it is not closed.
func tagEnd(src string, i int, closer string) int {
	for i < len(src) {
		switch c := src[i]; c {
		case '\'', '"':
			i++
			for i < len(src) && src[i] != c {
				if src[i] == '\\' {
					i++
				}
				i++
			}
			i++
		default:
			if strings.HasPrefix(src[i:], closer) {
				return i + len(closer)
			}
			i++
		}
	}
	return len(src)
}

// isRawTag reports whether a {% ... %} tag is {% raw %}.
func isRawTag(tag string) bool {
	body := strings.Trim(tag[2:len(tag)-2], "-+ \t\r\n")
	return body == "raw"
}

// renameInTag renames "| tojson" outside the tag's string literals.
func renameInTag(tag string) string {
	var b strings.Builder
	for i := 0; i < len(tag); {
		c := tag[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(tag) && tag[j] != c {
				if tag[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(tag))
			b.WriteString(tag[i:j])
			i = j
		case c == '|':
			j := i + 1
			for j < len(tag) && strings.IndexByte(" \t\r\n", tag[j]) >= 0 {
				j++
			}
			k := j
			for k < len(tag) && isIdentByte(tag[k]) {
				k++
			}
			b.WriteString(tag[i:j])
			if tag[j:k] == "tojson" {
				b.WriteString(tojsonName)
			} else {
				b.WriteString(tag[j:k])
			}
			i = k
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
