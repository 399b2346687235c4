// Package shell runs the commands a config names (a source
// credential_process, mfa_process, notify_command) the way the AWS SDKs
// run credential_process: with the platform shell.
package shell
