using System.Collections.Frozen;
using Herald.Channels.WhatsApp;
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
/// A failed refresh keeps the last good snapshot.
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

    /// <summary>
    /// The enabled WhatsApp Cloud accounts that name a business phone number id, the one holding it as its sender identity
    /// first, then the others in the store's order. A sender identity has one
    /// live owner (the stores' unique index), so this is one account, except for accounts stored before identities were
    /// enforced: a status webhook is bound to the one whose app secret verifies its signature, never simply the first,
    /// so a second registration of a number cannot make the owner's genuine receipts fail.
    /// </summary>
    public IReadOnlyList<ProviderAccount> FindWhatsAppByPhoneNumberId(string phoneNumberId) =>
        _snapshot.ByWhatsAppPhoneNumberId.TryGetValue(phoneNumberId, out var accounts) ? accounts : [];

    /// <summary>The enabled Telegram bot account whose <c>webhookSecret</c> is <paramref name="secret"/> (compared in
    /// constant time after a lookup by its hash); null when none.</summary>
    public ProviderAccount? FindTelegramByWebhookSecret(string secret) =>
        _snapshot.ByTelegramSecret.TryGetValue(Telegram.TelegramWebhook.SecretKey(secret), out var account)
        && Telegram.TelegramSettings.Parse(account.Settings).WebhookSecret is { } expected
        && Telegram.TelegramWebhook.VerifySecret(secret, expected)
            ? account
            : null;

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

    private Snapshot Build(IReadOnlyList<ProviderAccount> accounts, DateTimeOffset now)
    {
        var enabled = accounts.Where(static a => a.Enabled).ToArray();
        var byTenantChannel = enabled
            .GroupBy(static a => (a.TenantId, a.Channel))
            .ToFrozenDictionary(static g => g.Key, static g => (IReadOnlyList<ProviderAccount>)g.ToArray());
        var byId = enabled.ToFrozenDictionary(static a => a.Id);

        var byPhone = new Dictionary<string, List<ProviderAccount>>(StringComparer.Ordinal);
        foreach (var account in enabled.Where(static a => a.Kind == WhatsAppCloudConnector.ConnectorKind))
        {
            string phoneNumberId;
            try
            {
                phoneNumberId = WhatsAppSettings.Parse(account.Settings).PhoneNumberId;
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
            {
                LogBadSettings(logger, account.Id, e.Message);
                continue;
            }

            if (byPhone.TryGetValue(phoneNumberId, out var holders))
            {
                LogDuplicatePhoneNumberId(logger, phoneNumberId, holders[0].Id, account.Id);
                holders.Add(account);
            }
            else
            {
                byPhone[phoneNumberId] = [account];
            }
        }

        var byTelegramSecret = new Dictionary<string, ProviderAccount>(StringComparer.Ordinal);
        foreach (var account in enabled.Where(static a => a.Kind == Telegram.TelegramBotConnector.ConnectorKind))
        {
            try
            {
                if (Telegram.TelegramSettings.Parse(account.Settings).WebhookSecret is { Length: > 0 } secret)
                {
                    // A secret shared by two accounts routes to neither: a callback must name one account.
                    var key = Telegram.TelegramWebhook.SecretKey(secret);
                    if (!byTelegramSecret.TryAdd(key, account))
                    {
                        byTelegramSecret[key] = null!;
                    }
                }
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
            {
                LogBadSettings(logger, account.Id, e.Message);
            }
        }

        return new Snapshot(
            enabled, byTenantChannel, byId,
            // The account holding the number as its sender identity first: the sandbox signs with the first one's secret.
            byPhone.ToFrozenDictionary(
                static p => p.Key,
                static p => (IReadOnlyList<ProviderAccount>)[.. p.Value.OrderBy(static a => a.SenderIdentity is null)],
                StringComparer.Ordinal),
            byTelegramSecret.Where(static p => p.Value is not null).ToFrozenDictionary(static p => p.Key, static p => p.Value, StringComparer.Ordinal),
            now);
    }

    private sealed record Snapshot(
        IReadOnlyList<ProviderAccount> All,
        FrozenDictionary<(Guid TenantId, Channel Channel), IReadOnlyList<ProviderAccount>> ByTenantChannel,
        FrozenDictionary<Guid, ProviderAccount> ById,
        FrozenDictionary<string, IReadOnlyList<ProviderAccount>> ByWhatsAppPhoneNumberId,
        FrozenDictionary<string, ProviderAccount> ByTelegramSecret,
        DateTimeOffset? LoadedAt)
    {
        public static readonly Snapshot Empty = new(
            [],
            FrozenDictionary<(Guid, Channel), IReadOnlyList<ProviderAccount>>.Empty,
            FrozenDictionary<Guid, ProviderAccount>.Empty,
            FrozenDictionary<string, IReadOnlyList<ProviderAccount>>.Empty,
            FrozenDictionary<string, ProviderAccount>.Empty,
            null);
    }

    [LoggerMessage(EventId = 3100, Level = LogLevel.Debug, Message = "Provider directory loaded {Count} enabled accounts")]
    private static partial void LogLoaded(ILogger logger, int count);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Error, Message = "Provider directory refresh failed; keeping the previous snapshot")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Provider account {AccountId} has unusable settings: {Reason}")]
    private static partial void LogBadSettings(ILogger logger, Guid accountId, string reason);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Warning, Message = "WhatsApp phone number id {PhoneNumberId} is used by accounts {FirstAccountId} and {OtherAccountId} (stored before sender identities were unique); each webhook goes to the account whose app secret signed it")]
    private static partial void LogDuplicatePhoneNumberId(ILogger logger, string phoneNumberId, Guid firstAccountId, Guid otherAccountId);
}
