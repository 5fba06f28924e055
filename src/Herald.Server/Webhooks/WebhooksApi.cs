using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Channels.Egress;
using Herald.Core.Notifications;
using Herald.Ingest;
using Herald.Server.Audit;
using Herald.Server.Authentication;
using Herald.Server.Notifications;
using Herald.Storage;
using Herald.Storage.Secrets;
using Microsoft.Extensions.Options;

namespace Herald.Server.Webhooks;

public sealed record WebhookRequest(string? Url, IReadOnlyList<string>? Statuses, string? Description, bool? Enabled);

/// <param name="Secret">The signing secret: only in the answer to a create or a rotation, never again.</param>
public sealed record WebhookView(
    Guid Id, string Url, IReadOnlyList<NotificationStatus> Statuses, bool Enabled, string? Description, DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt, string? Secret = null)
{
    public static WebhookView From(WebhookEndpoint e, string? secret = null) =>
        new(e.Id, e.Url, e.Statuses, e.Enabled, e.Description, e.CreatedAt, e.UpdatedAt, secret);
}

/// <param name="Status">The final status a status event reports; null for an inbound event (issue #16).</param>
public sealed record WebhookDeliveryView(
    Guid Id, Guid EndpointId, Guid EventId, Guid NotificationId, NotificationStatus? Status, string State, int Attempts,
    DateTimeOffset? NextAttemptAt, int? LastStatusCode, string? LastError, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    /// <summary>The event's type: <c>notification.{status}</c>, <c>notification.reply</c>, <c>customer.message</c> or <c>customer.consent</c>
    /// (an inbound event is stored with no status, and the nil notification id when it answers none).</summary>
    public string Event { get; init; } = "";

    public static WebhookDeliveryView From(WebhookDelivery d)
    {
        var inbound = (short)d.Status < 0;
        return new(
            d.Id, d.EndpointId, d.EventId, d.NotificationId, inbound ? null : d.Status, d.State.ToString().ToLowerInvariant(), d.Attempts,
            d.State == WebhookDeliveryState.Pending ? d.NextAttemptAt : null, d.LastStatusCode, d.LastError, d.CreatedAt, d.UpdatedAt)
        {
            Event = !inbound ? "notification." + JsonSerializer.Serialize(d.Status, WebhooksJson.Default.NotificationStatus).Trim('"')
                : (short)d.Status == WebhookEventStatus.Consent ? "customer.consent"
                : d.NotificationId == Guid.Empty ? "customer.message" : "notification.reply",
        };
    }
}

public sealed record WebhookDeliveryPage(IReadOnlyList<WebhookDeliveryView> Items, Guid? Next);

/// <summary>Which dead letters to redeliver: all of the tenant's, or one endpoint's, from one event time on.</summary>
public sealed record RedeliverDeadRequest(Guid? EndpointId, DateTimeOffset? Since);

public sealed record RedeliveredView(int Redelivered);

/// <summary>Source-generated JSON for the webhook API and the webhook bodies; unknown request fields are refused.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(WebhookRequest))]
[JsonSerializable(typeof(WebhookView))]
[JsonSerializable(typeof(List<WebhookView>))]
[JsonSerializable(typeof(WebhookDeliveryView))]
[JsonSerializable(typeof(WebhookDeliveryPage))]
[JsonSerializable(typeof(RedeliverDeadRequest))]
[JsonSerializable(typeof(RedeliveredView))]
[JsonSerializable(typeof(WebhookEvent))]
[JsonSerializable(typeof(NotificationStatus))]
public sealed partial class WebhooksJson : JsonSerializerContext;

/// <summary><c>/v1/webhooks</c>: a tenant's status webhook endpoints, their deliveries, dead letters and redelivery.</summary>
public static class WebhooksApi
{
    private const int MaxBodyBytes = 16 * 1024;
    private const int MaxEndpointsPerTenant = 20;

    private static readonly IReadOnlyDictionary<string, NotificationStatus> FinalStatuses =
        Enum.GetValues<NotificationStatus>().Where(s => s.IsFinal())
            .ToDictionary(s => JsonSerializer.Serialize(s, WebhooksJson.Default.NotificationStatus).Trim('"'), StringComparer.Ordinal);

