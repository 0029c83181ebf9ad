// Package explore plans a search of the fault space: it learns each load stream's path from a
// baseline's spans, derives a fault vocabulary from the resilience profile, and lists every
// single fault (and, on request, every pair on one stream's path) with the reductions applied.
//
// The search follows Filibuster (every fault each call can raise, then combinations along one
// request, skipping combinations below a failure already covered) and Netflix's LDFI (singles
// first, then pairs, pruned by request traces), over Faultline's proxies and process faults,
// and it follows the queue: a link created now is an event analytics applies later, so the
// consumer's edges belong to the creating stream's path.
package explore
