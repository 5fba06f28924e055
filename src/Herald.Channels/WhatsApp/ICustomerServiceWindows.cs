using Herald.Core.Providers;

namespace Herald.Channels.WhatsApp;

/// <summary>
/// WhatsApp's customer-service window (Meta: "customer service windows"): a business may send free-form messages (text,
/// interactive reply buttons) to a customer only within 24 hours of the customer's last message to that business phone
/// number; outside it only an approved template goes, and Graph refuses anything else with error 131047 ("re-engagement
/// message"). The host implements it over its store of inbound messages; the connector asks it before a free-form send.
/// </summary>
public interface ICustomerServiceWindows
{
    /// <summary>Whether the customer at <paramref name="address"/> (digits only) wrote to <paramref name="account"/>'s
    /// number less than <see cref="Length"/> ago.</summary>
    ValueTask<bool> IsOpenAsync(ProviderAccount account, string address, CancellationToken ct);

    /// <summary>How long a customer's message keeps the window open (Meta: 24 hours).</summary>
    public static TimeSpan Length { get; } = TimeSpan.FromHours(24);
}
