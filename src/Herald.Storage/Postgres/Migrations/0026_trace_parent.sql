-- One trace per notification across processes (docs/OBSERVABILITY.md, Traces): the W3C traceparent its acceptance
-- ran under, so the worker's send, the receipt and the bank webhook join the bank's trace. Null for most rows when
-- tracing is off (only a bank-sent traceparent is kept), which costs a null bit, not bytes.
ALTER TABLE notifications ADD COLUMN trace_parent text;
