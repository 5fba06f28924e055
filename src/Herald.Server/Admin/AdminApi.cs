using System.Text.Json;
using Herald.Channels;
using Herald.Channels.Providers;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Ingest;
using Herald.Server.Audit;
using Herald.Server.Authentication;
using Herald.Server.Hosting;
using Herald.Storage;
using Microsoft.Extensions.Options;
using Herald.Sandbox;

namespace Herald.Server.Admin;

public sealed record CreateTenantRequest(string? Name);
public sealed record TenantView(Guid Id, string Name, DateTimeOffset CreatedAt);
/// <param name="Backlog">The most queued (not final) notifications; null: the configured default.</param>
public sealed record TenantQuotasView(double? RequestsPerSecond, double? NotificationsPerSecond, long? Backlog);
/// <summary>A tenant with the operator's settings: its weight in the delivery lanes and its ingest quotas.</summary>
public sealed record TenantSettingsView(Guid Id, string Name, DateTimeOffset CreatedAt, int Weight, TenantQuotasView Quotas);
/// <param name="Name">Who or what holds the key, 1 to 100 characters (required on /v1/keys).</param>
/// <param name="ExpiresAt">When the key stops working; in the future; null: never.</param>
public sealed record CreateKeyRequest(IReadOnlyList<string>? Roles, Guid? SourceId, string? Name = null, DateTimeOffset? ExpiresAt = null);
/// <param name="Key">The key itself: shown once, never stored.</param>
public sealed record CreatedKeyView(Guid Id, string Key, string Prefix, IReadOnlyList<string> Roles, Guid? SourceId)
{
    public string Name { get; init; } = "";
    public DateTimeOffset? ExpiresAt { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
}
/// <summary>A provider account as listed: settings without credentials.</summary>
public sealed record ProviderView(Guid Id, Channel Channel, string Kind, string Name, int Weight, bool Enabled, string Health);

/// <summary>Tenants and keys (SPEC §6 bootstrap). Provider accounts: <see cref="Providers.ProvidersApi"/>.</summary>
public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/v1/admin").WithTags("Admin");
        admin.MapPost("/tenants", CreateTenantAsync).RequireAuthorization(Policies.System)
            .WithName("createTenant").WithSummary("Creates a tenant (system admin key)")
            .Accepts<CreateTenantRequest>("application/json")
            .Produces<TenantView>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        admin.MapGet("/tenants", ListTenantsAsync).RequireAuthorization(Policies.System)
            .WithName("listTenants").WithSummary("Lists the tenants (system admin key)")
            .Produces<List<TenantView>>();
        admin.MapGet("/tenants/{tenantId:guid}", GetTenantAsync).RequireAuthorization(Policies.System)
            .WithName("getTenant").WithSummary("Reads a tenant's settings: weight and ingest quotas (system admin key)")
            .ProducesProblems(StatusCodes.Status404NotFound)
            .Produces<TenantSettingsView>();
        admin.MapPatch("/tenants/{tenantId:guid}", PatchTenantAsync).RequireAuthorization(Policies.System)
            .WithName("patchTenant").WithSummary("Changes a tenant's weight and ingest quotas (system admin key)")
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType)
            .Accepts<TenantSettingsView>("application/json")
            .WithDescription("Sets the tenant's weight (1 to 10000, default 100) and ingest quotas; a member left out stays, a quota set to null goes back to the configured default.")
            .Produces<TenantSettingsView>();
        app.MapKeysApi();
        return app;
    }

    private static async Task<IResult> CreateTenantAsync(HttpRequest request, TenantProvisioning provisioning, CancellationToken ct)
    {
        var (body, error) = await Notifications.RequestBody.ReadJsonAsync(request, 16 * 1024);
        if (error is not null)
        {
            return error;
        }

        CreateTenantRequest? create;
        try
        {
            create = JsonSerializer.Deserialize(body.Span, HeraldJson.Default.CreateTenantRequest);
        }
        catch (JsonException)
        {
            return Problems.Invalid([new InputError("/", "Malformed JSON.")]);
        }

        if (create?.Name is not { Length: > 0 and <= 200 } name)
        {
            return Problems.Invalid([new InputError("/name", "Required: 1 to 200 characters.")]);
        }

        Tenant tenant;
        // The system chain: the tenant's id is filled in by the store that makes it.
        using (request.HttpContext.Audit(null, "tenant.create", "tenant", "", null, new System.Text.Json.Nodes.JsonObject { ["name"] = name }))
        {
            tenant = await provisioning.CreateTenantAsync(name, ct);
        }

        return TypedResults.Json(new TenantView(tenant.Id, tenant.Name, tenant.CreatedAt), HeraldJson.Default.TenantView,
            statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ListTenantsAsync(ITenantStore tenants, CancellationToken ct) =>
        TypedResults.Json([.. (await tenants.ListTenantsAsync(ct)).Select(t => new TenantView(t.Id, t.Name, t.CreatedAt))],
            HeraldJson.Default.ListTenantView);

    private static async Task<IResult> GetTenantAsync(Guid tenantId, ITenantStore tenants, CancellationToken ct) =>
        await SettingsAsync(tenants, tenantId, ct) is { } view
            ? TypedResults.Json(view, HeraldJson.Default.TenantSettingsView)
            : Problems.NotFound("Tenant");

    private static async Task<IResult> PatchTenantAsync(Guid tenantId, HttpRequest request, ITenantStore tenants, Quotas.IngestQuotas quotas, CancellationToken ct)
    {
        var (body, error) = await Notifications.RequestBody.ReadJsonAsync(request, 16 * 1024);
        if (error is not null)
        {
            return error;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return Problems.Invalid([new InputError("/", "Malformed JSON.")]);
        }

        using (document)
        {
            if (await tenants.GetLimitsAsync(tenantId, ct) is not { } current)
            {
                return Problems.NotFound("Tenant");
            }

            var (limits, errors) = TenantLimitsPatch.Apply(current, document.RootElement);
            if (errors.Count > 0)
            {
                return Problems.Invalid(errors, "The tenant settings are invalid.");
            }

            using (request.HttpContext.Audit(null, "tenant.settings", "tenant", tenantId.ToString("D"),
                       Audited(current), Audited(limits)))
            {
                if (!await tenants.SetLimitsAsync(tenantId, limits, ct))
                {
                    return Problems.NotFound("Tenant");
                }
            }

            quotas.Forget(tenantId);
            return TypedResults.Json((await SettingsAsync(tenants, tenantId, ct))!, HeraldJson.Default.TenantSettingsView);
        }
    }

    private static System.Text.Json.Nodes.JsonObject Audited(TenantLimits l) => new()
    {
        ["weight"] = l.Weight, ["requestsPerSecond"] = l.RequestsPerSecond, ["notificationsPerSecond"] = l.NotificationsPerSecond, ["backlog"] = l.BacklogLimit,
    };

    private static async Task<TenantSettingsView?> SettingsAsync(ITenantStore tenants, Guid tenantId, CancellationToken ct) =>
        await tenants.GetTenantAsync(tenantId, ct) is { } tenant && await tenants.GetLimitsAsync(tenantId, ct) is { } limits
            ? new TenantSettingsView(tenant.Id, tenant.Name, tenant.CreatedAt, limits.Weight,
                new TenantQuotasView(limits.RequestsPerSecond, limits.NotificationsPerSecond, limits.BacklogLimit))
            : null;
}

/// <summary>
/// <c>PATCH /v1/admin/tenants/{id}</c> as a JSON merge patch (RFC 7396) of <see cref="TenantSettingsView"/>: a member
/// left out stays as it is, a quota set to null goes back to the configured default (Herald:Quotas). Every bad member
/// is reported, located, and nothing changes.
/// </summary>
public static class TenantLimitsPatch
{
    private const double MaxRate = 1_000_000;
    private const long MaxBacklog = 1_000_000_000_000;

    public static (TenantLimits Limits, IReadOnlyList<InputError> Errors) Apply(TenantLimits current, JsonElement patch)
    {
        var errors = new List<InputError>();
        if (patch.ValueKind != JsonValueKind.Object)
        {
            return (current, [new InputError("/", "Must be an object with \"weight\" and/or \"quotas\".")]);
        }

        var limits = current;
        foreach (var member in patch.EnumerateObject())
        {
            switch (member.Name)
            {
                case "weight":
                    if (member.Value.ValueKind == JsonValueKind.Number && member.Value.TryGetInt32(out var weight)
                        && weight is >= TenantLimits.MinWeight and <= TenantLimits.MaxWeight)
                    {
                        limits = limits with { Weight = weight };
                    }
                    else
                    {
                        errors.Add(new InputError("/weight", $"Must be a whole number from {TenantLimits.MinWeight} to {TenantLimits.MaxWeight} (default {TenantLimits.DefaultWeight})."));
                    }

                    break;
                case "quotas":
                    limits = ApplyQuotas(limits, member.Value, errors);
                    break;
                default:
                    errors.Add(new InputError("/" + Pointer(member.Name), "Unknown member: only \"weight\" and \"quotas\" can be changed."));
                    break;
            }
        }

        return (limits, errors);
    }

    private static TenantLimits ApplyQuotas(TenantLimits limits, JsonElement quotas, List<InputError> errors)
    {
        if (quotas.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new InputError("/quotas", "Must be an object with \"requestsPerSecond\", \"notificationsPerSecond\" and/or \"backlog\"."));
            return limits;
        }

        foreach (var member in quotas.EnumerateObject())
        {
            var value = member.Value;
            var pointer = "/quotas/" + Pointer(member.Name);
            switch (member.Name)
            {
                case "requestsPerSecond" or "notificationsPerSecond":
                    double? rate = value.ValueKind == JsonValueKind.Null ? null
                        : value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var r) && r > 0 && r <= MaxRate ? r
                        : double.NaN;
                    if (rate is double.NaN)
                    {
                        errors.Add(new InputError(pointer, $"Must be a number above 0 and at most {MaxRate:0}, or null for the configured default."));
                    }
                    else
                    {
                        limits = member.Name == "requestsPerSecond" ? limits with { RequestsPerSecond = rate } : limits with { NotificationsPerSecond = rate };
                    }

                    break;
                case "backlog":
                    if (value.ValueKind == JsonValueKind.Null)
                    {
                        limits = limits with { BacklogLimit = null };
                    }
                    else if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var backlog) && backlog is >= 1 and <= MaxBacklog)
                    {
                        limits = limits with { BacklogLimit = backlog };
                    }
                    else
                    {
                        errors.Add(new InputError(pointer, $"Must be a whole number from 1 to {MaxBacklog}, or null for the configured default."));
                    }

                    break;
                default:
                    errors.Add(new InputError(pointer, "Unknown quota: \"requestsPerSecond\", \"notificationsPerSecond\" or \"backlog\"."));
                    break;
            }
        }

        return limits;
    }

    /// <summary>A member name as a JSON Pointer token (RFC 6901).</summary>
    private static string Pointer(string name) => name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
}

