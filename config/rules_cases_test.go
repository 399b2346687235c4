package config_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestRulesFile(t *testing.T) {
	t.Parallel()
	runRules(t, []ruleTest{
		{name: "empty", src: "",
			wantWarn: "config.toml: no [profiles.NAME] tables: stsd has nothing to serve"},
		{name: "syntax error", src: "log_level = \"info\"\nmetrics_listen = \n",
			want: `config.toml:2: invalid TOML: expected value but found '\n' instead`},
		{name: "unterminated string", src: "log_level = \"info\n",
			want: "config.toml:1: invalid TOML: strings cannot contain newlines"},
		{name: "duplicate key", src: "log_level = \"info\"\nlog_level = \"warn\"\n",
			want: "config.toml:2: invalid TOML: Key 'log_level' has already been defined."},
		{name: "duplicate table", src: sess + "[profiles.p]\n",
			want: "config.toml:3: invalid TOML: Key 'profiles.p' has already been defined."},
		{name: "unknown key suggested", src: "log_levl = \"info\"\n",
			want: `config.toml:1: log_levl: unknown key; did you mean "log_level"?`},
		{name: "unknown key listed", src: "foo = 1\n" + sess,
			want: "config.toml:1: foo: unknown key; valid keys here: credentials_file, log_level, metrics_listen, socket_group, signin_endpoint, ecs, broker, profiles, keys, keyring"},
		{name: "unknown table", src: "[profile.dev]\nsource_profile = \"x\"\n",
			want: `config.toml:1: profile: unknown key; did you mean "profiles"?`},
		{name: "log level", src: "log_level = \"verbose\"\n" + sess,
			want: `config.toml:1: log_level: "verbose" is not a log level; use debug, info, warn or error`},
		{name: "log level type", src: "log_level = 3\n" + sess,
			want: "config.toml:1: log_level: must be a string, not an integer"},
		{name: "socket group empty", src: "socket_group = \"\"\n" + sess,
			want: "config.toml:1: socket_group: must not be empty; remove the key or give it a value"},
		{name: "profiles not a table", src: "profiles = 1\n",
			want: "config.toml:1: profiles: must be a table ([profiles]), not an integer"},
		{name: "profile not a table", src: "[profiles]\np = 1\n",
			want: "config.toml:2: profiles.p: must be a table ([profiles.p]), not an integer"},
		{name: "profile name space", src: "[profiles.\"a b\"]\nsource_profile = \"src\"\n",
			want: `config.toml:1: profiles."a b": invalid profile name: use 1..64 letters, digits and _+=,.@-, not starting with "." (it names cache files and URL paths)`},
		{name: "profile name dot", src: "[profiles.\".x\"]\nsource_profile = \"src\"\n",
			want: `config.toml:1: profiles.".x": invalid profile name: use 1..64 letters, digits and _+=,.@-, not starting with "." (it names cache files and URL paths)`},
		{name: "profile name long", src: "[profiles." + strings.Repeat("a", 65) + "]\nsource_profile = \"src\"\n",
			want: `config.toml:1: profiles.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: invalid profile name: use 1..64 letters, digits and _+=,.@-, not starting with "." (it names cache files and URL paths)`},
		{name: "array of tables", src: "[[profiles]]\nx = 1\n",
			want: "config.toml:1: profiles: must be a table ([profiles]), not an array of tables"},
		{name: "credentials file missing warns", src: "credentials_file = \"$TMP/nope\"\n" + sess,
			wantWarn: "config.toml:1: credentials_file: $TMP/nope does not exist (yet); profiles fail until it holds their source profiles' keys"},
		{name: "credentials file ok", src: "credentials_file = \"$TMP/credentials\"\n" + sess},
		{name: "credentials file tilde user", src: "credentials_file = \"~bob/creds\"\n" + sess,
			want: `config.toml:1: credentials_file: "~bob/creds": ~user paths are not supported; write the absolute path`},
		{name: "tilde in system layout", src: "credentials_file = \"~/creds\"\n" + sess, system: true,
			want: `config.toml:1: credentials_file: "~/creds": ~ is not expanded in the system layout (the service runs as its own user); write the absolute path`},
	})
}

func TestRulesListeners(t *testing.T) {
	t.Parallel()
	runRules(t, []ruleTest{
		{name: "ipv4 loopback", src: "metrics_listen = \"127.0.0.2:9913\"\n" + sess},
		{name: "ipv6 loopback", src: "metrics_listen = \"[::1]:9913\"\n" + sess},
		{name: "localhost", src: "metrics_listen = \"localhost:0\"\n" + sess},
		{name: "no port", src: "metrics_listen = \"127.0.0.1\"\n" + sess,
			want: `config.toml:1: metrics_listen: "127.0.0.1" is not host:port; write e.g. "127.0.0.1:9912"`},
		{name: "empty port", src: "metrics_listen = \"127.0.0.1:\"\n" + sess,
			want: `config.toml:1: metrics_listen: "127.0.0.1:" has no valid port (0..65535, 0 picks a free one); write e.g. "127.0.0.1:9912"`},
		{name: "port range", src: "metrics_listen = \"127.0.0.1:65536\"\n" + sess,
			want: `config.toml:1: metrics_listen: "127.0.0.1:65536" has no valid port (0..65535, 0 picks a free one); write e.g. "127.0.0.1:9912"`},
		{name: "wildcard", src: "metrics_listen = \"0.0.0.0:9913\"\n" + sess,
			want: `config.toml:1: metrics_listen: "0.0.0.0:9913" is not a loopback address: this endpoint serves credentials to local programs, so use 127.0.0.1, [::1] or localhost`},
		{name: "empty host", src: "metrics_listen = \":9913\"\n" + sess,
			want: `config.toml:1: metrics_listen: ":9913" listens on every address: this endpoint serves credentials to local programs, so use 127.0.0.1, [::1] or localhost`},
		{name: "public ip", src: "metrics_listen = \"10.1.2.3:9913\"\n" + sess,
			want: `config.toml:1: metrics_listen: "10.1.2.3:9913" is not a loopback address: this endpoint serves credentials to local programs, so use 127.0.0.1, [::1] or localhost`},
		{name: "host name", src: "metrics_listen = \"example.com:9913\"\n" + sess,
			want: `config.toml:1: metrics_listen: "example.com:9913" is not a loopback address: this endpoint serves credentials to local programs, so use 127.0.0.1, [::1] or localhost (names other than localhost are not resolved)`},
		{name: "type", src: "metrics_listen = 9913\n" + sess,
			want: "config.toml:1: metrics_listen: must be a string, not an integer"},
		{name: "ecs missing listen", src: "[ecs]\ntoken_dir = \"/tmp/x\"\n" + sess,
			want: `config.toml:1: ecs.listen: missing: set the loopback address of the ECS endpoint, e.g. "127.0.0.1:9911"`},
		{name: "ecs not loopback", src: "[ecs]\nlisten = \"0.0.0.0:9911\"\n" + sess,
			want: `config.toml:2: ecs.listen: "0.0.0.0:9911" is not a loopback address: this endpoint serves credentials to local programs, so use 127.0.0.1, [::1] or localhost`},
		{name: "ecs unknown key", src: "[ecs]\nlisten = \"127.0.0.1:9911\"\nport = 1\n" + sess,
			want: "config.toml:3: ecs.port: unknown key; valid keys here: listen, token_dir, container_listen"},
		{name: "ecs not a table", src: "ecs = \"127.0.0.1:9911\"\n" + sess,
			want: "config.toml:1: ecs: must be a table ([ecs]), not a string"},
		{name: "same address twice", src: "metrics_listen = \"127.0.0.1:9913\"\n[ecs]\nlisten = \"127.0.0.1:9913\"\n" + sess,
			want: "config.toml:3: ecs.listen: port 9913 is already used by metrics_listen (line 1); give each listener its own address"},
		{name: "localhost collides", src: "metrics_listen = \"localhost:9913\"\n" + sess + "imds_listen = \"127.0.0.1:9913\"\n",
			want: "config.toml:4: profiles.p.imds_listen: port 9913 is already used by metrics_listen (line 1); give each listener its own address"},
		{name: "different loopback ips", src: "metrics_listen = \"127.0.0.1:9913\"\n" + sess + "imds_listen = \"127.0.0.2:9913\"\n"},
		{name: "port zero twice", src: "metrics_listen = \"127.0.0.1:0\"\n" + sess + "imds_listen = \"127.0.0.1:0\"\n"},
		{name: "broker wildcard collides", src: "metrics_listen = \"127.0.0.1:9443\"\n" + brk + sess,
			want: "config.toml:3: broker.listen: port 9443 is already used by metrics_listen (line 1); give each listener its own address"},
		{name: "broker any address", src: brk + fed},
	})
}

