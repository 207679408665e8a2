package httpapi_test

import (
	"testing"
	"time"

	"walletpass/internal/loadgen"
)

func TestOpenLoopAck(t *testing.T) {
	h := setupHooks(t, nil)
	r, err := loadgen.Run(loadgen.Options{URL: h.srv.URL + "/api/demo" + listener, Body: `{"ticketId":{{n}},"orderSecretToken":"bench-{{mod:1000}}","state":"PAID","lastUpdate":"{{now}}"}`, Rate: 1000, Workers: 64, Duration: 5 * time.Second})
	t.Logf("%+v %v", r, err)
}
