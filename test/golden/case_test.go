package golden

import (
	"errors"
	"fmt"
	"strings"
)

const (
	requestMarker  = "---- request\n"
	responseMarker = "---- response\n"
)

// goldenCase is one parsed case file.
type goldenCase struct {
	// head is the text before the request marker, kept verbatim on update.
	head string
	// request is the raw request body, with placeholders.
	request string
	// response is the recorded, normalized response ("" if none yet).
	response string

	target    string   // X-Amz-Target; "" sends none
	method    string   // HTTP method, default POST
	auth      string   // signing mode, see sign
	needs     []string // placeholders to resolve before the request
	headers   [][2]string
	genericID bool // normalize every key ARN/ID generically
	// wantType, when set, is the exception AWS answers; the test fails if
	// Trent answers anything else, whatever the recording says.
	wantType string
}

// parseCase parses a case file. The head holds "name: value" lines and
// "#" comments; "target: Encrypt" is short for "TrentService.Encrypt".
func parseCase(text string) (*goldenCase, error) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if strings.HasSuffix(text, "\n"+strings.TrimSuffix(responseMarker, "\n")) {
		text += "\n" // a response marker on the last line, without its newline
	}
	i := strings.Index(text, requestMarker)
	if i < 0 || (i > 0 && text[i-1] != '\n') {
		return nil, errors.New("no \"---- request\" line")
	}
	c := &goldenCase{head: text[:i], method: "POST", auth: "admin"}
	rest := text[i+len(requestMarker):]
	if j := strings.Index(rest, responseMarker); j >= 0 && (j == 0 || rest[j-1] == '\n') {
		c.request, c.response = rest[:j], rest[j+len(responseMarker):]
	} else {
		c.request = rest
	}
	c.request = strings.TrimRight(c.request, "\n")
	targetSet := false
	for n, line := range strings.Split(c.head, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: want \"name: value\"", n+1)
		}
		value = strings.TrimSpace(value)
		switch strings.TrimSpace(name) {
		case "target":
			targetSet = true
			switch {
			case value == "-":
				c.target = ""
			case strings.Contains(value, "."):
				c.target = value
			default:
				c.target = "TrentService." + value
			}
		case "method":
			c.method = value
		case "auth":
			c.auth = value
		case "needs":
			c.needs = append(c.needs, strings.Fields(value)...)
		case "header":
			h, v, ok := strings.Cut(value, ":")
			if !ok {
				return nil, fmt.Errorf("line %d: want \"header: Name: value\"", n+1)
			}
			c.headers = append(c.headers, [2]string{strings.TrimSpace(h), strings.TrimSpace(v)})
		case "want-type":
			c.wantType = value
		case "normalize":
			if value != "generic-ids" {
				return nil, fmt.Errorf("line %d: normalize %q is not generic-ids", n+1, value)
			}
			c.genericID = true
		default:
			return nil, fmt.Errorf("line %d: unknown field %q", n+1, name)
		}
	}
	if !targetSet {
		return nil, errors.New("no \"target:\" line")
	}
	return c, nil
}

// format returns the file text of c with response as its recorded response.
func (c *goldenCase) format(response string) string {
	var b strings.Builder
	b.WriteString(c.head)
	b.WriteString(requestMarker)
	if c.request != "" {
		b.WriteString(c.request)
		b.WriteString("\n")
	}
	b.WriteString(responseMarker)
	b.WriteString(response)
	return b.String()
}