func TestRulesProfile(t *testing.T) {
	t.Parallel()
	runRules(t, []ruleTest{
		{name: "minimal", src: sess},
		{name: "source missing", src: "[profiles.p]\nregion = \"eu-west-1\"\n",
			want: "config.toml:1: profiles.p.source_profile: missing: name the AWS profile that holds the IAM user's long-term key (static keys or a credential_process returning an AKIA… key)"},
		{name: "source empty", src: "[profiles.p]\nsource_profile = \"\"\n",
			want: "config.toml:2: profiles.p.source_profile: must not be empty; remove the key or give it a value"},
		{name: "source type", src: "[profiles.p]\nsource_profile = [\"a\"]\n",
			want: "config.toml:2: profiles.p.source_profile: must be a string, not an array"},
		{name: "source is itself", src: "[profiles.p]\nsource_profile = \"p\"\n",
			want: `config.toml:2: profiles.p.source_profile: "p" is this profile itself: stsd would call its own credential_process for its source key; name the AWS profile that holds the IAM user's long-term key`},
		{name: "source is another stsd profile", src: sess + "[profiles.q]\nsource_profile = \"p\"\n",
			want: `config.toml:4: profiles.q.source_profile: "p" is an stsd profile: its credentials are temporary, and STS refuses temporary credentials for GetSessionToken; name the AWS profile that holds the IAM user's long-term key`},
		{name: "mode", src: sess + "mode = \"assume-role\"\n",
			want: `config.toml:3: profiles.p.mode: "assume-role" is not a mode; use "session" (GetSessionToken), "federation" (GetFederationToken) or "role" (AssumeRole)`},
		{name: "unknown key suggested", src: sess + "durations = \"1h\"\n",
			want: `config.toml:3: profiles.p.durations: unknown key; did you mean "duration"?`},
		{name: "duration too long", src: sess + "duration = \"40h\"\n",
			want: `config.toml:3: profiles.p.duration: "40h" is longer than 36h (STS allows 15m..36h)`},
		{name: "duration too short", src: sess + "duration = \"10m\"\n",
			want: `config.toml:3: profiles.p.duration: "10m" is shorter than 15m (STS allows 15m..36h)`},
		{name: "duration limits", src: sess + "duration = \"15m\"\nrefresh_before = \"5m\"\n" + "[profiles.q]\nsource_profile = \"src\"\nduration = \"36h\"\n"},
		{name: "duration syntax", src: sess + "duration = \"12 hours\"\n",
			want: `config.toml:3: profiles.p.duration: "12 hours" is not a duration; write it like "30d", "12h", "90m" or "1d12h"`},
		{name: "duration type", src: sess + "duration = 43200\n",
			want: `config.toml:3: profiles.p.duration: must be a duration string such as "12h" or "90m", not an integer`},
		{name: "duration fraction", src: sess + "duration = \"1000.5s\"\n",
			want: `config.toml:3: profiles.p.duration: "1000.5s" is not a whole number of seconds`},
		{name: "duration negative", src: sess + "duration = \"-1h\"\n",
			want: `config.toml:3: profiles.p.duration: "-1h" must be positive`},
		{name: "region shape", src: sess + "region = \"eu-west\"\n",
			want: `config.toml:3: profiles.p.region: "eu-west" is not an AWS region name such as "us-east-1", "eu-west-1", "cn-north-1" or "us-gov-west-1"`},
		{name: "region upper", src: sess + "region = \"EU-WEST-1\"\n",
			want: `config.toml:3: profiles.p.region: "EU-WEST-1" is not an AWS region name such as "us-east-1", "eu-west-1", "cn-north-1" or "us-gov-west-1"`},
		{name: "regions ok", src: sess + "region = \"cn-north-1\"\n[profiles.q]\nsource_profile = \"src\"\nregion = \"us-gov-west-1\"\n[profiles.r]\nsource_profile = \"src\"\nregion = \"us-isob-east-1\"\n"},
		{name: "refresh before short", src: sess + "refresh_before = \"30s\"\n",
			want: `config.toml:3: profiles.p.refresh_before: "30s" is shorter than 1m; refreshing later than that races the expiry`},
		{name: "refresh before equals duration", src: sess + "refresh_before = \"12h\"\n",
			want: `config.toml:3: profiles.p.refresh_before: "12h" is not shorter than duration (12h): credentials would be refreshed as soon as they arrive`},
		{name: "refresh before over duration written before it", src: sess + "refresh_before = \"2h\"\nduration = \"1h\"\n",
			want: `config.toml:3: profiles.p.refresh_before: "2h" is not shorter than duration (1h): credentials would be refreshed as soon as they arrive`},
		{name: "refresh before with bad duration", src: sess + "refresh_before = \"2h\"\nduration = \"1y\"\n",
			want: `config.toml:4: profiles.p.duration: "1y" is not a duration; write it like "30d", "12h", "90m" or "1d12h"`},
		{name: "allowed uids", src: sess + "allowed_uids = [0, 1000, 4294967294]\n"},
		{name: "allowed uids bad", src: sess + "allowed_uids = [-1, \"1000\", 4294967295]\n",
			want: "config.toml:3: profiles.p.allowed_uids[0]: -1 is not a uid (0..4294967294)\nconfig.toml:3: profiles.p.allowed_uids[1]: must be an integer uid, not a string\nconfig.toml:3: profiles.p.allowed_uids[2]: 4294967295 is not a uid (0..4294967294)"},
		{name: "allowed uids type", src: sess + "allowed_uids = 1000\n",
			want: "config.toml:3: profiles.p.allowed_uids: must be an array of integer uids, not an integer"},
	})
}

