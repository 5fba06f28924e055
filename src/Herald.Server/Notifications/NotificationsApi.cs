using System.Security.Claims;
using System.Text.Json;
using Herald.Core.Notifications;
using Herald.Ingest;
using Herald.Ingest.Native;
using Herald.Server.Authentication;
using Herald.Server.Hosting;
using Herald.Server.Quotas;
using Herald.Storage;
using Microsoft.Extensions.Options;
using static Microsoft.AspNetCore.Http.StatusCodes;

namespace Herald.Server.Notifications;

/// <summary><c>/v1/notifications</c> (SPEC §3).</summary>
public static class NotificationsApi
{
    public const int MaxSingleBytes = 64 * 1024;
    public const int MaxBatchBytes = 16 * 1024 * 1024;

    public static IEndpointRouteBuilder MapNotificationsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/notifications").WithTags("Notifications");
        group.MapPost("/", SendAsync).RequireAuthorization(Policies.Send).AddEndpointFilter<IngestQuotaFilter>()
            .WithName("sendNotification").WithSummary("Sends one notification")
            .Accepts<NotificationRequest>("application/json")
            .WithDescription("202 once the notification is committed; 200 with the original for a repeat of its Idempotency-Key or externalId.")
            .Produces<AcceptedView>(StatusCodes.Status202Accepted)
            .Produces<AcceptedView>(StatusCodes.Status200OK)
            .ProducesProblems(Status400BadRequest, Status401Unauthorized, Status403Forbidden, Status413PayloadTooLarge, Status415UnsupportedMediaType,
                Status422UnprocessableEntity, Status429TooManyRequests, Status503ServiceUnavailable);
        group.MapPost("/batch", SendBatchAsync).RequireAuthorization(Policies.Send).AddEndpointFilter<IngestQuotaFilter>()
            .WithName("sendNotificationBatch").WithSummary("Sends up to 1,000 notifications, with a result per item")
            .Accepts<BatchRequest>("application/json")
            .WithDescription("Per-item results: 202 when at least one item is accepted or a duplicate, 400 (same body) when every item is rejected.")
            .Produces<BatchResult>(StatusCodes.Status202Accepted)
            .Produces<BatchResult>(StatusCodes.Status400BadRequest)
            .ProducesProblems(Status401Unauthorized, Status403Forbidden, Status413PayloadTooLarge, Status415UnsupportedMediaType, Status429TooManyRequests,
                Status503ServiceUnavailable);
        group.MapGet("/{id:guid}", GetAsync).RequireAuthorization(Policies.Read)
            .WithName("getNotification").WithSummary("Reads a notification: status, route, attempts and replies")
            .Produces<NotificationView>()
            .ProducesProblems(Status401Unauthorized, Status403Forbidden, Status404NotFound);
        group.MapGet("/", SearchAsync).RequireAuthorization(Policies.Read)
            .WithName("searchNotifications").WithSummary("Searches the tenant's notifications, newest first, a page at a time")
            .Produces<NotificationPage>()
            .ProducesProblems(Status400BadRequest, Status401Unauthorized, Status403Forbidden);
        group.MapPost("/{id:guid}/cancel", CancelAsync).RequireAuthorization(Policies.Send)
            .WithName("cancelNotification").WithSummary("Cancels a notification unless it is already final")
            .Produces<AcceptedView>()
            .ProducesProblems(Status401Unauthorized, Status403Forbidden, Status404NotFound, Status409Conflict);
        return app;
    }

    private static async Task<IResult> SendAsync(HttpRequest request, ClaimsPrincipal user, IngestService ingest, IngestQuotas quotas, CancellationToken ct)
    {
        if (SourceScoped(user) is { } refused)
        {
            return refused;
        }

        var (body, error) = await RequestBody.ReadJsonAsync(request, MaxSingleBytes);
        if (error is not null)
        {
            return error;
        }

        var idempotencyKey = request.Headers["Idempotency-Key"].FirstOrDefault();
        var (notification, errors) = NotificationParser.Parse(body.Span, user.TenantId(), null, idempotencyKey);
        if (notification is null)
        {
            return Problems.Invalid(errors, "The notification is invalid.");
        }

        if (await quotas.TakeNotificationsAsync(notification.TenantId, 1, ct) is { } overQuota)
        {
            return overQuota.ToResult(request.HttpContext);
        }

        AcceptResult result;
        try
        {
            result = await ingest.AcceptAsync(notification, ct);
        }
        catch (Customers.CustomerRejectedException e)
        {
            return Problems.Result(StatusCodes.Status422UnprocessableEntity, "customer", e.Title, "See 'errors' for the reason.", e.Errors);
        }
        catch (UnstorableNotificationException e)
        {
            return Problems.Invalid([e.Error], "The notification cannot be stored.");
        }

        if (result.Mismatch)
        {
            return IdempotencyMismatch(result, idempotencyKey is null ? "/externalId" : "header/Idempotency-Key");
        }

        var view = new AcceptedView(result.Id, result.Status);
        request.HttpContext.Response.Headers.Location = $"/v1/notifications/{result.Id}";
        return TypedResults.Json(view, HeraldJson.Default.AcceptedView,
            statusCode: result.Created ? StatusCodes.Status202Accepted : StatusCodes.Status200OK);
    }

    private static async Task<IResult> SendBatchAsync(
        HttpRequest request, ClaimsPrincipal user, IngestService ingest, IngestQuotas quotas, IOptions<IngestOptions> options, CancellationToken ct)
    {
        if (SourceScoped(user) is { } refused)
        {
            return refused;
        }

        // Items are checked one by one: a value storage cannot hold rejects its item, not the whole batch.
        var (body, error) = await RequestBody.ReadJsonAsync(request, MaxBatchBytes, storableChecked: false);
        if (error is not null)
        {
            return error;
        }

        BatchBody? batch;
        try
        {
            // One reader over the whole body: the items' positions are offsets in it.
            batch = JsonSerializer.Deserialize(body.Span, NativeJsonContext.Default.BatchBody);
        }
        catch (JsonException e)
        {
            return Problems.Invalid([NotificationParser.JsonError(e)]);
        }

        if (batch?.Items is not { Count: > 0 } items)
        {
            return Problems.Invalid([new InputError("/items", "Required: an array of 1 or more notifications.")]);
        }

        if (items.Count > options.Value.MaxBatchItems)
        {
            return Problems.Invalid([new InputError("/items", $"At most {options.Value.MaxBatchItems} notifications per batch.")]);
        }

        var tenantId = user.TenantId();
        // Whole request: a batch over a quota is refused as one, so a client never has to sort out which items went.
        if (await quotas.TakeNotificationsAsync(tenantId, items.Count, ct) is { } overQuota)
        {
            return overQuota.ToResult(request.HttpContext);
        }

        var valid = new List<NewNotification>(items.Count);
        var validIndex = new List<int>(items.Count);
        var results = new BatchItemResult[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            var (notification, errors) = NotificationParser.ParseItem(items[i].Of(body.Span), tenantId, null, $"/items/{i}");
            if (notification is null)
            {
                results[i] = new BatchItemResult(i, null, "rejected", null, errors);
            }
            else
            {
                valid.Add(notification);
                validIndex.Add(i);
            }
        }

        if (valid.Count > 0)
        {
            var accepted = await ingest.AcceptBatchAsync(valid, j => $"/items/{validIndex[j]}", ct);
            for (var j = 0; j < accepted.Length; j++)
            {
                results[validIndex[j]] = accepted[j] is ({ } r, _)
                    ? new BatchItemResult(validIndex[j], r.Id, r.Created ? "accepted" : "duplicate", r.Status, null)
                    : new BatchItemResult(validIndex[j], null, "rejected", null, [accepted[j].Error!]);
            }
        }

        var view = new BatchResult(
            results.Count(r => r.Outcome == "accepted"), results.Count(r => r.Outcome == "duplicate"), results.Count(r => r.Outcome == "rejected"), results);
        // 202: every valid item is durable; per-item outcomes say which were rejected and why.
        return TypedResults.Json(view, HeraldJson.Default.BatchResult, statusCode: results.Any(r => r.Outcome != "rejected") ? StatusCodes.Status202Accepted : StatusCodes.Status400BadRequest);
    }

    private static async Task<IResult> GetAsync(
        Guid id, ClaimsPrincipal user, INotificationStore store, ICustomerMessageStore messages, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        var notification = await store.GetAsync(tenantId, id, ct);
        if (notification is null)
        {
            return Problems.NotFound("Notification");
        }

        var attempts = await store.GetAttemptsAsync(tenantId, id, ct);
        // Replies (issue #16): only a notification that asked something, or was answered anyway, has any.
        var replies = await messages.ListRepliesAsync(tenantId, id, ct);
        var view = NotificationView.From(notification, attempts) with
        {
            Replies = replies.Count == 0 ? null : [.. replies.Select(Replies.CustomerMessageView.Of)],
        };
        return TypedResults.Json(view, HeraldJson.Default.NotificationView);
    }

    private static async Task<IResult> SearchAsync(HttpRequest request, ClaimsPrincipal user, INotificationStore store, CancellationToken ct)
    {
        var q = request.Query;
        var errors = new List<InputError>();
        var query = new NotificationQuery(
            Status: ParseEnum<NotificationStatus>(q["status"], "status", errors),
            Type: q["type"].FirstOrDefault(),
            ExternalId: q["externalId"].FirstOrDefault(),
            CustomerId: q["customerId"].FirstOrDefault(),
            CreatedFrom: ParseTime(q["from"], "from", errors),
            CreatedTo: ParseTime(q["to"], "to", errors),
            Before: q["before"].FirstOrDefault() is { } before ? (Guid.TryParse(before, out var b) ? b : Bad<Guid?>("before", "Must be a notification id.", errors)) : null,
            Limit: q["limit"].FirstOrDefault() is { } limit ? (int.TryParse(limit, out var l) && l is >= 1 and <= 500 ? l : Bad<int>("limit", "Must be 1 to 500.", errors)) : 50,
            Channel: ParseEnum<Channel>(q["channel"], "channel", errors),
            Priority: ParseEnum<Priority>(q["priority"], "priority", errors),
            SourceId: q["sourceId"].FirstOrDefault() is { } source ? (Guid.TryParse(source, out var s) ? s : Bad<Guid?>("sourceId", "Must be a source id.", errors)) : null);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors, "The search is invalid.");
        }

        var items = await store.SearchAsync(user.TenantId(), query, ct);
        var next = items.Count == query.Limit ? items[^1].Id.ToString() : null;
        return TypedResults.Json(new NotificationPage([.. items.Select(n => NotificationView.From(n, null))], next), HeraldJson.Default.NotificationPage);
    }

    /// <summary>A repeat of a key with another request: 422, as Stripe answers; the original is named, not returned.</summary>
    internal static IResult IdempotencyMismatch(AcceptResult result, string pointer) =>
        Problems.Result(StatusCodes.Status422UnprocessableEntity, "idempotency-key-reused",
            "The key was already used for a different request.",
            "A repeat with the same Idempotency-Key (or externalId) must carry the same notification; nothing was stored.",
            [IngestService.KeyReused(pointer, result.Id)]);

    /// <summary>
    /// A key scoped to a source sends through that source only (<c>/v1/sources/{id}/messages</c>), where the source's
    /// signature and client certificate are checked: here they would not be, so a leaked key alone could send.
    /// </summary>
    private static IResult? SourceScoped(ClaimsPrincipal user) =>
        user.SourceId() is { } source
            ? Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "This key may not do that.",
                $"The key is scoped to source {source}: send through POST /v1/sources/{source}/messages.")
            : null;

    private static async Task<IResult> CancelAsync(Guid id, ClaimsPrincipal user, NotificationCancellation cancellation, CancellationToken ct)
    {
        if (SourceScoped(user) is { } refused)
        {
            return refused;
        }

        var (outcome, n) = await cancellation.CancelAsync(user.TenantId(), id, maxTries: 5, ct);
        return outcome switch
        {
            CancelOutcome.Cancelled => TypedResults.Json(new AcceptedView(n!.Id, NotificationStatus.Cancelled), HeraldJson.Default.AcceptedView),
            CancelOutcome.NotFound => Problems.NotFound("Notification"),
            CancelOutcome.AlreadyFinal => Problems.Result(StatusCodes.Status409Conflict, "already-final", "The notification is already final.",
                $"Its status is '{JsonNamingPolicy.CamelCase.ConvertName(n!.Status.ToString())}'."),
            _ => Problems.Result(StatusCodes.Status409Conflict, "busy", "The notification changed while cancelling; try again."),
        };
    }

    private static T? ParseEnum<T>(string? raw, string name, List<InputError> errors) where T : struct, Enum
    {
        if (raw is null)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<T>($"\"{raw}\"", HeraldJson.Default.Options);
        }
        catch (JsonException)
        {
            errors.Add(new InputError("query/" + name, $"Unknown value '{raw}'."));
            return null;
        }
    }

    private static DateTimeOffset? ParseTime(string? raw, string name, List<InputError> errors) =>
        raw is null ? null
        : DateTimeOffset.TryParse(raw, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t) ? t
        : Bad<DateTimeOffset?>(name, "Must be an ISO 8601 time.", errors);

    private static T Bad<T>(string name, string detail, List<InputError> errors)
    {
        errors.Add(new InputError("query/" + name, detail));
        return default!;
    }
}
