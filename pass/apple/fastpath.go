package apple

import (
	"reflect"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"walletpass/pass"
)

// A fast path for the template strings almost every design is made of:
// text mixed with plain field references ({{.Seat.Row}}) and single-argument
// formatters ({{date .Event.Start}}). They are resolved once, at load, to
// struct field indexes, so rendering them costs no reflection-driven
// template interpretation. Anything else runs through text/template.

type fastPart struct {
	text  string
	index []int // field path in renderData; nil for a text part
	fn    string
}

var renderDataType = reflect.TypeOf(renderData{})

var (
	timeType  = reflect.TypeOf(time.Time{})
	moneyType = reflect.TypeOf(pass.Money{})
)

// compileFast returns the parts of tpl if every node is text or a simple
// field reference, or nil.
func compileFast(tpl *template.Template) []fastPart {
	if tpl.Tree == nil || tpl.Tree.Root == nil {
		return nil
	}
	var parts []fastPart
	for _, n := range tpl.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			parts = append(parts, fastPart{text: string(n.Text)})
		case *parse.ActionNode:
			if len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 {
				return nil
			}
			args := n.Pipe.Cmds[0].Args
			fn := ""
			if len(args) == 2 {
				id, ok := args[0].(*parse.IdentifierNode)
				if !ok {
					return nil
				}
				fn = id.Ident
				args = args[1:]
			}
			f, ok := args[0].(*parse.FieldNode)
			if !ok || len(args) != 1 {
				return nil
			}
			idx, typ, ok := fieldIndex(f.Ident)
			if !ok || !fastFormattable(fn, typ) {
				return nil
			}
			parts = append(parts, fastPart{index: idx, fn: fn})
		default:
			return nil
		}
	}
	return parts
}

func fieldIndex(path []string) ([]int, reflect.Type, bool) {
	t := renderDataType
	var idx []int
	for _, name := range path {
		if t.Kind() != reflect.Struct {
			return nil, nil, false
		}
		f, ok := t.FieldByName(name)
		if !ok || !f.IsExported() {
			return nil, nil, false
		}
		idx = append(idx, f.Index...)
		t = f.Type
	}
	return idx, t, true
}

func fastFormattable(fn string, t reflect.Type) bool {
	switch fn {
	case "":
		switch t.Kind() {
		case reflect.String, reflect.Int, reflect.Int64:
			return true
		}
	case "upper", "lower":
		return t.Kind() == reflect.String
	case "date":
		return t == timeType
	case "money":
		return t == moneyType
	}
	return false
}

func renderFast(parts []fastPart, d *renderData) string {
	var b strings.Builder
	v := reflect.ValueOf(d).Elem()
	for _, p := range parts {
		if p.index == nil {
			b.WriteString(p.text)
			continue
		}
		f := v.FieldByIndex(p.index)
		switch p.fn {
		case "date":
			b.WriteString(formatDate(f.Interface().(time.Time)))
		case "money":
			b.WriteString(moneyString(f.Interface().(pass.Money)))
		case "upper":
			b.WriteString(strings.ToUpper(f.String()))
		case "lower":
			b.WriteString(strings.ToLower(f.String()))
		default:
			if f.Kind() == reflect.String {
				b.WriteString(f.String())
			} else {
				b.WriteString(strconv.FormatInt(f.Int(), 10))
			}
		}
	}
	return b.String()
}
