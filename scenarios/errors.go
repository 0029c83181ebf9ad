package scenarios

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every *Errors, so callers can branch on "the file is
// wrong" without looking at the list.
var ErrInvalid = errors.New("scenario: invalid")

// Pos is a place in a scenario file, 1-based; zero when unknown.
type Pos struct {
	Line int
	Col  int
}

// Error is one problem found in a scenario file.
type Error struct {
	File string
	Pos  Pos
	Msg  string // what was expected, prefixed with the YAML path of the value
}

func (e *Error) Error() string {
	if e.Pos.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// Errors is every problem found in one scenario file, in file order. Parse collects them all
// rather than stopping at the first, so one edit-validate cycle fixes a whole file.
type Errors struct {
	List []*Error
}

// Error prints one problem per line as FILE:LINE:COL: message.
func (e *Errors) Error() string {
	lines := make([]string, len(e.List))
	for i, x := range e.List {
		lines[i] = x.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each problem to errors.Is/As.
func (e *Errors) Unwrap() []error {
	out := make([]error, len(e.List))
	for i, x := range e.List {
		out[i] = x
	}
	return out
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *Errors) Is(target error) bool { return target == ErrInvalid }

func (e *Errors) add(file string, p Pos, format string, args ...any) {
	e.List = append(e.List, &Error{File: file, Pos: p, Msg: fmt.Sprintf(format, args...)})
}

// sorted orders problems by position and drops exact duplicates.
func (e *Errors) sorted() *Errors {
	sort.SliceStable(e.List, func(i, j int) bool {
		a, b := e.List[i].Pos, e.List[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	out := e.List[:0]
	for i, x := range e.List {
		if i > 0 && *x == *e.List[i-1] {
			continue
		}
		out = append(out, x)
	}
	e.List = out
	return e
}