    /// <summary>The context an endpoint's secret is encrypted under, binding it to its row.</summary>
    public static string SecretContext(Guid endpointId) => $"webhook:{endpointId}";

    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/webhooks").WithTags("Webhooks");
        group.MapPost("/", CreateAsync).RequireAuthorization(Policies.Admin)
            .WithName("createWebhook").WithSummary("Subscribes an HTTPS endpoint of the bank to notification status events")
            .Produces<WebhookView>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status409Conflict, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        group.MapGet("/", ListAsync).RequireAuthorization(Policies.Read)
            .WithName("listWebhooks").WithSummary("Lists the tenant's webhook endpoints")
            .Produces<List<WebhookView>>();
        group.MapGet("/{id:guid}", GetAsync).RequireAuthorization(Policies.Read)
            .WithName("getWebhook").WithSummary("Reads a webhook endpoint")
            .Produces<WebhookView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPatch("/{id:guid}", UpdateAsync).RequireAuthorization(Policies.Admin)
            .WithName("updateWebhook").WithSummary("Changes a webhook endpoint: URL, events, statuses, pause")
            .Produces<WebhookView>()
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        group.MapDelete("/{id:guid}", DeleteAsync).RequireAuthorization(Policies.Admin)
            .WithName("deleteWebhook").WithSummary("Deletes a webhook endpoint")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/rotate-secret", RotateSecretAsync).RequireAuthorization(Policies.Admin)
            .WithName("rotateWebhookSecret").WithSummary("Issues a new signing secret for a webhook endpoint (shown in this answer only)")
            .Produces<WebhookView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapGet("/deliveries", ListDeliveriesAsync).RequireAuthorization(Policies.Read)
            .WithName("listWebhookDeliveries").WithSummary("Lists webhook deliveries, dead letters included, newest first")
            .Produces<WebhookDeliveryPage>();
        group.MapGet("/deliveries/{id:guid}", GetDeliveryAsync).RequireAuthorization(Policies.Read)
            .WithName("getWebhookDelivery").WithSummary("Reads a webhook delivery with its attempts")
            .Produces<WebhookDeliveryView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPost("/deliveries/{id:guid}/redeliver", RedeliverAsync).RequireAuthorization(Policies.Admin)
            .WithName("redeliverWebhookDelivery").WithSummary("Sends a webhook delivery again")
            .Produces<WebhookDeliveryView>(StatusCodes.Status202Accepted)
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPost("/deliveries/redeliver", RedeliverDeadAsync).RequireAuthorization(Policies.Admin)
            .WithName("redeliverDeadWebhooks").WithSummary("Makes every dead webhook delivery (of an endpoint, since a time) due again")
            .ProducesProblems(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType)
            .Accepts<RedeliverDeadRequest>("application/json")
            .WithDescription("After an outage longer than the retry window: every dead delivery (of one endpoint, of events since a time) is due again, each with a new retry window.")
            .Produces<RedeliveredView>(StatusCodes.Status202Accepted)
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<IResult> CreateAsync(
        HttpRequest request, ClaimsPrincipal user, IWebhookStore store, ISecretProtector secrets, IOptions<WebhookOptions> options,
        EgressGuard egress, TimeProvider time, CancellationToken ct)
    {
        var (body, error) = await ReadAsync(request);
        if (error is not null)
        {
            return error;
        }

        var errors = new List<InputError>();
        if (WebhookUrlGuard.Check(body!.Url, options.Value, egress) is { } urlError)
        {
            errors.Add(urlError);
        }

        var statuses = ParseStatuses(body.Statuses, errors);
        CheckDescription(body.Description, errors);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors, "The webhook endpoint is invalid.");
        }

        var tenant = user.TenantId();
        if ((await store.ListEndpointsAsync(tenant, ct)).Count >= MaxEndpointsPerTenant)
        {
            return Problems.Result(StatusCodes.Status409Conflict, "limit", $"A tenant has at most {MaxEndpointsPerTenant} webhook endpoints.");
        }

        var now = time.GetUtcNow();
        var id = TimeOrderedIds.New(now);
        var secret = NewSecret();
        var draft = new WebhookEndpoint(id, tenant, body.Url!, secrets.Protect(secret, SecretContext(id)), statuses, body.Enabled ?? true, body.Description, now, now);
        WebhookEndpoint endpoint;
        using (request.HttpContext.Audit(tenant, "webhook.create", "webhook", id.ToString("D"), null, Audited(draft)))
        {
            endpoint = await store.CreateEndpointAsync(draft, ct);
        }

        request.HttpContext.Response.Headers.Location = $"/v1/webhooks/{id}";
        return TypedResults.Json(WebhookView.From(endpoint, secret), WebhooksJson.Default.WebhookView, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ListAsync(ClaimsPrincipal user, IWebhookStore store, CancellationToken ct) =>
        TypedResults.Json([.. (await store.ListEndpointsAsync(user.TenantId(), ct)).Select(e => WebhookView.From(e))], WebhooksJson.Default.ListWebhookView);

    private static async Task<IResult> GetAsync(Guid id, ClaimsPrincipal user, IWebhookStore store, CancellationToken ct) =>
        await store.GetEndpointAsync(user.TenantId(), id, ct) is { } endpoint
            ? TypedResults.Json(WebhookView.From(endpoint), WebhooksJson.Default.WebhookView)
            : Problems.NotFound("Webhook endpoint");

    private static async Task<IResult> UpdateAsync(
        Guid id, HttpRequest request, ClaimsPrincipal user, IWebhookStore store, IOptions<WebhookOptions> options, EgressGuard egress,
        TimeProvider time, CancellationToken ct)
    {
        var (body, error) = await ReadAsync(request);
        if (error is not null)
        {
            return error;
        }

        var errors = new List<InputError>();
        if (body!.Url is not null && WebhookUrlGuard.Check(body.Url, options.Value, egress) is { } urlError)
        {
            errors.Add(urlError);
        }

        var statuses = body.Statuses is null ? null : ParseStatuses(body.Statuses, errors);
        CheckDescription(body.Description, errors);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors, "The webhook endpoint is invalid.");
        }

        if (await store.GetEndpointAsync(user.TenantId(), id, ct) is not { } endpoint)
        {
            return Problems.NotFound("Webhook endpoint");
        }

        var changed = endpoint with
        {
            Url = body.Url ?? endpoint.Url,
            Statuses = statuses ?? endpoint.Statuses,
            Enabled = body.Enabled ?? endpoint.Enabled,
            Description = body.Description ?? endpoint.Description,
            UpdatedAt = time.GetUtcNow(),
        };
        // A URL change redirects every status (and the data in it) elsewhere: the trail keeps both URLs.
        using (request.HttpContext.Audit(endpoint.TenantId, "webhook.update", "webhook", id.ToString("D"), Audited(endpoint), Audited(changed)))
        {
            return await store.UpdateEndpointAsync(changed, ct)
                ? TypedResults.Json(WebhookView.From(changed), WebhooksJson.Default.WebhookView)
                : Problems.NotFound("Webhook endpoint");
        }
    }

    private static async Task<IResult> DeleteAsync(Guid id, HttpContext context, ClaimsPrincipal user, IWebhookStore store, CancellationToken ct)
    {
        var existing = await store.GetEndpointAsync(user.TenantId(), id, ct);
        using (context.Audit(user.TenantId(), "webhook.delete", "webhook", id.ToString("D"), existing is null ? null : Audited(existing), null))
        {
            return await store.DeleteEndpointAsync(user.TenantId(), id, ct) ? TypedResults.NoContent() : Problems.NotFound("Webhook endpoint");
        }
    }

    /// <summary>An endpoint as the audit trail keeps it: the view, and whether its secret changed (never the secret:
    /// the stored form is encrypted, and only the fact of a rotation matters).</summary>
    private static System.Text.Json.Nodes.JsonNode Audited(WebhookEndpoint endpoint)
    {
        var node = AuditRecorder.Node(WebhookView.From(endpoint), WebhooksJson.Default.WebhookView)!;
        // Distinct per secret, so a rotation shows in the diff; redacted there by its name.
        node["secret"] = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(endpoint.Secret)))[..16];
        return node;
    }

    private static async Task<IResult> RotateSecretAsync(
        Guid id, HttpContext context, ClaimsPrincipal user, IWebhookStore store, ISecretProtector secrets, TimeProvider time, CancellationToken ct)
    {
        if (await store.GetEndpointAsync(user.TenantId(), id, ct) is not { } endpoint)
        {
            return Problems.NotFound("Webhook endpoint");
        }

        var secret = NewSecret();
        var changed = endpoint with { Secret = secrets.Protect(secret, SecretContext(id)), UpdatedAt = time.GetUtcNow() };
        using (context.Audit(endpoint.TenantId, "webhook.rotate-secret", "webhook", id.ToString("D"), Audited(endpoint), Audited(changed)))
        {
            return await store.UpdateEndpointAsync(changed, ct)
                ? TypedResults.Json(WebhookView.From(changed, secret), WebhooksJson.Default.WebhookView)
                : Problems.NotFound("Webhook endpoint");
        }
    }

    private static async Task<IResult> ListDeliveriesAsync(HttpRequest request, ClaimsPrincipal user, IWebhookStore store, CancellationToken ct)
    {
        var q = request.Query;
        var errors = new List<InputError>();
        WebhookDeliveryState? state = q["state"].FirstOrDefault() switch
        {
            null => null,
            "pending" => WebhookDeliveryState.Pending,
            "succeeded" => WebhookDeliveryState.Succeeded,
            "dead" => WebhookDeliveryState.Dead,
            _ => Bad<WebhookDeliveryState?>("state", "One of pending, succeeded, dead.", errors),
        };
        var endpoint = GuidParam(q["endpointId"].FirstOrDefault(), "endpointId", errors);
        var notification = GuidParam(q["notificationId"].FirstOrDefault(), "notificationId", errors);
        var before = GuidParam(q["before"].FirstOrDefault(), "before", errors);
        var limit = 50;
        if (q["limit"].FirstOrDefault() is { } l && (!int.TryParse(l, out limit) || limit is < 1 or > 500))
        {
            errors.Add(new InputError("/query/limit", "An integer from 1 to 500."));
        }

        if (errors.Count > 0)
        {
            return Problems.Invalid(errors, "The query is invalid.");
        }

        var items = await store.ListDeliveriesAsync(user.TenantId(), new WebhookDeliveryQuery(state, endpoint, notification, before, limit), ct);
        var next = items.Count == limit ? items[^1].Id : (Guid?)null;
        return TypedResults.Json(new WebhookDeliveryPage([.. items.Select(WebhookDeliveryView.From)], next), WebhooksJson.Default.WebhookDeliveryPage);
    }

    private static async Task<IResult> GetDeliveryAsync(Guid id, ClaimsPrincipal user, IWebhookStore store, CancellationToken ct) =>
        await store.GetDeliveryAsync(user.TenantId(), id, ct) is { } delivery
            ? TypedResults.Json(WebhookDeliveryView.From(delivery), WebhooksJson.Default.WebhookDeliveryView)
            : Problems.NotFound("Webhook delivery");

    private static async Task<IResult> RedeliverAsync(Guid id, ClaimsPrincipal user, IWebhookStore store, TimeProvider time, CancellationToken ct)
    {
        var tenant = user.TenantId();
        if (!await store.RedeliverAsync(tenant, id, time.GetUtcNow(), ct))
        {
            return Problems.NotFound("Webhook delivery");
        }

        var delivery = await store.GetDeliveryAsync(tenant, id, ct);
        return TypedResults.Json(WebhookDeliveryView.From(delivery!), WebhooksJson.Default.WebhookDeliveryView, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> RedeliverDeadAsync(HttpRequest request, ClaimsPrincipal user, IWebhookStore store, TimeProvider time, CancellationToken ct)
    {
        var (body, error) = await RequestBody.ReadJsonAsync(request, MaxBodyBytes, WebhooksJson.Default.RedeliverDeadRequest);
        if (body is null)
        {
            return error!;
        }

        var tenant = user.TenantId();
        if (body.EndpointId is { } endpointId && await store.GetEndpointAsync(tenant, endpointId, ct) is null)
        {
            return Problems.NotFound("Webhook endpoint");
        }

        var count = await store.RedeliverDeadAsync(tenant, body.EndpointId, body.Since, time.GetUtcNow(), ct);
        return TypedResults.Json(new RedeliveredView(count), WebhooksJson.Default.RedeliveredView, statusCode: StatusCodes.Status202Accepted);
    }

    private static Task<(WebhookRequest? Body, IResult? Error)> ReadAsync(HttpRequest request) =>
        RequestBody.ReadJsonAsync(request, MaxBodyBytes, WebhooksJson.Default.WebhookRequest);

    private static List<NotificationStatus> ParseStatuses(IReadOnlyList<string>? names, List<InputError> errors)
    {
        var statuses = new List<NotificationStatus>();
        for (var i = 0; i < (names?.Count ?? 0); i++)
        {
            if (FinalStatuses.TryGetValue(names![i], out var status))
            {
                if (!statuses.Contains(status))
                {
                    statuses.Add(status);
                }
            }
            else
            {
                errors.Add(new InputError($"/statuses/{i}", $"One of the final statuses: {string.Join(", ", FinalStatuses.Keys)}."));
            }
        }

        return statuses;
    }

    private static void CheckDescription(string? description, List<InputError> errors)
    {
        if (description is { Length: > 500 })
        {
            errors.Add(new InputError("/description", "At most 500 characters."));
        }
    }

    private static Guid? GuidParam(string? value, string name, List<InputError> errors) =>
        value is null ? null : Guid.TryParse(value, out var g) ? g : Bad<Guid?>(name, "Must be an id.", errors);

    private static T Bad<T>(string name, string detail, List<InputError> errors)
    {
        errors.Add(new InputError($"/query/{name}", detail));
        return default!;
    }

    /// <summary>32 random bytes, prefixed so a leaked value is recognisable in secret scanners.</summary>
    private static string NewSecret() => "whsec_" + Base64Url(RandomNumberGenerator.GetBytes(32));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
