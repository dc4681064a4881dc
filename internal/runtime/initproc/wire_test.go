package initproc

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// notCarried are the spec fields init does not use, which the wire form
// leaves out (the parent applies them). Any other field, added to the spec
// or to Config, must cross: TestWireCarriesEveryField fails until it
// does.
var notCarried = map[string]bool{
	"Spec.Solaris": true, "Spec.Windows": true, "Spec.VM": true, "Spec.ZOS": true, "Spec.FreeBSD": true,
	"Linux.Resources": true, "Linux.CgroupsPath": true, "Linux.NetDevices": true,
	"Linux.IntelRdt": true, "Linux.MemoryPolicy": true,
}

// fill sets every field reachable from v to a non-zero value that
// depends on seed, skipping notCarried.
func fill(t *testing.T, v reflect.Value, seed *int) {
	*seed++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), seed)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			name := v.Type().Name() + "." + v.Type().Field(i).Name
			if notCarried[name] {
				continue
			}
			fill(t, v.Field(i), seed)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		fill(t, s.Index(0), seed)
		fill(t, s.Index(1), seed)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := 0; i < 2; i++ {
			k := reflect.New(v.Type().Key()).Elem()
			fill(t, k, seed)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(t, e, seed)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.String:
		v.SetString("s" + strings.Repeat("x", *seed%7) + string(rune('a'+*seed%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*seed) * -3)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(uint64(*seed) * 1000003)
	default:
		t.Fatalf("fill: no rule for %s", v.Type())
	}
}

func TestWireCarriesEveryField(t *testing.T) {
	var ic Config
	seed := 0
	fill(t, reflect.ValueOf(&ic).Elem(), &seed)
	in := Msg{Type: MsgConfig, Error: "e", Phases: []string{"a=1ms"}, Config: &ic}
	var buf bytes.Buffer
	if err := writeSyncMsg(&buf, &in); err != nil {
		t.Fatal(err)
	}
	out, err := readSyncMsg(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip differs:\n in: %+v\nout: %+v\nspec in:  %+v\nspec out: %+v", in, out, *in.Config.Spec, *out.Config.Spec)
	}
}

// nil and empty lists are different things to the spec (env: nil means
// none given), so both survive.
func TestWireKeepsNilAndEmpty(t *testing.T) {
	in := Msg{Type: MsgConfig, Config: &Config{
		Spec:    &specs.Spec{Mounts: []specs.Mount{}, Annotations: map[string]string{}},
		Process: &specs.Process{Env: []string{}, Args: nil},
	}}
	out, err := decodeSyncMsg(encodeSyncMsg(&in)[4:])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip differs: %+v vs %+v", in.Config, out.Config)
	}
}

func TestWireRefusesMalformed(t *testing.T) {
	good := encodeSyncMsg(&Msg{Type: MsgConfig, Config: &Config{ID: "c1", Spec: &specs.Spec{Hostname: "h"}}})
	for n := 4; n < len(good); n++ {
		if _, err := decodeSyncMsg(good[4:n]); err == nil {
			t.Errorf("a message cut to %d bytes decoded", n-4)
		}
	}
	if _, err := decodeSyncMsg(append(append([]byte(nil), good[4:]...), 0)); err == nil {
		t.Error("trailing bytes accepted")
	}
	// A header that promises more than the stream holds.
	if _, err := readSyncMsg(bytes.NewReader(good[:len(good)-1])); err != io.ErrUnexpectedEOF {
		t.Errorf("short stream: %v, want unexpected EOF", err)
	}
	huge := []byte{0xff, 0xff, 0xff, 0xff}
	if _, err := readSyncMsg(bytes.NewReader(huge)); err == nil || !strings.Contains(err.Error(), "allowed") {
		t.Errorf("4 GiB header: %v", err)
	}
}

func FuzzDecodeSyncMsg(f *testing.F) {
	var ic Config
	seed := 0
	fill(&testing.T{}, reflect.ValueOf(&ic).Elem(), &seed)
	f.Add(encodeSyncMsg(&Msg{Type: MsgConfig, Config: &ic})[4:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeSyncMsg(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes.
		if again := encodeSyncMsg(&m)[4:]; !bytes.Equal(again, b) {
			// Non-canonical inputs (a bool byte of 2, map keys out of
			// order) may decode; they must then be stable.
			m2, err := decodeSyncMsg(again)
			if err != nil || !reflect.DeepEqual(m, m2) {
				t.Fatalf("re-encoding is not stable: %v", err)
			}
		}
	})
}
