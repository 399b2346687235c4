package install

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kardianos/service"
)

// kardianosSystems names kardianos/service's backend for each init system.
// stsd picks the backend itself: kardianos' own detection falls back to
// SysV in a container whose PID 1 is not systemd.
var kardianosSystems = map[Init]string{
	Systemd: "linux-systemd",
	Launchd: "darwin-launchd",
	Windows: "windows-service",
}

type kardianos struct {
	s   Service
	sys service.System
}

// newKardianos is the real Manager.
func newKardianos(s Service) (Manager, error) {
	want := kardianosSystems[s.Init]
	for _, sys := range service.AvailableSystems() {
		if sys.String() == want {
			return &kardianos{s: s, sys: sys}, nil
		}
	}
	return nil, noInit(s.Init)
}

// noop is the service.Interface for controlling (not running) a service.
type noop struct{}

func (noop) Start(service.Service) error { return nil }
func (noop) Stop(service.Service) error  { return nil }

// service builds the kardianos service; text, when set, is the service
// file, passed as the custom template: it contains no "{{" (Render
// refuses paths with one), so kardianos' engine copies it unchanged.
func (k *kardianos) service(text string) (service.Service, error) {
	c := &service.Config{
		Name:        k.s.Name(),
		DisplayName: serviceName,
		Description: description,
		Executable:  k.s.Executable,
		Arguments:   k.s.Args(),
		Option:      service.KeyValue{"UserService": !k.s.System},
	}
	switch k.s.Init {
	case Systemd:
		if text != "" {
			c.Option["SystemdScript"] = text
		}
	case Launchd:
		if text != "" {
			c.Option["LaunchdConfig"] = text
		}
	case Windows:
		w := WindowsConfigFor(k.s)
		c.Option["StartType"] = w.StartType
		c.Option["OnFailure"] = w.OnFailure
		c.Option["OnFailureDelayDuration"] = w.RestartDelay
		c.Option["OnFailureResetPeriod"] = w.ResetPeriod
	}
	return k.sys.New(noop{}, c)
}

func (k *kardianos) Installed() (bool, error) {
	if p := k.s.UnitPath(); p != "" {
		_, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	st, err := k.Status()
	if err != nil {
		return false, err
	}
	return st != StateNotInstalled, nil
}

func (k *kardianos) Install(text string) error {
	if strings.Contains(text, "{{") {
		return errors.New("service text contains a template marker")
	}
	svc, err := k.service(text)
	if err != nil {
		return err
	}
	return svc.Install()
}

func (k *kardianos) do(f func(service.Service) error) error {
	svc, err := k.service("")
	if err != nil {
		return err
	}
	return f(svc)
}

func (k *kardianos) Uninstall() error { return k.do(service.Service.Uninstall) }
func (k *kardianos) Start() error     { return k.do(service.Service.Start) }
func (k *kardianos) Stop() error      { return k.do(service.Service.Stop) }

func (k *kardianos) Status() (string, error) {
	svc, err := k.service("")
	if err != nil {
		return "", err
	}
	st, err := svc.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		return StateNotInstalled, nil
	case err != nil && strings.Contains(err.Error(), "failed state"): // systemd
		return StateFailed, nil
	case err != nil:
		return "", fmt.Errorf("service status: %w", err)
	case st == service.StatusRunning:
		return StateRunning, nil
	case st == service.StatusStopped:
		return StateStopped, nil
	}
	return "unknown", nil
}
