package setup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrInterrupted is returned when the user stopped init at a question
// (Ctrl-C): nothing was changed.
var ErrInterrupted = errors.New("interrupted: nothing was changed")

// errClosed is the input ending before every question was answered.
var errClosed = errors.New("the input ended before every question was answered: nothing was changed")

// asker asks questions on a terminal. Every question has a default,
// taken on an empty answer and, with yes, without asking.
type asker struct {
	ctx  context.Context
	out  io.Writer
	yes  bool
	in   io.Reader
	want chan struct{} // asks the reader for one line
	got  chan read     // that line
	eof  bool          // the input ended (the reader is gone)
}

// read is one line the reader read, or why it could not.
type read struct {
	line string
	err  error
}

// question is one question: its prompt, its default, and check, which
// turns an answer into the value or says why it will not do (then the
// question is asked again).
type question struct {
	prompt string
	def    string
	shown  string // shown in brackets instead of def (y/n questions)
	check  func(string) (string, error)
}

// startReader starts the one reader of in. A read cannot be interrupted,
// so it runs on its own and line selects between it and ctx. It reads a
// line only when asked: between questions no read is pending, so a
// program init runs (the AWS CLI asking for a passphrase or an MFA code
// on the terminal) gets what is typed to it.
func (a *asker) startReader() {
	a.want, a.got = make(chan struct{}), make(chan read, 1)
	go func() {
		r := bufio.NewReader(a.in)
		for range a.want {
			l, err := r.ReadString('\n')
			if l != "" {
				err = nil // the last line, without its newline
			}
			a.got <- read{strings.TrimRight(l, "\r\n"), err}
			if err != nil {
				return
			}
		}
	}()
}

func (a *asker) line() (string, error) {
	if a.eof {
		return "", errClosed
	}
	if a.want == nil {
		a.startReader()
	}
	select {
	case <-a.ctx.Done():
		return "", ErrInterrupted
	case a.want <- struct{}{}:
	}
	select {
	case <-a.ctx.Done():
		return "", ErrInterrupted
	case r := <-a.got:
		if r.err != nil {
			a.eof = true
			return "", errClosed
		}
		return r.line, nil
	}
}

// ask asks q until an answer passes its check.
func (a *asker) ask(q question) (string, error) {
	if err := a.ctx.Err(); err != nil {
		return "", ErrInterrupted
	}
	for {
		shown := q.def
		if q.shown != "" {
			shown = q.shown
		}
		fmt.Fprintf(a.out, "%s [%s]: ", q.prompt, shown)
		answer := q.def
		if a.yes {
			fmt.Fprintln(a.out, q.def)
		} else {
			l, err := a.line()
			if err != nil {
				fmt.Fprintln(a.out)
				return "", err
			}
			if l = strings.TrimSpace(l); l != "" {
				answer = l
			}
		}
		v, err := answer, error(nil)
		if q.check != nil {
			v, err = q.check(answer)
		}
		if err == nil {
			return v, nil
		}
		fmt.Fprintf(a.out, "  %v\n", err)
		if a.yes {
			return "", fmt.Errorf("%s: the default %q will not do: %w", q.prompt, q.def, err)
		}
	}
}

// confirm asks a yes/no question.
func (a *asker) confirm(prompt string, def bool) (bool, error) {
	q := question{prompt: prompt, def: "n", shown: "y/N", check: func(s string) (string, error) {
		switch strings.ToLower(s) {
		case "y", "yes":
			return "y", nil
		case "n", "no":
			return "n", nil
		}
		return "", errors.New("answer y or n")
	}}
	if def {
		q.def, q.shown = "y", "Y/n"
	}
	v, err := a.ask(q)
	return v == "y", err
}
