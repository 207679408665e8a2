// Hot path: a second template evaluator beside text/template, so that a
// render does no name lookups. Guarded by BenchmarkRender and
// BenchmarkBuildSign (pass/apple/bench_test.go) and by the equivalence
// tests TestFastPathMatchesTextTemplate and TestFastPathFallsBack
// (internal_test.go), which compare it with text/template on every string
// of the built-in templates.

package apple

import (
	"bytes"
	"fmt"
	"reflect"
	"text/template"
	"text/template/parse"
	"time"

	"walletpass/pass"
)

// A compiled evaluator for the template strings designs are made of: text,
// field references ({{.Seat.Row}}), calls of our functions and the
// builtins and/or/not/eq/printf/len ({{date .Event.Start}},
// {{join .Event.Performers ", "}}), string constants, parenthesised
// pipelines and if/else. Field paths are resolved to struct indexes once,
// at load, so rendering does no name lookups. It prints and tests truth
// exactly as text/template does (a test compares the two on every string
// of the built-in templates); anything it does not cover runs through
// text/template.

type evalFn func(d reflect.Value) (reflect.Value, error)

type fastTpl struct {
	render renderFn
}

var renderDataType = reflect.TypeOf(renderData{})

// compileFast returns the evaluator of tpl, or nil if tpl uses anything
// it does not cover.
func compileFast(tpl *template.Template) *fastTpl {
	if tpl.Tree == nil || tpl.Tree.Root == nil {
		return nil
	}
	r, ok := compileList(tpl.Tree.Root)
	if !ok {
		return nil
	}
	return &fastTpl{render: r}
}

// execTo appends the text of the template for d to b.
func (f *fastTpl) execTo(b *bytes.Buffer, d *renderData) error {
	return f.render(reflect.ValueOf(d).Elem(), b)
}

func (f *fastTpl) exec(d *renderData) (string, error) {
	var b bytes.Buffer
	if err := f.execTo(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

type renderFn = func(d reflect.Value, b *bytes.Buffer) error

func compileList(l *parse.ListNode) (renderFn, bool) {
	if l == nil {
		return func(reflect.Value, *bytes.Buffer) error { return nil }, true
	}
	var parts []renderFn
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			text := string(n.Text)
			parts = append(parts, func(_ reflect.Value, b *bytes.Buffer) error { b.WriteString(text); return nil })
		case *parse.ActionNode:
			if len(n.Pipe.Decl) > 0 {
				return nil, false
			}
			e, ok := compilePipe(n.Pipe)
			if !ok {
				return nil, false
			}
			parts = append(parts, func(d reflect.Value, b *bytes.Buffer) error {
				v, err := e(d)
				if err != nil {
					return err
				}
				return printValue(b, v)
			})
		case *parse.IfNode:
			if len(n.Pipe.Decl) > 0 {
				return nil, false
			}
			cond, ok := compilePipe(n.Pipe)
			if !ok {
				return nil, false
			}
			yes, ok1 := compileList(n.List)
			no, ok2 := compileList(n.ElseList)
			if !ok1 || !ok2 {
				return nil, false
			}
			parts = append(parts, func(d reflect.Value, b *bytes.Buffer) error {
				v, err := cond(d)
				if err != nil {
					return err
				}
				if truth(v) {
					return yes(d, b)
				}
				return no(d, b)
			})
		default:
			return nil, false
		}
	}
	return func(d reflect.Value, b *bytes.Buffer) error {
		for _, p := range parts {
			if err := p(d, b); err != nil {
				return err
			}
		}
		return nil
	}, true
}

func compilePipe(p *parse.PipeNode) (evalFn, bool) {
	if len(p.Cmds) != 1 {
		return nil, false
	}
	return compileCommand(p.Cmds[0])
}

func compileCommand(c *parse.CommandNode) (evalFn, bool) {
	if len(c.Args) == 0 {
		return nil, false
	}
	if id, ok := c.Args[0].(*parse.IdentifierNode); ok {
		var args []evalFn
		for _, a := range c.Args[1:] {
			e, ok := compileArg(a)
			if !ok {
				return nil, false
			}
			args = append(args, e)
		}
		return compileCall(id.Ident, args)
	}
	if len(c.Args) != 1 {
		return nil, false
	}
	return compileArg(c.Args[0])
}

func compileArg(n parse.Node) (evalFn, bool) {
	switch n := n.(type) {
	case *parse.FieldNode:
		idx, ok := fieldIndex(n.Ident)
		if !ok {
			return nil, false
		}
		return func(d reflect.Value) (reflect.Value, error) { return d.FieldByIndex(idx), nil }, true
	case *parse.StringNode:
		v := reflect.ValueOf(n.Text)
		return func(reflect.Value) (reflect.Value, error) { return v, nil }, true
	case *parse.PipeNode:
		if len(n.Decl) > 0 {
			return nil, false
		}
		return compilePipe(n)
	}
	return nil, false
}

func fieldIndex(path []string) ([]int, bool) {
	t := renderDataType
	var idx []int
	for _, name := range path {
		if t.Kind() != reflect.Struct {
			return nil, false
		}
		f, ok := t.FieldByName(name)
		if !ok || !f.IsExported() || len(f.Index) != 1 {
			return nil, false
		}
		idx = append(idx, f.Index...)
		t = f.Type
	}
	return idx, true
}

