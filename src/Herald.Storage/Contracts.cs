using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage;

// Provider accounts with their pricing (moving to Core, issue #15) and the prepared notification; every other
// contract lives in its feature's folder (Tenants/, Notifications/, Delivery/, ...).

/// <summary>A vendor account for one channel (SPEC §1).</summary>
/// <param name="Kind">The connector that speaks to it, e.g. "whatsapp-cloud", "telegram-bot".</param>
/// <param name="Settings">Connector settings as a JSON object (base URL, ids, credentials).</param>
public sealed record ProviderAccount(
    Guid Id, Guid TenantId, Channel Channel, string Kind, string Name, string Settings, int Weight, bool Enabled, DateTimeOffset CreatedAt)
{
    /// <summary>The most messages per second the provider takes from this account across all nodes; null means no limit.</summary>
    public double? RatePerSecond { get; init; }

    /// <summary>Price per message by destination country; null when the account has no price table.</summary>
    public PriceTable? Prices { get; init; }

    /// <summary>Taken out of rotation by hand (its circuit held open on every node) until reset by hand.</summary>
    public bool Isolated { get; init; }

    /// <summary>What the vendor knows the sender as (e.g. <c>whatsapp:{phoneNumberId}</c>), computed from the settings
    /// by the connector's definition; null for kinds without one. At most one live account holds an identity: a
    /// store refuses a second with <see cref="SenderIdentityTakenException"/>, so callbacks naming it have one owner.</summary>
    public string? SenderIdentity { get; init; }
}

/// <summary>Another live provider account (of any tenant) already holds this sender identity.</summary>
public sealed class SenderIdentityTakenException(string identity, Exception? inner = null)
    : Exception($"The sender identity {identity} belongs to another provider account.", inner)
{
    public string Identity { get; } = identity;
}

/// <summary>
/// Price per message by destination country (ISO 3166-1 alpha-2, upper case), with a default under <c>"*"</c> for
/// other countries and for channels without one (email, Telegram, push), in one currency (ISO 4217, e.g. "EUR").
/// Equal when the currency and every entry are equal.
/// </summary>
public sealed class PriceTable : IEquatable<PriceTable>
{
    public const string DefaultKey = "*";

    public PriceTable(string currency, IReadOnlyDictionary<string, decimal> prices)
    {
        Currency = currency;
        Prices = new SortedDictionary<string, decimal>(prices.ToDictionary(static p => p.Key, static p => p.Value), StringComparer.Ordinal);
    }

    public string Currency { get; }

    /// <summary>Country code (or <see cref="DefaultKey"/>) to price, sorted by key.</summary>
    public IReadOnlyDictionary<string, decimal> Prices { get; }

    /// <summary>The price of one message to <paramref name="country"/> (null = unknown country): the country's entry,
    /// else the default; null when neither exists.</summary>
    public decimal? PriceFor(string? country) =>
        country is not null && Prices.TryGetValue(country, out var price) ? price
        : Prices.TryGetValue(DefaultKey, out var fallback) ? fallback
        : null;

    public bool Equals(PriceTable? other) =>
        other is not null && Currency == other.Currency && Prices.Count == other.Prices.Count
        && Prices.All(p => other.Prices.TryGetValue(p.Key, out var v) && v == p.Value);

    public override bool Equals(object? obj) => Equals(obj as PriceTable);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Currency);
        foreach (var (key, value) in Prices)
        {
            hash.Add(key);
            hash.Add(value);
        }

        return hash.ToHashCode();
    }
}

/// <summary>A notification ready to store: validated, with an id and the route its rules decided.</summary>
public sealed record PreparedNotification(Guid Id, NewNotification Request, Route Route)
{
    /// <summary>A rule's delay: the queue entry is first due at this time instead of at once.</summary>
    public DateTimeOffset? NotBefore { get; init; }

    /// <summary>A rule suppressed it: stored final as <see cref="NotificationStatus.Suppressed"/>, never queued.</summary>
    public bool Suppressed { get; init; }

    /// <summary>The request's <see cref="RequestFingerprint"/>, stored with its dedupe key; a later item with the same
    /// key and another fingerprint is answered <see cref="AcceptResult.Mismatch"/>. Null: not compared.</summary>
#pragma warning disable CA1819 // a hash, compared with SequenceEqual; a record's equality never looks at it
    public byte[]? RequestHash { get; init; }
#pragma warning restore CA1819
}
