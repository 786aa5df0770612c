package workload

import (
	"bufio"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Properties is a YCSB property set (what `-P file` and `-p key=value`
// give YCSB). Keys are case-sensitive, as in Java.
type Properties map[string]string

// Clone returns a copy of p that can be changed without changing p.
func (p Properties) Clone() Properties { return maps.Clone(p) }

// Merge copies every property of q into p, overriding p's values, as a
// later -P file or -p flag overrides an earlier one.
func (p Properties) Merge(q Properties) {
	maps.Copy(p, q)
}

// SetPair parses one `key=value` (the argument of YCSB's -p flag) and sets
// it. The key must not be empty; the value may be.
func (p Properties) SetPair(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return fmt.Errorf("%w: property %q is not key=value", ErrBadProperty, kv)
	}
	p[k] = strings.TrimSpace(v)
	return nil
}

// ErrBadProperty is wrapped by every error about a malformed property file
// or property value.
var ErrBadProperty = errors.New("bad property")

//go:embed ycsb/workload?
var coreFiles embed.FS

// CoreWorkloads lists the letters Core accepts.
const CoreWorkloads = "abcdef"

// Core returns YCSB's stock core workload "a".."f" (case-insensitive; the
// forms "workloada" and "A" work too), parsed from kvbench's embedded copies
// of YCSB's workloads/workloada..workloadf. The caller owns the map.
func Core(letter string) (Properties, error) {
	l := strings.TrimPrefix(strings.ToLower(letter), "workload")
	if len(l) != 1 || !strings.Contains(CoreWorkloads, l) {
		return nil, fmt.Errorf("unknown YCSB core workload %q (want one of a, b, c, d, e, f)", letter)
	}
	f, err := coreFiles.Open("ycsb/workload" + l)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := ParseProperties(f)
	if err != nil {
		return nil, fmt.Errorf("embedded workload%s: %w", l, err)
	}
	return p, nil
}

// LoadPropertyFile reads a YCSB property file (the argument of -P). A path
// that does not exist but names one of YCSB's stock files (workloada ..
// workloadf, in any directory, as in `-P workloads/workloada`) reads the
// embedded copy, so YCSB command lines work from any directory.
func LoadPropertyFile(path string) (Properties, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if core, cerr := Core(filepath.Base(path)); cerr == nil {
			return core, nil
		}
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := ParseProperties(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParseProperties reads Java .properties text, the format of YCSB's
// property files: blank lines and lines whose first non-blank character is
// `#` or `!` are ignored; an entry is `key=value`, `key: value` or
// `key value` (the key ends at the first unescaped `=`, `:` or blank);
// blanks around keys and values are trimmed (Java keeps trailing blanks of
// values; a trailing blank in a YCSB property is never meant); a line ending
// in an odd number of backslashes continues on the next line; the escapes
// \t \n \r \f \uXXXX and backslash-anything work as in Java. A later entry
// overrides an earlier one.
//
// Unlike Java, which accepts almost anything, a line with a key but no
// value (`recordcount`), an entry with an empty key (`=5`), a bad \u escape
// or a continuation at end of input is an error naming its line number:
// such lines are typos, and YCSB would silently use a default instead.
// Errors wrap ErrBadProperty.
func ParseProperties(r io.Reader) (Properties, error) {
	p := Properties{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		first := lineNo
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		// Join continuation lines: an odd number of trailing backslashes.
		for continues(line) {
			line = line[:len(line)-1]
			if !sc.Scan() {
				if err := sc.Err(); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("%w: line %d: continuation at end of input", ErrBadProperty, first)
			}
			lineNo++
			line += strings.TrimLeft(sc.Text(), " \t\f")
		}
		k, v, err := splitEntry(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadProperty, first, err)
		}
		p[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	return p, nil
}

func continues(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitEntry splits one logical line into its unescaped key and value.
func splitEntry(line string) (string, string, error) {
	end := len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++ // skip the escaped character
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			end = i
			break
		}
	}
	rawKey, rest := line[:end], line[end:]
	// The separator: blanks, then at most one '=' or ':', then blanks.
	rest = strings.TrimLeft(rest, " \t\f")
	sep := false
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest, sep = rest[1:], true
	}
	rawVal := strings.Trim(rest, " \t\f")
	if rawKey == "" {
		return "", "", fmt.Errorf("empty key in %q", line)
	}
	if !sep && rawVal == "" {
		return "", "", fmt.Errorf("key %q has no value (want key=value)", rawKey)
	}
	k, err := unescape(rawKey)
	if err != nil {
		return "", "", err
	}
	v, err := unescape(rawVal)
	if err != nil {
		return "", "", err
	}
	k = strings.TrimSpace(k)
	if k == "" {
		return "", "", fmt.Errorf("empty key in %q", line)
	}
	return k, v, nil
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			break // a lone trailing backslash (Java drops it)
		}
		switch c = s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("short \\u escape in %q", s)
			}
			v, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf("bad \\u escape in %q", s)
			}
			b.WriteRune(rune(v))
			i += 4
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// proportion is one nonzero operation proportion as the properties gave it.
type proportion struct {
	name   string
	weight float64
}