func compileCall(name string, args []evalFn) (evalFn, bool) {
	evalArgs := func(d reflect.Value) ([]reflect.Value, error) {
		vs := make([]reflect.Value, len(args))
		for i, a := range args {
			v, err := a(d)
			if err != nil {
				return nil, err
			}
			vs[i] = v
		}
		return vs, nil
	}
	switch name {
	case "and", "or":
		if len(args) == 0 {
			return nil, false
		}
		want := name == "or"
		return func(d reflect.Value) (reflect.Value, error) {
			var v reflect.Value
			for _, a := range args {
				var err error
				if v, err = a(d); err != nil {
					return v, err
				}
				if truth(v) == want {
					return v, nil
				}
			}
			return v, nil
		}, true
	case "not":
		if len(args) != 1 {
			return nil, false
		}
		return func(d reflect.Value) (reflect.Value, error) {
			v, err := args[0](d)
			return reflect.ValueOf(!truth(v)), err
		}, true
	case "printf":
		if len(args) == 0 {
			return nil, false
		}
		return func(d reflect.Value) (reflect.Value, error) {
			vs, err := evalArgs(d)
			if err != nil {
				return reflect.Value{}, err
			}
			if vs[0].Kind() != reflect.String {
				return reflect.Value{}, fmt.Errorf("printf: format is not a string")
			}
			rest := make([]any, len(vs)-1)
			for i, v := range vs[1:] {
				rest[i] = v.Interface()
			}
			return reflect.ValueOf(fmt.Sprintf(vs[0].String(), rest...)), nil
		}, true
	}
	fn, ok := funcs[name]
	if !ok {
		return nil, false
	}
	if e, ok := compileTyped(name, fn, args); ok {
		return e, true
	}
	fv := reflect.ValueOf(fn)
	ft := fv.Type()
	if ft.NumOut() != 1 || (!ft.IsVariadic() && ft.NumIn() != len(args)) || (ft.IsVariadic() && len(args) < ft.NumIn()-1) {
		return nil, false
	}
	return func(d reflect.Value) (reflect.Value, error) {
		vs, err := evalArgs(d)
		if err != nil {
			return reflect.Value{}, err
		}
		for i, v := range vs {
			var want reflect.Type
			if ft.IsVariadic() && i >= ft.NumIn()-1 {
				want = ft.In(ft.NumIn() - 1).Elem()
			} else {
				want = ft.In(i)
			}
			if !v.Type().AssignableTo(want) {
				return reflect.Value{}, fmt.Errorf("%s: argument %d is %s, want %s", name, i+1, v.Type(), want)
			}
		}
		return fv.Call(vs)[0], nil
	}, true
}

// compileTyped calls our functions of the common shapes directly, without
// reflect.Value.Call.
func compileTyped(name string, fn any, args []evalFn) (evalFn, bool) {
	arg := func(d reflect.Value, i int, want reflect.Type) (reflect.Value, error) {
		v, err := args[i](d)
		if err != nil {
			return v, err
		}
		if !v.IsValid() || v.Type() != want {
			return v, fmt.Errorf("%s: argument %d is not a %s", name, i+1, want)
		}
		return v, nil
	}
	str := func(s string) (reflect.Value, error) { return reflect.ValueOf(s), nil }
	switch f := fn.(type) {
	case func(time.Time) string:
		if len(args) != 1 {
			return nil, false
		}
		return func(d reflect.Value) (reflect.Value, error) {
			v, err := arg(d, 0, timeType)
			if err != nil {
				return v, err
			}
			return str(f(v.Interface().(time.Time)))
		}, true
	case func(pass.Money) string:
		if len(args) != 1 {
			return nil, false
		}
		return func(d reflect.Value) (reflect.Value, error) {
			v, err := arg(d, 0, moneyType)
			if err != nil {
				return v, err
			}
			return str(f(v.Interface().(pass.Money)))
		}, true
	case func(string) string:
		if len(args) != 1 {
			return nil, false
		}
		return func(d reflect.Value) (reflect.Value, error) {
			v, err := arg(d, 0, stringType)
			if err != nil {
				return v, err
			}
			return str(f(v.String()))
		}, true
	case func(string, string) string:
		if len(args) != 2 {
			return nil, false
		}
		return func(d reflect.Value) (reflect.Value, error) {
			a, err := arg(d, 0, stringType)
			if err != nil {
				return a, err
			}
			b, err := arg(d, 1, stringType)
			if err != nil {
				return b, err
			}
			return str(f(a.String(), b.String()))
		}, true
	case func([]string, string) string:
		if len(args) != 2 {
			return nil, false
		}
		return func(d reflect.Value) (reflect.Value, error) {
			a, err := arg(d, 0, stringsType)
			if err != nil {
				return a, err
			}
			b, err := arg(d, 1, stringType)
			if err != nil {
				return b, err
			}
			return str(f(a.Interface().([]string), b.String()))
		}, true
	case func(...string) string:
		return func(d reflect.Value) (reflect.Value, error) {
			ss := make([]string, len(args))
			for i := range args {
				v, err := arg(d, i, stringType)
				if err != nil {
					return v, err
				}
				ss[i] = v.String()
			}
			return str(f(ss...))
		}, true
	}
	return nil, false
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	moneyType   = reflect.TypeOf(pass.Money{})
	stringType  = reflect.TypeOf("")
	stringsType = reflect.TypeOf([]string(nil))
)

// truth is text/template's notion of true: non-zero, non-empty; structs
// are always true.
func truth(v reflect.Value) bool {
	if !v.IsValid() {
		return false
	}
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() > 0
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() != 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() != 0
	case reflect.Float32, reflect.Float64:
		return v.Float() != 0
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil()
	case reflect.Struct:
		return true
	}
	return true
}

// printValue writes v as text/template prints it (fmt's %v).
func printValue(b *bytes.Buffer, v reflect.Value) error {
	if !v.IsValid() {
		b.WriteString("<no value>")
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		b.WriteString(v.String())
	default:
		fmt.Fprint(b, v.Interface())
	}
	return nil
}
