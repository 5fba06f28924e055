using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Core.Customers;

/// <summary>How a stored customer shapes a notification at ingest (SPEC §2 customer preferences). Pure.</summary>
public static class CustomerPreferences
{
    /// <summary>The inline contacts, each missing field filled from the stored record (inline wins field by field).</summary>
    public static Contacts Merge(Contacts inline, Customer stored) => new(
        inline.Phone ?? stored.Contacts.Phone,
        inline.TelegramChatId ?? stored.Contacts.TelegramChatId,
        inline.Email ?? stored.Contacts.Email,
        inline.PushToken ?? stored.Contacts.PushToken,
        inline.Language ?? stored.Language);

    /// <summary>Drops the steps the customer opted out of for <paramref name="type"/> and moves the preferred channel to
    /// the front. An empty plan means nothing may be sent.</summary>
    /// <param name="ignoreOptOuts">The bank exempts this type from opt-outs (e.g. otp): only the preferred channel applies.</param>
    public static Route Apply(Route route, Customer customer, string type, bool ignoreOptOuts = false)
    {
        var steps = new List<RouteStep>(route.Steps.Count);
        foreach (var step in route.Steps)
        {
            if (ignoreOptOuts || !customer.OptOuts.Any(o => o.Matches(step.Channel, type)))
            {
                steps.Add(step);
            }
        }

        if (customer.PreferredChannel is { } preferred)
        {
            var index = steps.FindIndex(s => s.Channel == preferred);
            if (index > 0)
            {
                var step = steps[index];
                steps.RemoveAt(index);
                steps.Insert(0, step);
            }
        }

        return steps.Count == route.Steps.Count && steps.SequenceEqual(route.Steps) ? route : route with { Steps = steps };
    }

    /// <summary>The customer as the flat text fields rules see (RuleContext.Customer): the free attributes plus
    /// <c>language</c>, <c>timezone</c> and <c>preferredChannel</c> when set (the attributes cannot override these).</summary>
    public static IReadOnlyDictionary<string, string> RuleFields(Customer customer)
    {
        var fields = new Dictionary<string, string>(customer.Attributes, StringComparer.Ordinal) { ["id"] = customer.Id };
        if (customer.Language is { } language)
        {
            fields["language"] = language;
        }

        if (customer.TimeZone is { } zone)
        {
            fields["timezone"] = zone;
        }

        if (customer.PreferredChannel is { } preferred)
        {
            fields["preferredChannel"] = preferred.ToString().ToLowerInvariant();
        }

        return fields;
    }

    /// <summary>The quiet-hours policy in force: the route's, else Override for critical priority and Wait otherwise.</summary>
    public static QuietHoursPolicy QuietHoursPolicyFor(Notification n) =>
        n.Route.QuietHours ?? (n.Priority == Priority.Critical ? QuietHoursPolicy.Override : QuietHoursPolicy.Wait);

    /// <summary>When <paramref name="n"/> may go out if the customer's quiet hours hold it back now; null when it may
    /// go now (no quiet hours, no or unknown time zone, outside the window, or the policy overrides).</summary>
    public static DateTimeOffset? HeldUntil(Notification n, Customer? customer, DateTimeOffset now)
    {
        if (customer?.QuietHours is not { } quiet || QuietHoursPolicyFor(n) == QuietHoursPolicy.Override)
        {
            return null;
        }

        var zone = FindZone(customer.TimeZone);
        return zone is null ? null : quiet.EndAfter(now, zone);
    }

    /// <summary>The IANA zone, or null when the id is null or unknown on this machine.</summary>
    public static TimeZoneInfo? FindZone(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return null;
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return null;
        }
    }
}