func TestRulesSession(t *testing.T) {
	t.Parallel()
	runRules(t, []ruleTest{
		{name: "mfa arn", src: sess + "mfa_serial = \"arn:aws:iam::123456789012:mfa/alice\"\nmfa_process = \"ykman oath accounts code -s aws\"\nmfa_prompt = \"none\"\nmfa_reminder = \"1h\"\nnotify_command = \"notify-send stsd\"\n"},
		{name: "mfa hardware serial", src: sess + "mfa_serial = \"GAHT12345678\"\n"},
		{name: "mfa serial short", src: sess + "mfa_serial = \"GAHT1234\"\n",
			want: `config.toml:3: profiles.p.mfa_serial: "GAHT1234" is 8 characters long; STS requires 9..256 for an MFA serial; use the device ARN (arn:aws:iam::123456789012:mfa/alice) or a hardware serial (GAHT12345678)`},
		{name: "mfa serial long", src: sess + "mfa_serial = \"arn:aws:iam::123456789012:mfa/" + strings.Repeat("a", 227) + "\"\n",
			want: `config.toml:3: profiles.p.mfa_serial: "arn:aws:iam::123456789012:mfa/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" is 257 characters long; STS requires 9..256 for an MFA serial; use the device ARN (arn:aws:iam::123456789012:mfa/alice) or a hardware serial (GAHT12345678)`},
		{name: "mfa serial chars", src: sess + "mfa_serial = \"arn:aws:iam::123456789012:mfa/alice smith\"\n",
			want: `config.toml:3: profiles.p.mfa_serial: "arn:aws:iam::123456789012:mfa/alice smith" contains ' ', which STS does not allow in an MFA serial (allowed: letters, digits and _+=/:,.@-); use the device ARN (arn:aws:iam::123456789012:mfa/alice) or a hardware serial (GAHT12345678)`},
		{name: "mfa prompt", src: sess + "mfa_serial = \"GAHT12345678\"\nmfa_prompt = \"gui\"\n",
			want: `config.toml:4: profiles.p.mfa_prompt: "gui" is not a prompt; use tty, zenity, kdialog, osascript or none`},
		{name: "mfa keys need serial", src: sess + "mfa_process = \"x\"\nmfa_prompt = \"tty\"\nmfa_reminder = \"1h\"\nnotify_command = \"y\"\n",
			want: "config.toml:3: profiles.p.mfa_process: has no effect without mfa_serial; set mfa_serial or remove this key\nconfig.toml:4: profiles.p.mfa_prompt: has no effect without mfa_serial; set mfa_serial or remove this key\nconfig.toml:5: profiles.p.mfa_reminder: has no effect without mfa_serial; set mfa_serial or remove this key\nconfig.toml:6: profiles.p.notify_command: has no effect without mfa_serial; set mfa_serial or remove this key"},
		{name: "mfa reminder too long", src: sess + "mfa_serial = \"GAHT12345678\"\nduration = \"1h\"\nmfa_reminder = \"1h\"\n",
			want: `config.toml:5: profiles.p.mfa_reminder: "1h" is not shorter than duration (1h): stsd would ask for a code as soon as credentials arrive`},
		{name: "mfa reminder too short", src: sess + "mfa_serial = \"GAHT12345678\"\nmfa_reminder = \"30s\"\n",
			want: `config.toml:4: profiles.p.mfa_reminder: "30s" is shorter than 1m, too late to type a code`},
		{name: "mfa process empty", src: sess + "mfa_serial = \"GAHT12345678\"\nmfa_process = \" \"\n",
			want: "config.toml:4: profiles.p.mfa_process: must not be empty; remove the key or give it a value"},
		{name: "federation keys in default session mode", src: sess + "name = \"x\"\npolicy = \"{}\"\npolicy_file = \"p.json\"\npolicy_arns = []\ntags = {}\n",
			want: "config.toml:3: profiles.p.name: belongs to federation mode, but this profile uses session mode (the default); set mode = \"federation\" or remove the key\nconfig.toml:4: profiles.p.policy: belongs to federation and role modes, but this profile uses session mode (the default); set mode = \"federation\" or \"role\", or remove the key\nconfig.toml:5: profiles.p.policy_file: belongs to federation and role modes, but this profile uses session mode (the default); set mode = \"federation\" or \"role\", or remove the key\nconfig.toml:6: profiles.p.policy_arns: belongs to federation and role modes, but this profile uses session mode (the default); set mode = \"federation\" or \"role\", or remove the key\nconfig.toml:7: profiles.p.tags: belongs to federation and role modes, but this profile uses session mode (the default); set mode = \"federation\" or \"role\", or remove the key"},
		{name: "federation key in explicit session mode", src: sess + "mode = \"session\"\ntags = { a = \"b\" }\n",
			want: `config.toml:4: profiles.p.tags: belongs to federation and role modes, but this profile uses session mode; set mode = "federation" or "role", or remove the key`},
	})
}

func TestRulesFederation(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 40)
	runRules(t, []ruleTest{
		{name: "minimal", src: fed},
		{name: "no permissions", src: "[profiles.fed]\nsource_profile = \"src\"\nmode = \"federation\"\n",
			want: "config.toml:1: profiles.fed: a federation profile needs policy, policy_file or policy_arns: GetFederationToken without a session policy returns credentials with no permissions"},
		{name: "session keys", src: fed + "mfa_serial = \"GAHT12345678\"\nmfa_process = \"x\"\nmfa_prompt = \"tty\"\nmfa_reminder = \"1h\"\nnotify_command = \"y\"\n",
			want: "config.toml:5: profiles.fed.mfa_serial: belongs to session and role modes, but this profile uses federation mode; set mode = \"session\" or \"role\", or remove the key\nconfig.toml:6: profiles.fed.mfa_process: belongs to session and role modes, but this profile uses federation mode; set mode = \"session\" or \"role\", or remove the key\nconfig.toml:7: profiles.fed.mfa_prompt: belongs to session and role modes, but this profile uses federation mode; set mode = \"session\" or \"role\", or remove the key\nconfig.toml:8: profiles.fed.mfa_reminder: belongs to session and role modes, but this profile uses federation mode; set mode = \"session\" or \"role\", or remove the key\nconfig.toml:9: profiles.fed.notify_command: belongs to session and role modes, but this profile uses federation mode; set mode = \"session\" or \"role\", or remove the key"},
		{name: "name placeholders", src: fed + "name = \"{profile}-{hostname}\"\n"},
		{name: "name unknown placeholder", src: fed + "name = \"ci-{host}\"\n",
			want: `config.toml:5: profiles.fed.name: unknown placeholder {host} in "ci-{host}"; use {hostname}, {profile} or {client}`},
		{name: "name client without broker", src: fed + "name = \"{client}\"\n",
			want: "config.toml:5: profiles.fed.name: {client} needs a [broker] section: it expands to the name of the broker client asking"},
		{name: "name too long after hostname", src: fed + "name = \"ci-runners-for-all-teams-{hostname}\"\n",
			want: `config.toml:5: profiles.fed.name: "ci-runners-for-all-teams-{hostname}" expands to "ci-runners-for-all-teams-build-01", which is 33 characters long; STS requires 2..32 for a federated user name`},
		{name: "name chars", src: fed + "name = \"ci runner\"\n",
			want: `config.toml:5: profiles.fed.name: "ci runner" contains ' ', which STS does not allow in a federated user name (allowed: letters, digits and _+=,.@-)`},
		{name: "name too short", src: fed + "name = \"x\"\n",
			want: `config.toml:5: profiles.fed.name: "x" is 1 character long; STS requires 2..32 for a federated user name`},
		{name: "name empty", src: fed + "name = \"\"\n",
			want: `config.toml:5: profiles.fed.name: must not be empty; remove it for the default "{profile}" or name the federated user`},
		{name: "name type", src: fed + "name = 1\n",
			want: "config.toml:5: profiles.fed.name: must be a string, not an integer"},
		{name: "default name too long", src: strings.Replace(fed, "profiles.fed", "profiles."+long, 1),
			want: `config.toml:1: profiles.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.name: the default name {profile} gives "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", which is 40 characters long; STS requires 2..32 for a federated user name; set name`},
		{name: "policy arns too many", src: strings.Replace(fed, "policy_arns = [", "policy_arns = ["+strings.Repeat("\"arn:aws:iam::aws:policy/ReadOnlyAccess\", ", 10), 1),
			want: "config.toml:4: profiles.fed.policy_arns: lists 11 ARNs; STS allows at most 10 managed session policies"},
		{name: "policy arn bad", src: "[profiles.fed]\nsource_profile = \"src\"\nmode = \"federation\"\npolicy_arns = [\"ReadOnlyAccess\", 7, \"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n",
			want: "config.toml:4: profiles.fed.policy_arns[0]: \"ReadOnlyAccess\" is not a policy ARN (20..2048 characters starting \"arn:\", e.g. \"arn:aws:iam::aws:policy/ReadOnlyAccess\")\nconfig.toml:4: profiles.fed.policy_arns[1]: must be a string, not an integer"},
		{name: "policy arns type", src: "[profiles.fed]\nsource_profile = \"src\"\nmode = \"federation\"\npolicy_arns = \"arn:aws:iam::aws:policy/ReadOnlyAccess\"\n",
			want: "config.toml:4: profiles.fed.policy_arns: must be an array of strings, not a string"},
	})
}

