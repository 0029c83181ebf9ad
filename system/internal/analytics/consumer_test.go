package analytics

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/faultline/faultline/system/internal/events"
)

type fakeApplier struct {
	got Record
	a   Applied
	err error
}

func (f *fakeApplier) Apply(_ context.Context, r Record) (Applied, error) {
	f.got = r
	return f.a, f.err
}

func TestHandler(t *testing.T) {
	dbDown := errors.New("connection refused")
	click := events.Event{ID: "1", Type: events.TypeClick, Code: "abc"}
	tests := []struct {
		name     string
		subject  string
		ev       events.Event
		store    *fakeApplier
		wantErr  error // nil, events.ErrDuplicate or dbDown
		wantKind string
	}{
		{"click processed", events.SubjectClick, click, &fakeApplier{a: Applied{Counted: true}}, nil, KindClick},
		{"link processed", events.SubjectLinkCreated, events.Event{ID: "2", Type: events.TypeLinkCreated, Code: "abc", URL: "https://x"},
			&fakeApplier{a: Applied{Counted: true}}, nil, KindLink},
		{"duplicate acked as duplicate", events.SubjectClick, click, &fakeApplier{a: Applied{Duplicate: true}}, events.ErrDuplicate, KindClick},
		{"dedup off counts again", events.SubjectClick, click, &fakeApplier{a: Applied{Duplicate: true, Counted: true}}, nil, KindClick},
		{"store down is redelivered", events.SubjectClick, click, &fakeApplier{err: dbDown}, dbDown, KindClick},
		{"invalid event acked", events.SubjectClick, click, &fakeApplier{err: ErrInvalidEvent}, nil, KindClick},
		{"wrong subject acked, not applied", events.SubjectLinkCreated, click, &fakeApplier{}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Handler(tt.subject, tt.store, slog.New(slog.DiscardHandler))(context.Background(), tt.ev)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.store.got.Kind != tt.wantKind {
				t.Errorf("applied kind %q, want %q", tt.store.got.Kind, tt.wantKind)
			}
			if tt.wantKind != "" && (tt.store.got.ID != tt.ev.ID || tt.store.got.Subject != tt.subject) {
				t.Errorf("applied %+v", tt.store.got)
			}
		})
	}
}