// ProportionNote says how the operation proportions were renormalised when
// they do not sum to 1 (YCSB divides each by their sum without a word):
// "operation proportions sum to 1.4, not 1; used as readproportion=0.643,
// updateproportion=0.357". It is "" when they sum to 1.
func (y *YCSB) ProportionNote() string {
	var sum float64
	for _, p := range y.proportions {
		sum += p.weight
	}
	if math.Abs(sum-1) < 1e-9 || sum <= 0 {
		return ""
	}
	parts := make([]string, len(y.proportions))
	for i, p := range y.proportions {
		parts[i] = p.name + "=" + strconv.FormatFloat(p.weight/sum, 'g', 3, 64)
	}
	return fmt.Sprintf("operation proportions sum to %s, not 1; used as %s",
		strconv.FormatFloat(sum, 'g', 4, 64), strings.Join(parts, ", "))
}

// usedProperties are the properties NewYCSB reads.
var usedProperties = []string{
	"recordcount", "operationcount", "insertstart", "insertcount", "zeropadding", "fieldcount", "fieldlength",
	"minfieldlength", "minscanlength", "maxscanlength", "zipfianconstant", "hotspotdatafraction",
	"hotspotopnfraction", "exponential.percentile", "exponential.frac", "readproportion", "updateproportion",
	"insertproportion", "scanproportion", "readmodifywriteproportion", "keyprefix", "insertorder",
	"fieldlengthdistribution", "scanlengthdistribution", "requestdistribution",
}

// ignoredProperties are YCSB properties kvbench accepts but does not act on
// (the stock workload files set some; kvbench has flags for others).
var ignoredProperties = []string{
	"workload", "db", "threadcount", "target", "maxexecutiontime", "measurementtype", "measurement.interval",
	"table", "fieldnameprefix", "readallfields", "writeallfields", "readallfieldsbyname", "dataintegrity",
	"status.interval", "exporter", "exportfile", "hdrhistogram.percentiles", "hdrhistogram.fileoutput",
	"histogram.buckets", "timeseries.granularity", "core_workload_insertion_retry_limit",
	"core_workload_insertion_retry_interval", "insertionretrylimit", "insertionretryinterval", "fieldlengthhistogram",
	"requestdistribution.hotspot", "workload.name", "debug", "label", "zipfian.constant",
}

// ErrUnknownProperty is wrapped by CheckNames for a property name that is
// neither YCSB's nor a binding's.
var ErrUnknownProperty = errors.New("unknown property")

// CheckNames vets the names of properties given on the command line (-p):
// a name kvbench uses is fine; a YCSB property kvbench does not act on, or
// a database binding's (a dotted name such as mongodb.url, which YCSB
// passes to its bindings), is returned as a warning; any other name is an
// error naming the closest known property, since it is most likely a typo
// (`readproprotion`) that YCSB would silently ignore.
func CheckNames(p Properties) (warnings []string, err error) {
	names := slices.Sorted(maps.Keys(p))
	for _, name := range names {
		if slices.Contains(usedProperties, name) {
			continue
		}
		if slices.Contains(ignoredProperties, name) {
			warnings = append(warnings, fmt.Sprintf("property %s is YCSB's but has no effect in kvbench", name))
			continue
		}
		closest, d := closestName(name)
		if d <= max(2, len(name)/4) {
			return warnings, fmt.Errorf("%w %q: did you mean %s?", ErrUnknownProperty, name, closest)
		}
		if strings.Contains(name, ".") {
			warnings = append(warnings, fmt.Sprintf("property %s is not YCSB's (a database binding's?): ignored", name))
			continue
		}
		return warnings, fmt.Errorf("%w %q (the closest known property is %s)", ErrUnknownProperty, name, closest)
	}
	return warnings, nil
}

// closestName returns the known property nearest to name by edit distance.
func closestName(name string) (string, int) {
	best, bestD := "", math.MaxInt
	for _, list := range [][]string{usedProperties, ignoredProperties} {
		for _, k := range list {
			if d := editDistance(strings.ToLower(name), k); d < bestD {
				best, bestD = k, d
			}
		}
	}
	return best, bestD
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// UsedProperties lists the YCSB properties kvbench acts on, sorted (for
// shell completion and help).
func UsedProperties() []string { return slices.Sorted(slices.Values(usedProperties)) }

// ValueSize is the bytes of one value, fieldcount*fieldlength (the largest
// when field lengths are drawn from a distribution).
func (y *YCSB) ValueSize() int { return int(y.fields * y.fieldLen.max) }

// Distribution is the requestdistribution that chooses keys.
func (y *YCSB) Distribution() string { return y.distribution }
