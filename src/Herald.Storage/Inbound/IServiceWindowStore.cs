namespace Herald.Storage;

/// <summary>One customer's latest inbound message through one account: what opens WhatsApp's customer-service window.</summary>
/// <param name="Address">The customer's number as the window is keyed: the tenant's keyed hash of it (hex, see
/// src/Herald.Server/Replies/ServiceWindows.cs), never the number itself.</param>
public sealed record ServiceWindowTouch(Guid TenantId, Guid AccountId, string Address, DateTimeOffset At);

/// <summary>
/// When each customer last wrote to each sender (issue #16): WhatsApp lets a business send free-form text to a customer
/// only within 24 hours of the customer's last message to that business number (the customer-service window); outside
/// it only an approved template goes. Written once per inbound webhook (one batched upsert, the latest time wins), read
/// at send time by one primary-key look-up.
/// </summary>
public interface IServiceWindowStore
{
    /// <summary>Records the touches in one statement; an older time than the stored one changes nothing (a vendor may
    /// deliver webhooks out of order).</summary>
    Task TouchAsync(IReadOnlyList<ServiceWindowTouch> touches, CancellationToken ct);

    /// <summary>When <paramref name="address"/> last wrote through <paramref name="accountId"/>; null when never.</summary>
    Task<DateTimeOffset?> LastInboundAsync(Guid accountId, string address, CancellationToken ct);
}