func TestRulesPolicy(t *testing.T) {
	t.Parallel()
	pol := func(body string) string {
		return "[profiles.fed]\nsource_profile = \"src\"\nmode = \"federation\"\n" + body
	}
	// big is a policy of n characters once minified.
	big := func(n int) string {
		pad := n - len(`{"Version":"2012-10-17","Sid":""}`)
		return fmt.Sprintf("policy = '''\n{\n  \"Version\": \"2012-10-17\",\n  \"Sid\": \"%s\"\n}\n'''\n", strings.Repeat("a", pad))
	}
	arn := "arn:aws:iam::123456789012:policy/" + strings.Repeat("p", 67) // 100 characters
	runRules(t, []ruleTest{
		{name: "inline", src: pol("policy = '''\n{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": []\n}\n'''\n")},
		{name: "file", src: pol("policy_file = \"$TMP/policy.json\"\n")},
		{name: "both", src: pol("policy = '{}'\npolicy_file = \"$TMP/policy.json\"\n"),
			want: "config.toml:5: profiles.fed.policy_file: set either policy or policy_file, not both"},
		{name: "file missing", src: pol("policy_file = \"$TMP/nope.json\"\n"),
			want: "config.toml:4: profiles.fed.policy_file: $TMP/nope.json does not exist; create it or fix the path"},
		{name: "file relative missing", src: pol("policy_file = \"nope.json\"\n"),
			want: "config.toml:4: profiles.fed.policy_file: $CWD/nope.json does not exist; create it or fix the path"},
		{name: "file directory", src: pol("policy_file = \"$TMP\"\n"),
			want: "config.toml:4: profiles.fed.policy_file: $TMP is a directory; name a file"},
		{name: "file invalid json", src: pol("policy_file = \"$TMP/bad-policy.json\"\n"),
			want: "config.toml:4: profiles.fed.policy_file: policy file $TMP/bad-policy.json is not valid JSON: invalid character '}' looking for beginning of value (line 3, column 17 of the policy)"},
		{name: "inline invalid json", src: pol("policy = '''\n{\n  \"Version\": \"2012-10-17\",\n}\n'''\n"),
			want: "config.toml:4: profiles.fed.policy: the policy is not valid JSON: invalid character '}' looking for beginning of object key string (line 3, column 1 of the policy)"},
		{name: "not an object", src: pol("policy = '[]'\n"),
			want: `config.toml:4: profiles.fed.policy: the policy must be a JSON object such as {"Version":"2012-10-17","Statement":[…]}`},
		{name: "character", src: pol("policy = '{\"Sid\":\"€\"}'\n"),
			want: "config.toml:4: profiles.fed.policy: the policy contains '€' (U+20AC) at character 9, which STS does not allow in a policy (allowed: tab, LF, CR and U+0020..U+00FF)"},
		{name: "at limit", src: pol(big(2048))},
		{name: "over limit", src: pol(big(2049)),
			want: "config.toml:4: profiles.fed.policy: the policy is 2049 characters with whitespace already removed, 1 over the STS limit of 2048; shorten it or move statements into managed policies listed in policy_arns"},
		{name: "at limit with arns", src: pol(big(1848) + "policy_arns = [\"" + arn + "\", \"" + arn + "\"]\n")},
		{name: "over limit with arns", src: pol(big(1900) + "policy_arns = [\"" + arn + "\", \"" + arn + "\"]\n"),
			want: "config.toml:4: profiles.fed.policy: the policy (1900 characters, whitespace already removed) and policy_arns (200 characters) total 2100, 52 over the STS limit of 2048; shorten the policy or list fewer ARNs"},
		{name: "arns over limit", src: pol("policy_arns = [" + strings.Repeat("\""+strings.Repeat("a", 1)+arn[1:]+strings.Repeat("q", 130)+"\", ", 9) + "\"" + arn + "\"]\n"),
			want: "config.toml:4: profiles.fed.policy_arns: the ARNs total 2170 characters, 122 over the STS limit of 2048 for policy and policy_arns together; list fewer ARNs"},
		{name: "type", src: pol("policy = { Version = \"2012-10-17\" }\n"),
			want: "config.toml:4: profiles.fed.policy: must be a string, not a table"},
	})
}

func TestRulesTags(t *testing.T) {
	t.Parallel()
	var many strings.Builder
	many.WriteString("[profiles.fed.tags]\n")
	for i := range 51 {
		fmt.Fprintf(&many, "k%d = \"v\"\n", i)
	}
	runRules(t, []ruleTest{
		{name: "ok", src: fed + "tags = { team = \"build\", \"cost center\" = \"ü 1:2/3=4+5-6@7_8.9\", empty = \"\" }\n"},
		{name: "too many", src: fed + many.String(),
			want: "config.toml:5: profiles.fed.tags: has 51 tags; STS allows at most 50"},
		{name: "key chars", src: fed + "tags = { \"a*b\" = \"x\" }\n",
			want: `config.toml:5: profiles.fed.tags."a*b": tag key "a*b" contains '*', which STS does not allow in a tag key (allowed: letters, digits, spaces and _.:/=+-@)`},
		{name: "key empty", src: fed + "tags = { \"\" = \"x\" }\n",
			want: `config.toml:5: profiles.fed.tags."": tag key "" is 0 characters long; STS requires 1..128 for a tag key`},
		{name: "key long", src: fed + "tags = { " + strings.Repeat("k", 129) + " = \"x\" }\n",
			want: `config.toml:5: profiles.fed.tags.kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk: tag key "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" is 129 characters long; STS requires 1..128 for a tag key`},
		{name: "value long", src: fed + "tags = { k = \"" + strings.Repeat("v", 257) + "\" }\n",
			want: `config.toml:5: profiles.fed.tags.k: "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv" is 257 characters long; STS requires 0..256 for a tag value`},
		{name: "value chars", src: fed + "tags = { k = \"a,b\" }\n",
			want: `config.toml:5: profiles.fed.tags.k: "a,b" contains ',', which STS does not allow in a tag value (allowed: letters, digits, spaces and _.:/=+-@)`},
		{name: "value type", src: fed + "tags = { k = 1 }\n",
			want: "config.toml:5: profiles.fed.tags.k: must be a string, not an integer"},
		{name: "case duplicate", src: fed + "[profiles.fed.tags]\nDept = \"a\"\ndept = \"b\"\n",
			want: `config.toml:7: profiles.fed.tags.dept: tag key "dept" duplicates "Dept" (line 6): STS treats tag keys case-insensitively; keep one`},
		{name: "not a table", src: fed + "tags = [\"a\"]\n",
			want: `config.toml:5: profiles.fed.tags: must be a table of strings such as { team = "build" }, not an array`},
	})
}

func TestRulesIMDS(t *testing.T) {
	t.Parallel()
	runRules(t, []ruleTest{
		{name: "ok", src: sess + "imds_listen = \"127.0.0.1:9912\"\nimds_v1 = true\n"},
		{name: "not loopback", src: sess + "imds_listen = \"0.0.0.0:9912\"\n",
			want: `config.toml:3: profiles.p.imds_listen: "0.0.0.0:9912" is not a loopback address: this endpoint serves credentials to local programs, so use 127.0.0.1, [::1] or localhost`},
		{name: "flags need listen", src: sess + "imds_v1 = true\nimds_any_local_user = false\n",
			want: "config.toml:3: profiles.p.imds_v1: has no effect without imds_listen; set imds_listen or remove this key\nconfig.toml:4: profiles.p.imds_any_local_user: has no effect without imds_listen; set imds_listen or remove this key"},
		{name: "flag type", src: sess + "imds_listen = \"127.0.0.1:9912\"\nimds_v1 = \"yes\"\n",
			want: "config.toml:4: profiles.p.imds_v1: must be true or false, not a string"},
		{name: "system needs uids", src: sess + "imds_listen = \"127.0.0.1:9912\"\n", system: true,
			want: "config.toml:3: profiles.p.imds_listen: the system layout needs allowed_uids for imds_listen (the daemon's own uid is no user's); list the uids that may read this profile"},
		{name: "system with uids", src: sess + "imds_listen = \"127.0.0.1:9912\"\nallowed_uids = [1000]\n", system: true},
		{name: "default source warns imds", src: "[profiles.p]\nsource_profile = \"default\"\nimds_listen = \"127.0.0.1:9912\"\n",
			wantWarn: `config.toml:2: profiles.p.source_profile: is "default" while this profile is served over IMDS (imds_listen): botocore reads the shared credentials file's [default] before IMDS/ECS, so those clients would silently use the long-term key; move the key to a profile with another name`},
		{name: "default source warns ecs", src: "[ecs]\nlisten = \"127.0.0.1:9911\"\ntoken_dir = \"/tmp/x\"\n[profiles.p]\nsource_profile = \"default\"\nimds_listen = \"127.0.0.1:9912\"\n",
			wantWarn: `config.toml:5: profiles.p.source_profile: is "default" while this profile is served over IMDS (imds_listen) and ECS ([ecs]): botocore reads the shared credentials file's [default] before IMDS/ECS, so those clients would silently use the long-term key; move the key to a profile with another name`},
		{name: "default source alone is fine", src: "[profiles.p]\nsource_profile = \"default\"\n"},
	})
}

