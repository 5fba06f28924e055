using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Core.Customers;
using Herald.Core.Notifications;

namespace Herald.Storage;

/// <summary>A ledger entry to append; <paramref name="InboundRef"/> names the keyword message (account and vendor id) so a
/// vendor's retry of the same STOP appends nothing.</summary>
public sealed record NewConsent(ConsentEntry Entry, string? InboundRef = null);

/// <summary>What <see cref="IConsentStore.ListAsync"/> reads: every filter optional; newest first, ids below
/// <paramref name="Before"/> (keyset pagination; ids are UUIDv7), recorded at or after <paramref name="From"/>.</summary>
public sealed record ConsentQuery(
    string? CustomerId = null, string? Address = null, Channel? Channel = null, DateTimeOffset? From = null, Guid? Before = null, int Limit = 100);

/// <summary>
/// The consent ledger and the keyword settings of a tenant (issue #16). The ledger is append-only (the database refuses
/// updates and deletes, but for erasure's redaction of the address) and never purged by retention: it is evidence.
/// Appending announces a <see cref="ChangeKinds.Consents"/> change in the same transaction, so every node's routing view
/// converges within the change feed's delay.
/// </summary>
public interface IConsentStore
{
    /// <summary>Appends the entries, all of one tenant, in one transaction; one whose inbound ref is stored already is
    /// skipped. Answers, in input order, whether each was appended.</summary>
    Task<IReadOnlyList<bool>> AppendAsync(IReadOnlyList<NewConsent> entries, CancellationToken ct);

    /// <summary>The latest entry of each (channel, address, type) of the tenant: what <see cref="ConsentOptOuts.From"/>
    /// builds routing's view of.</summary>
    Task<IReadOnlyList<ConsentEntry>> LatestAsync(Guid tenantId, CancellationToken ct);

    /// <summary>The tenant's ledger, newest first, filtered by <paramref name="query"/>; limit clamped to 1..1000.</summary>
    Task<IReadOnlyList<ConsentEntry>> ListAsync(Guid tenantId, ConsentQuery query, CancellationToken ct);

    /// <summary>Erasure: replaces the address of the entries of <paramref name="customerId"/> and of
    /// <paramref name="addresses"/> with <see cref="ConsentAddress.Redacted"/>, keeping every other fact. Answers how many
    /// entries changed; a second run changes none.</summary>
    Task<int> RedactAsync(Guid tenantId, string? customerId, IReadOnlyList<(Channel Channel, string Address)> addresses, CancellationToken ct);

    /// <summary>The tenant's keyword settings; null when it configured none (the defaults apply). False in
    /// <c>Found</c> when there is no such tenant.</summary>
    Task<(bool Found, KeywordSettings? Settings)> GetKeywordsAsync(Guid tenantId, CancellationToken ct);

    /// <summary>Stores the tenant's keyword settings (null: back to the defaults) with the request's audit entry; false
    /// when there is no such tenant.</summary>
    Task<bool> SetKeywordsAsync(Guid tenantId, KeywordSettings? settings, CancellationToken ct);
}

/// <summary>Keyword settings as stored (the same document the API shows).</summary>
public static class KeywordSettingsJson
{
    public static string Serialize(KeywordSettings settings) =>
        JsonSerializer.Serialize(new KeywordDocument(settings.Keywords, settings.Texts), KeywordJsonContext.Default.KeywordDocument);

    public static KeywordSettings Deserialize(string json)
    {
        var document = JsonSerializer.Deserialize(json, KeywordJsonContext.Default.KeywordDocument)
            ?? throw new JsonException("Keyword settings are null.");
        return document.ToSettings();
    }
}

/// <summary>The keyword settings document: <c>{"keywords": [...], "texts": {"en": {...}}}</c>.</summary>
public sealed record KeywordDocument(IReadOnlyList<Keyword>? Keywords, IReadOnlyDictionary<string, KeywordTexts>? Texts)
{
    /// <summary>The settings it describes; a member left out keeps its default.</summary>
    public KeywordSettings ToSettings() => new(
        Keywords ?? KeywordSettings.Defaults.Keywords,
        new Dictionary<string, KeywordTexts>(Texts ?? KeywordSettings.Defaults.Texts, StringComparer.OrdinalIgnoreCase));
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(KeywordDocument))]
internal sealed partial class KeywordJsonContext : JsonSerializerContext;
