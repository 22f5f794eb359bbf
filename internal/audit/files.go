package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// File names in a trail directory. Several nodes share one directory; the
// node ID in every name keeps their files apart:
//
//	trail-<node>-<first seq, 20 digits>-<UTC start, 20060102T150405Z>.jsonl
//	digest-<node>.jsonl
//	lock-<node>
//	pubkey-<key id>.pem
const (
	segPrefix    = "trail-"
	segSuffix    = ".jsonl"
	digestPrefix = "digest-"
	stampLayout  = "20060102T150405Z"
)

var nodeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidNodeID reports whether id can name a node: 1 to 64 characters from
// [A-Za-z0-9._-], starting with a letter or digit.
func ValidNodeID(id string) bool { return nodeRE.MatchString(id) }

// segment describes one segment file.
type segment struct {
	Node     string
	FirstSeq uint64
	Start    time.Time
	Name     string // base name
	Path     string
}

func segmentName(node string, firstSeq uint64, start time.Time) string {
	return fmt.Sprintf("%s%s-%020d-%s%s", segPrefix, node, firstSeq, start.UTC().Format(stampLayout), segSuffix)
}

// parseSegmentName parses a segment file base name.
func parseSegmentName(name string) (segment, bool) {
	s, ok := strings.CutPrefix(name, segPrefix)
	if !ok {
		return segment{}, false
	}
	if s, ok = strings.CutSuffix(s, segSuffix); !ok {
		return segment{}, false
	}
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return segment{}, false
	}
	start, err := time.Parse(stampLayout, s[i+1:])
	if err != nil {
		return segment{}, false
	}
	s = s[:i]
	j := strings.LastIndexByte(s, '-')
	if j < 0 || len(s)-j-1 != 20 {
		return segment{}, false
	}
	seq, err := strconv.ParseUint(s[j+1:], 10, 64)
	if err != nil || seq == 0 {
		return segment{}, false
	}
	node := s[:j]
	if !ValidNodeID(node) {
		return segment{}, false
	}
	return segment{Node: node, FirstSeq: seq, Start: start, Name: name}, true
}

func digestName(node string) string { return digestPrefix + node + segSuffix }

// listSegments returns the segments of every node in dir (of node only, if
// node is not ""), grouped by node and sorted by first sequence number.
func listSegments(dir, node string) (map[string][]segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]segment{}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		s, ok := parseSegmentName(e.Name())
		if !ok || (node != "" && s.Node != node) {
			continue
		}
		s.Path = filepath.Join(dir, s.Name)
		out[s.Node] = append(out[s.Node], s)
	}
	for _, ss := range out {
		sort.Slice(ss, func(i, j int) bool { return ss[i].FirstSeq < ss[j].FirstSeq })
	}
	return out, nil
}

// listNodes returns the IDs of the nodes that have a segment or a digest
// file in dir, sorted.
func listNodes(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range ents {
		if s, ok := parseSegmentName(e.Name()); ok {
			seen[s.Node] = true
			continue
		}
		if n, ok := strings.CutPrefix(e.Name(), digestPrefix); ok {
			if n, ok = strings.CutSuffix(n, segSuffix); ok && ValidNodeID(n) {
				seen[n] = true
			}
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// lineReader yields the lines of a file with their 1-based numbers and byte
// offsets. A final line without a newline is returned with torn = true.
type lineReader struct {
	br   *bufio.Reader
	off  int64
	line int
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 1<<16)}
}

// next returns the next line without its newline. It returns io.EOF at the
// end. The returned slice is valid until the next call.
func (lr *lineReader) next() (line []byte, off int64, torn bool, err error) {
	b, err := lr.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// Long line: gather it.
		buf := append([]byte(nil), b...)
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = lr.br.ReadSlice('\n')
			buf = append(buf, b...)
		}
		b = buf
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, false, err
	}
	if len(b) == 0 {
		return nil, 0, false, io.EOF
	}
	off = lr.off
	lr.off += int64(len(b))
	lr.line++
	if b[len(b)-1] != '\n' {
		if allZero(b) {
			// Zero-filled space at the end of a segment is preallocated
			// (see Log.reserve), never written: the file ends before it.
			lr.off = off
			lr.line--
			return nil, 0, false, io.EOF
		}
		return b, off, true, nil
	}
	return b[:len(b)-1], off, false, nil
}
