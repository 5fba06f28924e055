using System.Collections.Concurrent;
using Herald.Channels.Callbacks;
using Herald.Channels.WhatsApp;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Storage;
using Herald.Storage.Secrets;

namespace Herald.Server.Replies;

/// <summary>
/// WhatsApp's customer-service windows over <see cref="IServiceWindowStore"/>: the inbound path records each customer's
/// latest message (<see cref="OpenedAsync"/>, one batched upsert per webhook), the connector asks before a send.
/// <para>An open window is remembered on this node until it closes: a window only ever grows (a later message extends
/// it), so a remembered closing time is never wrong, whichever node took the customer's later messages. A closed or
/// unknown one is read again each time (one primary-key look-up), since the customer may have written to another node a
/// moment ago: caching "closed" would send a template, or fall back to the next channel, for a customer who just wrote.</para>
/// <para>The customer's number is kept as the tenant's keyed hash of it (<see cref="ContactHash"/>), never in plaintext:
/// the window only needs equality, and the table then holds nothing a backup could leak or an erasure must find.</para>
/// </summary>
public sealed class ServiceWindows(IServiceWindowStore store, TenantKeys keys, TimeProvider time) : ICustomerServiceWindows
{
    /// <summary>More remembered windows than this and the memory starts again (each costs one look-up to relearn).</summary>
    internal const int MaxRemembered = 100_000;

    private readonly ConcurrentDictionary<(Guid Account, string Address), DateTimeOffset> _closesAt = new();

    public async ValueTask<bool> IsOpenAsync(ProviderAccount account, string phone, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var address = await HashAsync(account, Address(phone), ct);
        var key = (account.Id, address);
        if (_closesAt.TryGetValue(key, out var closes) && now < closes)
        {
            return true;
        }

        if (await store.LastInboundAsync(account.Id, address, ct) is { } last && now < last + ICustomerServiceWindows.Length)
        {
            Remember(key, last + ICustomerServiceWindows.Length);
            return true;
        }

        _closesAt.TryRemove(key, out _);
        return false;
    }

    /// <summary>Records that the customers of <paramref name="messages"/> wrote to <paramref name="account"/>: WhatsApp
    /// messages only (the other channels have no window). A vendor's retry writes the same time again: harmless.</summary>
    public async Task OpenedAsync(ProviderAccount account, IReadOnlyList<InboundMessage> messages, CancellationToken ct)
    {
        List<ServiceWindowTouch>? touches = null;
        foreach (var m in messages)
        {
            if (m.Channel == Channel.WhatsApp && Address(m.From) is { Length: > 0 } digits)
            {
                (touches ??= []).Add(new ServiceWindowTouch(account.TenantId, account.Id, await HashAsync(account, digits, ct), m.At));
            }
        }

        if (touches is null)
        {
            return;
        }

        await store.TouchAsync(touches, ct);
        foreach (var t in touches)
        {
            Remember((t.AccountId, t.Address), t.At + ICustomerServiceWindows.Length);
        }
    }

    /// <summary>A phone as the window is keyed: digits only, as Meta's <c>wa_id</c> and the connector's <c>to</c>.</summary>
    public static string Address(string phone) => string.Concat(phone.Where(char.IsAsciiDigit));

    /// <summary>The stored form of a customer's number: the tenant's keyed hash of it, hex.</summary>
    private async ValueTask<string> HashAsync(ProviderAccount account, string digits, CancellationToken ct) =>
        Convert.ToHexStringLower(ContactHash.Compute(await keys.ForWriteAsync(account.TenantId, ct), ContactKind.Phone, digits)!);

    private void Remember((Guid, string) key, DateTimeOffset closes)
    {
        if (_closesAt.Count >= MaxRemembered)
        {
            _closesAt.Clear();
        }

        _closesAt.AddOrUpdate(key, closes, (_, known) => known > closes ? known : closes);
    }
}
