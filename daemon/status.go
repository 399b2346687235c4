package daemon

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stsd/stsd/keys"
)

// ProfileStatus is one profile in `stsd status` and GET /v1/status. It holds
// no secret: the key id is redacted.
type ProfileStatus struct {
	Profile     string     `json:"profile"`
	Mode        string     `json:"mode"`
	State       State      `json:"state"`
	KeyID       string     `json:"key_id,omitempty"`
	Expires     *time.Time `json:"expires,omitempty"`
	ExpiresIn   string     `json:"expires_in,omitempty"`
	NextRefresh *time.Time `json:"next_refresh,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	// WaitingFor names the via_profile a waiting role profile waits for.
	WaitingFor       string   `json:"waiting_for,omitempty"`
	ARN              string   `json:"arn,omitempty"`
	PackedPolicySize *int     `json:"packed_policy_size,omitempty"`
	Endpoints        []string `json:"endpoints,omitempty"`
}

// Status is the whole daemon's status.
type Status struct {
	Version string    `json:"version"`
	PID     int       `json:"pid"`
	Config  string    `json:"config"`
	Socket  string    `json:"socket"`
	Started time.Time `json:"started"`
	Service string    `json:"service,omitempty"` // OS service state, filled in by the CLI
	Metrics string    `json:"metrics,omitempty"` // bound metrics_listen address
	Broker  string    `json:"broker,omitempty"`  // bound [broker] address
	// ReloadError is why the last config reload was refused ("" when it
	// applied); the previous config keeps running.
	ReloadError string          `json:"reload_error,omitempty"`
	Reloaded    *time.Time      `json:"reloaded,omitempty"`
	Profiles    []ProfileStatus `json:"profiles"`
	// Clients are the broker's per-client credentials, as "profile/client".
	Clients []ProfileStatus `json:"clients,omitempty"`
	// Keys are the long-term keys: store, age, rotations.
	Keys []keys.Info `json:"keys,omitempty"`
}

// Failing reports whether any profile is expired or in error: `stsd status`
// exits 1 then.
func (s *Status) Failing() bool {
	for _, p := range s.Profiles {
		if p.State == StateExpired || p.State == StateError {
			return true
		}
	}
	return false
}

// WriteTable prints s as the human-readable `stsd status` table.
func (s *Status) WriteTable(w io.Writer, now time.Time) error {
	fmt.Fprintf(w, "stsd %s (pid %d) config %s\n", s.Version, s.PID, s.Config)
	if s.Service != "" {
		fmt.Fprintf(w, "service: %s\n", s.Service)
	}
	if s.Broker != "" {
		fmt.Fprintf(w, "broker: https://%s\n", s.Broker)
	}
	if s.ReloadError != "" {
		fmt.Fprintf(w, "reload failed, previous config still running: %s\n", s.ReloadError)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tMODE\tSTATE\tKEY\tEXPIRES IN\tNEXT REFRESH\tENDPOINTS\tLAST ERROR")
	// Broker clients' credentials show as PROFILE/CLIENT rows.
	for _, p := range slices.Concat(s.Profiles, s.Clients) {
		next := "-"
		if p.NextRefresh != nil {
			if d := p.NextRefresh.Sub(now); d > 0 {
				next = "in " + d.Round(time.Second).String()
			} else {
				next = "now"
			}
		}
		mode := p.Mode
		if p.PackedPolicySize != nil { // of STS's limit for policy + ARNs + tags
			mode += fmt.Sprintf(" (packed %d%%)", *p.PackedPolicySize)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Profile, mode, p.State,
			dash(p.KeyID), dash(p.ExpiresIn), next, dash(strings.Join(p.Endpoints, ",")), dash(p.LastError))
	}
	if err := tw.Flush(); err != nil || len(s.Keys) == 0 {
		return err
	}
	fmt.Fprintln(w)
	return keys.WriteTable(w, s.Keys, now)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
