using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Ingest;
using Herald.Server.Authentication;
using Herald.Storage;

namespace Herald.Server.Audit;

/// <summary>One audit entry as the API shows it. <see cref="Diff"/> is the stored JSON text, byte for byte, so anyone
/// holding an export can recompute <see cref="Hash"/> (docs/OPERATIONS.md "Audit trail").</summary>
/// <param name="Tenant">The chain: the tenant, or null for the system chain.</param>
public sealed record AuditEntryView(
    Guid Id, Guid? Tenant, long Seq, DateTimeOffset At, string Actor, Guid? KeyId, string Action, string ResourceType, string ResourceId,
    string? Diff, string? RequestId, string? ClientAddress, string PrevHash, string Hash)
{
    public static AuditEntryView From(AuditEntry e) => new(
        e.Id, e.TenantId, e.Seq, e.At, e.Actor, e.KeyId, e.Action, e.ResourceType, e.ResourceId, e.Diff, e.RequestId, e.ClientAddress, e.PrevHash, e.Hash);
}

/// <param name="Next">The <c>before</c> of the next page, or null on the last.</param>
public sealed record AuditPage(IReadOnlyList<AuditEntryView> Items, long? Next);

public sealed record AuditBrokenLink(long Seq, Guid? Id);

/// <param name="FirstBroken">Where the chain breaks: the sequence number and the entry found there (null id: missing).</param>
/// <param name="PurgedThroughSeq">Entries up to this sequence number were deleted by the audit retention (0: none); the
/// check started after them, from the hash the chain kept of the last one.</param>
public sealed record AuditVerifyView(bool Ok, long Checked, AuditBrokenLink? FirstBroken, string? Reason, long PurgedThroughSeq);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(AuditEntryView))]
[JsonSerializable(typeof(AuditPage))]
[JsonSerializable(typeof(AuditVerifyView))]
public sealed partial class AuditJson : JsonSerializerContext;

