package workload

import (
	"errors"
	"strings"
	"testing"
)

// TestPropertyErrorsNameTheBadProperty: with recordcount missing too (a -P
// file of one's own), the error names the property that is actually bad.
func TestPropertyErrorsNameTheBadProperty(t *testing.T) {
	for _, tt := range []struct {
		props Properties
		want  string
	}{
		{Properties{"requestdistribution": "banana"}, `requestdistribution="banana": must be one of uniform, zipfian`},
		{Properties{"readproportion": "0", "updateproportion": "0"}, "proportions (readproportion, updateproportion, insertproportion, scanproportion, readmodifywriteproportion) sum to 0"},
		{Properties{"fieldcount": "0"}, `fieldcount="0": must be a positive integer`},
		{Properties{"insertorder": "random"}, `insertorder="random": must be one of hashed, ordered`},
		{Properties{}, "recordcount is not set: give it in the property file, with -p recordcount=N or --records N"},
		{Properties{"recordcount": "0"}, `recordcount="0": must be a positive integer`},
	} {
		_, err := NewYCSB(tt.props)
		if err == nil || !errors.Is(err, ErrBadProperty) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewYCSB(%v) = %v, want an error containing %q", tt.props, err, tt.want)
		}
	}
}

func TestCheckNames(t *testing.T) {
	for _, tt := range []struct {
		name, wantErr, wantWarn string
	}{
		{"readproportion", "", ""},
		{"readproprotion", `unknown property "readproprotion": did you mean readproportion?`, ""},
		{"recordcout", `did you mean recordcount?`, ""},
		{"nosuchprop", `unknown property "nosuchprop" (the closest known property is`, ""},
		{"mongodb.url", "", "property mongodb.url is not YCSB's (a database binding's?): ignored"},
		{"threadcount", "", "property threadcount is YCSB's but has no effect in kvbench"},
	} {
		warns, err := CheckNames(Properties{tt.name: "1"})
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !errors.Is(err, ErrUnknownProperty) || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
		}
		if got := strings.Join(warns, "\n"); got != tt.wantWarn {
			t.Errorf("%s: warnings %q, want %q", tt.name, got, tt.wantWarn)
		}
	}
}

func TestProportionNote(t *testing.T) {
	a, err := Core("a")
	if err != nil {
		t.Fatal(err)
	}
	y, err := NewYCSB(a)
	if err != nil {
		t.Fatal(err)
	}
	if n := y.ProportionNote(); n != "" {
		t.Errorf("stock workload a: note %q", n)
	}
	a["readproportion"] = "0.9"
	if y, err = NewYCSB(a); err != nil {
		t.Fatal(err)
	}
	want := "operation proportions sum to 1.4, not 1; used as readproportion=0.643, updateproportion=0.357"
	if n := y.ProportionNote(); n != want {
		t.Errorf("note %q, want %q", n, want)
	}
}

func TestValueSizeAndDistribution(t *testing.T) {
	p, _ := Core("a")
	p["fieldcount"], p["fieldlength"] = "4", "25"
	y, err := NewYCSB(p)
	if err != nil {
		t.Fatal(err)
	}
	if y.ValueSize() != 100 || y.Distribution() != "zipfian" {
		t.Errorf("value size %d, distribution %q; want 100, zipfian", y.ValueSize(), y.Distribution())
	}
}
