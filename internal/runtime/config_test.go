package runtime

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linuxSpec must decode every field of specs.Spec but the other
// platforms' sections, under the same JSON names.
func TestLinuxSpecMirrorsSpec(t *testing.T) {
	other := map[string]bool{"Solaris": true, "Windows": true, "VM": true, "ZOS": true, "FreeBSD": true}
	full, mirror := reflect.TypeOf(specs.Spec{}), reflect.TypeOf(linuxSpec{})
	for i := 0; i < full.NumField(); i++ {
		f := full.Field(i)
		if other[f.Name] {
			continue
		}
		m, ok := mirror.FieldByName(f.Name)
		if !ok || m.Type != f.Type || m.Tag.Get("json") != f.Tag.Get("json") {
			t.Errorf("linuxSpec.%s does not mirror specs.Spec.%s (%s %q)", f.Name, f.Name, f.Type, f.Tag.Get("json"))
		}
	}
	if mirror.NumField() != full.NumField()-len(other) {
		t.Errorf("linuxSpec has %d fields, want %d", mirror.NumField(), full.NumField()-len(other))
	}
}
