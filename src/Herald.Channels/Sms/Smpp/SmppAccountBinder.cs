using Herald.Channels.Providers;
using Herald.Core.Providers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Channels.Sms.Smpp;

/// <summary>
/// Binds every enabled "smpp" account as soon as the worker starts, and keeps the set in step with the provider
/// directory, so receipts for messages sent before a restart (the SMSC holds them until a session of the account
/// is bound) are received without waiting for the next send. It syncs on every directory load (an account created or
/// changed on any node binds within moments) and, as a safety net, every refresh interval. Stops by unbinding every
/// session.
/// </summary>
public sealed partial class SmppAccountBinder(
    ProviderDirectory directory, SmppSessions sessions, IOptions<ChannelsOptions> options, TimeProvider time, ILogger<SmppAccountBinder> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.ProviderRefreshInterval;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (directory.IsLoaded)
                {
                    await sessions.SyncAsync(Accounts()).ConfigureAwait(false);
                }

                await directory.NextLoad.WaitAsync(interval, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                stoppingToken.ThrowIfCancellationRequested();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await sessions.DisposeAsync().ConfigureAwait(false);
    }

    private IEnumerable<(ProviderAccount, SmppSettings)> Accounts()
    {
        foreach (var account in directory.All)
        {
            if (account.Kind != SmppSmsConnector.ConnectorKind || !account.Enabled)
            {
                continue;
            }

            SmppSettings settings;
            try
            {
                settings = SmppSettings.Parse(account.Settings);
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
            {
                LogUnusable(logger, account.Id, e.Message);
                continue;
            }

            yield return (account, settings);
        }
    }

    [LoggerMessage(EventId = 3420, Level = LogLevel.Warning, Message = "SMPP account {AccountId} has unusable settings and is not bound: {Reason}")]
    private static partial void LogUnusable(ILogger logger, Guid accountId, string reason);
}
