package toxics

import (
	"reflect"
	"strings"
	"time"
)

// Param describes one parameter of a fault type, for forms built from the registry.
type Param struct {
	Name string `json:"name"`
	// Type is duration, number, integer, text or bool.
	Type     string `json:"type"`
	Optional bool   `json:"optional"` // omitempty or a pointer: the fault has a default
}

// Describe lists a fault type's parameters with their types, in field order (embedded option
// structs last, as declared). The names are ParamNames'.
func Describe(f Fault) []Param {
	var out []Param
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			fl := t.Field(i)
			tag, opts, _ := strings.Cut(fl.Tag.Get("json"), ",")
			if fl.Anonymous && tag == "" {
				walk(fl.Type)
				continue
			}
			if !fl.IsExported() || tag == "-" {
				continue
			}
			if tag == "" {
				tag = fl.Name
			}
			ft := fl.Type
			optional := strings.Contains(opts, "omitempty") || ft.Kind() == reflect.Pointer
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			out = append(out, Param{Name: tag, Type: typeName(ft), Optional: optional})
		}
	}
	walk(reflect.TypeOf(f))
	return out
}

var durationType = reflect.TypeOf(Duration(0))
var stdDurationType = reflect.TypeOf(time.Duration(0))

func typeName(t reflect.Type) string {
	switch {
	case t == durationType || t == stdDurationType:
		return "duration"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "integer"
	case t.Kind() == reflect.Bool:
		return "bool"
	}
	return "text"
}
