package apple

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"
	"unsafe"
)

// node is one element of a compiled template: it writes JSON to w.
type node interface {
	render(w *bytes.Buffer, d *renderData) error
}

// literal is JSON that never changes, encoded once at load.
type literal []byte

func (l literal) render(w *bytes.Buffer, _ *renderData) error {
	w.Write(l)
	return nil
}

type valueKind int

const (
	valueString valueKind = iota
	valueNumber           // a field with currencyCode or numberStyle
	valueDate             // a field with dateStyle or timeStyle
)

// strTpl is a templated string value.
type strTpl struct {
	path string
	tpl  *template.Template
	fast *fastTpl // non-nil when the string needs no template interpreter
	kind valueKind
	// required strings (description, organizationName) must not render blank.
	required bool
}

var scratchPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// execTo appends the text of the template for d to b.
func (s *strTpl) execTo(b *bytes.Buffer, d *renderData) error {
	if s.fast != nil {
		if err := s.fast.execTo(b, d); err != nil {
			return fmt.Errorf("%s: %s: %v", TemplateFile, s.path, err)
		}
		return nil
	}
	if err := s.tpl.Execute(b, d); err != nil {
		return fmt.Errorf("%s: %s: %s", TemplateFile, s.path, cleanTemplateError(err))
	}
	return nil
}

func (s *strTpl) render(w *bytes.Buffer, d *renderData) error {
	b := scratchPool.Get().(*bytes.Buffer)
	b.Reset()
	defer scratchPool.Put(b)
	if err := s.execTo(b, d); err != nil {
		return err
	}
	// The scratch buffer is not touched again before the string is used.
	var v string
	if b.Len() > 0 {
		v = unsafe.String(&b.Bytes()[0], b.Len())
	}
	if s.required && strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s is empty for this ticket (it is required)", s.path)
	}
	switch s.kind {
	case valueNumber:
		v = strings.TrimSpace(v)
		if v == "" {
			w.WriteString(`""`)
			return nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%s: %s: %q is not a number (the field has currencyCode or numberStyle)", TemplateFile, s.path, v)
		}
		w.WriteString(strconv.FormatFloat(f, 'f', -1, 64))
		return nil
	case valueDate:
		v = strings.TrimSpace(v)
		if v != "" {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				return fmt.Errorf("%s: %s: %q is not a W3C date with a time zone offset (the field has dateStyle or timeStyle)", TemplateFile, s.path, v)
			}
		}
	}
	writeJSONString(w, v)
	return nil
}

// object is a JSON object whose keys keep the template's order. A field
// object (an element of a field array) whose value renders empty is left
// out of its array.
type object struct {
	keys  []string
	enc   [][]byte // `"key":` pre-encoded
	vals  []node
	field bool
}

func (o *object) add(k string, n node) {
	var b bytes.Buffer
	writeJSONString(&b, k)
	b.WriteByte(':')
	o.keys = append(o.keys, k)
	o.enc = append(o.enc, b.Bytes())
	o.vals = append(o.vals, n)
}

// errOmit tells an array to leave out the field object being rendered.
var errOmit = fmt.Errorf("omit")

func (o *object) render(w *bytes.Buffer, d *renderData) error {
	w.WriteByte('{')
	for i, n := range o.vals {
		if i > 0 {
			w.WriteByte(',')
		}
		w.Write(o.enc[i])
		start := w.Len()
		if err := n.render(w, d); err != nil {
			return err
		}
		if o.field && o.keys[i] == "value" && bytes.Equal(w.Bytes()[start:], []byte(`""`)) {
			return errOmit
		}
	}
	w.WriteByte('}')
	return nil
}

type array struct {
	items []node
}

func (a *array) render(w *bytes.Buffer, d *renderData) error {
	w.WriteByte('[')
	n := 0
	for _, it := range a.items {
		mark := w.Len()
		if n > 0 {
			w.WriteByte(',')
		}
		err := it.render(w, d)
		if err == errOmit {
			w.Truncate(mark)
			continue
		}
		if err != nil {
			return err
		}
		n++
	}
	w.WriteByte(']')
	return nil
}
