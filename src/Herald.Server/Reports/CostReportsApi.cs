using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Core.Notifications;
using Herald.Ingest;
using Herald.Server.Authentication;
using Herald.Storage;

namespace Herald.Server.Reports;

/// <summary>One group of a cost report; the members not grouped by are left out.</summary>
/// <param name="Currency">The provider account's currency (null: accounts without a price table).</param>
public sealed record CostRow(Channel? Channel, Guid? ProviderId, string? ProviderName, DateOnly? Day, string? Currency, long Attempts, decimal Cost);

/// <param name="From">Inclusive.</param>
/// <param name="To">Exclusive.</param>
public sealed record CostReport(Guid TenantId, DateTimeOffset From, DateTimeOffset To, IReadOnlyList<string> GroupBy, IReadOnlyList<CostRow> Totals);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CostReport))]
public sealed partial class ReportsJson : JsonSerializerContext;

/// <summary>
/// <c>GET /v1/reports/costs?from=&amp;to=&amp;groupBy=channel,provider,day</c>: attempts that reached a provider and
/// what they cost, for the caller's tenant (keys with <c>read</c> or <c>admin</c>); the system key names the tenant
/// with <c>tenantId=</c>. Without bounds: the last 30 days. At most 366 days per report.
/// </summary>
public static class CostReportsApi
{
    private static readonly TimeSpan DefaultWindow = TimeSpan.FromDays(30);
    private static readonly TimeSpan MaxWindow = TimeSpan.FromDays(366);

    public static IEndpointRouteBuilder MapReportsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/reports/costs", CostsAsync).RequireAuthorization().WithTags("Reports")
            .WithName("getCostReport").WithSummary("Costs by channel, provider and day over a time range (a tenant key: its own; the system key: any tenant's)")
            .Produces<CostReport>();
        app.MapOverviewApi();
        return app;
    }

    private static async Task<IResult> CostsAsync(HttpRequest request, ClaimsPrincipal user, IProviderStore store, TimeProvider time, CancellationToken ct)
    {
        var query = request.Query;
        var errors = new List<InputError>();
        Guid tenantId;
        var requested = query["tenantId"].FirstOrDefault();
        if (user.IsInRole(Roles.System))
        {
            if (!Guid.TryParse(requested, out tenantId))
            {
                errors.Add(new InputError("query/tenantId", "Required with the system key: the tenant's id."));
            }
        }
        else if (user.IsInRole(Roles.Read) || user.IsInRole(Roles.Admin) || user.IsInRole(Roles.Viewer))
        {
            tenantId = user.TenantId();
            if (requested is not null && (!Guid.TryParse(requested, out var asked) || asked != tenantId))
            {
                return Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "This key may only read its own tenant's costs.");
            }
        }
        else
        {
            return Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "This key may not do that.");
        }

        var to = Time(query, "to", errors) ?? time.GetUtcNow();
        var from = Time(query, "from", errors) ?? to - DefaultWindow;
        if (from >= to)
        {
            errors.Add(new InputError("query/from", "Must be before 'to'."));
        }
        else if (to - from > MaxWindow)
        {
            errors.Add(new InputError("query/from", "At most 366 days per report."));
        }

        var grouping = CostGrouping.None;
        var groupBy = new List<string>();
        foreach (var part in query["groupBy"].SelectMany(static v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            var flag = part switch
            {
                "channel" => CostGrouping.Channel,
                "provider" => CostGrouping.Provider,
                "day" => CostGrouping.Day,
                _ => (CostGrouping?)null,
            };
            if (flag is null)
            {
                errors.Add(new InputError("query/groupBy", $"Unknown value '{part}': use channel, provider and/or day."));
            }
            else if (!grouping.HasFlag(flag.Value))
            {
                grouping |= flag.Value;
                groupBy.Add(part);
            }
        }

        if (errors.Count > 0)
        {
            return Problems.Invalid(errors, "The report query is invalid.");
        }

        var totals = await store.GetCostsAsync(new CostQuery(tenantId, from, to, grouping), ct);
        var rows = totals.Select(static t => new CostRow(t.Channel, t.ProviderId, t.ProviderName, t.Day, t.Currency, t.Attempts, t.Cost)).ToList();
        return TypedResults.Json(new CostReport(tenantId, from, to, groupBy, rows), ReportsJson.Default.CostReport);
    }

    private static DateTimeOffset? Time(IQueryCollection query, string name, List<InputError> errors)
    {
        if (query[name].FirstOrDefault() is not { Length: > 0 } raw)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(raw, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value))
        {
            return value;
        }

        errors.Add(new InputError("query/" + name, "An ISO 8601 time, e.g. 2026-01-01T00:00:00Z or 2026-01-01."));
        return null;
    }
}
