using System.Security.Claims;
using System.Text.Json;
using Herald.Core.Notifications;
using Herald.Ingest;
using Herald.Ingest.Signing;
using Herald.Ingest.Sources;
using Herald.Server.Audit;
using Herald.Server.Authentication;
using Herald.Server.Notifications;
using Herald.Storage;
using Herald.Storage.Secrets;

namespace Herald.Server.Sources;

/// <summary>
/// <c>/v1/sources</c>: a tenant's banking systems (admin role) and their inbound endpoint
/// <c>POST /v1/sources/{id}/messages</c> (send role), see docs/INTEGRATIONS.md.
/// </summary>
public static class SourcesApi
{
    private const int MaxAdminBodyBytes = 1024 * 1024;

    public static IEndpointRouteBuilder MapSourcesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/sources").WithTags("Sources");
        group.MapPost("/", CreateAsync).RequireAuthorization(Policies.Admin)
            .WithName("createSource").WithSummary("Registers a banking system as a source, with its adapter and signing secret")
            .Produces<SourceView>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        group.MapGet("/", ListAsync).RequireAuthorization(Policies.Inspect)
            .WithName("listSources").WithSummary("Lists the tenant's sources")
            .Produces<List<SourceView>>();
        group.MapGet("/{id:guid}", GetAsync).RequireAuthorization(Policies.Inspect)
            .WithName("getSource").WithSummary("Reads a source")
            .Produces<SourceView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPut("/{id:guid}", UpdateAsync).RequireAuthorization(Policies.Admin)
            .WithName("updateSource").WithSummary("Changes a source's settings")
            .Produces<SourceView>()
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        group.MapDelete("/{id:guid}", DeleteAsync).RequireAuthorization(Policies.Admin)
            .WithName("deleteSource").WithSummary("Deletes a source")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/signing-secret", RotateSecretAsync).RequireAuthorization(Policies.Admin)
            .WithName("rotateSourceSecret").WithSummary("Issues a new signing secret for a source (shown in this answer only)")
            .Produces<SigningSecretView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/messages", (Guid id, HttpContext context, SourceIngest handler, IngestService ingest) => handler.HandleAsync(id, context, ingest))
            .WithName("postSourceMessage")
            .RequireAuthorization(Policies.Send).AddEndpointFilter<Quotas.IngestQuotaFilter>()
            .Accepts<JsonElement>("application/json", "application/xml", "text/xml", "text/csv", "text/plain", "application/octet-stream")
            .WithSummary("Hand Herald a document or file in the source's own format")
            .WithDescription(
                "A single message (native JSON, mapped JSON without items) answers like POST /v1/notifications: 202 {id, status} when " +
                "stored, 200 with the original when it is a repeat. A batch-like input (camt.054, mapped JSON with items, a file) answers " +
                "202 with a per-item report. A file that failed part-way answers 503 with committedThroughLine: upload the same file " +
                "again, stored lines come back as duplicates (docs/INTEGRATIONS.md).")
            .Produces<SourceIngestResult>(StatusCodes.Status202Accepted)
            .Produces<AcceptedView>(StatusCodes.Status200OK)
            .ProducesProblems(
                StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound,
                StatusCodes.Status409Conflict, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType,
                StatusCodes.Status422UnprocessableEntity)
            .Produces<FileUploadProblem>(StatusCodes.Status503ServiceUnavailable, Problems.ContentType);
        return app;
    }

    private static async Task<IResult> CreateAsync(
        HttpRequest request, ClaimsPrincipal user, ISourceStore store, ITenantStore tenants, ISecretProtector protector, TimeProvider time,
        ILogger<SourceIngest> logger, CancellationToken ct)
    {
        if (ScopedKey(user) is { } refused)
        {
            return refused;
        }

        var (body, readError) = await ReadAdminBodyAsync(request);
        if (readError is not null)
        {
            return readError;
        }

        var (valid, errors) = Validate(body!, requireName: true);
        if (valid is null)
        {
            return Problems.Invalid(errors, "The source is invalid; nothing was saved.");
        }

        var tenantId = user.TenantId();
        if (await tenants.GetTenantAsync(tenantId, ct) is null)
        {
            return Problems.NotFound("Tenant");
        }

        var now = time.GetUtcNow();
        var id = TimeOrderedIds.New(now);
        var secret = body!.RequireSignature == true ? RequestSignature.NewSecret() : null;
        var draft = new Source(
            id, tenantId, valid.Name!, valid.Adapter, valid.Settings, secret is null ? null : protector.Protect(secret, Context(id)),
            valid.ClientCertificate, now, now);
        Source source;
        using (request.HttpContext.Audit(tenantId, "source.create", "source", id.ToString("D"), null, Audited(draft)))
        {
            source = await store.CreateAsync(draft, ct);
        }

        logger.SourceSaved(source.Id, source.Adapter, tenantId);
        request.HttpContext.Response.Headers.Location = $"/v1/sources/{source.Id}";
        return TypedResults.Json(View(source, secret), SourcesJson.Default.SourceView, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ListAsync(ClaimsPrincipal user, ISourceStore store, CancellationToken ct) =>
        ScopedKey(user) ?? TypedResults.Json([.. (await store.ListAsync(user.TenantId(), ct)).Select(s => View(s, null))], SourcesJson.Default.ListSourceView);

    private static async Task<IResult> GetAsync(Guid id, ClaimsPrincipal user, ISourceStore store, CancellationToken ct)
    {
        if (ScopedKey(user) is { } refused)
        {
            return refused;
        }

        var source = await store.GetAsync(user.TenantId(), id, ct);
        return source is null ? Problems.NotFound("Source") : TypedResults.Json(View(source, null), SourcesJson.Default.SourceView);
    }

    private static async Task<IResult> UpdateAsync(
        Guid id, HttpRequest request, ClaimsPrincipal user, ISourceStore store, ISecretProtector protector, TimeProvider time,
        ILogger<SourceIngest> logger, CancellationToken ct)
    {
        if (ScopedKey(user) is { } refused)
        {
            return refused;
        }

        var (body, readError) = await ReadAdminBodyAsync(request);
        if (readError is not null)
        {
            return readError;
        }

        var (valid, errors) = Validate(body!, requireName: true);
        if (valid is null)
        {
            return Problems.Invalid(errors, "The source is invalid; nothing was changed.");
        }

        var existing = await store.GetAsync(user.TenantId(), id, ct);
        if (existing is null)
        {
            return Problems.NotFound("Source");
        }

        string? newSecret = null;
        var protectedSecret = existing.SigningSecret;
        if (body!.RequireSignature == false)
        {
            protectedSecret = null;
        }
        else if (body.RequireSignature == true && protectedSecret is null)
        {
            newSecret = RequestSignature.NewSecret();
            protectedSecret = protector.Protect(newSecret, Context(id));
        }

        var change = existing with
        {
            Name = valid.Name!,
            Adapter = valid.Adapter,
            Settings = valid.Settings,
            SigningSecret = protectedSecret,
            ClientCertificate = valid.ClientCertificate,
            UpdatedAt = time.GetUtcNow(),
        };
        Source? updated;
        using (request.HttpContext.Audit(existing.TenantId, "source.update", "source", id.ToString("D"), Audited(existing), Audited(change)))
        {
            updated = await store.UpdateAsync(change, ct);
        }

        if (updated is null)
        {
            return Problems.NotFound("Source");
        }

        logger.SourceSaved(id, updated.Adapter, updated.TenantId);
        return TypedResults.Json(View(updated, newSecret), SourcesJson.Default.SourceView);
    }

    private static async Task<IResult> DeleteAsync(Guid id, HttpContext context, ClaimsPrincipal user, ISourceStore store, ILogger<SourceIngest> logger, CancellationToken ct)
    {
        if (ScopedKey(user) is { } refused)
        {
            return refused;
        }

        var existing = await store.GetAsync(user.TenantId(), id, ct);
        using (context.Audit(user.TenantId(), "source.delete", "source", id.ToString("D"), existing is null ? null : Audited(existing), null))
        {
            if (!await store.DeleteAsync(user.TenantId(), id, ct))
            {
                return Problems.NotFound("Source");
            }
        }

        logger.SourceDeleted(id, user.TenantId());
        return TypedResults.NoContent();
    }

    private static async Task<IResult> RotateSecretAsync(
        Guid id, HttpContext context, ClaimsPrincipal user, ISourceStore store, ISecretProtector protector, TimeProvider time, ILogger<SourceIngest> logger, CancellationToken ct)
    {
        if (ScopedKey(user) is { } refused)
        {
            return refused;
        }

        var existing = await store.GetAsync(user.TenantId(), id, ct);
        if (existing is null)
        {
            return Problems.NotFound("Source");
        }

        var secret = RequestSignature.NewSecret();
        var rotated = existing with { SigningSecret = protector.Protect(secret, Context(id)), UpdatedAt = time.GetUtcNow() };
        Source? updated;
        using (context.Audit(existing.TenantId, "source.rotate-secret", "source", id.ToString("D"), Audited(existing), Audited(rotated)))
        {
            updated = await store.UpdateAsync(rotated, ct);
        }

        if (updated is null)
        {
            return Problems.NotFound("Source");
        }

        logger.SecretRotated(id);
        return TypedResults.Json(new SigningSecretView(id, secret), SourcesJson.Default.SigningSecretView);
    }

    /// <summary>The ISecretProtector context of a source's signing secret.</summary>
    public static string Context(Guid sourceId) => "source:" + sourceId.ToString("D");

    private static IResult? ScopedKey(ClaimsPrincipal user) =>
        user.SourceId() is null ? null
        : Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "This key may not do that.", "A key scoped to a source may only post to that source.");

    private static async Task<(SourceRequest? Body, IResult? Error)> ReadAdminBodyAsync(HttpRequest request)
    {
        var (body, error) = await Notifications.RequestBody.ReadJsonAsync(request, MaxAdminBodyBytes);
        if (error is not null)
        {
            return (null, error);
        }

        if (!System.Text.Unicode.Utf8.IsValid(body.Span))
        {
            return (null, Problems.Invalid([new InputError("/", "The body is not valid UTF-8.")]));
        }

        try
        {
            var parsed = JsonSerializer.Deserialize(body.Span, SourcesJson.Default.SourceRequest);
            return parsed is null ? (null, Problems.Invalid([new InputError("/", "A JSON object is required.")])) : (parsed, null);
        }
        catch (JsonException e)
        {
            return (null, Problems.Invalid([new InputError("/" + (e.Path ?? "$").TrimStart('$', '.').Replace('.', '/'), "Malformed JSON or a field of the wrong type.")]));
        }
    }

    private sealed record ValidSource(string? Name, string Adapter, string Settings, string? ClientCertificate);

    private static (ValidSource? Source, IReadOnlyList<InputError> Errors) Validate(SourceRequest body, bool requireName)
    {
        var errors = new List<InputError>();
        if (body.Name is not { Length: > 0 and <= 200 } && requireName)
        {
            errors.Add(new("/name", "Required: 1 to 200 characters."));
        }

        var adapter = SourceConfig.ParseAdapter(body.Adapter);
        if (adapter is null)
        {
            errors.Add(new("/adapter", "Required: one of " + string.Join(", ", SourceConfig.AdapterNames) + "."));
        }

        var settings = body.Settings ?? default;
        if (adapter is { } a)
        {
            var (_, settingsErrors) = SourceConfig.Parse(a, settings);
            errors.AddRange(settingsErrors);
        }

        string? fingerprint = null;
        if (body.ClientCertificate is { } cert)
        {
            fingerprint = RequestSignature.NormaliseFingerprint(cert);
            if (fingerprint.Length is not (40 or 64) || cert.Length > 200)
            {
                errors.Add(new("/clientCertificate", "Must be the certificate's fingerprint as the proxy forwards it: SHA-1 (40 hex digits, nginx's $ssl_client_fingerprint) or SHA-256 (64); colons allowed."));
            }
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var settingsText = settings.ValueKind == JsonValueKind.Object ? settings.GetRawText() : "{}";
        return (new ValidSource(body.Name, SourceConfig.Name(adapter!.Value), settingsText, fingerprint), errors);
    }

    /// <summary>A source as the audit trail keeps it: the view without bookkeeping, and a stand-in for the signing secret
    /// that differs per secret (a digest of its encrypted form), so a rotation shows; redacted in the diff by its name.</summary>
    private static System.Text.Json.Nodes.JsonNode Audited(Source s)
    {
        var node = AuditRecorder.Without(AuditRecorder.Node(View(s, null), SourcesJson.Default.SourceView), "id", "createdAt", "updatedAt")!;
        node["signingSecret"] = s.SigningSecret is null ? null
            : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(s.SigningSecret)))[..16];
        return node;
    }

    private static SourceView View(Source s, string? secret)
    {
        using var settings = JsonDocument.Parse(s.Settings);
        return new SourceView(s.Id, s.Name, s.Adapter, settings.RootElement.Clone(), s.SigningSecret is not null, s.ClientCertificate, s.CreatedAt, s.UpdatedAt, secret);
    }
}
