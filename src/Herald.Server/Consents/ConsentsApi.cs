using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Ingest;
using Herald.Server.Audit;
using Herald.Server.Authentication;
using Herald.Storage;

namespace Herald.Server.Consents;

/// <summary>One consent ledger entry as the API (and the <c>customer.consent</c> webhook) shows it.</summary>
public sealed record ConsentView(
    Guid Id, string? CustomerId, Channel Channel, string Address, string? Type, ConsentAction Action, ConsentSource Source, string Actor,
    DateTimeOffset RecordedAt, Guid? MessageId)
{
    public static ConsentView Of(ConsentEntry e) =>
        new(e.Id, e.CustomerId, e.Channel, e.Address, e.Type, e.Action, e.Source, e.Actor, e.RecordedAt, e.MessageId);
}

/// <param name="Next">The cursor of the next (older) page, passed as <c>before</c>; null on the last page.</param>
public sealed record ConsentPage(IReadOnlyList<ConsentView> Items, Guid? Next);

/// <summary>What the bank records by API: an address, or a stored customer's address on the channel.</summary>
public sealed record ConsentBody(string? CustomerId, Channel? Channel, string? Address, string? Type, ConsentAction? Action);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(ConsentPage))]
[JsonSerializable(typeof(ConsentView))]
[JsonSerializable(typeof(ConsentBody))]
public sealed partial class ConsentsJson : JsonSerializerContext;

/// <summary>
/// The consent ledger for the bank (issue #16; docs/TWO-WAY.md "Consent ledger"): <c>GET /v1/consents</c> (newest first,
/// keyset pages), <c>GET /v1/consents/export</c> (NDJSON), and <c>POST /v1/consents</c> to record an opt-out or opt-in
/// the bank learned itself (source <c>api</c>). Entries are never changed nor deleted.
/// </summary>
public static class ConsentsApi
{
    public const string NdjsonContentType = "application/x-ndjson";

