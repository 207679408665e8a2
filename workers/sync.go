package workers

import (
	"context"
	"encoding/json"

	"walletpass/pass"
	"walletpass/pass/google"
)

// SyncHandler runs sync-order tasks with s.
func SyncHandler(s *pass.Syncer) Handler {
	return func(ctx context.Context, t pass.Task) error {
		var ref pass.OrderRef
		if err := json.Unmarshal(t.Payload, &ref); err != nil {
			return pass.Wrap(pass.KindInvalid, err, "sync task: malformed payload")
		}
		if ref.Tenant != t.Tenant {
			return pass.Errorf(pass.KindInvalid, "sync task: tenant %q in the payload of a task of tenant %q", ref.Tenant, t.Tenant)
		}
		corr := ""
		if n := len(t.CorrelationIDs); n > 0 {
			corr = t.CorrelationIDs[n-1]
		}
		_, err := s.SyncOrder(ctx, ref, corr)
		return err
	}
}

// PushHandler runs push-pass tasks with s.
func PushHandler(s *pass.PushService) Handler {
	return func(ctx context.Context, t pass.Task) error {
		var ref pass.PushRef
		if err := json.Unmarshal(t.Payload, &ref); err != nil {
			return pass.Wrap(pass.KindInvalid, err, "push task: malformed payload")
		}
		if ref.Tenant != t.Tenant || ref.Serial == "" || ref.PassTypeID == "" {
			return pass.Errorf(pass.KindInvalid, "push task: payload does not match the task")
		}
		return s.PushPass(ctx, ref)
	}
}

// GoogleHandler runs google-sync tasks with s.
func GoogleHandler(s *google.Syncer) Handler {
	return func(ctx context.Context, t pass.Task) error {
		var ref pass.GoogleRef
		if err := json.Unmarshal(t.Payload, &ref); err != nil {
			return pass.Wrap(pass.KindInvalid, err, "google task: malformed payload")
		}
		if ref.Tenant != t.Tenant || ref.Serial == "" {
			return pass.Errorf(pass.KindInvalid, "google task: payload does not match the task")
		}
		corr := ""
		if n := len(t.CorrelationIDs); n > 0 {
			corr = t.CorrelationIDs[n-1]
		}
		return s.Sync(ctx, ref, corr)
	}
}

// NoticeHandler runs notify-customer tasks with s.
func NoticeHandler(s *pass.CustomerService) Handler {
	return func(ctx context.Context, t pass.Task) error {
		var ref pass.NoticeRef
		if err := json.Unmarshal(t.Payload, &ref); err != nil {
			return pass.Wrap(pass.KindInvalid, err, "notice task: malformed payload")
		}
		if ref.Tenant != t.Tenant || ref.SecretToken == "" || ref.Event == "" {
			return pass.Errorf(pass.KindInvalid, "notice task: payload does not match the task")
		}
		return s.Notify(ctx, ref)
	}
}
