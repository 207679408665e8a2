package main

import (
	"context"
	"fmt"
	"net/http"

	"walletpass/config"
	fakefcm "walletpass/fake/fcm"
	"walletpass/pass"
	"walletpass/push/fcm"
)

// devFCMPath is where the development fake FCM of each tenant is served.
const devFCMPath = "/dev/fcm/"

// appNotifiers holds the FCM client of each tenant with an app.
type appNotifiers pass.PerTenant[*fcm.Client]

// notifiers is the domain's view of them: one pass.AppNotifier per tenant.
func (a appNotifiers) notifiers() pass.TenantNotifiers {
	out := pass.TenantNotifiers{}
	for t, c := range a {
		out[t] = c
	}
	return out
}

func (a appNotifiers) close() {
	for _, c := range a {
		c.Close()
	}
}

// buildAppNotifiers makes an FCM client per tenant with an app; tenants
// without credentials in development talk to a fake FCM served under
// /dev/fcm/<tenant>/ (returned as one handler for that prefix).
func buildAppNotifiers(ctx context.Context, cfg *config.Config, selfURL string) (appNotifiers, map[string]*fakefcm.Handler, http.Handler, error) {
	clients := appNotifiers{}
	fakes := map[string]*fakefcm.Handler{}
	mux := http.NewServeMux()
	for _, t := range cfg.Tenants {
		a := t.App
		if a.FCMProjectID == "" {
			continue
		}
		fc := fcm.Config{ProjectID: a.FCMProjectID, Endpoint: a.FCMEndpoint}
		if a.UsesFake() && a.FCMEndpoint == "" {
			h := fakefcm.New(fakefcm.Options{ProjectID: a.FCMProjectID})
			fakes[t.ID] = h
			mux.Handle(devFCMPath+t.ID+"/", http.StripPrefix(devFCMPath+t.ID, h))
			fc.Endpoint = selfURL + devFCMPath + t.ID + "/v1"
		}
		if a.FCMCredentialsFile != "" {
			data, err := readFileLimited(a.FCMCredentialsFile, 64<<10)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("tenant %s: app.fcmCredentialsFile: %w", t.ID, err)
			}
			fc.CredentialsJSON = data
		}
		c, err := fcm.New(ctx, fc)
		if err != nil {
			clients.close()
			return nil, nil, nil, fmt.Errorf("tenant %s: FCM: %w", t.ID, err)
		}
		clients[t.ID] = c
	}
	if len(fakes) == 0 {
		return clients, fakes, nil, nil
	}
	return clients, fakes, mux, nil
}
