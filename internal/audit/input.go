package audit

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// SafeInput returns the requestParameters of a record for operation op
// built from in, the request exactly as the operation decoded it (a pointer
// to an input shape whose fields carry their wire names in json tags). It
// follows SafeParameters' rules: lower-camel member names (not inside
// encryption-context maps), no member that carries a secret or bulk data,
// and no blob at all. A member is recorded when it was present in the
// request: a non-nil pointer, slice or map (an empty list sent as [] is
// recorded as []); members the request did not name, and members the shape
// does not know, are not. SafeInput returns nil for a nil in.
//
// Because the record is built from the decoded input and not from a second
// parse of the body, what it names is what the operation acted on.
func SafeInput(op string, in any) map[string]any {
	_ = op
	v := reflect.ValueOf(in)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	return structParams(v)
}

// inputField is how one field of an input shape is recorded.
type inputField struct {
	index  int
	name   string // lower-camel wire name
	opaque bool   // a user-data map: kept verbatim
}

var inputPlans sync.Map // reflect.Type -> []inputField

// plan returns the recorded fields of struct type t.
func plan(t reflect.Type) []inputField {
	if p, ok := inputPlans.Load(t); ok {
		return p.([]inputField)
	}
	var fields []inputField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		lk := strings.ToLower(name)
		if isForbidden(lk) || isBlob(f.Type) {
			continue
		}
		fields = append(fields, inputField{index: i, name: lowerCamel(name), opaque: opaque[lk]})
	}
	p, _ := inputPlans.LoadOrStore(t, fields)
	return p.([]inputField)
}

var (
	bytesType     = reflect.TypeFor[[]byte]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
)

func isBlob(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t == bytesType || t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}

func structParams(v reflect.Value) map[string]any {
	fields := plan(v.Type())
	m := make(map[string]any, len(fields))
	for _, f := range fields {
		fv := v.Field(f.index)
		if f.opaque {
			if !isAbsent(fv) {
				m[f.name] = fv.Interface()
			}
			continue
		}
		if x, ok := inputValue(fv); ok {
			m[f.name] = x
		}
	}
	return m
}

// isAbsent reports whether a field was not in the request.
func isAbsent(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return v.IsNil()
	}
	return false
}

// inputValue converts a decoded value for the record; ok is false if the
// value is absent or must not be recorded.
func inputValue(v reflect.Value) (any, bool) {
	if isAbsent(v) {
		return nil, false
	}
	if v.Type().Implements(marshalerType) {
		return v.Interface(), true // e.g. a timestamp: encodes as on the wire
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return inputValue(v.Elem())
	case reflect.Struct:
		return structParams(v), true
	case reflect.Slice, reflect.Array:
		if isBlob(v.Type()) {
			return nil, false
		}
		out := make([]any, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			x, ok := inputValue(v.Index(i))
			if !ok {
				x = nil
			}
			out = append(out, x)
		}
		return out, true
	case reflect.Map:
		// A map that is not an encryption context: its keys are data
		// too, kept verbatim; its values follow the rules.
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			if it.Key().Kind() != reflect.String {
				return nil, false
			}
			if x, ok := inputValue(it.Value()); ok {
				out[it.Key().String()] = x
			}
		}
		return out, true
	case reflect.String:
		return v.String(), true
	case reflect.Bool:
		return v.Bool(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint(), true
	case reflect.Float32, reflect.Float64:
		return v.Float(), true
	}
	return nil, false
}
