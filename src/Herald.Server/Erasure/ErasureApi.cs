using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Ingest;
using Herald.Ingest.Native;
using Herald.Server.Authentication;
using Herald.Storage;

namespace Herald.Server.Erasure;

/// <summary>Erase by inline contact: the notifications sent to this phone (E.164) or email without a stored customer.</summary>
public sealed record ErasureRequest(string? Phone, string? Email);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(ErasureResult))]
[JsonSerializable(typeof(ErasureRequest))]
public sealed partial class ErasureJson : JsonSerializerContext;

/// <summary>
/// Erasure on request for the tenant's <c>admin</c> key (docs/SECURITY.md "Erasure"):
/// <c>POST /v1/customers/{id}/erase</c> for a stored customer, <c>POST /v1/erasures {"phone"|"email"}</c> for
/// notifications sent with inline contacts.
/// </summary>
public static class ErasureApi
{
    public static IEndpointRouteBuilder MapErasureApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/customers/{id}/erase", EraseCustomerAsync).RequireAuthorization(Policies.Admin).WithTags("Customers")
            .WithName("eraseCustomer")
            .WithSummary("Erases a customer: cancels what is still to be sent, deletes the stored customer, redacts the contacts and data of its notifications")
            .Produces<ErasureResult>();
        app.MapPost("/v1/erasures", EraseContactAsync).RequireAuthorization(Policies.Admin).WithTags("Customers")
            .WithName("eraseContact")
            .ProducesProblems(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType)
            .WithSummary("Erases the notifications sent to an inline phone number or email address")
            .Accepts<ErasureRequest>("application/json")
            .Produces<ErasureResult>();
        return app;
    }

    private static async Task<IResult> EraseCustomerAsync(string id, HttpContext context, ClaimsPrincipal user, CustomerErasure erasure, CancellationToken ct)
    {
        if (id.Length is 0 or > 200)
        {
            return Problems.Invalid([new InputError("path/id", "A customer id of 1 to 200 characters.")]);
        }

        var result = await erasure.EraseAsync(user.TenantId(), new ErasureTarget(id, null, null), Record(context, user.TenantId(), id, "customer"), ct);
        return TypedResults.Json(result, ErasureJson.Default.ErasureResult);
    }

    private static async Task<IResult> EraseContactAsync(HttpRequest request, ClaimsPrincipal user, CustomerErasure erasure, CancellationToken ct)
    {
        var (body, error) = await Notifications.RequestBody.ReadJsonAsync(request, 4 * 1024, ErasureJson.Default.ErasureRequest);
        if (error is not null)
        {
            return error;
        }

        var errors = new List<InputError>();
        string? phone = null;
        if (body?.Phone is { } rawPhone && (phone = NotificationParser.NormalisePhone(rawPhone)) is null)
        {
            errors.Add(new InputError("/phone", "Must be a valid phone number in E.164 form, e.g. +4915112345678 (as notifications were sent with)."));
        }

        if (body?.Email is { } email && (email.Length > 320 || !email.Contains('@', StringComparison.Ordinal)))
        {
            errors.Add(new InputError("/email", "Must be an email address."));
        }

        if (body is null || (body.Phone is null && body.Email is null))
        {
            errors.Add(new InputError("/", "Name a \"phone\" or an \"email\"."));
        }

        if (errors.Count > 0)
        {
            return Problems.Invalid(errors, "The erasure request is invalid.");
        }

        var result = await erasure.EraseAsync(
            user.TenantId(), new ErasureTarget(null, phone, body!.Email), Record(request.HttpContext, user.TenantId(), "contact", phone is not null ? "phone" : "email"), ct);
        return TypedResults.Json(result, ErasureJson.Default.ErasureResult);
    }

    /// <summary>
    /// The erasure's audit entry, written in the transaction that erases (<see cref="IErasureStore.EraseAsync"/>): no
    /// erasure without its entry, and no entry for one that failed. The phone or email erased is not kept, only which
    /// kind it was.
    /// </summary>
    private static AuditChange Record(HttpContext context, Guid tenantId, string resourceId, string target) =>
        Audit.AuditRecorder.Change(context, tenantId, "customer.erase", "customer", resourceId, null, new System.Text.Json.Nodes.JsonObject { ["erase"] = target });

}
