-- One trace per notification across processes (docs/OBSERVABILITY.md, Traces): the W3C traceparent its acceptance
-- ran under, so the worker's send, the receipt and the bank webhook join the bank's trace.
ALTER TABLE notifications ADD COLUMN trace_parent TEXT;