func TestRulesBroker(t *testing.T) {
	t.Parallel()
	tok := strings.Repeat("ab", 32)
	client := func(name, profiles string) string {
		return fmt.Sprintf("[broker.clients.%s]\ntoken_sha256 = %q\nprofiles = [%s]\n", name, tok, profiles)
	}
	runRules(t, []ruleTest{
		{name: "full", src: brk + "client_ca_file = \"$TMP/ca.pem\"\nrate = \"600/m\"\nmax_connections = 10\ntrusted_proxies = [\"10.0.0.5/32\", \"fd00::/8\"]\n" +
			"[broker.clients.billing]\ntoken_sha256 = \"" + strings.ToUpper(tok) + "\"\nprofiles = [\"fed\"]\nallowed_cidrs = [\"10.20.0.0/16\"]\n" + fed + "name = \"{client}@{hostname}\"\n"},
		{name: "missing keys", src: "[broker]\nrate = \"1/s\"\n" + fed,
			want: "config.toml:1: broker.listen: missing: set the address the HTTPS broker listens on, e.g. \"0.0.0.0:9443\"\nconfig.toml:1: broker.tls_cert_file: missing: the broker serves HTTPS only; set the PEM certificate file\nconfig.toml:1: broker.tls_key_file: missing: the broker serves HTTPS only; set the PEM private key file"},
		{name: "missing files", src: "[broker]\nlisten = \":9443\"\ntls_cert_file = \"$TMP/no-cert.pem\"\ntls_key_file = \"$TMP/no-key.pem\"\nclient_ca_file = \"$TMP/no-ca.pem\"\n" + fed,
			want: "config.toml:3: broker.tls_cert_file: $TMP/no-cert.pem does not exist; create it or fix the path\nconfig.toml:4: broker.tls_key_file: $TMP/no-key.pem does not exist; create it or fix the path\nconfig.toml:5: broker.client_ca_file: $TMP/no-ca.pem does not exist; create it or fix the path"},
		{name: "listen", src: strings.Replace(brk, "0.0.0.0:9443", "broker.example.com", 1) + fed,
			want: `config.toml:2: broker.listen: "broker.example.com" is not host:port; write e.g. "0.0.0.0:9443"`},
		{name: "rate", src: brk + "rate = \"10\"\n" + fed,
			want: `config.toml:5: broker.rate: "10" is not a rate; write requests per second, minute or hour, e.g. "10/s" or "600/m"`},
		{name: "rate zero", src: brk + "rate = \"0/s\"\n" + fed,
			want: `config.toml:5: broker.rate: "0/s" must be more than zero`},
		{name: "max connections", src: brk + "max_connections = 0\n" + fed,
			want: "config.toml:5: broker.max_connections: 0 is out of range (1..1048576)"},
		{name: "max connections per address", src: brk + "max_connections_per_address = 0\n" + fed,
			want: "config.toml:5: broker.max_connections_per_address: 0 is out of range (1..1048576)"},
		{name: "client cert pinned", src: brk + "client_ca_file = \"$TMP/ca.pem\"\n" + client("billing", `"fed"`) + "client_cert_sha256 = \"" + strings.Repeat("AB:", 31) + "AB\"\n" + fed},
		{name: "client cert not hex", src: brk + "client_ca_file = \"$TMP/ca.pem\"\n" + client("billing", `"fed"`) + "client_cert_sha256 = \"xyz\"\n" + fed,
			want: "config.toml:9: broker.clients.billing.client_cert_sha256: must be 64 hex digits (colons allowed), the SHA-256 of the client's certificate: run openssl x509 -in CERT -noout -fingerprint -sha256"},
		{name: "client cert without client CA", src: brk + client("billing", `"fed"`) + "client_cert_sha256 = \"" + tok + "\"\n" + fed,
			want: "config.toml:8: broker.clients.billing.client_cert_sha256: needs broker.client_ca_file: a client certificate is only asked for when the broker has a client CA"},
		{name: "trusted proxies", src: brk + "trusted_proxies = [\"10.0.0.5\", \"10.0.0.5/24\", 3]\n" + fed,
			want: "config.toml:5: broker.trusted_proxies[0]: \"10.0.0.5\" is not a CIDR prefix; write e.g. \"10.0.0.5/32\" or \"10.20.0.0/16\"\nconfig.toml:5: broker.trusted_proxies[1]: \"10.0.0.5/24\" has address bits set past /24; write \"10.0.0.0/24\"\nconfig.toml:5: broker.trusted_proxies[2]: must be a string, not an integer"},
		{name: "unknown key", src: brk + "listne = \"x\"\n" + fed,
			want: `config.toml:5: broker.listne: unknown key; did you mean "listen"?`},
		{name: "client name", src: brk + client("a", `"fed"`) + fed,
			want: `config.toml:5: broker.clients.a: client name "a" is 1 character long; STS requires 2..32 for a broker client name (it becomes the federated user name through {client})`},
		{name: "client token", src: brk + "[broker.clients.billing]\ntoken_sha256 = \"s3cr3t-token-value\"\nprofiles = [\"fed\"]\n" + fed,
			want: "config.toml:6: broker.clients.billing.token_sha256: must be 64 hex digits, the SHA-256 of the client's token (not the token itself; got 18 characters); `stsd broker add-client` prints both"},
		{name: "client duplicate token", src: brk + client("one", `"fed"`) + client("two", `"fed"`) + fed,
			want: "config.toml:9: broker.clients.two.token_sha256: is the same as broker client \"one\"'s (line 5); give each client its own token (`stsd broker rotate-client two`)"},
		{name: "client missing keys", src: brk + "[broker.clients.billing]\nallowed_cidrs = [\"10.0.0.0/8\"]\n" + fed,
			want: "config.toml:5: broker.clients.billing.token_sha256: missing: run `stsd broker add-client billing --profiles …` to make a token and its hash\nconfig.toml:5: broker.clients.billing.profiles: missing: list the federation profiles this client may fetch"},
		{name: "client empty profiles", src: brk + client("billing", "") + fed,
			want: "config.toml:7: broker.clients.billing.profiles: is empty: list the federation profiles this client may fetch"},
		{name: "client unknown profile", src: brk + client("billing", `"nope"`) + fed,
			want: `config.toml:7: broker.clients.billing.profiles[0]: "nope" is not a profile in this file; add [profiles.nope] or fix the name`},
		{name: "client session profile", src: brk + client("billing", `"p"`) + sess,
			want: `config.toml:7: broker.clients.billing.profiles[0]: "p" is a session profile; the broker serves federation profiles only (GetSessionToken credentials carry the IAM user's full permissions)`},
		{name: "client unknown key", src: brk + client("billing", `"fed"`) + "profile = [\"f\"]\n" + fed,
			want: `config.toml:8: broker.clients.billing.profile: unknown key; did you mean "profiles"?`},
		{name: "clients not a table", src: brk + "clients = [\"a\"]\n" + fed,
			want: "config.toml:5: broker.clients: must be a table ([broker.clients]), not an array"},
		{name: "client name too long for name", src: brk + client("a-very-long-client-name", `"fed"`) + fed + "name = \"{client}-at-{hostname}\"\n",
			want: `config.toml:12: profiles.fed.name: "{client}-at-{hostname}" expands to "a-very-long-client-name-at-build-01" for broker client "a-very-long-client-name", which is 35 characters long; STS requires 2..32 for a federated user name`},
		{name: "client placeholder", src: brk + fed + "name = \"{client}-at-{hostname}-on-the-builder-team\"\n",
			want: `config.toml:9: profiles.fed.name: "{client}-at-{hostname}-on-the-builder-team" expands to "xx-at-build-01-on-the-builder-team" (with a 2-character client name), which is 34 characters long; STS requires 2..32 for a federated user name`},
		{name: "client profile served by broker only", src: brk + fed + "name = \"{client}\"\nimds_listen = \"127.0.0.1:9912\"\n",
			want: "config.toml:10: profiles.fed.imds_listen: a profile whose name uses {client} is served by the broker only; remove imds_listen or the {client} placeholder"},
	})
}

const (
	// role is a role profile assuming with the long-term key; chained one
	// through via_profile.
	role    = "[profiles.r]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::123456789012:role/admin\"\nsource_profile = \"src\"\n"
	chained = sess + "[profiles.r]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::123456789012:role/admin\"\nvia_profile = \"p\"\n"
)

