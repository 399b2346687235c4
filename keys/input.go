package keys

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// ReadKey reads an access key id and secret for `stsd key add`: asked on
// the terminal (the secret without echo) when stdin is one, else two
// lines from stdin (id, then secret). Never from argv.
func ReadKey(ctx context.Context, stdin io.Reader, tty string) (Key, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		id, err := ReadSecret(ctx, tty, "access key id (AKIA…)")
		if err != nil {
			return Key{}, err
		}
		secret, err := ReadSecret(ctx, tty, "secret access key")
		if err != nil {
			return Key{}, err
		}
		return Key{ID: id, Secret: secret}, checkKey(Key{ID: id, Secret: secret})
	}
	r := bufio.NewReader(io.LimitReader(stdin, 4096))
	var lines []string
	for len(lines) < 2 {
		line, err := r.ReadString('\n')
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
		if err != nil {
			break
		}
	}
	if len(lines) < 2 {
		return Key{}, errors.New("give the access key id and the secret access key on two lines of stdin, or run on a terminal to be asked")
	}
	k := Key{ID: lines[0], Secret: lines[1]}
	return k, checkKey(k)
}

// CheckIdentity says why an ARN GetCallerIdentity returned for a key is
// not an IAM user's, whose keys stsd keeps ("" when it is).
func CheckIdentity(arn string) error {
	_, err := userOf(arn)
	return err
}
