using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Ingest;
using Herald.Server.Audit;
using Herald.Server.Authentication;
using Herald.Storage;

namespace Herald.Server.Retention;

/// <param name="Days">The tenant's setting; null = the default.</param>
/// <param name="EffectiveDays">What the purge uses: the setting, else the default.</param>
public sealed record RetentionView(int? Days, int EffectiveDays, int DefaultDays, int MinDays, int MaxDays);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(RetentionView))]
public sealed partial class RetentionJson : JsonSerializerContext;

/// <summary>
/// How long a tenant's delivery records are kept (docs/OPERATIONS.md "Retention"): <c>/v1/settings/retention</c> for
/// the tenant's <c>admin</c> key (a bank's data-protection officer decides), <c>/v1/admin/tenants/{id}/retention</c>
/// for the system key. <c>PUT {"days": 30}</c> sets it (1 to 3650), <c>{"days": null}</c> goes back to the default.
/// </summary>
public static class RetentionApi
{
    public static IEndpointRouteBuilder MapRetentionApi(this IEndpointRouteBuilder app)
    {
        var tenant = app.MapGroup("/v1/settings/retention").WithTags("Retention").RequireAuthorization(Policies.Admin);
        tenant.MapGet("", (ClaimsPrincipal user, IRetentionStore store, CancellationToken ct) => GetAsync(user.TenantId(), store, ct))
            .WithName("getRetention")
            .ProducesProblems(StatusCodes.Status404NotFound)
            .WithSummary("How long this tenant's notifications, attempts and webhook deliveries are kept")
            .Produces<RetentionView>();
        tenant.MapPut("", (ClaimsPrincipal user, HttpRequest request, IRetentionStore store, CancellationToken ct) => SetAsync(user.TenantId(), request, store, ct))
            .WithName("setRetention")
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType)
            .WithSummary("Sets this tenant's retention in days (null: the default)")
            .Accepts<RetentionView>("application/json")
            .Produces<RetentionView>();

        var admin = app.MapGroup("/v1/admin/tenants/{tenantId:guid}/retention").WithTags("Admin").RequireAuthorization(Policies.System);
        admin.MapGet("", (Guid tenantId, IRetentionStore store, CancellationToken ct) => GetAsync(tenantId, store, ct))
            .WithName("getTenantRetention")
            .ProducesProblems(StatusCodes.Status404NotFound)
            .WithSummary("A tenant's retention (system key)")
            .Produces<RetentionView>();
        admin.MapPut("", (Guid tenantId, HttpRequest request, IRetentionStore store, CancellationToken ct) => SetAsync(tenantId, request, store, ct))
            .WithName("setTenantRetention")
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType)
            .WithSummary("Sets a tenant's retention in days (system key)")
            .Accepts<RetentionView>("application/json")
            .Produces<RetentionView>();
        return app;
    }

    private static async Task<IResult> GetAsync(Guid tenantId, IRetentionStore store, CancellationToken ct) =>
        await store.GetAsync(tenantId, ct) is (true, var days)
            ? TypedResults.Json(View(days), RetentionJson.Default.RetentionView)
            : Problems.NotFound("Tenant");

    private static async Task<IResult> SetAsync(Guid tenantId, HttpRequest request, IRetentionStore store, CancellationToken ct)
    {
        var (body, error) = await Notifications.RequestBody.ReadJsonAsync(request, 4 * 1024);
        if (error is not null)
        {
            return error;
        }

        var (days, errors) = Read(body);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors, "The retention setting is invalid.");
        }

        // The tenant's chain, whether its admin or the system key sets it.
        var (_, current) = await store.GetAsync(tenantId, ct);
        using (request.HttpContext.Audit(tenantId, "settings.retention", "settings", "retention",
                   new System.Text.Json.Nodes.JsonObject { ["days"] = current }, new System.Text.Json.Nodes.JsonObject { ["days"] = days }))
        {
            return await store.SetAsync(tenantId, days, ct)
                ? TypedResults.Json(View(days), RetentionJson.Default.RetentionView)
                : Problems.NotFound("Tenant");
        }
    }

    /// <summary>The <c>days</c> member: a whole number in range, or null.</summary>
    private static (int? Days, List<InputError> Errors) Read(ReadOnlyMemory<byte> body)
    {
        var errors = new List<InputError>();
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("days", out var days))
            {
                errors.Add(new InputError("/days", $"Required: a whole number of days from {RetentionPolicy.MinDays} to {RetentionPolicy.MaxDays}, or null for the default ({RetentionPolicy.DefaultDays})."));
                return (null, errors);
            }

            foreach (var member in root.EnumerateObject().Where(m => m.Name != "days"))
            {
                errors.Add(new InputError("/" + member.Name, "Unknown member: only \"days\" can be set."));
            }

            if (days.ValueKind == JsonValueKind.Null)
            {
                return (null, errors);
            }

            if (days.ValueKind == JsonValueKind.Number && days.TryGetInt32(out var value) && value is >= RetentionPolicy.MinDays and <= RetentionPolicy.MaxDays)
            {
                return (value, errors);
            }

            errors.Add(new InputError("/days", $"Must be a whole number from {RetentionPolicy.MinDays} to {RetentionPolicy.MaxDays}, or null for the default ({RetentionPolicy.DefaultDays})."));
            return (null, errors);
        }
        catch (JsonException)
        {
            errors.Add(new InputError("/", "Malformed JSON."));
            return (null, errors);
        }
    }

    private static RetentionView View(int? days) =>
        new(days, days ?? RetentionPolicy.DefaultDays, RetentionPolicy.DefaultDays, RetentionPolicy.MinDays, RetentionPolicy.MaxDays);
}
