using System.Diagnostics;

namespace Herald.Core.Observability;

/// <summary>
/// Herald's spans (docs/OBSERVABILITY.md, Traces): one trace per notification across processes. The api stores the
/// W3C <c>traceparent</c> its acceptance ran under with the notification, and the worker's send, the receipt and the
/// bank webhook start their spans in that trace. Spans carry ids, never contacts or texts. With no tracer listening
/// (tracing off) every start answers null at the cost of one check.
/// </summary>
public static class HeraldTraces
{
    public const string SourceName = "Herald";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>Span attribute names, one place for all of them.</summary>
    public static class Tags
    {
        public const string Notification = "herald.notification.id";
        public const string Tenant = "herald.tenant.id";
        public const string Attempt = "herald.attempt.id";
        public const string Channel = "herald.channel";
        public const string Priority = "herald.priority";
        public const string Step = "herald.step";
        public const string Account = "herald.provider.account.id";
        public const string ProviderKind = "herald.provider.kind";
        public const string Outcome = "herald.outcome";
        public const string ErrorCode = "herald.error.code";
        public const string Status = "herald.status";
        public const string Count = "herald.batch.size";
        public const string Event = "herald.webhook.event";
    }

    /// <summary>Starts a span in the trace <paramref name="traceParent"/> names (a stored W3C traceparent), or a new
    /// trace when it is null or malformed; null when nothing listens.</summary>
    /// <param name="start">When the work began, if earlier than now (the claim of a batch); default = now.</param>
    public static Activity? StartIn(string name, string? traceParent, ActivityKind kind = ActivityKind.Internal, DateTimeOffset start = default)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        ActivityContext parent = default;
        if (traceParent is not null && !ActivityContext.TryParse(traceParent, null, isRemote: true, out parent))
        {
            parent = default;
        }

        return Source.StartActivity(name, kind, parent, startTime: start);
    }

    /// <summary>
    /// The traceparent to store with a notification accepted under <paramref name="current"/>: Herald's own span when
    /// tracing is on; else the one the bank sent on the request, kept even with tracing off so that the bank's webhook
    /// requests carry its trace; else null (nothing to store, nothing to join).
    /// </summary>
    public static string? ToStore(Activity? current) => current switch
    {
        null => null,
        { Source.Name: SourceName, IdFormat: ActivityIdFormat.W3C } => current.Id,
        _ => RemoteParent(current),
    };

    private static string? RemoteParent(Activity current)
    {
        // The request's own activity (ASP.NET Core starts one) or one of its children: walk up to the one that came in.
        for (var a = current; a is not null; a = a.Parent)
        {
            if (a.HasRemoteParent)
            {
                return a.ParentId is { Length: 55 } id && id.StartsWith("00-", StringComparison.Ordinal) ? id : null;
            }
        }

        return null;
    }

    /// <summary>Marks <paramref name="span"/> failed with a short reason (a code, never customer data).</summary>
    public static void Fail(this Activity? span, string? code)
    {
        if (span is null)
        {
            return;
        }

        span.SetStatus(ActivityStatusCode.Error, code);
        span.SetTag(Tags.ErrorCode, code);
    }
}
