using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Herald.Channels;
using Herald.Channels.Egress;
using Herald.Channels.Providers;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Ingest;
using Herald.Server.Audit;
using Herald.Server.Authentication;
using Herald.Server.Notifications;
using Herald.Storage;

namespace Herald.Server.Providers;

/// <summary>A provider account as the API shows it: secrets in <see cref="Settings"/> redacted.</summary>
/// <param name="Health">disabled, isolated, or the worst circuit state over the sending nodes (open, half-open, closed;
/// unknown when no sending node reported the account).</param>
/// <param name="Nodes">Each sending node's circuit for the account, with when it entered that state.</param>
/// <param name="Prices">Price per message by ISO 3166-1 alpha-2 country, <c>"*"</c> for the rest, in <paramref name="Currency"/>.</param>
public sealed record ProviderAccountView(
    Guid Id, Channel Channel, string Kind, string Name, int Weight, bool Enabled, double? RatePerSecond, string? Currency,
    IReadOnlyDictionary<string, decimal>? Prices, bool Isolated, string Health, JsonObject Settings, DateTimeOffset CreatedAt,
    IReadOnlyList<ProviderNodeHealth>? Nodes = null);

/// <summary>A connector kind and the settings it takes (secret fields are redacted on read and kept when omitted).</summary>
public sealed record ConnectorKindView(string Kind, Channel Channel, IReadOnlyList<ConnectorSetting> Settings);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ProviderAccountView))]
[JsonSerializable(typeof(List<ProviderAccountView>))]
[JsonSerializable(typeof(List<ConnectorKindView>))]
public sealed partial class ProvidersJson : JsonSerializerContext;

/// <summary>
/// <c>/v1/providers</c>: the tenant's provider pools. Reads need <c>read</c>, changes <c>admin</c>; every call is
/// scoped to the key's tenant (another tenant's account is 404). Every change reloads the
/// <see cref="ProviderDirectory"/> of this node at once and of the others through the store's change announcement (<see cref="ProviderDirectoryReloader"/>).
/// </summary>
public static partial class ProvidersApi
{
    private const int MaxBodyBytes = 64 * 1024;
    private const int MaxWeight = 1_000_000;

    private static readonly Dictionary<string, Channel> ChannelNames = new(StringComparer.Ordinal)
    {
        ["whatsapp"] = Channel.WhatsApp, ["telegram"] = Channel.Telegram, ["sms"] = Channel.Sms, ["email"] = Channel.Email, ["push"] = Channel.Push,
    };

    public static IEndpointRouteBuilder MapProvidersApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/providers").WithTags("Providers");
        group.MapGet("/", ListAsync).RequireAuthorization(Policies.Read)
            .WithName("listProviders").WithSummary("Lists the tenant's provider accounts with their circuit state per node")
            .Produces<List<ProviderAccountView>>();
        group.MapGet("/kinds", Kinds).RequireAuthorization(Policies.Read)
            .WithName("listProviderKinds").WithSummary("Lists the provider kinds Herald can connect to, per channel, with their settings")
            .Produces<List<ConnectorKindView>>();
        group.MapGet("/{id:guid}", GetAsync).RequireAuthorization(Policies.Read)
            .WithName("getProvider").WithSummary("Reads a provider account (credentials never shown)")
            .Produces<ProviderAccountView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPost("/", CreateAsync).RequireAuthorization(Policies.Admin)
            .WithName("createProvider").WithSummary("Adds a provider account: kind, credentials, price table, weight, rate limit")
            .Produces<ProviderAccountView>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status409Conflict, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        group.MapPatch("/{id:guid}", UpdateAsync).RequireAuthorization(Policies.Admin)
            .WithName("updateProvider").WithSummary("Changes a provider account")
            .Produces<ProviderAccountView>()
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        group.MapDelete("/{id:guid}", DeleteAsync).RequireAuthorization(Policies.Admin)
            .WithName("deleteProvider").WithSummary("Deletes a provider account")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/isolate", IsolateAsync).RequireAuthorization(Policies.Admin)
            .WithName("isolateProvider").WithSummary("Takes a provider account out of routing on every node until reset")
            .Produces<ProviderAccountView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/reset", ResetAsync).RequireAuthorization(Policies.Admin)
            .WithName("resetProvider").WithSummary("Closes a provider account's circuits and ends an isolation")
            .Produces<ProviderAccountView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<IResult> ListAsync(ClaimsPrincipal user, IProviderStore store, ProviderCircuitReader circuits, CancellationToken ct)
    {
        var accounts = await store.ListAsync(user.TenantId(), ct);
        var health = await circuits.ReadAsync(user.TenantId(), ct);
        return TypedResults.Json([.. accounts.Select(a => View(a, health))], ProvidersJson.Default.ListProviderAccountView);
    }