/// <summary>
/// <c>/v1/audit</c> (a tenant's <c>admin</c> key, its own chain) and <c>/v1/admin/audit</c> (the system key: the
/// system chain, or a tenant's with <c>?tenant=</c>): search with keyset pages, NDJSON export, chain verification.
/// </summary>
public static class AuditApi
{
    public const string NdjsonContentType = "application/x-ndjson";

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        var tenant = app.MapGroup("/v1/audit").WithTags("Audit");
        tenant.MapGet("/", (HttpContext context, IAuditStore store, CancellationToken ct) => ListAsync(context, context.User.TenantId(), store, ct))
            .WithName("listAudit")
            .RequireAuthorization(Policies.Admin)
            .WithSummary("The tenant's audit trail, newest first; NDJSON with Accept: application/x-ndjson")
            .WithDescription("Filters: from, to (ISO 8601), actor (name or key id), resource (type or type/id), action (exact or a prefix ending in '.'), limit (1 to 1000, default 100), before (a seq: keyset paging, see 'next').")
            .Produces<AuditPage>().Produces(StatusCodes.Status200OK, contentType: NdjsonContentType)
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);
        tenant.MapGet("/export", (HttpContext context, IAuditStore store, CancellationToken ct) => ExportAsync(context, context.User.TenantId(), store, ct))
            .WithName("exportAudit")
            .RequireAuthorization(Policies.Admin)
            .WithSummary("Every matching entry of the tenant's audit trail as NDJSON (one entry a line, newest first), for a SIEM")
            .Produces(StatusCodes.Status200OK, contentType: NdjsonContentType)
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);
        tenant.MapGet("/verify", (ClaimsPrincipal user, IAuditStore store, CancellationToken ct) => VerifyAsync(user.TenantId(), store, ct))
            .WithName("verifyAudit")
            .RequireAuthorization(Policies.Admin)
            .WithSummary("Checks the tenant's audit hash chain and names the first broken link")
            .Produces<AuditVerifyView>()
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);

        var system = app.MapGroup("/v1/admin/audit").WithTags("Admin");
        system.MapGet("/", (HttpContext context, IAuditStore store, CancellationToken ct) =>
                ChainOf(context, out var chain) is { } error ? Task.FromResult(error) : ListAsync(context, chain, store, ct))
            .WithName("listSystemAudit")
            .RequireAuthorization(Policies.System)
            .WithSummary("The system audit trail (or a tenant's with ?tenant=), newest first; NDJSON with Accept: application/x-ndjson")
            .Produces<AuditPage>().Produces(StatusCodes.Status200OK, contentType: NdjsonContentType)
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);
        system.MapGet("/export", (HttpContext context, IAuditStore store, CancellationToken ct) =>
                ChainOf(context, out var chain) is { } error ? Task.FromResult(error) : ExportAsync(context, chain, store, ct))
            .WithName("exportSystemAudit")
            .RequireAuthorization(Policies.System)
            .WithSummary("Every matching entry of the system audit trail (or a tenant's with ?tenant=) as NDJSON")
            .Produces(StatusCodes.Status200OK, contentType: NdjsonContentType)
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);
        system.MapGet("/verify", (HttpContext context, IAuditStore store, CancellationToken ct) =>
                ChainOf(context, out var chain) is { } error ? Task.FromResult(error) : VerifyAsync(chain, store, ct))
            .WithName("verifySystemAudit")
            .RequireAuthorization(Policies.System)
            .WithSummary("Checks the system audit hash chain (or a tenant's with ?tenant=) and names the first broken link")
            .Produces<AuditVerifyView>()
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);
        return app;
    }

    private static IResult? ChainOf(HttpContext context, out Guid? chain)
    {
        chain = null;
        if (context.Request.Query["tenant"].FirstOrDefault() is not { } raw)
        {
            return null;
        }

        if (!Guid.TryParse(raw, out var tenant))
        {
            return Problems.Invalid([new InputError("query/tenant", "Must be a tenant id.")]);
        }

        chain = tenant;
        return null;
    }

    private static async Task<IResult> ListAsync(HttpContext context, Guid? chain, IAuditStore store, CancellationToken ct)
    {
        if (context.Request.Headers.Accept.Any(a => a is not null && a.Contains(NdjsonContentType, StringComparison.OrdinalIgnoreCase)))
        {
            return await ExportAsync(context, chain, store, ct);
        }

        var (query, error) = Parse(context.Request.Query);
        if (error is not null)
        {
            return error;
        }

        var entries = await store.QueryAsync(chain, query!, ct);
        var next = entries.Count == query!.Limit && entries.Count > 0 ? entries[^1].Seq : (long?)null;
        return TypedResults.Json(new AuditPage([.. entries.Select(AuditEntryView.From)], next), AuditJson.Default.AuditPage);
    }

    private static async Task<IResult> ExportAsync(HttpContext context, Guid? chain, IAuditStore store, CancellationToken ct)
    {
        var (query, error) = Parse(context.Request.Query);
        if (error is not null)
        {
            return error;
        }

        // Streamed page by page: a chain may be far larger than memory.
        var response = context.Response;
        response.ContentType = NdjsonContentType;
        var page = query! with { Limit = IAuditStore.MaxLimit, Before = query.Before };
        while (true)
        {
            var entries = await store.QueryAsync(chain, page, ct);
            foreach (var entry in entries)
            {
                await JsonSerializer.SerializeAsync(response.Body, AuditEntryView.From(entry), AuditJson.Default.AuditEntryView, ct);
                await response.Body.WriteAsync("\n"u8.ToArray(), ct);
            }

            await response.Body.FlushAsync(ct);
            if (entries.Count < page.Limit)
            {
                return TypedResults.Empty;
            }

            page = page with { Before = entries[^1].Seq };
        }
    }

    private static async Task<IResult> VerifyAsync(Guid? chain, IAuditStore store, CancellationToken ct)
    {
        var result = await store.VerifyAsync(chain, ct);
        return TypedResults.Json(
            new AuditVerifyView(result.Ok, result.Checked, result.FirstBrokenSeq is { } seq ? new AuditBrokenLink(seq, result.FirstBrokenId) : null, result.Reason, result.PurgedThroughSeq),
            AuditJson.Default.AuditVerifyView);
    }

    private static (AuditQuery? Query, IResult? Error) Parse(IQueryCollection q)
    {
        var errors = new List<InputError>();
        var from = Time(q, "from", errors);
        var to = Time(q, "to", errors);
        var limit = 100;
        if (q["limit"].FirstOrDefault() is { } rawLimit
            && !(int.TryParse(rawLimit, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit is >= 1 and <= IAuditStore.MaxLimit))
        {
            errors.Add(new InputError("query/limit", $"Must be a whole number from 1 to {IAuditStore.MaxLimit}."));
        }

        long? before = null;
        if (q["before"].FirstOrDefault() is { } rawBefore)
        {
            if (long.TryParse(rawBefore, NumberStyles.None, CultureInfo.InvariantCulture, out var b) && b >= 1)
            {
                before = b;
            }
            else
            {
                errors.Add(new InputError("query/before", "Must be a sequence number (the 'next' of the previous page)."));
            }
        }

        var actor = Text(q, "actor", errors);
        var resource = Text(q, "resource", errors);
        var action = Text(q, "action", errors);
        return errors.Count > 0
            ? (null, Problems.Invalid(errors, "The audit query is invalid."))
            : (new AuditQuery(from, to, actor, resource, action, before, limit), null);
    }

    private static DateTimeOffset? Time(IQueryCollection q, string name, List<InputError> errors)
    {
        if (q[name].FirstOrDefault() is not { } raw)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(raw, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
        {
            return time;
        }

        errors.Add(new InputError("query/" + name, "Must be an ISO 8601 time."));
        return null;
    }

    private static string? Text(IQueryCollection q, string name, List<InputError> errors)
    {
        if (q[name].FirstOrDefault() is not { } raw)
        {
            return null;
        }

        if (raw.Length is 0 or > 300)
        {
            errors.Add(new InputError("query/" + name, "Must be 1 to 300 characters."));
            return null;
        }

        return raw;
    }
}
