using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Core.Customers;

/// <summary>What a consent ledger entry records (issue #16). Values are stored, do not renumber.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ConsentAction>))]
public enum ConsentAction : short
{
    [JsonStringEnumMemberName("opt_out")] OptOut = 1,
    [JsonStringEnumMemberName("opt_in")] OptIn = 2,
}

/// <summary>How a consent change reached Herald. Values are stored, do not renumber.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ConsentSource>))]
public enum ConsentSource : short
{
    /// <summary>The customer texted a keyword (STOP, START); the actor is <c>customer</c>.</summary>
    [JsonStringEnumMemberName("keyword")] Keyword = 1,

    /// <summary>The bank recorded it through <c>POST /v1/consents</c>; the actor is the API key's id.</summary>
    [JsonStringEnumMemberName("api")] Api = 2,

    /// <summary>An operator recorded it in the console; the actor is the API key's id.</summary>
    [JsonStringEnumMemberName("console")] Console = 3,
}

/// <summary>
/// One entry of the append-only consent ledger: who opted out of (or back into) what, how and when. The evidence a bank
/// shows a regulator or a carrier; routing honours the latest entry per address (<see cref="ConsentOptOuts"/>).
/// </summary>
/// <param name="CustomerId">The bank's customer id when known (the API named it, or a stored customer has the address).</param>
/// <param name="Address">The normalised address on <paramref name="Channel"/> (<see cref="ConsentAddress.Normalize"/>);
/// <see cref="ConsentAddress.Redacted"/> after the customer's erasure.</param>
/// <param name="Type">The notification type it applies to; null: every type.</param>
/// <param name="Actor">The API key id (api, console) or <c>customer</c> (keyword).</param>
/// <param name="MessageId">The stored inbound message that carried the keyword, for keyword entries.</param>
public sealed record ConsentEntry(
    Guid Id,
    Guid TenantId,
    string? CustomerId,
    Channel Channel,
    string Address,
    string? Type,
    ConsentAction Action,
    ConsentSource Source,
    string Actor,
    DateTimeOffset RecordedAt,
    Guid? MessageId)
{
    /// <summary>The actor of a keyword entry.</summary>
    public const string CustomerActor = "customer";
}

/// <summary>Addresses as the ledger keeps and matches them, the same on the inbound and the ingest path. Pure.</summary>
public static class ConsentAddress
{
    /// <summary>What an erased customer's address becomes in the ledger: the fact of consent stays, the address goes.</summary>
    public const string Redacted = "[erased]";

    /// <summary>The longest address kept (an email address's limit).</summary>
    public const int MaxLength = 254;

    /// <summary>
    /// The address in the ledger's form, null when it is not one: phone channels (SMS, WhatsApp) as E.164 (<c>+</c> and
    /// 8 to 15 digits; spaces, dots, dashes and brackets dropped, WhatsApp's number without <c>+</c> gets it); email
    /// trimmed and lower-cased; a Telegram chat id as an integer; push tokens as given.
    /// </summary>
    public static string? Normalize(Channel channel, string? raw)
    {
        var text = raw?.Trim();
        if (string.IsNullOrEmpty(text) || text.Length > MaxLength)
        {
            return null;
        }

        switch (channel)
        {
            case Channel.Sms or Channel.WhatsApp:
                var digits = new StringBuilder(16).Append('+');
                for (var i = 0; i < text.Length; i++)
                {
                    var c = text[i];
                    if (char.IsAsciiDigit(c))
                    {
                        digits.Append(c);
                    }
                    else if (!(c is ' ' or '-' or '.' or '(' or ')' || (c == '+' && i == 0)))
                    {
                        return null;
                    }
                }

                return digits.Length is >= 9 and <= 16 && digits[1] != '0' ? digits.ToString() : null;
            case Channel.Email:
                return text.Contains('@', StringComparison.Ordinal) ? text.ToLowerInvariant() : null;
            case Channel.Telegram:
                return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var chat)
                    ? chat.ToString(CultureInfo.InvariantCulture)
                    : null;
            default:
                return text;
        }
    }
}

/// <summary>
/// A tenant's current opt-outs from its consent ledger: the view routing reads on every node (held in memory, refreshed
/// through the change feed). Built from the latest entry per (channel, address, type): an opt-out stands unless a later
/// opt-in of the same type, or of every type, lifts it. Immutable; pure.
/// </summary>
public sealed class ConsentOptOuts
{
    /// <summary>No opt-outs.</summary>
    public static readonly ConsentOptOuts Empty = new([]);

    // (channel, address) → the types opted out of; null in the set = every type.
    private readonly Dictionary<(Channel, string), HashSet<string?>> _optedOut;

    private ConsentOptOuts(Dictionary<(Channel, string), HashSet<string?>> optedOut) => _optedOut = optedOut;

    /// <summary>How many (channel, address) pairs have an opt-out.</summary>
    public int Count => _optedOut.Count;

    /// <summary>The view of <paramref name="latest"/>: the latest ledger entry of each (channel, address, type), any order.</summary>
    public static ConsentOptOuts From(IEnumerable<ConsentEntry> latest)
    {
        var entries = latest.ToList();
        // A later opt-in of every type lifts every earlier opt-out of that address.
        var allIn = entries.Where(static e => e.Action == ConsentAction.OptIn && e.Type is null)
            .ToDictionary(static e => (e.Channel, e.Address), static e => e.Id);
        var optedOut = new Dictionary<(Channel, string), HashSet<string?>>();
        foreach (var e in entries)
        {
            if (e.Action != ConsentAction.OptOut || e.Address == ConsentAddress.Redacted
                || (allIn.TryGetValue((e.Channel, e.Address), out var optIn) && optIn.CompareTo(e.Id) > 0))
            {
                continue;
            }

            if (!optedOut.TryGetValue((e.Channel, e.Address), out var types))
            {
                optedOut[(e.Channel, e.Address)] = types = new HashSet<string?>(StringComparer.Ordinal);
            }

            types.Add(e.Type);
        }

        return optedOut.Count == 0 ? Empty : new ConsentOptOuts(optedOut);
    }

    /// <summary>Whether <paramref name="address"/> (already normalised) opted out of <paramref name="type"/> on <paramref name="channel"/>.</summary>
    public bool IsOptedOut(Channel channel, string address, string type) =>
        _optedOut.TryGetValue((channel, address), out var types) && (types.Contains(null) || types.Contains(type));

    /// <summary>Drops the steps whose address in <paramref name="contacts"/> opted out of <paramref name="type"/> on
    /// that step's channel; the same route when nothing is dropped.</summary>
    public Route Apply(Route route, Contacts contacts, string type)
    {
        if (_optedOut.Count == 0)
        {
            return route;
        }

        var steps = route.Steps.Where(s => ConsentAddress.Normalize(s.Channel, contacts.AddressFor(s.Channel)) is not { } address
            || !IsOptedOut(s.Channel, address, type)).ToList();
        return steps.Count == route.Steps.Count ? route : route with { Steps = steps };
    }
}
