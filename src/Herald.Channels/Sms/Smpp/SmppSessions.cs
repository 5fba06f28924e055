using System.Collections.Concurrent;
using Herald.Channels.Callbacks;
using Herald.Channels.Egress;
using Herald.Core.Providers;
using Microsoft.Extensions.Logging;

namespace Herald.Channels.Sms.Smpp;

/// <summary>
/// One <see cref="SmppAccountLink"/> per "smpp" provider account, created on first use (a send, or
/// <see cref="SmppAccountBinder"/> at start). An account whose endpoint, credentials or session settings changed
/// gets a new link; the old one unbinds. Receipts that arrive on the sessions go to the host's <see cref="IReceiptSink"/>
/// (none registered: refused, so the SMSC keeps them for a later bind).
/// </summary>
public sealed class SmppSessions(
    EgressGuard egress, TimeProvider time, ILoggerFactory loggers, IReceiptSink? sink = null, IInboundMessageSink? inbound = null) : IAsyncDisposable
{
    private readonly IReceiptSink _sink = sink ?? new NoReceiptSink();
    private readonly ConcurrentDictionary<Guid, SmppAccountLink> _links = new();
    private readonly ILogger _logger = loggers.CreateLogger("Herald.Channels.Smpp");
    private readonly Lock _gate = new();

    /// <summary>Account ids with a link.</summary>
    public IReadOnlyCollection<Guid> Accounts => [.. _links.Keys];

    /// <summary>Whether the account's session is bound right now.</summary>
    public bool IsBound(Guid accountId) => _links.TryGetValue(accountId, out var link) && link.IsBound;

    /// <summary>How many times the account's link has bound (1 + reconnects).</summary>
    public int Binds(Guid accountId) => _links.TryGetValue(accountId, out var link) ? link.Binds : 0;

    internal SmppAccountLink Link(ProviderAccount account, SmppSettings settings)
    {
        if (_links.TryGetValue(account.Id, out var link) && link.Settings == settings)
        {
            return link;
        }

        SmppAccountLink? replaced = null;
        lock (_gate)
        {
            if (_links.TryGetValue(account.Id, out link) && link.Settings == settings)
            {
                return link;
            }

            replaced = link;
            link = new SmppAccountLink(account, settings, _sink, egress, time, _logger) { Inbound = inbound };
            _links[account.Id] = link;
        }

        if (replaced is not null)
        {
            _ = replaced.DisposeAsync().AsTask();
        }

        link.Start();
        return link;
    }

    /// <summary>Binds every given account that has no link yet and unbinds links of accounts not given.</summary>
    public async Task SyncAsync(IEnumerable<(ProviderAccount Account, SmppSettings Settings)> accounts)
    {
        var wanted = new HashSet<Guid>();
        foreach (var (account, settings) in accounts)
        {
            wanted.Add(account.Id);
            Link(account, settings);
        }

        foreach (var id in _links.Keys)
        {
            if (!wanted.Contains(id) && _links.TryRemove(id, out var gone))
            {
                await gone.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Unbinds every session.</summary>
    public async ValueTask DisposeAsync()
    {
        var links = _links.Values.ToArray();
        _links.Clear();
        await Task.WhenAll(links.Select(static l => l.DisposeAsync().AsTask())).ConfigureAwait(false);
    }
}