func TestRulesRole(t *testing.T) {
	t.Parallel()
	runRules(t, []ruleTest{
		{name: "minimal source", src: role},
		{name: "minimal chained", src: chained},
		{name: "every key", src: role + "external_id = \"ext-1234:a/b\"\nrole_session_name = \"{user}@{hostname}+{profile}\"\nsource_identity = \"alice@example.com\"\n" +
			"duration = \"12h\"\nmfa_serial = \"arn:aws:iam::123456789012:mfa/alice\"\nmfa_process = \"ykman oath accounts code -s aws\"\n" +
			"policy_arns = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\npolicy_file = \"$TMP/policy.json\"\n" +
			"tags = { team = \"build\", Env = \"ci\" }\ntransitive_tag_keys = [\"team\", \"env\"]\n"},
		{name: "role arn with path", src: strings.Replace(role, "role/admin", "role/ops/team-a/admin", 1)},
		{name: "role arn other partition", src: strings.Replace(role, "arn:aws:", "arn:aws-cn:", 1)},
		{name: "role arn missing", src: "[profiles.r]\nmode = \"role\"\nsource_profile = \"src\"\n",
			want: `config.toml:1: profiles.r.role_arn: missing: the ARN of the role to assume, e.g. "arn:aws:iam::123456789012:role/admin"`},
		{name: "role arn user", src: strings.Replace(role, "role/admin", "user/alice", 1),
			want: `config.toml:3: profiles.r.role_arn: "arn:aws:iam::123456789012:user/alice" is not a role ARN; write arn:PARTITION:iam::ACCOUNT:role/NAME, e.g. "arn:aws:iam::123456789012:role/admin"`},
		{name: "role arn account", src: strings.Replace(role, "123456789012", "1234", 1),
			want: `config.toml:3: profiles.r.role_arn: "arn:aws:iam::1234:role/admin" is not a role ARN; write arn:PARTITION:iam::ACCOUNT:role/NAME, e.g. "arn:aws:iam::123456789012:role/admin"`},
		{name: "role arn name", src: strings.Replace(role, "role/admin", "role/ad min", 1),
			want: `config.toml:3: profiles.r.role_arn: "arn:aws:iam::123456789012:role/ad min" is not a role ARN; write arn:PARTITION:iam::ACCOUNT:role/NAME, e.g. "arn:aws:iam::123456789012:role/admin"`},
		{name: "role arn name too long", src: strings.Replace(role, "role/admin", "role/"+strings.Repeat("a", 65), 1),
			want: `config.toml:3: profiles.r.role_arn: "arn:aws:iam::123456789012:role/` + strings.Repeat("a", 65) + `" is not a role ARN; write arn:PARTITION:iam::ACCOUNT:role/NAME, e.g. "arn:aws:iam::123456789012:role/admin"`},
		{name: "role arn service", src: strings.Replace(role, ":iam::", ":sts::", 1),
			want: `config.toml:3: profiles.r.role_arn: "arn:aws:sts::123456789012:role/admin" is not a role ARN; write arn:PARTITION:iam::ACCOUNT:role/NAME, e.g. "arn:aws:iam::123456789012:role/admin"`},
		{name: "role arn type", src: "[profiles.r]\nmode = \"role\"\nrole_arn = 1\nsource_profile = \"src\"\n",
			want: "config.toml:3: profiles.r.role_arn: must be a string, not an integer"},
		{name: "no caller", src: "[profiles.r]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::123456789012:role/admin\"\n",
			want: "config.toml:1: profiles.r.via_profile: missing: a role profile assumes the role with via_profile (an stsd session or role profile) or source_profile (an AWS profile with the IAM user's long-term key); set one"},
		{name: "both callers", src: chained + "source_profile = \"src\"\n",
			want: "config.toml:7: profiles.r.source_profile: set either via_profile (an stsd profile whose credentials assume the role) or source_profile (an AWS profile with the IAM user's long-term key), not both"},
		{name: "via unknown", src: strings.Replace(chained, "via_profile = \"p\"", "via_profile = \"nope\"", 1),
			want: `config.toml:6: profiles.r.via_profile: "nope" is not a profile in this file; add [profiles.nope] or fix the name`},
		{name: "via itself", src: strings.Replace(chained, "via_profile = \"p\"", "via_profile = \"r\"", 1),
			want: `config.toml:6: profiles.r.via_profile: "r" is this profile itself; name the stsd session or role profile whose credentials assume the role`},
		{name: "via empty", src: strings.Replace(chained, "via_profile = \"p\"", "via_profile = \"\"", 1),
			want: "config.toml:6: profiles.r.via_profile: must not be empty; remove the key or give it a value"},
		{name: "via federation", src: fed + "[profiles.r]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::123456789012:role/admin\"\nvia_profile = \"fed\"\n",
			want: `config.toml:8: profiles.r.via_profile: "fed" is a federation profile: GetFederationToken credentials cannot call AssumeRole; name a session or role profile`},
		{name: "via role chain", src: chained + "[profiles.r2]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::210987654321:role/deploy\"\nvia_profile = \"r\"\n"},
		{name: "via loop", src: "[profiles.a]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::123456789012:role/a\"\nvia_profile = \"b\"\n" +
			"[profiles.b]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::123456789012:role/b\"\nvia_profile = \"a\"\n",
			want: "config.toml:4: profiles.a.via_profile: the via_profile chain a → b → a loops back to this profile; end it at a session profile or a role profile with source_profile\n" +
				"config.toml:8: profiles.b.via_profile: the via_profile chain b → a → b loops back to this profile; end it at a session profile or a role profile with source_profile"},
		{name: "via into loop", src: "[profiles.a]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::123456789012:role/a\"\nvia_profile = \"b\"\n" +
			"[profiles.b]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::123456789012:role/b\"\nvia_profile = \"c\"\n" +
			"[profiles.c]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::123456789012:role/c\"\nvia_profile = \"b\"\n",
			want: "config.toml:8: profiles.b.via_profile: the via_profile chain b → c → b loops back to this profile; end it at a session profile or a role profile with source_profile\n" +
				"config.toml:12: profiles.c.via_profile: the via_profile chain c → b → c loops back to this profile; end it at a session profile or a role profile with source_profile"},
		{name: "source is an stsd profile", src: sess + "[profiles.r]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::123456789012:role/admin\"\nsource_profile = \"p\"\n",
			want: `config.toml:6: profiles.r.source_profile: "p" is an stsd profile, whose credentials are temporary; to assume the role with them write via_profile = "p" instead`},
		{name: "duration default", src: role},
		{name: "duration source 12h", src: role + "duration = \"12h\"\n"},
		{name: "duration source over 12h", src: role + "duration = \"13h\"\n",
			want: `config.toml:5: profiles.r.duration: "13h" is longer than 12h (STS allows role sessions of 15m..12h, and at most the role's MaxSessionDuration)`},
		{name: "duration short", src: role + "duration = \"14m\"\n",
			want: `config.toml:5: profiles.r.duration: "14m" is shorter than 15m (STS allows role sessions of 15m..12h, and at most the role's MaxSessionDuration)`},
		{name: "duration chained 1h", src: chained + "duration = \"1h\"\n"},
		{name: "duration chained over 1h", src: chained + "duration = \"61m\"\n",
			want: `config.toml:7: profiles.r.duration: "61m" is longer than 1h: AssumeRole with another profile's temporary credentials is role chaining, which AWS caps at 1h; use source_profile (the long-term key) for longer sessions`},
		{name: "duration chained short", src: chained + "duration = \"10m\"\n",
			want: `config.toml:7: profiles.r.duration: "10m" is shorter than 15m (STS allows 15m..1h with via_profile)`},
		{name: "refresh before default duration", src: role + "refresh_before = \"1h\"\n",
			want: `config.toml:5: profiles.r.refresh_before: "1h" is not shorter than duration (1h): credentials would be refreshed as soon as they arrive`},
		{name: "mfa with source", src: role + "mfa_serial = \"GAHT12345678\"\nmfa_prompt = \"none\"\nmfa_reminder = \"10m\"\nnotify_command = \"notify-send stsd\"\n"},
		{name: "mfa keys need serial", src: role + "mfa_process = \"x\"\n",
			want: "config.toml:5: profiles.r.mfa_process: has no effect without mfa_serial; set mfa_serial or remove this key"},
		{name: "mfa with via", src: chained + "mfa_serial = \"GAHT12345678\"\nmfa_process = \"x\"\nmfa_prompt = \"tty\"\nmfa_reminder = \"10m\"\nnotify_command = \"y\"\n",
			want: "config.toml:7: profiles.r.mfa_serial: applies only with source_profile: with via_profile the MFA code belongs to the parent's session; set it on profile \"p\"\n" +
				"config.toml:8: profiles.r.mfa_process: applies only with source_profile: with via_profile the MFA code belongs to the parent's session; set it on profile \"p\"\n" +
				"config.toml:9: profiles.r.mfa_prompt: applies only with source_profile: with via_profile the MFA code belongs to the parent's session; set it on profile \"p\"\n" +
				"config.toml:10: profiles.r.mfa_reminder: applies only with source_profile: with via_profile the MFA code belongs to the parent's session; set it on profile \"p\"\n" +
				"config.toml:11: profiles.r.notify_command: applies only with source_profile: with via_profile the MFA code belongs to the parent's session; set it on profile \"p\""},
		{name: "external id short", src: role + "external_id = \"x\"\n",
			want: "config.toml:5: profiles.r.external_id: is 1 character long; STS requires 2..1224 for an external id"},
		{name: "external id long", src: role + "external_id = \"" + strings.Repeat("x", 1225) + "\"\n",
			want: "config.toml:5: profiles.r.external_id: is 1225 characters long; STS requires 2..1224 for an external id"},
		{name: "external id chars", src: role + "external_id = \"s3cr3t value\"\n",
			want: "config.toml:5: profiles.r.external_id: contains ' ', which STS does not allow in an external id (allowed: letters, digits and _+=,.@:/-)"},
		{name: "session name default long host", src: role, hostname: strings.Repeat("h", 63) + ".example.com"},
		{name: "session name chars", src: role + "role_session_name = \"alice smith\"\n",
			want: `config.toml:5: profiles.r.role_session_name: "alice smith" contains ' ', which STS does not allow in a role session name (allowed: letters, digits and _+=,.@-)`},
		{name: "session name short", src: role + "role_session_name = \"a\"\n",
			want: `config.toml:5: profiles.r.role_session_name: "a" is 1 character long; STS requires 2..64 for a role session name`},
		{name: "session name long after expansion", src: role + "role_session_name = \"session-of-{user}-on-{hostname}-for-the-deploy-team-of-the-platforms\"\n",
			want: `config.toml:5: profiles.r.role_session_name: "session-of-{user}-on-{hostname}-for-the-deploy-team-of-the-platforms" expands to "session-of-alice-on-build-01-for-the-deploy-team-of-the-platforms", which is 65 characters long; STS requires 2..64 for a role session name`},
		{name: "session name placeholder", src: role + "role_session_name = \"{client}\"\n",
			want: `config.toml:5: profiles.r.role_session_name: unknown placeholder {client} in "{client}"; use {user}, {hostname} or {profile}`},
		{name: "source identity", src: role + "source_identity = \"a\"\n",
			want: `config.toml:5: profiles.r.source_identity: "a" is 1 character long; STS requires 2..64 for a source identity`},
		{name: "source identity chars", src: role + "source_identity = \"aws:alice\"\n",
			want: `config.toml:5: profiles.r.source_identity: "aws:alice" contains ':', which STS does not allow in a source identity (allowed: letters, digits and _+=,.@-)`},
		{name: "policy both", src: role + "policy = '{}'\npolicy_file = \"$TMP/policy.json\"\n",
			want: "config.toml:6: profiles.r.policy_file: set either policy or policy_file, not both"},
		{name: "policy invalid", src: role + "policy = '[]'\n",
			want: `config.toml:5: profiles.r.policy: the policy must be a JSON object such as {"Version":"2012-10-17","Statement":[…]}`},
		{name: "policy arns too many", src: role + "policy_arns = [" + strings.Repeat("\"arn:aws:iam::aws:policy/ReadOnlyAccess\", ", 11) + "]\n",
			want: "config.toml:5: profiles.r.policy_arns: lists 11 ARNs; STS allows at most 10 managed session policies"},
		{name: "policy over limit", src: role + "policy = '{\"Sid\":\"" + strings.Repeat("a", 2040) + "\"}'\n",
			want: "config.toml:5: profiles.r.policy: the policy is 2050 characters with whitespace already removed, 2 over the STS limit of 2048; shorten it or move statements into managed policies listed in policy_arns"},
		{name: "tags case duplicate", src: role + "tags = { Dept = \"a\", dept = \"b\" }\n",
			want: `config.toml:5: profiles.r.tags.dept: tag key "dept" duplicates "Dept" (line 5): STS treats tag keys case-insensitively; keep one`},
		{name: "transitive not a tag", src: role + "tags = { team = \"build\" }\ntransitive_tag_keys = [\"team\", \"env\"]\n",
			want: `config.toml:6: profiles.r.transitive_tag_keys[1]: "env" is not a key of tags: a transitive tag key names one of this session's tags; add it to tags or remove it`},
		{name: "transitive type", src: role + "transitive_tag_keys = \"team\"\n",
			want: "config.toml:5: profiles.r.transitive_tag_keys: must be an array of strings, not a string"},
		{name: "transitive too many", src: role + "transitive_tag_keys = [" + strings.Repeat("\"k\", ", 51) + "]\n",
			want: "config.toml:5: profiles.r.transitive_tag_keys: lists 51 keys; STS allows at most 50 transitive tag keys\n" +
				strings.Repeat("", 0) + transitiveMissing(51)},
		{name: "role keys in session mode", src: sess + "role_arn = \"arn:aws:iam::123456789012:role/admin\"\nvia_profile = \"x\"\nexternal_id = \"e\"\nrole_session_name = \"n\"\nsource_identity = \"s\"\ntransitive_tag_keys = []\n",
			want: "config.toml:3: profiles.p.role_arn: belongs to role mode, but this profile uses session mode (the default); set mode = \"role\" or remove the key\n" +
				"config.toml:4: profiles.p.via_profile: belongs to role mode, but this profile uses session mode (the default); set mode = \"role\" or remove the key\n" +
				"config.toml:5: profiles.p.external_id: belongs to role mode, but this profile uses session mode (the default); set mode = \"role\" or remove the key\n" +
				"config.toml:6: profiles.p.role_session_name: belongs to role mode, but this profile uses session mode (the default); set mode = \"role\" or remove the key\n" +
				"config.toml:7: profiles.p.source_identity: belongs to role mode, but this profile uses session mode (the default); set mode = \"role\" or remove the key\n" +
				"config.toml:8: profiles.p.transitive_tag_keys: belongs to role mode, but this profile uses session mode (the default); set mode = \"role\" or remove the key"},
		{name: "federation and console keys in role mode", src: role + "name = \"x\"\nconsole_name = \"y\"\nconsole_policy_arns = []\n",
			want: "config.toml:5: profiles.r.name: belongs to federation mode, but this profile uses role mode; set mode = \"federation\" or remove the key\n" +
				"config.toml:6: profiles.r.console_name: belongs to session mode, but this profile uses role mode; set mode = \"session\" or remove the key\n" +
				"config.toml:7: profiles.r.console_policy_arns: belongs to session mode, but this profile uses role mode; set mode = \"session\" or remove the key"},
		{name: "broker refuses role", src: brk + "[broker.clients.billing]\ntoken_sha256 = \"" + strings.Repeat("ab", 32) + "\"\nprofiles = [\"r\"]\n" + role,
			want: `config.toml:7: broker.clients.billing.profiles[0]: "r" is a role profile; the broker serves federation profiles only (each client gets its own federated user and session policy)`},
	})
}

