using System.Globalization;
using System.Net.Mail;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Ingest;
using Herald.Ingest.Native;
using Herald.Server.Audit;
using Herald.Server.Authentication;
using Herald.Server.Notifications;
using Herald.Storage;

namespace Herald.Server.Customers;

/// <summary>The body of <c>PUT /v1/customers/{id}</c> and, field by field, of PATCH (docs/CUSTOMERS.md).</summary>
public sealed record CustomerBody
{
    public string? Phone { get; init; }
    public string? TelegramChatId { get; init; }
    public string? Email { get; init; }
    public string? PushToken { get; init; }
    public string? Language { get; init; }
    public string? TimeZone { get; init; }
    public Channel? PreferredChannel { get; init; }
    public IReadOnlyList<OptOutBody>? OptOuts { get; init; }
    public QuietHoursBody? QuietHours { get; init; }
    public IReadOnlyDictionary<string, string>? Attributes { get; init; }
}

public sealed record OptOutBody(Channel? Channel, string? Type);

/// <param name="Start">Local time "HH:mm", inclusive.</param>
/// <param name="End">Local time "HH:mm", exclusive; before the start when the window crosses midnight.</param>
public sealed record QuietHoursBody(string? Start, string? End);

public sealed record CustomerView(
    string Id, string? Phone, string? TelegramChatId, string? Email, string? PushToken, string? Language, string? TimeZone,
    Channel? PreferredChannel, IReadOnlyList<OptOutBody> OptOuts, QuietHoursBody? QuietHours, IReadOnlyDictionary<string, string> Attributes,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static CustomerView From(Customer c) => new(
        c.Id, c.Contacts.Phone, c.Contacts.TelegramChatId, c.Contacts.Email, c.Contacts.PushToken, c.Language, c.TimeZone, c.PreferredChannel,
        [.. c.OptOuts.Select(o => new OptOutBody(o.Channel, o.Type))],
        c.QuietHours is { } q ? new QuietHoursBody(q.Start.ToString("HH:mm", CultureInfo.InvariantCulture), q.End.ToString("HH:mm", CultureInfo.InvariantCulture)) : null,
        c.Attributes, c.CreatedAt, c.UpdatedAt);
}

/// <param name="Next">The cursor for the next page (pass as <c>after</c>); null on the last page.</param>
public sealed record CustomerPage(IReadOnlyList<CustomerView> Items, string? Next);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(CustomerBody))]
[JsonSerializable(typeof(CustomerView))]
[JsonSerializable(typeof(CustomerPage))]
public sealed partial class CustomersJson : JsonSerializerContext;

/// <summary><c>/v1/customers</c>: stored customers with contacts and preferences, tenant-scoped (SPEC §3).</summary>
public static partial class CustomersApi
{
    public const int MaxIdLength = 128;
    public const int MaxBodyBytes = 64 * 1024;
    public const int MaxOptOuts = 100;
    public const int MaxAttributes = 50;

