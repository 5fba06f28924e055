using Herald.Core.Notifications;

namespace Herald.Server.Notifications;

public sealed record AcceptedView(Guid Id, NotificationStatus Status);

public sealed record AttemptView(
    Guid Id, int Step, Channel Channel, string? Provider, string? ProviderMessageId, AttemptState State, string? FailureKind,
    string? ErrorCode, string? Error, decimal? Cost, DateTimeOffset CreatedAt, DateTimeOffset? SentAt, DateTimeOffset? DeliveredAt)
{
    public static AttemptView From(Attempt a) => new(
        a.Id, a.Step, a.Channel, a.ProviderName, a.ProviderMessageId, a.State, a.FailureKind, a.ErrorCode, a.Error, a.Cost,
        a.CreatedAt, a.SentAt, a.DeliveredAt);
}

public sealed record RouteStepView(Channel Channel, WaitFor WaitFor, double TimeoutSeconds);

public sealed record NotificationView(
    Guid Id,
    NotificationStatus Status,
    Priority Priority,
    Channel? Channel,
    string Type,
    string? CustomerId,
    string? ExternalId,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    IReadOnlyList<RouteStepView> Route,
    IReadOnlyList<AttemptView>? Attempts)
{
    /// <summary>The reply choices offered (issue #16); null when the notification asks nothing.</summary>
    public IReadOnlyList<NotificationAction>? Actions { get; init; }

    /// <summary>Until when a reply is on time; null when the notification asks nothing.</summary>
    public DateTimeOffset? ReplyUntil { get; init; }

    /// <summary>The customer's replies, oldest first (GET one notification only); null when there are none.</summary>
    public IReadOnlyList<Replies.CustomerMessageView>? Replies { get; init; }

    /// <summary>The source that delivered it to Herald (issue #5); null for the plain API.</summary>
    public Guid? SourceId { get; init; }

    /// <summary>The rule set version and, per part of the route (priority, channels, costPolicy, quietHours,
    /// template.{channel}), the rule that decided it at ingest; null when the defaults decided the route.</summary>
    public Herald.Core.Routing.RouteProvenance? DecidedBy { get; init; }

    public static NotificationView From(Notification n, IReadOnlyList<Attempt>? attempts) => new(
        n.Id, n.Status, n.Priority, n.Channel, n.Type, n.CustomerId, n.ExternalId, n.ExpiresAt, n.CreatedAt, n.UpdatedAt,
        [.. n.Route.Steps.Select(s => new RouteStepView(s.Channel, s.WaitFor, s.Timeout.TotalSeconds))],
        attempts is null ? null : [.. attempts.Select(AttemptView.From)])
    {
        Actions = n.Actions.Count == 0 ? null : n.Actions,
        ReplyUntil = n.ReplyUntil,
        DecidedBy = n.Route.DecidedBy,
        SourceId = n.SourceId,
    };
}

public sealed record NotificationPage(IReadOnlyList<NotificationView> Items, string? Next);

/// <summary>One item's outcome in a batch: accepted (or a duplicate of an earlier one), or rejected with errors.</summary>
public sealed record BatchItemResult(int Index, Guid? Id, string Outcome, NotificationStatus? Status, IReadOnlyList<Herald.Ingest.InputError>? Errors);

public sealed record BatchResult(int Accepted, int Duplicates, int Rejected, IReadOnlyList<BatchItemResult> Items);
