package apple

import (
	"reflect"
	"testing"

	"walletpass/pass"
)

// TestRenderDataHasEveryTicketField keeps renderData in step with
// pass.Ticket: a field added to the ticket must be visible to templates,
// with the same type, and newRenderData must copy it.
func TestRenderDataHasEveryTicketField(t *testing.T) {
	tt := reflect.TypeOf(pass.Ticket{})
	rt := reflect.TypeOf(renderData{})
	tk := SampleTicket(pass.EventSports)
	tk.HolderGeneration = 3
	tk.State = pass.TicketUsed
	d := reflect.ValueOf(newRenderData(&tk, "Org", "USED")).Elem()
	src := reflect.ValueOf(tk)
	for i := range tt.NumField() {
		f := tt.Field(i)
		rf, ok := rt.FieldByName(f.Name)
		if !ok || rf.Type != f.Type {
			t.Errorf("renderData lacks ticket field %s %s", f.Name, f.Type)
			continue
		}
		if !reflect.DeepEqual(d.FieldByName(f.Name).Interface(), src.Field(i).Interface()) {
			t.Errorf("newRenderData does not copy %s", f.Name)
		}
	}
}
