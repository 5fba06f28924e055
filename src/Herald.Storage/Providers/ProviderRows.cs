using System.Globalization;
using System.Text;
using System.Text.Json;
using Herald.Core.Providers;
using Herald.Storage.Secrets;

namespace Herald.Storage;

/// <summary>What both provider stores do the same way: the settings envelope and the price table's JSON.</summary>
internal static class ProviderRows
{
    /// <summary>The whole settings JSON, encrypted and bound to the account id. One envelope rather than per-field
    /// encryption: the store needs no knowledge of which fields each connector treats as secret, and ids that are
    /// not secret by themselves (account SIDs, phone number ids) are not left readable next to them either.</summary>
    public static string Protect(ISecretProtector protector, Guid id, string settings) => protector.Protect(settings, Context(id));

    /// <summary>Decrypts an envelope; a value that is not one is a row written before encryption, read as it is.</summary>
    public static string Unprotect(ISecretProtector protector, Guid id, string stored) =>
        protector.IsProtected(stored) ? protector.Unprotect(stored, Context(id)) : stored;

    public static string? PricesJson(PriceTable? table)
    {
        if (table is null)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("currency", table.Currency);
            w.WriteStartObject("prices");
            foreach (var (country, price) in table.Prices)
            {
                w.WriteNumber(country, price);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static PriceTable? ReadPrices(string? json)
    {
        if (json is null)
        {
            return null;
        }

        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var prices = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var p in root.GetProperty("prices").EnumerateObject())
        {
            prices[p.Name] = p.Value.GetDecimal();
        }

        return new PriceTable(root.GetProperty("currency").GetString() ?? "", prices);
    }

    /// <summary>Adds one row's count and cost to its group, keyed by the grouping columns and currency.</summary>
    public static void Accumulate(
        Dictionary<(int?, Guid?, long?, string?), (string? Name, long Count, decimal Cost)> groups,
        int? channel, Guid? provider, string? name, long? day, string? currency, long count, decimal cost)
    {
        var key = (channel, provider, day, currency);
        groups[key] = groups.TryGetValue(key, out var g) ? (g.Name ?? name, g.Count + count, g.Cost + cost) : (name, count, cost);
    }

    public static IReadOnlyList<CostTotal> Totals(Dictionary<(int?, Guid?, long?, string?), (string? Name, long Count, decimal Cost)> groups) =>
        [.. groups
            .OrderBy(static g => g.Key.Item3 ?? long.MinValue)
            .ThenBy(static g => g.Key.Item1 ?? int.MinValue)
            .ThenBy(static g => g.Key.Item2?.ToString("D") ?? "", StringComparer.Ordinal)
            .ThenBy(static g => g.Key.Item4 ?? "", StringComparer.Ordinal)
            .Select(static g => new CostTotal(
                g.Key.Item1 is { } c ? (Core.Notifications.Channel)c : null,
                g.Key.Item2,
                g.Key.Item2 is null ? null : g.Value.Name,
                g.Key.Item3 is { } d ? DateOnly.FromDayNumber((int)d) : null,
                g.Key.Item4,
                g.Value.Count,
                g.Value.Cost))];

    /// <summary>Days since 0001-01-01 (DateOnly's day number) of a UTC unix-millisecond time.</summary>
    public static long DayNumber(long unixMs) => DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime).DayNumber;

    private static string Context(Guid id) => "provider:" + id.ToString("D", CultureInfo.InvariantCulture);
}
