package inventory

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestProblemsGolden loads each broken file and compares the whole error
// message, every problem with its line and fix, with its golden file.
func TestProblemsGolden(t *testing.T) {
	for _, name := range []string{"bad.yaml", "bad.csv", "badheader.csv", "syntax.yaml", "empty.yaml"} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", name))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Load(%s) = %v, want a *ValidationError", name, err)
			}
			got := []byte(err.Error() + "\n")
			golden := filepath.Join("testdata", strings.TrimSuffix(name, filepath.Ext(name))+"-"+strings.TrimPrefix(filepath.Ext(name), ".")+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./inventory -run TestProblemsGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("error message differs from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// TestBadYAMLListsEveryProblem guards the property the golden file shows:
// one load reports every broken entry, not just the first.
func TestBadYAMLListsEveryProblem(t *testing.T) {
	_, err := Load("testdata/bad.yaml")
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v", err)
	}
	wantLines := []int{2, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22}
	seen := map[int]bool{}
	for _, p := range ve.Problems {
		seen[p.Line] = true
		if p.Fix == "" {
			t.Errorf("problem without a fix: %v", p)
		}
	}
	for _, l := range wantLines {
		if !seen[l] {
			t.Errorf("no problem reported on line %d; got:\n%v", l, err)
		}
	}
}

func TestLoadValid(t *testing.T) {
	inv, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Node{
		{Name: "node-001", Address: "10.0.0.1", Port: 2222, User: "kmemfix", Labels: map[string]string{"zone": "a", "rack": "r1"}},
		{Name: "node-002", Address: "node-002.example.net", Port: 22, User: "root", Arch: "arm64"},
		{Name: "node-003", Address: "fd00::3", Port: 2222, User: "kmemfix"},
	}
	if got := inv.Resolved(); !reflect.DeepEqual(got, want) {
		t.Errorf("Resolved() =\n%#v\nwant\n%#v", got, want)
	}
	csvInv, err := Load("testdata/valid.csv")
	if err != nil {
		t.Fatal(err)
	}
	wantCSV := []Node{
		{Name: "node-001", Address: "10.0.0.1", Port: 22, User: "kmemfix", Labels: map[string]string{"zone": "a", "rack": "r1"}},
		{Name: "node-002", Address: "node-002.example.net", Port: 22, User: "root"},
	}
	if got := csvInv.Resolved(); !reflect.DeepEqual(got, wantCSV) {
		t.Errorf("CSV Resolved() =\n%#v\nwant\n%#v", got, wantCSV)
	}
}

// TestRoundTrip writes an inventory with awkward values in both formats and
// reads it back unchanged.
func TestRoundTrip(t *testing.T) {
	inv := &Inventory{
		Defaults: Defaults{User: "kmemfix", Port: 2200},
		Nodes: []Node{
			{Name: "node-1", Address: "127.0.0.1", Port: 40001, Labels: map[string]string{"sim.kubelet": "1.12.3", "note": "a: b, 'c' \"d\" e=f"}},
			{Name: "yes", Address: "::1", User: "root", Arch: "arm64"},
			{Name: "007", Address: "host.example", Port: 22},
		},
	}
	var y bytes.Buffer
	if err := Write(&y, inv); err != nil {
		t.Fatal(err)
	}
	back, err := Parse(&y, YAML)
	if err != nil {
		t.Fatalf("%v\n%s", err, y.String())
	}
	if !reflect.DeepEqual(back, inv) {
		t.Errorf("YAML round trip:\n%#v\nwant\n%#v\nfile:\n%s", back, inv, y.String())
	}
	var c bytes.Buffer
	if err := WriteCSV(&c, inv); err != nil {
		t.Fatal(err)
	}
	backCSV, err := Parse(&c, CSV)
	if err != nil {
		t.Fatalf("%v\n%s", err, c.String())
	}
	if got, want := backCSV.Resolved(), inv.Resolved(); !reflect.DeepEqual(got, want) {
		t.Errorf("CSV round trip:\n%#v\nwant\n%#v\nfile:\n%s", got, want, c.String())
	}
}

func TestWriteCSVRefusesAmbiguousLabels(t *testing.T) {
	inv := &Inventory{Nodes: []Node{{Name: "a", Address: "10.1.1.1", Labels: map[string]string{"k": "x;y"}}}}
	if err := WriteCSV(&bytes.Buffer{}, inv); err == nil || !strings.Contains(err.Error(), "use YAML") {
		t.Errorf("WriteCSV with a ';' in a label value: %v", err)
	}
}

func TestSaveAndFormatOf(t *testing.T) {
	dir := t.TempDir()
	inv := &Inventory{Nodes: []Node{{Name: "a", Address: "10.1.1.1"}}}
	for _, name := range []string{"i.yaml", "i.yml", "i.csv"} {
		p := filepath.Join(dir, name)
		if err := Save(p, inv); err != nil {
			t.Fatal(err)
		}
		got, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if got.Resolved()[0].Address != "10.1.1.1" {
			t.Errorf("%s: %+v", name, got)
		}
	}
	if _, err := Load(filepath.Join(dir, "i.json")); err == nil || !strings.Contains(err.Error(), ".yaml, .yml or .csv") {
		t.Errorf("Load(.json) = %v, want an error naming the extensions", err)
	}
}

func TestNameRules(t *testing.T) {
	for name, ok := range map[string]bool{
		"node-001": true, "n.example.com": true, "a_b": true, "7": true,
		"": false, "-x": false, "a b": false, "a/b": false, "a\tb": false, "ü": false, strings.Repeat("a", 201): false,
	} {
		if msg, _ := checkName(name); (msg == "") != ok {
			t.Errorf("checkName(%q) = %q, want ok=%v", name, msg, ok)
		}
	}
}
