using Herald.Core.Notifications;

namespace Herald.Core.Customers;

/// <summary>A bank's customer as Herald stores it (SPEC §2 customer preferences), keyed by the bank's own id.</summary>
public sealed record Customer
{
    /// <summary>The bank's customer id, unique per tenant.</summary>
    public required string Id { get; init; }

    /// <summary>Where the customer can be reached; <see cref="Contacts.Language"/> is unused here (see <see cref="Language"/>).</summary>
    public Contacts Contacts { get; init; } = Contacts.None;

    /// <summary>BCP 47 tag, e.g. "pt-BR": picks templates and number formats.</summary>
    public string? Language { get; init; }

    /// <summary>IANA time zone id, e.g. "Europe/Berlin": the clock quiet hours are read on.</summary>
    public string? TimeZone { get; init; }

    /// <summary>Moved to the front of every plan that contains it.</summary>
    public Channel? PreferredChannel { get; init; }

    public IReadOnlyList<OptOut> OptOuts { get; init; } = [];

    public QuietHours? QuietHours { get; init; }

    /// <summary>Free fields for rules and templates, e.g. segment.</summary>
    public IReadOnlyDictionary<string, string> Attributes { get; init; } = new Dictionary<string, string>();

    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>One opt-out: a channel (every type), a type (every channel), or a type on one channel.</summary>
public sealed record OptOut(Channel? Channel, string? Type)
{
    public bool Matches(Channel channel, string type) =>
        (Channel is null || Channel == channel) && (Type is null || string.Equals(Type, type, StringComparison.Ordinal));
}

/// <summary>A daily local window in which non-critical messages wait, e.g. 22:00–07:00 (crossing midnight).</summary>
/// <param name="Start">Inclusive local start.</param>
/// <param name="End">Exclusive local end; before <paramref name="Start"/> when the window crosses midnight.</param>
public sealed record QuietHours(TimeOnly Start, TimeOnly End)
{
    public bool Contains(TimeOnly t) => Start < End ? t >= Start && t < End : t >= Start || t < End;

    /// <summary>When the window that holds <paramref name="now"/> ends, or null when <paramref name="now"/> is outside it.</summary>
    /// <remarks>An end that falls into a daylight-saving gap moves forward by the gap; an ambiguous end takes the
    /// earlier of its two instants.</remarks>
    public DateTimeOffset? EndAfter(DateTimeOffset now, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(now, zone);
        var time = TimeOnly.FromTimeSpan(local.TimeOfDay);
        if (Start == End || !Contains(time))
        {
            return null;
        }

        var day = DateOnly.FromDateTime(local.DateTime);
        // Crossing midnight and still before it: the window ends tomorrow.
        if (Start > End && time >= Start)
        {
            day = day.AddDays(1);
        }

        var end = day.ToDateTime(End, DateTimeKind.Unspecified);
        while (zone.IsInvalidTime(end))
        {
            end = end.AddMinutes(30);
        }

        var offset = zone.IsAmbiguousTime(end) ? zone.GetAmbiguousTimeOffsets(end).Max() : zone.GetUtcOffset(end);
        var result = new DateTimeOffset(end, offset);
        return result > now ? result : now;
    }
}