/// <summary>Creates tenants; with the sandbox enabled, gives each one sandbox provider account per channel.</summary>
public sealed class TenantProvisioning(
    ITenantStore tenants,
    IProviderStore providers,
    IOptions<SandboxOptions> sandbox,
    SelfAddress self,
    Sandbox.Smtp.SmtpSimulator smtp,
    Sandbox.Smpp.SmppSimulator smpp,
    Sandbox.Fcm.FcmSimulator fcm,
    TimeProvider time,
    ILogger<TenantProvisioning> logger)
{
    public async Task<Tenant> CreateTenantAsync(string name, CancellationToken ct)
    {
        var tenant = await tenants.CreateTenantAsync(name, ct);
        if (sandbox.Value.Enabled)
        {
            var accounts = SandboxAccounts(tenant);
            // One transaction: a node whose routing table loads meanwhile sees all of them or none. Recorded in the new
            // tenant's own chain, as Herald's act (the tenant's creation, in the system chain, is the request's).
            using (AuditScope.Expect(AuditScope.Pending is { } creation
                       ? creation with
                       {
                           TenantId = tenant.Id, Action = "provider.create", ResourceType = "provider", ResourceId = "*",
                           Diff = Audit.AuditRecorder.Diff(null, new System.Text.Json.Nodes.JsonObject { ["sandbox"] = new System.Text.Json.Nodes.JsonArray([.. accounts.Select(a => (System.Text.Json.Nodes.JsonNode?)a.Name)]) }),
                       }
                       : null))
            {
                await providers.CreateManyAsync(accounts, ct);
            }
                logger.TenantCreated(tenant.Id, accounts.Count);
        }

        return tenant;
    }

    /// <summary>One account per channel whose plug-in has a sandbox template (ChannelCatalog), filled in from the
    /// simulators that run here.</summary>
    private List<ProviderAccount> SandboxAccounts(Tenant tenant)
    {
        var now = time.GetUtcNow();
        var context = new SandboxContext(
            tenant.Id,
            tenant.Name,
            self.BaseUrl + "/sandbox",
            self.BaseUrl,
            smtp.Port is { } smtpPort ? (Sandbox.Smtp.SmtpSimulator.Host, smtpPort) : null,
            Sandbox.Smtp.SmtpSimulator.VerpPrefix,
            smpp.Port is { } smppPort ? (Sandbox.Smpp.SmppSimulator.Host, smppPort) : null,
            (baseUrl, name) => JsonSerializer.Serialize(fcm.ProvisionServiceAccount(baseUrl, name)));
        List<ProviderAccount> accounts = [];
        foreach (var channel in ChannelCatalog.All)
        {
            if (channel.Sandbox?.Invoke(context) is { } account)
            {
                // Each tenant's sandbox senders are its own (random ids), held like any other account's.
                accounts.Add(new ProviderAccount(
                    TimeOrderedIds.New(now), tenant.Id, channel.Definition.Channel, channel.Definition.Kind, account.Name, account.Settings, account.Weight, true, now)
                {
                    SenderIdentity = ConnectorDefinitions.SenderIdentity(channel.Definition.Kind, account.Settings),
                });
            }
        }

        return accounts;
    }
}