    private static IResult Kinds(IEnumerable<IChannelConnector> connectors) =>
        TypedResults.Json(
            [.. connectors.OrderBy(static c => c.Kind, StringComparer.Ordinal)
                .Select(static c => new ConnectorKindView(c.Kind, c.Channel, ConnectorDefinitions.Find(c.Kind)?.Settings ?? []))],
            ProvidersJson.Default.ListConnectorKindView);

    private static async Task<IResult> GetAsync(Guid id, ClaimsPrincipal user, IProviderStore store, ProviderCircuitReader circuits, CancellationToken ct) =>
        await store.GetAsync(user.TenantId(), id, ct) is { } account
            ? TypedResults.Json(View(account, await circuits.ReadAsync(user.TenantId(), ct)), ProvidersJson.Default.ProviderAccountView)
            : Problems.NotFound("Provider account");

    private static async Task<IResult> CreateAsync(
        HttpRequest request, ClaimsPrincipal user, IProviderStore store, ProviderCircuitReader circuits,
        IEnumerable<IChannelConnector> connectors, EgressGuard egress, TimeProvider time, ILoggerFactory loggers, CancellationToken ct)
    {
        var (body, error) = await ReadObjectAsync(request);
        if (error is not null)
        {
            return error;
        }

        var errors = new List<InputError>();
        Channel? channel = null;
        if (body!["channel"] is JsonValue c && c.TryGetValue<string>(out var channelName) && ChannelNames.TryGetValue(channelName, out var parsed))
        {
            channel = parsed;
        }
        else
        {
            errors.Add(new InputError("/channel", "Required: one of " + string.Join(", ", ChannelNames.Keys) + "."));
        }

        string? kind = null;
        if (body["kind"] is JsonValue k && k.TryGetValue<string>(out var kindName) && connectors.FirstOrDefault(x => x.Kind == kindName) is { } connector)
        {
            if (channel is { } ch && connector.Channel != ch)
            {
                errors.Add(new InputError("/kind", $"'{kindName}' is a connector for {ChannelName(connector.Channel)}, not {ChannelName(ch)}."));
            }

            kind = kindName;
        }
        else
        {
            errors.Add(new InputError("/kind", "Required: a connector kind (see GET /v1/providers/kinds): "
                + string.Join(", ", connectors.Where(x => channel is null || x.Channel == channel).Select(static x => x.Kind).Order(StringComparer.Ordinal)) + "."));
        }

        if (!body.ContainsKey("name"))
        {
            errors.Add(new InputError("/name", "Required: 1 to 200 characters."));
        }

        if (body["settings"] is not JsonObject)
        {
            errors.Add(new InputError("/settings", "Required: a JSON object with the connector's settings."));
        }

        var now = time.GetUtcNow();
        var draft = new ProviderAccount(TimeOrderedIds.New(now), user.TenantId(), channel ?? Channel.Sms, kind ?? "", "", "{}", 100, true, now);
        var account = Apply(draft, body, kind, egress, errors);
        if (errors.Count > 0 || account is null)
        {
            return Problems.Invalid(errors, "The provider account is invalid.");
        }

        ProviderAccount created;
        try
        {
            using var audit = request.HttpContext.Audit(account.TenantId, "provider.create", "provider", account.Id.ToString("D"), null, Audited(account));
            created = await store.CreateAsync(account, ct);
        }
        catch (SenderIdentityTakenException)
        {
            return IdentityTaken();
        }

        Log.ProviderCreated(loggers.CreateLogger("Herald.Providers"), created.Id, created.TenantId, created.Kind);
        request.HttpContext.Response.Headers.Location = $"/v1/providers/{created.Id}";
        return TypedResults.Json(View(created, await circuits.ReadAsync(user.TenantId(), ct)), ProvidersJson.Default.ProviderAccountView, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> UpdateAsync(
        Guid id, HttpRequest request, ClaimsPrincipal user, IProviderStore store, ProviderCircuitReader circuits,
        EgressGuard egress, ILoggerFactory loggers, CancellationToken ct)
    {
        var (body, error) = await ReadObjectAsync(request);
        if (error is not null)
        {
            return error;
        }

        var errors = new List<InputError>();
        foreach (var fixedField in new[] { "channel", "kind", "id", "createdAt" })
        {
            if (body!.ContainsKey(fixedField))
            {
                errors.Add(new InputError("/" + fixedField, "Cannot be changed: create a new account instead."));
            }
        }

        if (await store.GetAsync(user.TenantId(), id, ct) is not { } stored)
        {
            return Problems.NotFound("Provider account");
        }

        if (body!["settings"] is { } settings && settings is not JsonObject)
        {
            errors.Add(new InputError("/settings", "Must be a JSON object (a merge patch of the stored settings)."));
        }

        var account = Apply(stored, body, stored.Kind, egress, errors);
        if (errors.Count > 0 || account is null)
        {
            return Problems.Invalid(errors, "The change is invalid.");
        }

        ProviderAccount? updated;
        try
        {
            using var audit = request.HttpContext.Audit(stored.TenantId, "provider.update", "provider", id.ToString("D"), Audited(stored), Audited(account, stored));
            updated = await store.UpdateAsync(account, ct);
        }
        catch (SenderIdentityTakenException)
        {
            return IdentityTaken();
        }

        if (updated is null)
        {
            return Problems.NotFound("Provider account");
        }

        Log.ProviderUpdated(loggers.CreateLogger("Herald.Providers"), updated.Id, updated.TenantId);
        return TypedResults.Json(View(updated, await circuits.ReadAsync(updated.TenantId, ct)), ProvidersJson.Default.ProviderAccountView);
    }

    private static async Task<IResult> DeleteAsync(
        Guid id, HttpContext context, ClaimsPrincipal user, IProviderStore store, ILoggerFactory loggers, CancellationToken ct)
    {
        var existing = await store.GetAsync(user.TenantId(), id, ct);
        using (context.Audit(user.TenantId(), "provider.delete", "provider", id.ToString("D"), existing is null ? null : Audited(existing), null))
        {
            if (await store.DeleteAsync(user.TenantId(), id, ct) == ProviderDeleteResult.NotFound)
            {
                return Problems.NotFound("Provider account");
            }
        }

        Log.ProviderDeleted(loggers.CreateLogger("Herald.Providers"), id, user.TenantId());
        return TypedResults.NoContent();
    }

    /// <summary>What isolating and resetting an account touch, bound by the endpoint (one parameter, not eight).</summary>
    private readonly record struct CircuitControl(
        IProviderStore Store, IChangeFeed Changes, ProviderCircuitReader Circuits,
        ILoggerFactory Loggers);

    private static Task<IResult> IsolateAsync(Guid id, HttpContext context, [AsParameters] CircuitControl control, CancellationToken ct) =>
        SetIsolatedAsync(id, true, context, control, ct);

    private static Task<IResult> ResetAsync(Guid id, HttpContext context, [AsParameters] CircuitControl control, CancellationToken ct) =>
        SetIsolatedAsync(id, false, context, control, ct);

    /// <summary>Isolation is stored with the account, so every node's dispatcher holds it open after its next
    /// refresh; a reset also closes the account's circuit on this node at once and on every other node as soon as
    /// the change feed reaches it (Redis or LISTEN/NOTIFY; within a second).</summary>
    private static async Task<IResult> SetIsolatedAsync(Guid id, bool isolated, HttpContext context, CircuitControl control, CancellationToken ct)
    {
        var (store, changes, circuits, loggers) = control;
        var user = context.User;
        if (await store.GetAsync(user.TenantId(), id, ct) is not { } stored)
        {
            return Problems.NotFound("Provider account");
        }

        ProviderAccount? updated;
        using (context.Audit(stored.TenantId, isolated ? "provider.isolate" : "provider.reset", "provider", id.ToString("D"),
                   Audited(stored), Audited(stored with { Isolated = isolated })))
        {
            // A reset of an account that is not isolated still changes nothing stored, but is recorded: it closes circuits.
            updated = await store.UpdateAsync(stored with { Isolated = isolated }, ct);
        }

        if (updated is null)
        {
            return Problems.NotFound("Provider account");
        }

        if (!isolated)
        {
            // A command, not a stored change: this node's circuit closes before the answer, the others' on hearing it.
            await changes.PublishAsync(new Change(ChangeKinds.ProviderReset, updated.TenantId, id.ToString("D")), ct);
        }

        var logger = loggers.CreateLogger("Herald.Providers");
        if (isolated)
        {
            Log.ProviderIsolated(logger, id, updated.TenantId);
        }
        else
        {
            Log.ProviderReset(logger, id, updated.TenantId);
        }

        return TypedResults.Json(View(updated, await circuits.ReadAsync(updated.TenantId, ct)), ProvidersJson.Default.ProviderAccountView);
    }

    /// <summary>Applies the fields present in <paramref name="body"/> to <paramref name="account"/>, collecting
    /// located errors; settings are merged (RFC 7396) onto the account's and validated against the connector, and
    /// every destination they name must pass the egress guard.</summary>
    private static ProviderAccount? Apply(ProviderAccount account, JsonObject body, string? kind, EgressGuard egress, List<InputError> errors)
    {
        if (body.TryGetPropertyValue("name", out var nameNode))
        {
            if (nameNode is JsonValue n && n.TryGetValue<string>(out var name) && name.Trim() is { Length: > 0 and <= 200 } trimmed)
            {
                account = account with { Name = trimmed };
            }
            else
            {
                errors.Add(new InputError("/name", "Required: 1 to 200 characters."));
            }
        }

        if (body.TryGetPropertyValue("weight", out var weightNode))
        {
            if (weightNode is JsonValue w && w.TryGetValue<int>(out var weight) && weight is >= 0 and <= MaxWeight)
            {
                account = account with { Weight = weight };
            }
            else
            {
                errors.Add(new InputError("/weight", $"An integer from 0 (standby) to {MaxWeight}."));
            }
        }

        if (body.TryGetPropertyValue("enabled", out var enabledNode))
        {
            if (enabledNode is JsonValue e && e.TryGetValue<bool>(out var enabled))
            {
                account = account with { Enabled = enabled };
            }
            else
            {
                errors.Add(new InputError("/enabled", "true or false."));
            }
        }

        if (body.TryGetPropertyValue("ratePerSecond", out var rateNode))
        {
            if (rateNode is null)
            {
                account = account with { RatePerSecond = null };
            }
            else if (rateNode is JsonValue r && r.TryGetValue<double>(out var rate) && rate is > 0 and <= 1_000_000)
            {
                account = account with { RatePerSecond = rate };
            }
            else
            {
                errors.Add(new InputError("/ratePerSecond", "Messages per second above 0 (at most 1000000), or null for no limit."));
            }
        }

        ApplyPrices(ref account, body, errors);

        if (body["settings"] is JsonObject patch && kind is not null)
        {
            var merged = ConnectorDefinitions.Merge(kind, account.Settings, patch);
            using var doc = JsonDocument.Parse(merged.ToJsonString());
            var problems = ConnectorDefinitions.Validate(kind, doc.RootElement);
            if (problems.Count == 0)
            {
                // Only settings the connector can use name destinations; a literal internal address or a name of this
                // machine is refused here, names are checked again against DNS when connecting.
                problems = ConnectorDefinitions.CheckEgress(kind, doc.RootElement, egress);
            }

            foreach (var problem in problems)
            {
                errors.Add(new InputError(problem.Field is null ? "/settings" : "/settings/" + problem.Field, problem.Message));
            }

            account = account with { Settings = merged.ToJsonString() };
        }

        // Computed on every write from the settings as stored, so an account saved before identities existed gets
        // one on its next change.
        return errors.Count == 0
            ? account with { SenderIdentity = kind is null ? null : ConnectorDefinitions.SenderIdentity(kind, account.Settings) }
            : null;
    }

    /// <summary>409: the store's unique index says another live account (of this or another tenant) holds the
    /// sender. Callbacks are routed and verified by the sender, so it can have one owner (docs/channels/PROVIDERS.md).</summary>
    private static IResult IdentityTaken() =>
        Problems.Result(
            StatusCodes.Status409Conflict, "sender-identity-taken", "The sender belongs to another provider account.",
            "A WhatsApp phone number id, Telegram bot, SMS account and sender, SMPP system_id at a host or FCM project can be held by one provider account only.",
            [new InputError("/settings", "This sender identity is held by another provider account.")]);

    private static void ApplyPrices(ref ProviderAccount account, JsonObject body, List<InputError> errors)
    {
        var hasPrices = body.TryGetPropertyValue("prices", out var pricesNode);
        var hasCurrency = body.TryGetPropertyValue("currency", out var currencyNode);
        if (!hasPrices && !hasCurrency)
        {
            return;
        }

        if (hasPrices && pricesNode is null)
        {
            account = account with { Prices = null };
            return;
        }

        string? currency = account.Prices?.Currency;
        if (hasCurrency)
        {
            if (currencyNode is JsonValue cv && cv.TryGetValue<string>(out var code) && code.Length == 3 && code.All(char.IsAsciiLetterUpper))
            {
                currency = code;
            }
            else
            {
                errors.Add(new InputError("/currency", "An ISO 4217 code: three upper-case letters, e.g. EUR."));
                return;
            }
        }

        var prices = account.Prices?.Prices ?? new Dictionary<string, decimal>();
        if (hasPrices)
        {
            if (pricesNode is not JsonObject table || table.Count == 0)
            {
                errors.Add(new InputError("/prices", "An object of price per message by country: {\"*\": 0.05, \"DE\": 0.07}, or null for none."));
                return;
            }

            var parsed = new Dictionary<string, decimal>(StringComparer.Ordinal);
            foreach (var (country, value) in table)
            {
                var pointer = "/prices/" + country.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
                if (!(country == PriceTable.DefaultKey || (country.Length == 2 && country.All(char.IsAsciiLetterUpper))))
                {
                    errors.Add(new InputError(pointer, "Keys are ISO 3166-1 alpha-2 country codes (DE, GB) or \"*\" for every other destination."));
                }
                else if (value is JsonValue v && v.TryGetValue<decimal>(out var price) && price >= 0)
                {
                    parsed[country] = price;
                }
                else
                {
                    errors.Add(new InputError(pointer, "A price of 0 or more."));
                }
            }

            prices = parsed;
        }

        if (currency is null)
        {
            errors.Add(new InputError("/currency", "Required with prices: an ISO 4217 code, e.g. EUR."));
            return;
        }

        account = account with { Prices = new PriceTable(currency, prices) };
    }

    private static async Task<(JsonObject? Body, IResult? Error)> ReadObjectAsync(HttpRequest request)
    {
        var (bytes, error) = await RequestBody.ReadJsonAsync(request, MaxBodyBytes);
        if (error is not null)
        {
            return (null, error);
        }

        try
        {
            return JsonNode.Parse(bytes.Span) is JsonObject body
                ? (body, null)
                : (null, Problems.Invalid([new InputError("/", "A JSON object is required.")]));
        }
        catch (JsonException e)
        {
            return (null, Problems.Invalid([new InputError("/", "Malformed JSON: " + e.Message)]));
        }
    }

    private static ProviderAccountView View(ProviderAccount a, ProviderCircuitSnapshot circuits)
    {
        var nodes = a.Enabled && !a.Isolated ? circuits.Nodes(a.Id) : null;
        return new(
            a.Id, a.Channel, a.Kind, a.Name, a.Weight, a.Enabled, a.RatePerSecond, a.Prices?.Currency, a.Prices?.Prices, a.Isolated,
            !a.Enabled ? "disabled" : a.Isolated ? "isolated" : ProviderCircuitSnapshot.Worst(nodes!),
            ConnectorDefinitions.Redact(a.Kind, a.Settings), a.CreatedAt, nodes);
    }

    /// <summary>An account as the audit trail keeps it: settings with every secret redacted, and for a change the names of
    /// the secrets that were replaced (<c>rotated</c>), so a credential change is visible without its value.</summary>
    private static JsonObject Audited(ProviderAccount a, ProviderAccount? before = null)
    {
        var node = new JsonObject
        {
            ["channel"] = ChannelName(a.Channel),
            ["kind"] = a.Kind,
            ["name"] = a.Name,
            ["weight"] = a.Weight,
            ["enabled"] = a.Enabled,
            ["isolated"] = a.Isolated,
            ["ratePerSecond"] = a.RatePerSecond,
            ["currency"] = a.Prices?.Currency,
            ["settings"] = ConnectorDefinitions.Redact(a.Kind, a.Settings),
        };
        if (before is not null)
        {
            var now = JsonNode.Parse(a.Settings) as JsonObject ?? [];
            var was = JsonNode.Parse(before.Settings) as JsonObject ?? [];
            var rotated = now.Select(p => p.Key).Union(was.Select(p => p.Key), StringComparer.Ordinal)
                .Where(name => ConnectorDefinitions.IsSecret(a.Kind, name) && !JsonNode.DeepEquals(now[name], was[name]))
                .Order(StringComparer.Ordinal).ToList();
            if (rotated.Count > 0)
            {
                node["rotated"] = new JsonArray([.. rotated.Select(r => (JsonNode?)JsonValue.Create(r))]);
            }
        }

        return node;
    }

    private static string ChannelName(Channel channel) => ChannelNames.First(p => p.Value == channel).Key;

    private static partial class Log
    {
        [LoggerMessage(4100, LogLevel.Information, "Provider account {AccountId} ({Kind}) created for tenant {TenantId}")]
        public static partial void ProviderCreated(ILogger logger, Guid accountId, Guid tenantId, string kind);

        [LoggerMessage(4101, LogLevel.Information, "Provider account {AccountId} of tenant {TenantId} updated")]
        public static partial void ProviderUpdated(ILogger logger, Guid accountId, Guid tenantId);

        [LoggerMessage(4102, LogLevel.Information, "Provider account {AccountId} of tenant {TenantId} deleted")]
        public static partial void ProviderDeleted(ILogger logger, Guid accountId, Guid tenantId);

        [LoggerMessage(4103, LogLevel.Warning, "Provider account {AccountId} of tenant {TenantId} isolated by hand")]
        public static partial void ProviderIsolated(ILogger logger, Guid accountId, Guid tenantId);

        [LoggerMessage(4104, LogLevel.Information, "Provider account {AccountId} of tenant {TenantId} reset by hand")]
        public static partial void ProviderReset(ILogger logger, Guid accountId, Guid tenantId);
    }
}