// transitiveMissing is the per-element error of n transitive keys "k"
// without tags.
func transitiveMissing(n int) string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf(`config.toml:5: profiles.r.transitive_tag_keys[%d]: "k" is not a key of tags: a transitive tag key names one of this session's tags; add it to tags or remove it`, i)
	}
	return strings.Join(lines, "\n")
}

func TestRulesConsole(t *testing.T) {
	t.Parallel()
	runRules(t, []ruleTest{
		{name: "keys", src: sess + "console_name = \"{user}-{hostname}\"\nconsole_policy_arns = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n"},
		{name: "name too long", src: sess + "console_name = \"console-{user}-at-{hostname}-xyzxyzw\"\n",
			want: `config.toml:3: profiles.p.console_name: "console-{user}-at-{hostname}-xyzxyzw" expands to "console-alice-at-build-01-xyzxyzw", which is 33 characters long; STS requires 2..32 for a federated user name`},
		{name: "name chars", src: sess + "console_name = \"a b\"\n",
			want: `config.toml:3: profiles.p.console_name: "a b" contains ' ', which STS does not allow in a federated user name (allowed: letters, digits and _+=,.@-)`},
		{name: "name placeholder", src: sess + "console_name = \"{client}\"\n",
			want: `config.toml:3: profiles.p.console_name: unknown placeholder {client} in "{client}"; use {user}, {hostname} or {profile}`},
		{name: "default name too short is left to the console", src: sess, user: "a"},
		{name: "arns empty", src: sess + "console_policy_arns = []\n",
			want: "config.toml:3: profiles.p.console_policy_arns: is empty: a console session without a policy has no permissions; list ARNs or remove the key for AdministratorAccess (the user's own permissions)"},
		{name: "arns bad", src: sess + "console_policy_arns = [\"AdministratorAccess\"]\n",
			want: `config.toml:3: profiles.p.console_policy_arns[0]: "AdministratorAccess" is not a policy ARN (20..2048 characters starting "arn:", e.g. "arn:aws:iam::aws:policy/ReadOnlyAccess")`},
		{name: "arns too many", src: sess + "console_policy_arns = [" + strings.Repeat("\"arn:aws:iam::aws:policy/ReadOnlyAccess\", ", 11) + "]\n",
			want: "config.toml:3: profiles.p.console_policy_arns: lists 11 ARNs; STS allows at most 10 managed session policies"},
		{name: "console keys in federation mode", src: fed + "console_name = \"x\"\n",
			want: "config.toml:5: profiles.fed.console_name: belongs to session mode, but this profile uses federation mode; set mode = \"session\" or remove the key"},
		{name: "signin endpoint https", src: "signin_endpoint = \"https://signin.example.internal/federation\"\n" + sess},
		{name: "signin endpoint loopback http", src: "signin_endpoint = \"http://127.0.0.1:8080/federation\"\n" + sess},
		{name: "signin endpoint localhost http", src: "signin_endpoint = \"http://localhost:8080/federation\"\n" + sess},
		{name: "signin endpoint ipv6 loopback http", src: "signin_endpoint = \"http://[::1]:8080/federation\"\n" + sess},
		{name: "signin endpoint plain http", src: "signin_endpoint = \"http://signin.example.com/federation\"\n" + sess,
			want: `config.toml:1: signin_endpoint: "http://signin.example.com/federation" is plain http to a host that is not loopback: the sign-in token would cross the network unencrypted; use https`},
		{name: "signin endpoint resolving name", src: "signin_endpoint = \"http://localtest.me/federation\"\n" + sess,
			want: `config.toml:1: signin_endpoint: "http://localtest.me/federation" is plain http to a host that is not loopback: the sign-in token would cross the network unencrypted; use https`},
		{name: "signin endpoint not a url", src: "signin_endpoint = \"signin.aws.amazon.com\"\n" + sess,
			want: `config.toml:1: signin_endpoint: "signin.aws.amazon.com" is not a URL; write e.g. "https://signin.aws.amazon.com/federation"`},
		{name: "signin endpoint query", src: "signin_endpoint = \"https://signin.aws.amazon.com/federation?Action=login\"\n" + sess,
			want: `config.toml:1: signin_endpoint: "https://signin.aws.amazon.com/federation?Action=login" must not carry a user, query or fragment; write the federation endpoint's URL alone`},
		{name: "signin endpoint scheme", src: "signin_endpoint = \"ftp://signin.aws.amazon.com/federation\"\n" + sess,
			want: `config.toml:1: signin_endpoint: "ftp://signin.aws.amazon.com/federation" is not an http(s) URL; write e.g. "https://signin.aws.amazon.com/federation"`},
		{name: "signin endpoint type", src: "signin_endpoint = 1\n" + sess,
			want: "config.toml:1: signin_endpoint: must be a string, not an integer"},
	})
}

