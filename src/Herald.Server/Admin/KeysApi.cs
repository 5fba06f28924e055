using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Ingest;
using Herald.Ingest.Authentication;
using Herald.Server.Audit;
using Herald.Server.Authentication;
using Herald.Storage;

namespace Herald.Server.Admin;

/// <summary>A key as listed: never its hash nor the key itself.</summary>
/// <param name="LastUsedAt">Approximate: nodes write uses in batches (Herald:ApiKeyUsageFlushInterval, a minute); always
/// present (null: never used), as SPEC §7 lists it.</param>
public sealed record KeyView(
    Guid Id, string Name, string Prefix, IReadOnlyList<string> Roles, Guid? SourceId, DateTimeOffset? ExpiresAt, DateTimeOffset CreatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt)
{
    public static KeyView From(ApiKey k) => new(k.Id, k.Name, k.Prefix, k.Roles, k.SourceId, k.ExpiresAt, k.CreatedAt, k.LastUsedAt, k.RevokedAt);
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(CreateKeyRequest))]
[JsonSerializable(typeof(CreatedKeyView))]
[JsonSerializable(typeof(KeyView))]
[JsonSerializable(typeof(List<KeyView>))]
internal sealed partial class KeysJson : JsonSerializerContext;

/// <summary>
/// API keys (issue #17, SPEC §7): <c>/v1/keys</c> for a tenant's <c>admin</c> key, and the same under
/// <c>/v1/admin/tenants/{id}/keys</c> for the system key. The key itself is shown once, in the answer that created it;
/// revocation is announced by the store and takes effect on every node (<see cref="ApiKeyCacheSubscriber"/>).
/// A tenant admin may not revoke the tenant's last usable admin key (a bank would lock itself out); the system key may.
/// </summary>
public static class KeysApi
{
    /// <summary>The name a key created through the SPEC §6 bootstrap call without one gets.</summary>
    public const string BootstrapName = "bootstrap";

    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        var tenant = app.MapGroup("/v1/keys").WithTags("Keys");
        tenant.MapGet("/", (ClaimsPrincipal user, ITenantStore tenants, CancellationToken ct) => ListAsync(user.TenantId(), tenants, ct))
            .WithName("listKeys").WithSummary("Lists the tenant's API keys")
            .RequireAuthorization(Policies.Inspect)
            .WithDescription("The tenant's keys, revoked ones included, oldest first. Never the key nor its hash; lastUsedAt is approximate (up to a minute behind).")
            .Produces<List<KeyView>>()
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);
        tenant.MapPost("/", async (HttpRequest request, ClaimsPrincipal user, ITenantStore tenants, ISourceStore sources, TimeProvider time, CancellationToken ct) =>
                ScopedToSource(user) ?? await CreateAsync(user.TenantId(), request, nameRequired: true, tenants, sources, time, ct))
            .WithName("createKey").WithSummary("Creates an API key for the tenant; the key is shown in this answer only")
            .ProducesProblems(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType)
            .RequireAuthorization(Policies.Admin)
            .Accepts<CreateKeyRequest>("application/json")
            .WithDescription("Creates a key: name (1 to 100 characters), roles (send, read, admin, viewer), optional sourceId (one of this tenant's sources) and expiresAt (in the future). The key is in this answer only.")
            .Produces<CreatedKeyView>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);
        tenant.MapDelete("/{keyId:guid}", async (Guid keyId, HttpContext context, ClaimsPrincipal user, ITenantStore tenants, CancellationToken ct) =>
                ScopedToSource(user) ?? await RevokeAsync(context, user.TenantId(), keyId, keepAnAdminKey: true, tenants, ct))
            .WithName("revokeKey").WithSummary("Revokes one of the tenant's API keys")
            .RequireAuthorization(Policies.Admin)
            .WithDescription("Revokes a key: refused on every node within a second. The tenant's last usable admin key cannot be revoked (409); create another admin key first.")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);

        var system = app.MapGroup("/v1/admin/tenants/{tenantId:guid}/keys").WithTags("Admin");
        system.MapGet("/", async (Guid tenantId, ITenantStore tenants, CancellationToken ct) =>
                await tenants.GetTenantAsync(tenantId, ct) is null ? Problems.NotFound("Tenant") : await ListAsync(tenantId, tenants, ct))
            .WithName("listTenantKeys").WithSummary("Lists a tenant's API keys (system admin key)")
            .RequireAuthorization(Policies.System)
            .Produces<List<KeyView>>()
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound);
        // SPEC §6: the system key creates a tenant's first keys here; a tenant admin may too, for its own tenant. The name
        // is optional on this path only, so the bootstrap call of SPEC §6 keeps working.
        system.MapPost("/", async (Guid tenantId, HttpRequest request, ClaimsPrincipal user, ITenantStore tenants, ISourceStore sources, TimeProvider time, CancellationToken ct) =>
            {
                if (!user.IsInRole(Roles.System) && !(user.IsInRole(Roles.Admin) && user.TenantId() == tenantId))
                {
                    return Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "This key may not do that.");
                }

                if (!user.IsInRole(Roles.System) && ScopedToSource(user) is { } refused)
                {
                    return refused;
                }

                return await tenants.GetTenantAsync(tenantId, ct) is null
                    ? Problems.NotFound("Tenant")
                    : await CreateAsync(tenantId, request, nameRequired: false, tenants, sources, time, ct);
            })
            .WithName("createTenantKey").WithSummary("Creates an API key for a tenant (system admin key, or the tenant's own admin key)")
            .ProducesProblems(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType)
            .RequireAuthorization()
            .Accepts<CreateKeyRequest>("application/json")
            .Produces<CreatedKeyView>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound);
        // The operator's way out of a lockout: the system key may revoke any key, the last admin key included.
        system.MapDelete("/{keyId:guid}", (Guid tenantId, Guid keyId, HttpContext context, ITenantStore tenants, CancellationToken ct) =>
                RevokeAsync(context, tenantId, keyId, keepAnAdminKey: false, tenants, ct))
            .WithName("revokeTenantKey").WithSummary("Revokes a tenant's API key (system admin key)")
            .RequireAuthorization(Policies.System)
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound);
        return app;
    }

    /// <summary>A key scoped to one source manages no keys: it could otherwise mint a key for the whole tenant.</summary>
    private static IResult? ScopedToSource(ClaimsPrincipal user) =>
        user.SourceId() is null ? null
            : Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "A key scoped to a source cannot manage keys.",
                "Use an admin key of the whole tenant.");

    private static async Task<IResult> ListAsync(Guid tenantId, ITenantStore tenants, CancellationToken ct) =>
        TypedResults.Json([.. (await tenants.ListApiKeysAsync(tenantId, ct)).Select(KeyView.From)], KeysJson.Default.ListKeyView);

    private static async Task<IResult> CreateAsync(
        Guid tenantId, HttpRequest request, bool nameRequired, ITenantStore tenants, ISourceStore sources, TimeProvider time, CancellationToken ct)
    {
        var (create, error) = await Notifications.RequestBody.ReadJsonAsync(request, 16 * 1024, KeysJson.Default.CreateKeyRequest);
        if (error is not null)
        {
            return error;
        }

        var errors = Validate(create!, nameRequired, time.GetUtcNow());
        // Another tenant's source answers exactly as a source that does not exist: nothing about other tenants leaks.
        if (create!.SourceId is { } sourceId && await sources.GetAsync(tenantId, sourceId, ct) is null)
        {
            errors.Add(new InputError("/sourceId", "No such source in this tenant."));
        }

        if (errors.Count > 0)
        {
            return Problems.Invalid(errors, "The key is invalid.");
        }

        var key = ApiKeys.Generate();
        var roles = create.Roles!.Distinct().ToList();
        ApiKey stored;
        // Audited in the tenant's chain, whoever creates it, in the store's transaction; never the key itself.
        using (request.HttpContext.Audit(tenantId, "key.create", "key", "", null, new System.Text.Json.Nodes.JsonObject
               {
                   ["name"] = create.Name ?? BootstrapName,
                   ["prefix"] = ApiKeys.DisplayPrefix(key),
                   ["roles"] = new System.Text.Json.Nodes.JsonArray([.. roles.Select(r => (System.Text.Json.Nodes.JsonNode?)r)]),
                   ["sourceId"] = create.SourceId?.ToString("D"),
                   ["expiresAt"] = create.ExpiresAt?.ToString("O"),
               }))
        {
            stored = await tenants.CreateApiKeyAsync(
                new NewApiKey(tenantId, create.Name ?? BootstrapName, [.. roles], create.SourceId, create.ExpiresAt, ApiKeys.Hash(key), ApiKeys.DisplayPrefix(key)),
                ct);
        }

        return TypedResults.Json(
            new CreatedKeyView(stored.Id, key, stored.Prefix, stored.Roles, stored.SourceId) { Name = stored.Name, ExpiresAt = stored.ExpiresAt, CreatedAt = stored.CreatedAt },
            KeysJson.Default.CreatedKeyView, statusCode: StatusCodes.Status201Created);
    }

    /// <summary>Every problem of <paramref name="create"/>, located; the source's tenant is checked by the caller.</summary>
    internal static List<InputError> Validate(CreateKeyRequest create, bool nameRequired, DateTimeOffset now)
    {
        var errors = new List<InputError>();
        if (create.Name is null ? nameRequired : string.IsNullOrWhiteSpace(create.Name) || create.Name.Length > ApiKey.MaxNameLength)
        {
            errors.Add(new InputError("/name", $"Required: who or what holds the key, 1 to {ApiKey.MaxNameLength} characters."));
        }

        if (create.Roles is not { Count: > 0 } roles || roles.Any(r => !Roles.TenantRoles.Contains(r)))
        {
            errors.Add(new InputError("/roles", "Required: one or more of \"send\", \"read\", \"admin\", \"viewer\"."));
        }

        if (create.ExpiresAt is { } expires && expires <= now)
        {
            errors.Add(new InputError("/expiresAt", "Must be in the future."));
        }

        return errors;
    }

    private static async Task<IResult> RevokeAsync(HttpContext context, Guid tenantId, Guid keyId, bool keepAnAdminKey, ITenantStore tenants, CancellationToken ct)
    {
        // The entry names the key by its prefix; the store appends it only when it revokes something.
        var prefix = (await tenants.ListApiKeysAsync(tenantId, ct)).FirstOrDefault(k => k.Id == keyId)?.Prefix ?? "";
        ApiKeyRevocation outcome;
        using (context.AuditKeyRevocation(tenantId, keyId, prefix))
        {
            outcome = await tenants.RevokeApiKeyAsync(tenantId, keyId, keepAnAdminKey, ct);
        }

        return outcome switch
        {
            ApiKeyRevocation.Revoked => TypedResults.NoContent(),
            ApiKeyRevocation.LastAdminKey => Problems.Result(StatusCodes.Status409Conflict, "last-admin-key",
                "This is the tenant's last usable admin key.", "Create another admin key first, then revoke this one."),
            _ => Problems.NotFound("Key"),
        };
    }
}