    public static IEndpointRouteBuilder MapConsentsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/consents").WithTags("Consents");
        group.MapGet("", ListAsync).RequireAuthorization(Policies.Read).WithName("listConsents")
            .ProducesProblems(StatusCodes.Status400BadRequest)
            .WithSummary("The tenant's consent ledger, newest first")
            .WithDescription("Filters: customer, address, channel, from (ISO 8601); limit 1 to 1000 (default 100); before: the previous page's next.")
            .Produces<ConsentPage>();
        group.MapGet("/export", ExportAsync).RequireAuthorization(Policies.Read).WithName("exportConsents")
            .ProducesProblems(StatusCodes.Status400BadRequest)
            .WithSummary("Every matching ledger entry as NDJSON (one a line, newest first)")
            .Produces(StatusCodes.Status200OK, contentType: NdjsonContentType);
        group.MapPost("", RecordAsync).RequireAuthorization(Policies.Send).WithName("recordConsent")
            .ProducesProblems(StatusCodes.Status400BadRequest)
            .WithSummary("Records an opt-out or opt-in the bank learned (source api)")
            .Accepts<ConsentBody>("application/json")
            .Produces<ConsentView>(StatusCodes.Status201Created);
        return app;
    }

    private static async Task<IResult> ListAsync(HttpRequest request, ClaimsPrincipal user, IConsentStore store, CancellationToken ct)
    {
        var (query, error) = Parse(request.Query);
        if (error is not null)
        {
            return error;
        }

        var items = await store.ListAsync(user.TenantId(), query!, ct);
        var page = new ConsentPage([.. items.Select(ConsentView.Of)], items.Count == query!.Limit && items.Count > 0 ? items[^1].Id : null);
        return TypedResults.Json(page, ConsentsJson.Default.ConsentPage);
    }

    private static async Task<IResult> ExportAsync(HttpContext context, IConsentStore store, CancellationToken ct)
    {
        if (ViewerRedaction.IsViewerOnly(context.User))
        {
            // The viewer's redaction rewrites one JSON document, not a stream of them: a viewer reads the pages instead.
            return Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "A viewer key reads the ledger through GET /v1/consents (addresses redacted), not the export.");
        }

        var (query, error) = Parse(context.Request.Query);
        if (error is not null)
        {
            return error;
        }

        var tenantId = context.User.TenantId();
        var response = context.Response;
        response.ContentType = NdjsonContentType;
        var page = query! with { Limit = 1000 };
        while (true)
        {
            var entries = await store.ListAsync(tenantId, page, ct);
            foreach (var entry in entries)
            {
                await JsonSerializer.SerializeAsync(response.Body, ConsentView.Of(entry), ConsentsJson.Default.ConsentView, ct);
                await response.Body.WriteAsync("\n"u8.ToArray(), ct);
            }

            await response.Body.FlushAsync(ct);
            if (entries.Count < page.Limit)
            {
                return TypedResults.Empty;
            }

            page = page with { Before = entries[^1].Id };
        }
    }

    private static async Task<IResult> RecordAsync(
        HttpContext context, IConsentStore store, ICustomerStore customers, TimeProvider time, CancellationToken ct)
    {
        var (body, error) = await Notifications.RequestBody.ReadJsonAsync(context.Request, 4 * 1024, ConsentsJson.Default.ConsentBody);
        if (error is not null)
        {
            return error;
        }

        var tenantId = context.User.TenantId();
        var errors = new List<InputError>();
        if (body!.Channel is not { } channel)
        {
            errors.Add(new InputError("/channel", "Required: whatsapp, telegram, sms, email or push."));
            channel = default;
        }

        if (body.Action is not { } action)
        {
            errors.Add(new InputError("/action", "Required: opt_out or opt_in."));
            action = default;
        }

        if (body.Type is { } type && (type.Length is 0 or > 64 || type.Any(static c => !(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))))
        {
            errors.Add(new InputError("/type", "A notification type: letters, digits, '.', '_' and '-', at most 64; or null for every type."));
        }

        if (body.CustomerId is { Length: 0 or > 256 })
        {
            errors.Add(new InputError("/customerId", "1 to 256 characters."));
        }

        string? address = null;
        if (body.Address is not null)
        {
            address = body.Channel is { } c ? ConsentAddress.Normalize(c, body.Address) : null;
            if (address is null && body.Channel is not null)
            {
                errors.Add(new InputError("/address", "Not an address on this channel: E.164 phone (sms, whatsapp), Telegram chat id, email address."));
            }
        }
        else if (body.CustomerId is null)
        {
            errors.Add(new InputError("/address", "Required: the address, or customerId of a stored customer with an address on the channel."));
        }

        if (errors.Count == 0 && address is null)
        {
            var customer = await customers.GetAsync(tenantId, body.CustomerId!, ct);
            address = ConsentAddress.Normalize(channel, customer?.Contacts.AddressFor(channel));
            if (address is null)
            {
                errors.Add(new InputError("/customerId", customer is null
                    ? "Unknown customer: send the address."
                    : "The stored customer has no address on this channel: send the address."));
            }
        }

        if (errors.Count > 0)
        {
            return Problems.Invalid(errors, "The consent is invalid.");
        }

        var now = time.GetUtcNow();
        var entry = new ConsentEntry(
            TimeOrderedIds.New(now), tenantId, body.CustomerId, channel, address!, body.Type, action, ConsentSource.Api, Actor(context.User), now, null);
        // The audit entry leaves the address out: the ledger itself holds it, and erasure redacts it there.
        using (context.Audit(tenantId, "consent.record", "consent", entry.Id.ToString("D"), null,
                   new JsonObject { ["channel"] = channel.ToString().ToLowerInvariant(), ["type"] = body.Type, ["action"] = action == ConsentAction.OptOut ? "opt_out" : "opt_in", ["customerId"] = body.CustomerId }))
        {
            await store.AppendAsync([new NewConsent(entry)], ct);
        }

        return TypedResults.Json(ConsentView.Of(entry), ConsentsJson.Default.ConsentView, statusCode: StatusCodes.Status201Created);
    }

    /// <summary>The API key's id, as the ledger's actor.</summary>
    private static string Actor(ClaimsPrincipal user)
    {
        var claim = user.FindFirstValue(ApiKeyAuthenticationHandler.KeyClaim) ?? "";
        // "key {id} ({prefix})"
        var parts = claim.Split(' ');
        return parts.Length >= 2 && Guid.TryParse(parts[1], out var id) ? id.ToString("D") : claim;
    }

    private static (ConsentQuery? Query, IResult? Error) Parse(IQueryCollection q)
    {
        var errors = new List<InputError>();
        var limit = 100;
        if (q["limit"].FirstOrDefault() is { } rawLimit
            && !(int.TryParse(rawLimit, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit is >= 1 and <= 1000))
        {
            errors.Add(new InputError("query/limit", "Must be a whole number from 1 to 1000."));
        }

        Guid? before = null;
        if (q["before"].FirstOrDefault() is { } rawBefore)
        {
            if (Guid.TryParse(rawBefore, out var b))
            {
                before = b;
            }
            else
            {
                errors.Add(new InputError("query/before", "Must be an entry id (the previous page's next)."));
            }
        }

        DateTimeOffset? from = null;
        if (q["from"].FirstOrDefault() is { } rawFrom)
        {
            if (DateTimeOffset.TryParse(rawFrom, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var f))
            {
                from = f;
            }
            else
            {
                errors.Add(new InputError("query/from", "Must be an ISO 8601 time."));
            }
        }

        Channel? channel = null;
        if (q["channel"].FirstOrDefault() is { } rawChannel)
        {
            channel = rawChannel switch
            {
                "whatsapp" => Channel.WhatsApp,
                "telegram" => Channel.Telegram,
                "sms" => Channel.Sms,
                "email" => Channel.Email,
                "push" => Channel.Push,
                _ => null,
            };
            if (channel is null)
            {
                errors.Add(new InputError("query/channel", "One of whatsapp, telegram, sms, email, push."));
            }
        }

        string? address = null;
        if (q["address"].FirstOrDefault() is { } rawAddress)
        {
            // Normalised like the ledger: by the channel when given, else as a phone number, else as given.
            address = (channel is { } c ? ConsentAddress.Normalize(c, rawAddress) : ConsentAddress.Normalize(Channel.Sms, rawAddress))
                ?? rawAddress.Trim().ToLowerInvariant();
            if (address.Length is 0 or > ConsentAddress.MaxLength)
            {
                errors.Add(new InputError("query/address", $"1 to {ConsentAddress.MaxLength} characters."));
            }
        }

        var customer = q["customer"].FirstOrDefault();
        if (customer is { Length: 0 or > 256 })
        {
            errors.Add(new InputError("query/customer", "1 to 256 characters."));
        }

        return errors.Count > 0
            ? (null, Problems.Invalid(errors, "The consent query is invalid."))
            : (new ConsentQuery(customer, address, channel, from, before, limit), null);
    }
}