func TestRulesLinkLocal(t *testing.T) {
	t.Parallel()
	ecsLL := "[ecs]\nlisten = \"127.0.0.1:9911\"\ntoken_dir = \"/tmp/x\"\ncontainer_listen = \"169.254.170.2:80\"\n"
	runRules(t, []ruleTest{
		{name: "instance address", src: sess + "imds_listen = \"169.254.169.254:80\"\ncontainer_cidrs = [\"172.17.0.0/16\"]\n"},
		{name: "instance address replaces", src: sess + "imds_listen = \"169.254.169.254:80\"\nreplace_instance_metadata = true\n"},
		{name: "instance address on two profiles", src: sess + "imds_listen = \"169.254.169.254:80\"\n[profiles.q]\nsource_profile = \"src\"\nimds_listen = \"169.254.169.254:80\"\n",
			want: `config.toml:6: profiles.q.imds_listen: 169.254.169.254 already serves profile "p" (line 3): the instance address has one role; serve this profile on 127.0.0.1`},
		{name: "other link-local address", src: sess + "imds_listen = \"169.254.169.253:80\"\n",
			want: `config.toml:3: profiles.p.imds_listen: "169.254.169.253:80" must be 169.254.169.254 with a port: the SDKs look there without being told; write "169.254.169.254:80"`},
		{name: "instance address port zero", src: sess + "imds_listen = \"169.254.169.254:0\"\n",
			want: `config.toml:3: profiles.p.imds_listen: "169.254.169.254:0" has port 0: the SDKs look at a fixed port; write "169.254.169.254:80"`},
		{name: "link-local and loopback listeners share a port number", src: "metrics_listen = \"127.0.0.1:9913\"\n" + sess + "imds_listen = \"169.254.169.254:80\"\n" + ecsLL,
			wantWarn: ""},
		{name: "system needs uids", src: sess + "imds_listen = \"169.254.169.254:80\"\n", system: true,
			want: "config.toml:3: profiles.p.imds_listen: the system layout needs allowed_uids for imds_listen (the daemon's own uid is no user's); list the uids that may read this profile"},
		{name: "replace without the instance address", src: sess + "imds_listen = \"127.0.0.1:9912\"\nreplace_instance_metadata = true\n",
			want: `config.toml:4: profiles.p.replace_instance_metadata: has no effect without imds_listen = "169.254.169.254:80"; set that or remove this key`},
		{name: "replace type", src: sess + "imds_listen = \"169.254.169.254:80\"\nreplace_instance_metadata = \"yes\"\n",
			want: "config.toml:4: profiles.p.replace_instance_metadata: must be true or false, not a string"},
		{name: "container cidrs with the container listener", src: ecsLL + sess + "container_cidrs = [\"172.17.0.0/16\", \"192.0.2.0/24\"]\n"},
		{name: "container cidrs without a link-local listener", src: sess + "imds_listen = \"127.0.0.1:9912\"\ncontainer_cidrs = [\"172.17.0.0/16\"]\n",
			want: `config.toml:4: profiles.p.container_cidrs: has no effect: containers reach stsd only on the link-local listeners; set imds_listen = "169.254.169.254:80" or [ecs] container_listen = "169.254.170.2:80", or remove this key`},
		{name: "container cidrs not a prefix", src: ecsLL + sess + "container_cidrs = [\"172.17.0.1/16\", \"docker0\"]\n",
			want: "config.toml:7: profiles.p.container_cidrs[0]: \"172.17.0.1/16\" has address bits set past /16; write \"172.17.0.0/16\"\nconfig.toml:7: profiles.p.container_cidrs[1]: \"docker0\" is not a CIDR prefix; write e.g. \"10.0.0.5/32\" or \"10.20.0.0/16\""},
		{name: "container listen not the ecs address", src: "[ecs]\nlisten = \"127.0.0.1:9911\"\ntoken_dir = \"/tmp/x\"\ncontainer_listen = \"127.0.0.1:80\"\n" + sess,
			want: `config.toml:4: ecs.container_listen: "127.0.0.1:80" must be 169.254.170.2 with a port: the SDKs look there without being told; write "169.254.170.2:80"`},
		{name: "ecs listen stays loopback", src: "[ecs]\nlisten = \"169.254.170.2:80\"\ntoken_dir = \"/tmp/x\"\n" + sess,
			want: `config.toml:2: ecs.listen: "169.254.170.2:80" is not a loopback address: this endpoint serves credentials to local programs, so use 127.0.0.1, [::1] or localhost`},
	})
}
