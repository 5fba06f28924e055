using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Core.Routing;
using Herald.Core.Planning;
using Herald.Core.Rules;
using Herald.Ingest;
using Herald.Ingest.Native;
using Herald.Server.Audit;
using Herald.Server.Authentication;
using Herald.Server.Customers;
using Herald.Server.Delivery;
using Herald.Server.Notifications;
using Herald.Server.Throttling;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Rules;

/// <summary><c>/v1/rules</c> (SPEC §3): the tenant's versioned rule set, its history, rollback and the dry run.</summary>
public static class RulesApi
{
    private const int MaxTestBytes = NotificationsApi.MaxSingleBytes + 1024 * 1024;

    public static IEndpointRouteBuilder MapRulesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/rules").WithTags("Rules");
        group.MapGet("/", GetCurrentAsync).RequireAuthorization(Policies.Read)
            .WithName("getRules").WithSummary("Reads the tenant's current rule set (ETag: its version)")
            .Produces<RuleSetView>();
        group.MapPut("/", PutAsync).RequireAuthorization(Policies.Admin)
            .WithName("putRules").WithSummary("Replaces the rule set with a new version; If-Match guards against a concurrent change")
            .Produces<RuleSetView>()
            .ProducesProblems(StatusCodes.Status412PreconditionFailed, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType)
            .Produces<RuleProblem>(StatusCodes.Status422UnprocessableEntity, Problems.ContentType);
        group.MapGet("/versions", ListVersionsAsync).RequireAuthorization(Policies.Read)
            .WithName("listRuleVersions").WithSummary("Lists the rule set's versions, newest first, each with its diff")
            .Produces<RuleVersionPage>();
        group.MapGet("/versions/{version:long}", GetVersionAsync).RequireAuthorization(Policies.Read)
            .WithName("getRuleVersion").WithSummary("Reads one version of the rule set")
            .Produces<RuleSetView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPost("/rollback", RollbackAsync).RequireAuthorization(Policies.Admin)
            .WithName("rollbackRules").WithSummary("Makes an earlier version current again, as a new version")
            .Produces<RuleSetView>()
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status412PreconditionFailed, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType)
            .Produces<RuleProblem>(StatusCodes.Status422UnprocessableEntity, Problems.ContentType);
        group.MapPost("/test", TestAsync).RequireAuthorization(Policies.Read)
            .WithName("testRules").WithSummary("Dry run: the route and messages the current rule set (or a draft) decides for a notification")
            .Produces<RuleTestView>()
            .ProducesProblems(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType)
            .Produces<RuleProblem>(StatusCodes.Status422UnprocessableEntity, Problems.ContentType);
        return app;
    }

    private static async Task<IResult> GetCurrentAsync(HttpContext http, ClaimsPrincipal user, IRuleStore store, CancellationToken ct)
    {
        var current = await store.GetCurrentAsync(user.TenantId(), ct);
        http.Response.Headers.ETag = ETag(current?.Version ?? 0);
        return TypedResults.Json(current is null ? RuleSetView.None : RuleSetView.Of(current, null), RulesJson.Default.RuleSetView);
    }

    private static async Task<IResult> PutAsync(
        HttpRequest request, ClaimsPrincipal user, IRuleStore store, TimeProvider time,
        IOptions<RulesOptions> options, ILogger<RuleSetCache> logger, string? comment, CancellationToken ct)
    {
        var (expected, badIfMatch) = IfMatch(request);
        if (badIfMatch is not null)
        {
            return badIfMatch;
        }

        var (body, error) = await RequestBody.ReadJsonAsync(request, options.Value.MaxDocumentBytes);
        if (error is not null)
        {
            return error;
        }

        var document = Encoding.UTF8.GetString(body.Span);
        if (!CompiledRuleSet.TryCompile(document, 0, out _, out var errors))
        {
            return Unprocessable(errors, "");
        }

        return await AppendAsync(
            user, store, time, logger, document, Comment(comment), expected, null, request.HttpContext, ct);
    }

    private static async Task<IResult> RollbackAsync(
        HttpRequest request, ClaimsPrincipal user, IRuleStore store, TimeProvider time,
        ILogger<RuleSetCache> logger, CancellationToken ct)
    {
        var (expected, badIfMatch) = IfMatch(request);
        if (badIfMatch is not null)
        {
            return badIfMatch;
        }

        var (body, error) = await RequestBody.ReadJsonAsync(request, 16 * 1024);
        if (error is not null)
        {
            return error;
        }

        RollbackRequest? rollback;
        try
        {
            rollback = JsonSerializer.Deserialize(body.Span, RulesJson.Default.RollbackRequest);
        }
        catch (JsonException e)
        {
            return Problems.Invalid([new InputError("/", "Malformed request: " + e.Message)]);
        }

        if (rollback?.Version is not { } version || version < 1)
        {
            return Problems.Invalid([new InputError("/version", "Required: the version to roll back to (1 or more).")]);
        }

        var tenant = user.TenantId();
        var target = await store.GetVersionAsync(tenant, version, ct);
        if (target is null)
        {
            return Problems.NotFound($"Rule set version {version}");
        }

        // A version that compiled when it was stored may not under a stricter engine: check again, say where.
        if (!CompiledRuleSet.TryCompile(target.Document, 0, out _, out var errors))
        {
            return Unprocessable(errors, "", $"Version {version} is no longer valid and cannot be restored.");
        }

        return await AppendAsync(
            user, store, time, logger, target.Document, Comment(rollback.Comment) ?? $"Rollback to version {version}",
            expected, version, request.HttpContext, ct);
    }

    private static async Task<IResult> AppendAsync(
        ClaimsPrincipal user, IRuleStore store, TimeProvider time, ILogger logger,
        string document, string? comment, long? expected, long? rolledBackFrom, HttpContext http, CancellationToken ct)
    {
        var tenant = user.TenantId();
        var author = user.FindFirstValue(ApiKeyAuthenticationHandler.KeyClaim) ?? "unknown key";
        RuleSetVersion? stored;
        var current = await store.GetCurrentAsync(tenant, ct);
        // The resource id is the version the store appends (it fills it in).
        using (http.Audit(tenant, rolledBackFrom is null ? "rules.update" : "rules.rollback", "rules", "",
                   RuleSetDiff.ByName(current?.Document), RuleSetDiff.ByName(document)))
        {
            stored = await store.AppendAsync(new RuleSetChange(tenant, document, author, comment, expected, rolledBackFrom), time.GetUtcNow(), ct);
        }

        if (stored is null)
        {
            return Problems.Result(StatusCodes.Status412PreconditionFailed, "precondition-failed", "The rule set changed meanwhile.",
                $"If-Match named version {expected}, but the current version is {(await store.GetCurrentAsync(tenant, ct))?.Version ?? 0}. Reload, reapply your change and try again.");
        }

        // The store announced the new version: this node serves it already, the others hear of it over Redis and
        // PostgreSQL (or the poll).
        logger.RulesChanged(tenant, stored.Version, author);
        var previous = stored.Version > 1 ? await store.GetVersionAsync(tenant, stored.Version - 1, ct) : null;
        http.Response.Headers.ETag = ETag(stored.Version);
        return TypedResults.Json(RuleSetView.Of(stored, RuleSetDiff.Between(previous?.Document, stored.Document)), RulesJson.Default.RuleSetView);
    }

    private static async Task<IResult> ListVersionsAsync(ClaimsPrincipal user, IRuleStore store, long? before, int? limit, CancellationToken ct)
    {
        var size = Math.Clamp(limit ?? 20, 1, 100);
        // One more than asked: each listed version is diffed against its predecessor.
        var versions = await store.ListVersionsAsync(user.TenantId(), before, size + 1, ct);
        var items = new List<RuleVersionView>(Math.Min(size, versions.Count));
        for (var i = 0; i < versions.Count && i < size; i++)
        {
            var v = versions[i];
            var predecessor = i + 1 < versions.Count ? versions[i + 1].Document
                : v.Version > 1 ? (await store.GetVersionAsync(user.TenantId(), v.Version - 1, ct))?.Document
                : null;
            items.Add(RuleVersionView.Of(v, RuleSetDiff.Between(predecessor, v.Document)));
        }

        var next = versions.Count > size ? items[^1].Version : (long?)null;
        return TypedResults.Json(new RuleVersionPage(items, next), RulesJson.Default.RuleVersionPage);
    }

    private static async Task<IResult> GetVersionAsync(ClaimsPrincipal user, IRuleStore store, long version, CancellationToken ct)
    {
        var tenant = user.TenantId();
        var found = await store.GetVersionAsync(tenant, version, ct);
        if (found is null)
        {
            return Problems.NotFound($"Rule set version {version}");
        }

        var previous = version > 1 ? await store.GetVersionAsync(tenant, version - 1, ct) : null;
        return TypedResults.Json(RuleSetView.Of(found, RuleSetDiff.Between(previous?.Document, found.Document)), RulesJson.Default.RuleSetView);
    }

    private static async Task<IResult> TestAsync(
        HttpRequest request, ClaimsPrincipal user, NotificationPlanner planner, IRuleSetSource source, TimeProvider time,
        IOptions<DefaultRouteOptions> routeOptions, CustomerCache customers, Consents.ConsentCache consents, MessageComposer composer, Throttles throttles,
        Notifications.GroupKeys groupKeys, CancellationToken ct)
    {
        var (body, error) = await RequestBody.ReadJsonAsync(request, MaxTestBytes);
        if (error is not null)
        {
            return error;
        }

        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            return Problems.Invalid([new InputError("/", "The body is not valid JSON: " + e.Message)]);
        }

        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("notification", out var notificationJson))
            {
                return Problems.Invalid([new InputError("/notification", "Required: the notification to try, as for POST /v1/notifications.")]);
            }

            foreach (var property in root.EnumerateObject())
            {
                if (property.Name is not ("notification" or "draft"))
                {
                    return Problems.Invalid([new InputError("/" + property.Name, $"Unknown field '{property.Name}'; the body has 'notification' and, optionally, 'draft'.")]);
                }
            }

            var (notification, errors) = NotificationParser.Parse(Encoding.UTF8.GetBytes(notificationJson.GetRawText()), user.TenantId(), user.SourceId(), null);
            if (notification is null)
            {
                return Problems.Invalid([.. errors.Select(e => e with { Pointer = "/notification" + e.Pointer })], "The notification is invalid.");
            }

            CompiledRuleSet? draft = null;
            if (root.TryGetProperty("draft", out var draftJson) && draftJson.ValueKind != JsonValueKind.Null)
            {
                if (!CompiledRuleSet.TryCompile(draftJson.GetRawText(), 0, out draft, out var draftErrors, routeOptions.Value))
                {
                    return Unprocessable(draftErrors, "/draft");
                }
            }

            // Exactly as ingest (IngestService): the same load (the stored customer) and the same planner (customer
            // merged, rules, preferences, digest and throttle groups), and the messages composed by the delivery
            // composer (tenant templates), so the dry run matches what ingest stores and delivery then does.
            var customer = (await customers.ForAsync([(notification.TenantId, notification.CustomerId)], ct))[0];
            var now = time.GetUtcNow();
            var set = draft ?? source.For(notification.TenantId) ?? CompiledRuleSet.Empty;
            // The consent ledger's opt-outs as ingest sees them (issue #16).
            var (plan, evaluation) = planner.Explain(notification, customer, set, now, await consents.ForAsync(notification.TenantId, ct));
            if (plan.Error is { } customerError)
            {
                // What ingest would answer for the same notification.
                return Problems.Result(StatusCodes.Status422UnprocessableEntity, "customer", "The notification cannot be delivered to this customer.",
                    "See 'errors' for the reason.", [new InputError("/notification" + customerError.Pointer, customerError.Detail)]);
            }

            // A digest member is stored held until its window closes; the dry run joins no window, so it shows the
            // window this notification would open now (an already open window of its key closes sooner).
            var prepared = plan.Digest is { } digest ? plan.JoinedDigest(now + digest.Window) : plan.Prepared!;
            var (messages, refused) = prepared.Suppressed ? ([], null) : await ComposeAsync(prepared, customer, composer, now, ct);
            if (refused is not null)
            {
                return refused;
            }

            var view = RuleTestView.Of(draft is null ? set.Version : null, evaluation!, prepared, messages) with
            {
                // Counted as ingest stores the group: by its hashed key (issue #17).
                Throttle = await throttles.PreviewAsync(await groupKeys.SealAsync(prepared, ct), now, ct),
                Digest = plan.Digest is { } join ? new DigestView(join.Key, Durations.Format(join.Window), prepared.Route.Digest!.ClosesAt) : null,
            };
            return TypedResults.Json(view, RulesJson.Default.RuleTestView);
        }
    }

    /// <summary>The messages each route step would send, composed by delivery's <see cref="MessageComposer"/>; or,
    /// when a step's template breaks its limits (delivery would fail that attempt), the 422 problem saying so.</summary>
    internal static async Task<(IReadOnlyList<ComposedMessageView> Messages, IResult? Refused)> ComposeAsync(
        PreparedNotification prepared, Customer? customer, MessageComposer composer, DateTimeOffset now, CancellationToken ct)
    {
        var request = prepared.Request;
        var messages = new List<ComposedMessageView>(prepared.Route.Steps.Count);
        for (var i = 0; i < prepared.Route.Steps.Count; i++)
        {
            var step = prepared.Route.Steps[i];
            // The message as delivery composes it for this step: the stored (masked) notification at that step.
            var notification = new Notification
            {
                Id = prepared.Id,
                TenantId = request.TenantId,
                SourceId = request.SourceId,
                Type = request.Type,
                CustomerId = request.CustomerId,
                Contacts = request.Contacts,
                DataJson = request.DataJson,
                Priority = prepared.Route.Priority,
                ExpiresAt = request.ExpiresAt,
                ExternalId = request.ExternalId,
                Route = prepared.Route,
                Status = NotificationStatus.Routed,
                Progress = new DeliveryProgress(i, 0, null),
                CreatedAt = now,
                UpdatedAt = now,
                Actions = request.Actions,
                ReplyUntil = request.ReplyUntil(now),
            };
            var template = prepared.Route.Templates?.GetValueOrDefault(step.Channel);
            var composed = await composer.ComposeAsync(notification, step.Channel, customer, ct);
            if (composed.Failure is { } failure)
            {
                return ([], Problems.Result(StatusCodes.Status422UnprocessableEntity, failure.ErrorCode!.Replace('_', '-'),
                    "A template breaks its limits for this notification.",
                    $"Delivery would fail this step ({failure.ErrorCode}) without sending it. See 'errors'.",
                    [new InputError("/notification", $"Step {i} ({Views.Name(step.Channel)}), template part '{composed.FailedField}': {failure.Error}")]));
            }

            messages.Add(new ComposedMessageView(i, Views.Name(step.Channel), template, composed.Text, composed.Subject, composed.TemplateId));
        }

        return (messages, null);
    }

    private static IResult Unprocessable(IReadOnlyList<RuleValidationError> errors, string prefix, string? detail = null) =>
        TypedResults.Json(
            new RuleProblem
            {
                Type = "https://herald.dev/problems/invalid-rules",
                Title = "The rule set is not valid.",
                Status = StatusCodes.Status422UnprocessableEntity,
                Detail = detail ?? "See 'errors' for each problem: the rule (index and name), the field (a JSON pointer) and, inside a condition, the character position. The current rule set stays in use.",
                Errors = [.. errors.Select(e => new RuleErrorView(prefix + e.Field, e.Message, e.RuleIndex, e.RuleName, e.Position))],
            },
            RulesJson.Default.RuleProblem,
            Problems.ContentType,
            StatusCodes.Status422UnprocessableEntity);

    private static (long? Expected, IResult? Error) IfMatch(HttpRequest request)
    {
        var header = request.Headers.IfMatch.ToString().Trim();
        if (header.Length == 0)
        {
            return (null, null);
        }

        var value = header.StartsWith("W/", StringComparison.Ordinal) ? header[2..] : header;
        value = value.Trim('"');
        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            ? (version, null)
            : (null, Problems.Invalid([new InputError("/headers/If-Match", "If-Match must name a rule set version as returned in ETag, e.g. \"3\".")]));
    }

    private static string ETag(long version) => $"\"{version}\"";

    private static string? Comment(string? comment) =>
        string.IsNullOrWhiteSpace(comment) ? null : comment.Length > 500 ? comment[..500] : comment.Trim();
}
