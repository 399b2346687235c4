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
	ctx   context.Context
	out   io.Writer
	yes   bool
	in    io.Reader
	lines chan string // lines read from in, closed at EOF
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

// readLines starts the one reader of in. A read cannot be interrupted, so
// it runs on its own and ask selects between it and ctx.
func (a *asker) readLines() {
	a.lines = make(chan string)
	go func() {
		defer close(a.lines)
		r := bufio.NewReader(a.in)
		for {
			l, err := r.ReadString('\n')
			if l != "" || err == nil {
				a.lines <- strings.TrimRight(l, "\r\n")
			}
			if err != nil {
				return
			}
		}
	}()
}

func (a *asker) line() (string, error) {
	if a.lines == nil {
		a.readLines()
	}
	select {
	case <-a.ctx.Done():
		return "", ErrInterrupted
	case l, ok := <-a.lines:
		if !ok {
			return "", errClosed
		}
		return l, nil
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