    public static IEndpointRouteBuilder MapCustomersApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/customers").WithTags("Customers");
        group.MapGet("/", ListAsync).RequireAuthorization(Policies.Read)
            .WithName("listCustomers").WithSummary("Lists the tenant's stored customers, a page at a time")
            .Produces<CustomerPage>();
        group.MapGet("/{id}", GetAsync).RequireAuthorization(Policies.Read)
            .WithName("getCustomer").WithSummary("Reads a stored customer: contacts, preferences, attributes")
            .Produces<CustomerView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPut("/{id}", PutAsync).RequireAuthorization(Policies.Admin)
            .WithName("putCustomer").WithSummary("Creates or replaces a stored customer")
            .Produces<CustomerView>().Produces<CustomerView>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        group.MapPatch("/{id}", PatchAsync).RequireAuthorization(Policies.Admin)
            .WithName("patchCustomer").WithSummary("Changes some of a stored customer's fields (JSON merge patch)")
            .Produces<CustomerView>()
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        group.MapDelete("/{id}", DeleteAsync).RequireAuthorization(Policies.Admin)
            .WithName("deleteCustomer").WithSummary("Deletes a stored customer (its notifications stay; erasure is POST /v1/customers/{id}/erase)")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblems(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<IResult> GetAsync(string id, ClaimsPrincipal user, ICustomerStore store, CancellationToken ct) =>
        await store.GetAsync(user.TenantId(), id, ct) is { } customer ? View(customer) : Problems.NotFound("Customer");

    private static async Task<IResult> ListAsync(HttpRequest request, ClaimsPrincipal user, ICustomerStore store, CancellationToken ct)
    {
        var after = request.Query["after"].FirstOrDefault();
        var limit = 50;
        if (request.Query["limit"].FirstOrDefault() is { } raw && (!int.TryParse(raw, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 500))
        {
            return Problems.Invalid([new InputError("query/limit", "Must be 1 to 500.")], "The listing is invalid.");
        }

        var items = await store.ListAsync(user.TenantId(), after, limit, ct);
        var next = items.Count == limit ? items[^1].Id : null;
        return TypedResults.Json(new CustomerPage([.. items.Select(CustomerView.From)], next), CustomersJson.Default.CustomerPage);
    }

    private static async Task<IResult> PutAsync(string id, HttpRequest request, ClaimsPrincipal user, ICustomerStore store, CancellationToken ct)
    {
        var (body, error) = await RequestBody.ReadJsonAsync(request, MaxBodyBytes);
        if (error is not null)
        {
            return error;
        }

        CustomerBody? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize(body.Span, CustomersJson.Default.CustomerBody);
        }
        catch (JsonException e)
        {
            return Problems.Invalid([JsonError(e)], "The customer is invalid.");
        }

        return await SaveAsync(id, parsed ?? new CustomerBody(), user.TenantId(), store, request.HttpContext, ct);
    }

    /// <summary>A JSON merge patch (RFC 7396) at the top level: a member present replaces that field, null clears it.</summary>
    private static async Task<IResult> PatchAsync(string id, HttpRequest request, ClaimsPrincipal user, ICustomerStore store, CancellationToken ct)
    {
        if (request.ContentType?.StartsWith("application/merge-patch+json", StringComparison.OrdinalIgnoreCase) == true)
        {
            request.ContentType = "application/json";
        }

        var (body, error) = await RequestBody.ReadJsonAsync(request, MaxBodyBytes);
        if (error is not null)
        {
            return error;
        }

        var tenantId = user.TenantId();
        if (await store.GetAsync(tenantId, id, ct) is not { } existing)
        {
            return Problems.NotFound("Customer");
        }

        CustomerBody? merged;
        try
        {
            if (JsonNode.Parse(body.Span) is not JsonObject patch)
            {
                return Problems.Invalid([new InputError("/", "A JSON object is required.")], "The patch is invalid.");
            }

            var current = (JsonObject)JsonSerializer.SerializeToNode(ToBody(existing), CustomersJson.Default.CustomerBody)!;
            foreach (var (name, value) in patch.ToList())
            {
                patch.Remove(name);
                current[name] = value;
            }

            merged = current.Deserialize(CustomersJson.Default.CustomerBody);
        }
        catch (JsonException e)
        {
            return Problems.Invalid([JsonError(e)], "The patch is invalid.");
        }

        return await SaveAsync(id, merged ?? new CustomerBody(), tenantId, store, request.HttpContext, ct);
    }

    private static async Task<IResult> DeleteAsync(string id, HttpContext context, ClaimsPrincipal user, ICustomerStore store, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        var existing = await store.GetAsync(tenantId, id, ct);
        bool deleted;
        using (context.Audit(tenantId, "customer.erase", "customer", id, Audited(existing), null, PersonalFields))
        {
            deleted = await store.DeleteAsync(tenantId, id, ct);
        }

        return deleted ? TypedResults.NoContent() : Problems.NotFound("Customer");
    }

    private static async Task<IResult> SaveAsync(string id, CustomerBody body, Guid tenantId, ICustomerStore store, HttpContext context, CancellationToken ct)
    {
        var (customer, errors) = Validate(id, body);
        if (customer is null)
        {
            return Problems.Invalid(errors, "The customer is invalid.");
        }

        // The store announces the change: this node forgets the customer before the answer, the others when the
        // announcement reaches them (an opt-out honoured late is a compliance problem for a bank).
        var existing = await store.GetAsync(tenantId, id, ct);
        Customer stored;
        bool created;
        using (context.Audit(tenantId, existing is null ? "customer.create" : "customer.update", "customer", id, Audited(existing), Audited(customer), PersonalFields))
        {
            (stored, created) = await store.UpsertAsync(tenantId, customer, ct);
        }

        return View(stored, created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    /// <summary>A customer's contacts and attributes: the audit trail says they changed, never what they hold.</summary>
    private static readonly HashSet<string> PersonalFields = new(StringComparer.Ordinal) { "phone", "telegramChatId", "email", "pushToken", "attributes" };

    private static JsonNode? Audited(Customer? c) =>
        c is null ? null : AuditRecorder.Without(JsonSerializer.SerializeToNode(CustomerView.From(c), CustomersJson.Default.CustomerView), "id", "createdAt", "updatedAt");

    private static IResult View(Customer customer, int status = StatusCodes.Status200OK) =>
        TypedResults.Json(CustomerView.From(customer), CustomersJson.Default.CustomerView, statusCode: status);

    private static CustomerBody ToBody(Customer c)
    {
        var view = CustomerView.From(c);
        return new CustomerBody
        {
            Phone = view.Phone, TelegramChatId = view.TelegramChatId, Email = view.Email, PushToken = view.PushToken, Language = view.Language,
            TimeZone = view.TimeZone, PreferredChannel = view.PreferredChannel, OptOuts = view.OptOuts.Count == 0 ? null : view.OptOuts,
            QuietHours = view.QuietHours, Attributes = view.Attributes.Count == 0 ? null : view.Attributes,
        };
    }

    /// <summary>Checks a customer body; every problem is reported with its JSON Pointer.</summary>
    public static (Customer? Customer, IReadOnlyList<InputError> Errors) Validate(string id, CustomerBody b)
    {
        var errors = new List<InputError>();
        if (id.Length is 0 or > MaxIdLength || id.Any(char.IsControl))
        {
            errors.Add(new("path/id", $"Must be 1 to {MaxIdLength} printable characters."));
        }

        string? phone = null;
        if (b.Phone is not null && (phone = NotificationParser.NormalisePhone(b.Phone)) is null)
        {
            errors.Add(new("/phone", "Must be a valid phone number in E.164 form, e.g. \"+4915112345678\"."));
        }

        if (b.TelegramChatId is not null && !ChatIdPattern().IsMatch(b.TelegramChatId))
        {
            errors.Add(new("/telegramChatId", "Must be a Telegram chat id: an integer, e.g. \"123456789\"."));
        }

        if (b.Email is not null && (b.Email.Length > 254 || !MailAddress.TryCreate(b.Email, out var mail) || mail.Address != b.Email))
        {
            errors.Add(new("/email", "Must be a plain email address, e.g. \"ana@example.com\"."));
        }

        if (b.PushToken is { Length: 0 or > 4096 })
        {
            errors.Add(new("/pushToken", "Must be 1 to 4096 characters."));
        }

        if (b.Language is not null && !LanguagePattern().IsMatch(b.Language))
        {
            errors.Add(new("/language", "Must be a BCP 47 language tag, e.g. \"en\" or \"pt-BR\"."));
        }

        if (b.TimeZone is not null && (b.TimeZone.Length > 64 || CustomerPreferences.FindZone(b.TimeZone) is null))
        {
            errors.Add(new("/timeZone", "Must be an IANA time zone id, e.g. \"Europe/Berlin\"."));
        }

        var optOuts = new List<OptOut>();
        if (b.OptOuts is { } list)
        {
            if (list.Count > MaxOptOuts)
            {
                errors.Add(new("/optOuts", $"At most {MaxOptOuts} opt-outs."));
            }

            for (var i = 0; i < list.Count; i++)
            {
                var o = list[i];
                if (o is null || (o.Channel is null && o.Type is null))
                {
                    errors.Add(new($"/optOuts/{i}", "Must name a channel, a type, or both."));
                }
                else if (o.Type is not null && (o.Type.Length > NotificationParser.MaxTypeLength || !TypePattern().IsMatch(o.Type)))
                {
                    errors.Add(new($"/optOuts/{i}/type", "Must be a notification type, e.g. \"service.news\"."));
                }
                else
                {
                    optOuts.Add(new OptOut(o.Channel, o.Type));
                }
            }
        }

        QuietHours? quiet = null;
        if (b.QuietHours is { } q)
        {
            var start = ParseTime(q.Start, "/quietHours/start", errors);
            var end = ParseTime(q.End, "/quietHours/end", errors);
            if (start is { } s && end is { } e)
            {
                if (s == e)
                {
                    errors.Add(new("/quietHours", "Start and end must differ."));
                }
                else
                {
                    quiet = new QuietHours(s, e);
                }
            }

            if (b.TimeZone is null)
            {
                errors.Add(new("/timeZone", "Required with quiet hours: they are read on the customer's clock."));
            }
        }

        if (b.Attributes is { } attributes)
        {
            if (attributes.Count > MaxAttributes)
            {
                errors.Add(new("/attributes", $"At most {MaxAttributes} attributes."));
            }

            foreach (var (key, value) in attributes)
            {
                if (key.Length > 64 || !AttributePattern().IsMatch(key))
                {
                    errors.Add(new("/attributes/" + key, "Names are 1 to 64 characters of a-z, A-Z, 0-9, '_', '.' or '-', starting with a letter."));
                }
                else if (value is null || value.Length > 256)
                {
                    errors.Add(new("/attributes/" + key, "Must be a string of at most 256 characters."));
                }
            }
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        return (new Customer
        {
            Id = id,
            Contacts = new Contacts(phone, b.TelegramChatId, b.Email, b.PushToken),
            Language = b.Language,
            TimeZone = b.TimeZone,
            PreferredChannel = b.PreferredChannel,
            OptOuts = optOuts,
            QuietHours = quiet,
            Attributes = b.Attributes is null ? new Dictionary<string, string>() : new Dictionary<string, string>(b.Attributes, StringComparer.Ordinal),
        }, errors);
    }

    private static TimeOnly? ParseTime(string? raw, string pointer, List<InputError> errors)
    {
        if (raw is not null && TimeOnly.TryParseExact(raw, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t))
        {
            return t;
        }

        errors.Add(new(pointer, "Required: a local time \"HH:mm\", e.g. \"22:00\"."));
        return null;
    }

    private static InputError JsonError(JsonException e)
    {
        var pointer = RequestBody.Pointer(e.Path);
        var detail = e.Message.Contains("could not be mapped", StringComparison.Ordinal) ? "Unknown field."
            : e.Message.Contains("could not be converted", StringComparison.Ordinal) ? "Has the wrong type or an unknown value."
            : "Malformed JSON.";
        return new InputError(pointer, detail);
    }

    [GeneratedRegex("^-?[0-9]{1,20}$")]
    private static partial Regex ChatIdPattern();

    [GeneratedRegex("^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")]
    private static partial Regex LanguagePattern();

    [GeneratedRegex("^[a-z][a-z0-9_.-]*$")]
    private static partial Regex TypePattern();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_.-]*$")]
    private static partial Regex AttributePattern();
}
