package analytics

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/system/internal/telemetry"
)

// Edge names of analytics' outbound calls.
const (
	EdgeDB   = "analytics->analytics-db"
	EdgeNATS = "analytics->nats"
)

// queryTracer makes a CLIENT span per SQL statement (edge analytics->analytics-db).
type queryTracer struct{ tracer trace.Tracer }

type spanKey struct{}

// TraceQueryStart implements pgx.QueryTracer.
func (q queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	op := sqlOperation(data.SQL)
	ctx, span := q.tracer.Start(ctx, "sql "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String(telemetry.AttrPeerService, "analytics-db"),
			attribute.String(telemetry.AttrEdge, EdgeDB),
			attribute.String(telemetry.AttrDBSystem, "postgresql"),
			attribute.String(telemetry.AttrDBOperation, op),
		))
	return context.WithValue(ctx, spanKey{}, span)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (q queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	span, ok := ctx.Value(spanKey{}).(trace.Span)
	if !ok {
		return
	}
	if data.Err != nil {
		span.RecordError(data.Err)
		span.SetStatus(codes.Error, data.Err.Error())
	}
	span.End()
}

// sqlOperation is the statement's first word, upper-cased (SELECT, INSERT, BEGIN...).
func sqlOperation(sql string) string {
	f := strings.Fields(sql)
	if len(f) == 0 {
		return "SQL"
	}
	return strings.ToUpper(f[0])
}
