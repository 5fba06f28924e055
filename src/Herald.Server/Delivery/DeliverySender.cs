using Herald.Channels;
using Herald.Channels.Providers;
using Herald.Core.Customers;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Server.Hosting;
using Herald.Server.Throttling;
using Microsoft.Extensions.Options;

namespace Herald.Server.Delivery;

/// <summary>
/// The worker's send step: admits a send to its throttle group, composes the message for the step's channel and
/// dispatches it through a healthy provider account, at most <see cref="WorkerOptions.MaxConcurrentSends"/> at a time
/// (critical sends do not queue for a slot). Answers with what the ledger needs (<see cref="SendReport"/>).
/// </summary>
public sealed class DeliverySender(
    ChannelDispatcher dispatcher, MessageComposer composer, Throttles throttles, IOptions<WorkerOptions> options, HeraldMetrics metrics) : IDisposable
{
    private readonly SemaphoreSlim _sendSlots = new(options.Value.MaxConcurrentSends);

    /// <summary>Whether the tenant's channel has a healthy provider account now (the state machine's outage check).</summary>
    public bool IsUsable(Guid tenantId, Channel channel) => dispatcher.IsUsable(tenantId, channel);

    /// <summary>Counted when it is about to be sent (after quiet hours), so held, expired or cancelled ones never count.</summary>
    public Task<DueDecision> AdmitAsync(DueDecision.SendNow send, DateTimeOffset now, CancellationToken ct) =>
        throttles.AdmitAsync(send, now, ct);

    /// <summary>Sends <paramref name="n"/> on <paramref name="step"/> as the begun attempt <paramref name="attempt"/>.</summary>
    public async Task<SendReport> SendAsync(Notification n, int step, Attempt attempt, Customer? customer, CancellationToken ct)
    {
        var channel = n.Route.Steps[step].Channel;
        var composed = await composer.ComposeAsync(n, channel, customer, ct);
        if (composed.Failure is { } refused)
        {
            // The template broke its limits: this one message cannot go out on this channel; no provider sees it.
            metrics.Attempt(channel, refused.Kind);
            metrics.Refused(channel, refused);
            return new SendReport(null, refused);
        }

        var message = new OutboundMessage(n.Id, attempt.Id, n.Contacts.AddressFor(channel)!, composed.Text, composed.Template, composed.Subject)
        {
            Priority = n.Priority,
            Html = composed.Html,
            Actions = n.Actions,
            ActionsText = n.Actions.Count > 0 ? ReplyActions.TextFooter(n.Actions, n.Contacts.Language ?? customer?.Language) : null,
        };

        // Critical sends do not queue for a slot behind lower ones; the critical lane is small by nature.
        var slotted = n.Priority != Priority.Critical;
        if (slotted)
        {
            await _sendSlots.WaitAsync(ct);
        }

        DispatchResult result;
        metrics.SendInFlight(1);
        try
        {
            result = await dispatcher.SendAsync(n.TenantId, channel, message, n.Route.CostPolicy, ct);
        }
        finally
        {
            metrics.SendInFlight(-1);
            if (slotted)
            {
                _sendSlots.Release();
            }
        }

        metrics.Attempt(channel, result.Outcome.Kind);
        metrics.Dispatched(channel, result);
        foreach (var _ in result.Failovers)
        {
            metrics.Attempt(channel, SendOutcomeKind.TransientFailure);
        }

        return new SendReport(
            result.Provider is { } p ? new ProviderRef(p.Id, p.Name) : null,
            result.Outcome,
            result.AttemptId,
            result.StartedAt,
            [.. result.Failovers.Select(f => new FailedOverTry(new ProviderRef(f.Provider.Id, f.Provider.Name), f.AttemptId, f.Outcome, f.StartedAt))]);
    }

    public void Dispose() => _sendSlots.Dispose();
}
