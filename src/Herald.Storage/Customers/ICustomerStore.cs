using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Core.Templates;

namespace Herald.Storage;

// Customer and template stores (issue #4). Same rules as StorageContracts.cs: every backend implements both and passes
// tests/Herald.Storage.Tests/Compliance/CustomerStoreComplianceTests.cs; times are UTC truncated to the millisecond.

/// <summary>Stored customers, keyed per tenant by the bank's customer id. Every stored change (upsert, a delete that
/// deleted) is announced on the <see cref="IChangeFeed"/> as <see cref="ChangeKinds.Customer"/>.</summary>
public interface ICustomerStore
{
    /// <summary>Inserts or replaces the customer. Keeps the first <see cref="Customer.CreatedAt"/>; sets
    /// <see cref="Customer.UpdatedAt"/> to now. Returns the stored record and whether it was new.</summary>
    Task<(Customer Customer, bool Created)> UpsertAsync(Guid tenantId, Customer customer, CancellationToken ct);

    Task<Customer?> GetAsync(Guid tenantId, string customerId, CancellationToken ct);

    /// <summary>The stored customers among <paramref name="customerIds"/> (unknown ids are left out), in no order.</summary>
    Task<IReadOnlyList<Customer>> GetManyAsync(Guid tenantId, IReadOnlyCollection<string> customerIds, CancellationToken ct);

    /// <summary>Customers ordered by id (ordinal, byte order), after <paramref name="after"/> when given; limit clamped to 1..500.</summary>
    Task<IReadOnlyList<Customer>> ListAsync(Guid tenantId, string? after, int limit, CancellationToken ct);

    /// <summary>False when there was no such customer.</summary>
    Task<bool> DeleteAsync(Guid tenantId, string customerId, CancellationToken ct);
}

/// <summary>How both backends keep a customer's and a template's fields in one JSON document column.</summary>
internal static class CustomerJson
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Serialize(Customer c) => JsonSerializer.Serialize(
        new CustomerDocument(
            c.Contacts.Phone, c.Contacts.TelegramChatId, c.Contacts.Email, c.Contacts.PushToken, c.Language, c.TimeZone, c.PreferredChannel,
            c.OptOuts.Count == 0 ? null : c.OptOuts, c.QuietHours is { } q ? new QuietDocument(q.Start.ToString("HH:mm"), q.End.ToString("HH:mm")) : null,
            c.Attributes.Count == 0 ? null : c.Attributes),
        Options);

    public static Customer Deserialize(string id, string json, DateTimeOffset createdAt, DateTimeOffset updatedAt)
    {
        var d = JsonSerializer.Deserialize<CustomerDocument>(json, Options) ?? throw new JsonException("A stored customer is null.");
        return new Customer
        {
            Id = id,
            Contacts = new Contacts(d.Phone, d.TelegramChatId, d.Email, d.PushToken),
            Language = d.Language,
            TimeZone = d.TimeZone,
            PreferredChannel = d.PreferredChannel,
            OptOuts = d.OptOuts ?? [],
            QuietHours = d.QuietHours is { } q ? new QuietHours(TimeOnly.ParseExact(q.Start, "HH:mm"), TimeOnly.ParseExact(q.End, "HH:mm")) : null,
            Attributes = d.Attributes ?? new Dictionary<string, string>(),
            CreatedAt = createdAt,
            UpdatedAt = updatedAt,
        };
    }

    public static string Serialize(MessageTemplate t) => JsonSerializer.Serialize(new TemplateDocument(t.Subject, t.Body, t.WhatsApp, t.Html), Options);

    public static MessageTemplate Deserialize(
        Guid id, Guid tenantId, string name, Channel channel, string language, string json, int version, DateTimeOffset createdAt, DateTimeOffset updatedAt)
    {
        var d = JsonSerializer.Deserialize<TemplateDocument>(json, Options) ?? throw new JsonException("A stored template is null.");
        return new MessageTemplate(id, tenantId, name, channel, language.Length == 0 ? null : language, d.Subject, d.Body, d.WhatsApp, version, createdAt, updatedAt)
        {
            Html = d.Html,
        };
    }

    /// <summary>The language column: '' stands for the default (null) so the unique key holds for it too.</summary>
    public static string LanguageKey(string? language) => language ?? "";

    private sealed record CustomerDocument(
        string? Phone, string? TelegramChatId, string? Email, string? PushToken, string? Language, string? TimeZone, Channel? PreferredChannel,
        IReadOnlyList<OptOut>? OptOuts, QuietDocument? QuietHours, IReadOnlyDictionary<string, string>? Attributes);

    private sealed record QuietDocument(string Start, string End);

    private sealed record TemplateDocument(string? Subject, string Body, WhatsAppTemplateMapping? WhatsApp, string? Html = null);
}

/// <summary>
/// How both backends keep a stored customer at rest (issue #17): the whole document (contacts, attributes, preferences)
/// sealed with the tenant's data key, bound to the tenant and the customer id, in column <c>sealed</c>; the
/// <c>document</c> column holds '{}'. Customers are found by id only, so no contact hash is needed.
/// </summary>
internal static class CustomerSeal
{
    public const string Purpose = "customer";

    /// <summary>What the document column holds once a row is sealed.</summary>
    public const string Empty = "{}";

    public static byte[] Seal(Secrets.TenantKeySet keys, Customer customer) =>
        Secrets.TenantKeys.SealText(keys, Purpose, customer.Id, CustomerJson.Serialize(customer));

    /// <summary>The document as JSON: opened from <paramref name="sealedBytes"/> when the row is sealed.</summary>
    public static string Document(Secrets.TenantKeys keys, Guid tenantId, string customerId, string document, byte[]? sealedBytes) =>
        sealedBytes is null ? document : keys.OpenText(tenantId, Purpose, customerId, sealedBytes);
}
