using System.Collections.Frozen;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Channels.Providers;

/// <summary>
/// The workers' routing table: every enabled provider account, loaded from <see cref="IProviderAccountSource"/> at start,
/// refreshed in the background every <see cref="ChannelsOptions.ProviderRefreshInterval"/> and on
/// <see cref="InvalidateAsync"/>. Lookups read an immutable snapshot (frozen dictionaries): no I/O, no locks.
/// A failed refresh keeps the last good snapshot. Channel-specific lookups (a WhatsApp phone number id, a Telegram
/// webhook secret) live in each channel's account matcher, built over <see cref="All"/>.
/// </summary>
public sealed partial class ProviderDirectory(
    IProviderAccountSource store,
    IOptions<ChannelsOptions> options,
    TimeProvider time,
    ILogger<ProviderDirectory> logger) : IHostedService, IAsyncDisposable
{
    private readonly SemaphoreSlim _loadGate = new(1, 1);
    private CancellationTokenSource? _stopping;
    private int _disposed;
    private Task? _refreshLoop;
    private volatile Snapshot _snapshot = Snapshot.Empty;
    private TaskCompletionSource _nextLoad = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>True once a load from the store succeeded (for /readyz).</summary>
    public bool IsLoaded => _snapshot.LoadedAt is not null;

    /// <summary>When the current snapshot was loaded, by the injected clock.</summary>
    public DateTimeOffset? LoadedAt => _snapshot.LoadedAt;

    /// <summary>Completes when the next snapshot is in place (a reload, periodic or on <see cref="InvalidateAsync"/>):
    /// what keeps state derived from the accounts (SMPP binds) waits on it instead of polling.</summary>
    public Task NextLoad => Volatile.Read(ref _nextLoad).Task;

    /// <summary>Every enabled account of every tenant in the current snapshot.</summary>
    public IReadOnlyList<ProviderAccount> All => _snapshot.All;

    /// <summary>Enabled accounts of a tenant for a channel, in the store's order.</summary>
    public IReadOnlyList<ProviderAccount> For(Guid tenantId, Channel channel) =>
        _snapshot.ByTenantChannel.TryGetValue((tenantId, channel), out var accounts) ? accounts : [];

    public ProviderAccount? Find(Guid accountId) =>
        _snapshot.ById.TryGetValue(accountId, out var account) ? account : null;

    /// <summary>Reloads now, e.g. after an admin changed a provider account. Throws when the store fails.</summary>
    public async Task InvalidateAsync(CancellationToken ct)
    {
        await _loadGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var accounts = await store.ListEnabledAsync(ct).ConfigureAwait(false);
            _snapshot = Build(accounts, time.GetUtcNow());
            Interlocked.Exchange(ref _nextLoad, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            LogLoaded(logger, accounts.Count);
        }
        finally
        {
            _loadGate.Release();
        }
    }

    /// <summary>Loads synchronously before the host serves, then starts the background refresh.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        _stopping = new CancellationTokenSource();
        _refreshLoop = RefreshLoopAsync(_stopping.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping is null || _refreshLoop is null)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _refreshLoop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public async ValueTask DisposeAsync()
    {
        // The container disposes this twice (as itself and as the hosted service it is registered as): idempotent.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        if (_stopping is not null)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            if (_refreshLoop is not null)
            {
                await _refreshLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            _stopping.Dispose();
        }

        _loadGate.Dispose();
    }

    private async Task RefreshLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.Value.ProviderRefreshInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                await RefreshAsync(ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task RefreshAsync(CancellationToken ct)
    {
        try
        {
            await InvalidateAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Keep serving the last good snapshot; the next tick tries again.
            LogRefreshFailed(logger, e);
        }
    }

    private static Snapshot Build(IReadOnlyList<ProviderAccount> accounts, DateTimeOffset now)
    {
        var enabled = accounts.Where(static a => a.Enabled).ToArray();
        var byTenantChannel = enabled
            .GroupBy(static a => (a.TenantId, a.Channel))
            .ToFrozenDictionary(static g => g.Key, static g => (IReadOnlyList<ProviderAccount>)g.ToArray());
        var byId = enabled.ToFrozenDictionary(static a => a.Id);

        return new Snapshot(enabled, byTenantChannel, byId, now);
    }

    private sealed record Snapshot(
        IReadOnlyList<ProviderAccount> All,
        FrozenDictionary<(Guid TenantId, Channel Channel), IReadOnlyList<ProviderAccount>> ByTenantChannel,
        FrozenDictionary<Guid, ProviderAccount> ById,
        DateTimeOffset? LoadedAt)
    {
        public static readonly Snapshot Empty = new(
            [],
            FrozenDictionary<(Guid, Channel), IReadOnlyList<ProviderAccount>>.Empty,
            FrozenDictionary<Guid, ProviderAccount>.Empty,
            null);
    }

    [LoggerMessage(EventId = 3100, Level = LogLevel.Debug, Message = "Provider directory loaded {Count} enabled accounts")]
    private static partial void LogLoaded(ILogger logger, int count);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Error, Message = "Provider directory refresh failed; keeping the previous snapshot")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
