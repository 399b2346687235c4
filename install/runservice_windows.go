package install

import (
	"context"

	"golang.org/x/sys/windows/svc"
)

// RunService runs fn, the daemon, until ctx ends. Started by the Windows
// SCM, the process must speak the service protocol (else the SCM kills it
// after 30 s), so fn then runs under svc.Run and a stop or shutdown request
// cancels its context. The service's exit code is 1 when fn fails.
func RunService(ctx context.Context, fn func(context.Context) error) error {
	isService, err := svc.IsWindowsService()
	if err != nil || !isService {
		return fn(ctx)
	}
	h := &handler{ctx: ctx, fn: fn}
	if err := svc.Run(serviceName, h); err != nil {
		return err
	}
	return h.err
}

type handler struct {
	ctx context.Context
	fn  func(context.Context) error
	err error
}

func (h *handler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.fn(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case h.err = <-done:
			if h.err != nil {
				return true, 1
			}
			return false, 0
		case r := <-req:
			switch r.Cmd {
			case svc.Interrogate:
				status <- r.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending}
				cancel()
				h.err = <-done
				return false, 0
			}
		}
	}
}
