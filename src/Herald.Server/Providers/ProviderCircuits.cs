using Herald.Channels;
using Herald.Channels.Providers;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Providers;

/// <summary>This node's name in circuit reports: the host (the container id under Docker), the process id, and a
/// short random tag that tells apart hosts in one process and a restarted container whose process id is again 1.</summary>
public sealed class ProviderCircuitNode
{
    public string Name { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>Whether this node sends (roles all and worker): only then does its own breaker mean anything.</summary>
    public bool Sends { get; init; }
}

/// <summary>One node's view of one account, as <c>/v1/providers</c> shows it.</summary>
public sealed record ProviderNodeHealth(string Node, string State, DateTimeOffset Since);

/// <summary>
/// Circuit breakers live in each sending node's dispatcher, so a node that only serves the API (role <c>api</c>) knows
/// nothing of them. Every sending node reports its circuits to the store every
/// <see cref="ChannelsOptions.CircuitReportInterval"/>; a report older than three intervals no longer counts (its node
/// stopped or lost the database) and is deleted after a minute.
/// </summary>
public sealed partial class ProviderCircuitReporter(
    ChannelDispatcher dispatcher, IProviderCircuitStore store, ProviderCircuitNode node, TimeProvider time,
    IOptions<ChannelsOptions> options, ILogger<ProviderCircuitReporter> logger) : BackgroundService
{
    // Since when each account's circuit has been in its state, as of the last report (accounts gone drop out).
    private Dictionary<Guid, (string State, DateTimeOffset Since)> _last = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.CircuitReportInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ReportAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The store is down: the API shows this node's last report until it goes stale. Deliveries are unaffected.
                LogReportFailed(logger, e.Message);
            }

            try
            {
                await Task.Delay(interval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    internal async Task ReportAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var reports = new List<ProviderCircuitReport>();
        var current = new Dictionary<Guid, (string State, DateTimeOffset Since)>();
        foreach (var health in dispatcher.GetHealth())
        {
            if (health.State == ProviderHealthState.Isolated)
            {
                continue;   // stored on the account itself, the same for every node
            }

            var state = ProviderCircuitStates.Name(health.State);
            var since = _last.TryGetValue(health.AccountId, out var last) && last.State == state ? last.Since : now;
            current[health.AccountId] = (state, since);
            reports.Add(new ProviderCircuitReport(health.AccountId, health.TenantId, node.Name, state, since, now));
        }

        _last = current;
        await store.ReportAsync(node.Name, reports, now, now - TimeSpan.FromMinutes(1), ct);
    }

    [LoggerMessage(EventId = 3210, Level = LogLevel.Warning, Message = "Could not report this node's provider circuits: {Reason}")]
    private static partial void LogReportFailed(ILogger logger, string reason);
}

/// <summary>Every node's view of a tenant's accounts, read once per API request.</summary>
public sealed class ProviderCircuitReader(
    IProviderCircuitStore store, ChannelDispatcher dispatcher, ProviderCircuitNode node, TimeProvider time, IOptions<ChannelsOptions> options)
{
    public async Task<ProviderCircuitSnapshot> ReadAsync(Guid tenantId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var reports = await store.ListAsync(tenantId, now - 3 * options.Value.CircuitReportInterval, ct);
        var byAccount = new Dictionary<Guid, List<ProviderNodeHealth>>();
        var own = new Dictionary<Guid, ProviderNodeHealth>();
        foreach (var r in reports)
        {
            var health = new ProviderNodeHealth(r.Node, r.State, r.Since);
            if (node.Sends && r.Node == node.Name)
            {
                own[r.AccountId] = health;   // this node's breaker is read live instead; the report keeps its "since"
            }
            else
            {
                (byAccount.TryGetValue(r.AccountId, out var list) ? list : byAccount[r.AccountId] = []).Add(health);
            }
        }

        return new ProviderCircuitSnapshot(byAccount, node.Sends ? dispatcher : null, own, node.Name, now);
    }
}

/// <summary>The circuits of a tenant's accounts on every sending node, and the worst of them.</summary>
/// <param name="ownReported">This node's last reports: the live state takes their "since" while it has not changed.</param>
public sealed class ProviderCircuitSnapshot(
    IReadOnlyDictionary<Guid, List<ProviderNodeHealth>> reported, ChannelDispatcher? local, IReadOnlyDictionary<Guid, ProviderNodeHealth> ownReported,
    string localName, DateTimeOffset now)
{
    /// <summary>Every sending node's view of the account (this one's live), by node name.</summary>
    public IReadOnlyList<ProviderNodeHealth> Nodes(Guid accountId)
    {
        var nodes = reported.TryGetValue(accountId, out var list) ? [.. list] : new List<ProviderNodeHealth>();
        if (local is not null && local.GetState(accountId) is var live and not ProviderHealthState.Isolated)
        {
            var state = ProviderCircuitStates.Name(live);
            var since = ownReported.TryGetValue(accountId, out var reportedHere) && reportedHere.State == state ? reportedHere.Since : now;
            nodes.Add(new ProviderNodeHealth(localName, state, since));
        }

        nodes.Sort(static (a, b) => string.CompareOrdinal(a.Node, b.Node));
        return nodes;
    }

    /// <summary>open when any node holds the circuit open, else half-open when any probes, else closed; "unknown" when
    /// no sending node reported the account (no worker running, or none has loaded it yet).</summary>
    public static string Worst(IReadOnlyList<ProviderNodeHealth> nodes) =>
        nodes.Count == 0 ? "unknown"
        : nodes.Any(static n => n.State == "open") ? "open"
        : nodes.Any(static n => n.State == "half-open") ? "half-open"
        : "closed";
}

/// <summary>The names circuit states have in reports and in the API.</summary>
public static class ProviderCircuitStates
{
    public static string Name(ProviderHealthState state) => state switch
    {
        ProviderHealthState.Closed => "closed",
        ProviderHealthState.HalfOpen => "half-open",
        ProviderHealthState.Open => "open",
        _ => "isolated",
    };
}

/// <summary>A reset through the API closes the account's circuit on every node, not only on the one that answered.</summary>
public sealed class ProviderResetSubscriber(ChannelDispatcher dispatcher) : IChangeSubscriber
{
    public string Kind => ChangeKinds.ProviderReset;

    public async Task OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct)
    {
        if (Guid.TryParse(key, out var accountId))
        {
            await dispatcher.ResetAsync(accountId);
        }
    }

    // A lost reset leaves a circuit to recover by its own half-open probe, as before resets were announced.
    public Task OnMessagesLostAsync(CancellationToken ct) => Task.CompletedTask;
}
